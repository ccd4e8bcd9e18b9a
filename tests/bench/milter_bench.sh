#!/bin/bash
# tests/bench/milter_bench.sh - authscore-milter over the milter protocol,
# beside the naive libmilter filter (tests/bench/null_milter) measured in
# the same run.  `make bench` builds the programs and runs this; it builds
# nothing itself.
#
# Inside private network, mount and PID namespaces (tests/e2e/lib.sh: root
# needed, skipped otherwise): the project's NSD with the test zones, then
# each filter in turn on a unix and an inet socket, driven by
# tests/bench/milter_load with one ~5.4 kB DKIM-signed message (signed at
# run time with dkimsign and tests/e2e/data/keys/rsa2048.pem, From and MAIL
# FROM in reject.dmarc.authscore.test, client 203.0.113.10: SPF, DKIM and
# DMARC all pass, authscore does all its checks and adds its headers).
# Each filter starts fresh and is warmed up (its DNS cache filled); then
# BENCH_ROUNDS rounds (default 6) of BENCH_MSGS messages (default 2000)
# over BENCH_CONC sessions (default 20); medians are printed.  Memory: a
# fresh filter, BENCH_HOLD sessions (default 500) held open after HELO.
#
# Environment: top_srcdir, top_builddir (default: two levels up),
# BENCH_ROUNDS, BENCH_MSGS, BENCH_CONC, BENCH_HOLD, BENCH_KEEP=1 (keep the
# temporary directory), BENCH_SOLO (messages of the one-session latency
# run, default 100), BENCH_RESULTS (a file the figures are appended to as
# "milter.KIND.TRANSPORT.KEY VALUE" lines, for tests/bench/bench_table.sh).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$BENCH_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

if [ "$(id -u)" != 0 ]; then
	echo "milter_bench: skipped (needs root for unshare and NSD)"
	exit 0
fi
# lib.sh re-executes this script inside the namespaces, and gives NSD,
# the milter's test configuration and the wait helpers.
. "$top_srcdir/tests/e2e/lib.sh"

: "${BENCH_ROUNDS:=6}"
: "${BENCH_MSGS:=2000}"
: "${BENCH_CONC:=20}"
: "${BENCH_HOLD:=500}"
: "${BENCH_SOLO:=100}"
LOAD=$top_builddir/tests/bench/milter_load
NULL_MILTER=$top_builddir/tests/bench/null_milter
INET_PORT=8891
DOMAIN=reject.dmarc.authscore.test
SENDER=alice@$DOMAIN

for p in "$LOAD" "$NULL_MILTER" "$AUTHSCORE_MILTER"; do
	if [ ! -x "$p" ]; then
		echo "milter_bench: $p not built (make bench builds it)" >&2
		exit 1
	fi
done
ulimit -n 4096 2>/dev/null

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-bench.XXXXXX") || exit 1
chmod 0755 "$E2E_TMP"
bench_cleanup() {
	_stop_pid "${FILTER_PID:-}"
	_stop_pid "${NSD_PID:-}"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "milter_bench: kept $E2E_TMP" >&2
	else
		rm -rf "$E2E_TMP"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
_setup_net || { echo "milter_bench: cannot set up the network namespace" >&2; exit 1; }
start_nsd >&2 || { echo "milter_bench: NSD did not start" >&2; exit 1; }

# ------------------------------------------------------------ the message
. "$BENCH_DIR/bench_msg.sh" # make_bench_msg
MSG=$E2E_TMP/bench.eml
make_bench_msg | dkim_sign rsa "$DOMAIN" "$top_srcdir/tests/e2e/data/keys/rsa2048.pem" >"$MSG" ||
	{ echo "milter_bench: dkimsign failed" >&2; exit 1; }

# ------------------------------------------------------------- filters
FILTER_PID=
# start_filter null|authscore SOCKET
start_filter() {
	local kind=$1 sock=$2
	_stop_pid "${FILTER_PID:-}"
	rm -f "$E2E_TMP/milter.sock"
	case $kind in
	null)
		"$NULL_MILTER" "$sock" >>"$E2E_TMP/null.log" 2>&1 &
		;;
	authscore)
		rm -rf "$E2E_TMP/state"
		# every check on, as in production: the default rules (three
		# DNSBLs, a DNSWL, a domain list, iprev) and GeoIP
		write_milter_conf "$E2E_TMP/authscore.conf" \
			"geoip-country $top_srcdir/tests/data/geoip/GeoLite2-Country-Test.mmdb" \
			"geoip-asn $top_srcdir/tests/data/geoip/GeoLite2-ASN-Test.mmdb"
		sed -i 's/^log-level .*/log-level warning/' "$E2E_TMP/authscore.conf"
		"$AUTHSCORE_MILTER" -f -c "$E2E_TMP/authscore.conf" -p "$sock" \
			>>"$E2E_TMP/milter.log" 2>&1 &
		;;
	esac
	FILTER_PID=$!
	case $sock in
	unix:*) wait_for 15 "_unix_listening ${sock#unix:} || ! _pid_alive $FILTER_PID" ;;
	inet:*) wait_for 15 "_tcp_listening $INET_PORT || ! _pid_alive $FILTER_PID" ;;
	esac
	_pid_alive "$FILTER_PID" || { echo "milter_bench: $kind did not start" >&2; tail "$E2E_TMP"/*.log >&2; exit 1; }
}

load() { # SOCKET [milter_load args]
	local sock=$1
	shift
	"$LOAD" -s "$sock" -f "$MSG" -a "$E2E_CLIENT4" -F "$SENDER" -R "$E2E_RCPT" "$@"
}

# kv LINE KEY - the value of KEY=... in a milter_load line
kv() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A R # R[kind,transport,key] = median
run_set() { # KIND TRANSPORT
	local kind=$1 tr=$2 sock line i key out=$E2E_TMP/$1-$2.rounds
	case $tr in
	unix) sock=unix:$E2E_TMP/milter.sock ;;
	inet) sock=inet:$INET_PORT@127.0.0.1 ;;
	esac
	start_filter "$kind" "$sock"
	# warm-up: the filter's DNS cache, libmilter's first threads
	line=$(load "$sock" -c "$BENCH_CONC" -n 200 -v 2>"$E2E_TMP/$kind-$tr.mods")
	if [ "$(kv "$line" errors)" != 0 ]; then
		echo "milter_bench: $kind over $tr: warm-up errors: $line" >&2
		sed 's/^/  /' "$E2E_TMP/$kind-$tr.mods" >&2
	fi
	: >"$out"
	for ((i = 1; i <= BENCH_ROUNDS; i++)); do
		line=$(load "$sock" -c "$BENCH_CONC" -n "$BENCH_MSGS" -p "$FILTER_PID")
		echo "$line" >>"$out"
		printf '# %s %s round %d: %s\n' "$kind" "$tr" "$i" "$line" >&2
	done
	for key in msg_per_s p50_ms p90_ms p99_ms round_trips_per_msg mods_per_msg \
		milter_cpu_ms_per_msg errors; do
		R[$kind,$tr,$key]=$(while read -r line; do kv "$line" "$key"; done <"$out" | median)
	done
	R[$kind,$tr,replies]=$(kv "$(tail -n 1 "$out")" replies)
	# one session alone: latency without queueing behind the other sessions
	line=$(load "$sock" -c 1 -n "$BENCH_SOLO")
	printf '# %s %s one session: %s\n' "$kind" "$tr" "$line" >&2
	R[$kind,$tr,solo_p50]=$(kv "$line" p50_ms)
	R[$kind,$tr,solo_p99]=$(kv "$line" p99_ms)
}

hold_set() { # KIND - memory with BENCH_HOLD sessions open, fresh filter, unix socket
	local kind=$1 sock=unix:$E2E_TMP/milter.sock line
	start_filter "$kind" "$sock"
	line=$(load "$sock" -o "$BENCH_HOLD" -p "$FILTER_PID")
	printf '# %s holding %d sessions: %s\n' "$kind" "$BENCH_HOLD" "$line" >&2
	for key in held errors idle_rss_kb rss_kb hwm_kb pss_kb threads; do
		R[$kind,hold,$key]=$(kv "$line" "$key")
	done
}

for kind in null authscore; do
	for tr in unix inet; do
		run_set "$kind" "$tr"
	done
	hold_set "$kind"
done
_stop_pid "$FILTER_PID"
FILTER_PID=

# ---------------------------------------------------------------- table
name() { [ "$1" = null ] && echo "null milter" || echo "authscore"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
printf '\nmilter protocol: %d B DKIM-signed message, %d sessions, %d msgs x %d rounds (medians)\n' \
	"$(wc -c <"$MSG")" "$BENCH_CONC" "$BENCH_MSGS" "$BENCH_ROUNDS"
printf '%-12s %-5s %9s %6s %8s %8s %7s %6s %11s %7s\n' set socket msg/s ratio p50_ms p99_ms \
	rt/msg mods cpu_ms/msg errors
for tr in unix inet; do
	for kind in null authscore; do
		printf '%-12s %-5s %9.0f %6.2f %8.3f %8.3f %7.2f %6.2f %11.3f %7s\n' "$(name $kind)" "$tr" \
			"${R[$kind,$tr,msg_per_s]}" \
			"$(awk -v a="${R[$kind,$tr,msg_per_s]}" -v b="${R[null,$tr,msg_per_s]}" 'BEGIN { print a / b }')" \
			"${R[$kind,$tr,p50_ms]}" "${R[$kind,$tr,p99_ms]}" \
			"${R[$kind,$tr,round_trips_per_msg]}" "${R[$kind,$tr,mods_per_msg]}" \
			"${R[$kind,$tr,milter_cpu_ms_per_msg]}" "${R[$kind,$tr,errors]}"
	done
done
printf '\nmemory with %d sessions open (after HELO, unix socket; fresh filter)\n' "$BENCH_HOLD"
printf '%-12s %6s %9s %9s %9s %9s %8s\n' set held idle_MB RSS_MB peak_MB PSS_MB threads
for kind in null authscore; do
	printf '%-12s %6s %9s %9s %9s %9s %8s\n' "$(name $kind)" "${R[$kind,hold,held]}" \
		"$(mb "${R[$kind,hold,idle_rss_kb]}")" "$(mb "${R[$kind,hold,rss_kb]}")" \
		"$(mb "${R[$kind,hold,hwm_kb]}")" "$(mb "${R[$kind,hold,pss_kb]}")" \
		"${R[$kind,hold,threads]}"
done
printf '\none session alone (%d msgs), latency p50 / p99 ms\n' "$BENCH_SOLO"
printf '%-12s %17s %17s %15s\n' set unix inet 'inet-unix p50'
for kind in null authscore; do
	printf '%-12s %8.3f /%7.3f %8.3f /%7.3f %+15.3f\n' "$(name $kind)" \
		"${R[$kind,unix,solo_p50]}" "${R[$kind,unix,solo_p99]}" \
		"${R[$kind,inet,solo_p50]}" "${R[$kind,inet,solo_p99]}" \
		"$(awk -v a="${R[$kind,inet,solo_p50]}" -v b="${R[$kind,unix,solo_p50]}" 'BEGIN { print a - b }')"
done
printf 'authscore replies (last round): %s\n' "${R[authscore,unix,replies]}"
# for tests/bench/bench_table.sh: one "key value" line per figure
if [ -n "${BENCH_RESULTS:-}" ]; then
	for k in "${!R[@]}"; do
		printf 'milter.%s %s\n' "${k//,/.}" "${R[$k]}"
	done >>"$BENCH_RESULTS"
fi
sed -n 's/^milter_load: mod /authscore modification: /p' "$E2E_TMP/authscore-unix.mods" | cut -c1-150
exit 0

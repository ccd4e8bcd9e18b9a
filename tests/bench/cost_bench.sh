#!/bin/bash
# tests/bench/cost_bench.sh - what issues 18 (DKIM signing, ARC) and 19 (the
# body's content scan, URIBL) cost per message: the milter CPU of this
# build beside the build before those issues (BASE_MILTER), measured in the
# same run, on four kinds of message, and the memory of each with 500
# sessions holding a 50 kB newsletter in flight.  `make bench` runs it when
# BASE_MILTER is set; it builds nothing itself.
#
# Inside the namespaces of tests/e2e/lib.sh (root; skipped otherwise), with
# the project's NSD and test zones, over the milter protocol
# (tests/bench/milter_load, unix socket, client 203.0.113.10 unless said):
#   plain5k  the ~5.4 kB message of milter_bench.sh, DKIM-signed (rsa),
#            SPF, DKIM and DMARC passing                     budget +0.05 ms
#   html50k  a ~50 kB multipart/alternative newsletter, QP-encoded HTML with
#            100 links (tests/bench/newsletter.py), DKIM-signed budget +0.3 ms
#   arc2     plain5k with an ARC chain of 2 sets added, unchanged, by two
#            forwarders (arcfwd.D, arcother.D; tests/e2e/arc_forward.py):
#            the new build verifies its one DKIM signature and the chain; the
#            base build gets plain5k itself, "the same message without ARC"
#                                                             budget +0.3 ms
#   sign     plain5k unsigned, from 127.0.0.1 (trusted-networks): the new
#            build signs it with rsa-2048 and ed25519 (dkim-key, dkim-sign);
#            the base build, the same trusted-network config without the
#            keys, skips it                                  budget +0.5 ms
# For each kind both filters are started fresh (their own configuration:
# the new keys only for the new build), warmed up (DNS cache filled), then
# COST_ROUNDS rounds of COST_MSGS messages over COST_CONC sessions
# alternate between them (base, new, base, new, ...), so that a busy machine
# weighs on both alike.  CPU: the filter's user + system time over a round
# (/proc/PID/stat) per message; printed: each build's median, and the median
# of the rounds' differences (new - base).
# Memory: each build fresh, COST_HOLD sessions (default 500) each with the
# html50k message sent up to its end of body (eom not sent: milter_load -o
# -b), once the filter's CPU time is still: RSS and PSS
# (/proc/PID/smaps_rollup); then the eoms all go at once and the peak RSS
# (VmHWM) is taken after their answers.  Budget: peak RSS < 64 MB.
#
# Environment: BASE_MILTER (the authscore-milter before issues 18/19;
# empty: skipped), AUTHSCORE_MILTER (the new one, default
# $top_builddir/authscore-milter), top_srcdir, top_builddir, COST_ROUNDS
# (default 6), COST_MSGS (default 2000), COST_CONC (default 20), COST_HOLD
# (default 500), COST_KINDS (default "plain5k html50k arc2 sign"),
# ARC_FORWARD (default $top_srcdir/tests/e2e/arc_forward.py; arc2 is skipped
# without it), BENCH_KEEP=1 (keep the temporary directory), BENCH_RESULTS (a
# file the figures are appended to as "cost.KIND.KEY VALUE" lines, for
# tests/bench/bench_table.sh), COST_ONLY=memory (only the memory part:
# COST_KINDS emptied; it is not CPU-bound, so a shared machine does not
# skew it), COST_NEW_CONF (configuration lines, one a line, added to the
# new build's: e.g. "content-spool-memory 0" to weigh a setting).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$BENCH_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

if [ -z "${BASE_MILTER:-}" ]; then
	echo "cost_bench: skipped: set BASE_MILTER to the authscore-milter built before issues 18/19" \
		"(e.g. make bench BASE_MILTER=/tmp/base-build/authscore-milter)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "cost_bench: skipped (needs root for unshare and NSD)"
	exit 0
fi
export BASE_MILTER
# lib.sh re-executes this script inside the namespaces, and gives NSD,
# the milter's test configuration and the wait helpers.
. "$top_srcdir/tests/e2e/lib.sh"

: "${COST_ROUNDS:=6}"
: "${COST_MSGS:=2000}"
: "${COST_CONC:=20}"
: "${COST_HOLD:=500}"
: "${COST_KINDS:=plain5k html50k arc2 sign}"
[ "${COST_ONLY:-}" = memory ] && COST_KINDS=
: "${ARC_FORWARD:=$top_srcdir/tests/e2e/arc_forward.py}"
LOAD=$top_builddir/tests/bench/milter_load
NEW_MILTER=$AUTHSCORE_MILTER
D=dmarc.authscore.test
DOMAIN=reject.$D
SENDER=alice@$DOMAIN
KEYS=$top_srcdir/tests/e2e/data/keys
PY=/usr/bin/python3 # Debian's, where python3-dkim lives

for p in "$LOAD" "$NEW_MILTER" "$BASE_MILTER"; do
	if [ ! -x "$p" ]; then
		echo "cost_bench: $p not built (make bench builds milter_load and authscore-milter)" >&2
		exit 1
	fi
done
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-cost.XXXXXX") || exit 1
chmod 0755 "$E2E_TMP"
BASE_PID='' NEW_PID=''
cost_cleanup() {
	_stop_pid "${BASE_PID:-}"
	_stop_pid "${NEW_PID:-}"
	_stop_pid "${NSD_PID:-}"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "cost_bench: kept $E2E_TMP" >&2
	else
		rm -rf "$E2E_TMP"
	fi
}
trap cost_cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "cost_bench: $*" >&2; exit 1; }

# ------------------------------------------------------------ the zones
# The test zones, with the forwarders' ARC keys (selector arc, the rsa2048
# key) added when they are not there yet.
copy_zones() {
	local z=$E2E_TMP/zones pub rec name
	mkdir -p "$z" && cp "$E2E_ZONES"/*.zone "$z/" || return 1
	pub=$(openssl pkey -in "$KEYS/rsa2048.pem" -pubout -outform DER | base64 -w0) || return 1
	# TXT strings of at most 255 bytes
	rec=$(printf 'v=DKIM1; k=rsa; p=%s' "$pub" | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' ')
	for name in arcfwd arcother; do
		grep -q "^arc\\._domainkey\\.${name}[[:space:]]" "$z/$D.zone" ||
			printf 'arc._domainkey.%s IN TXT ( %s)\n' "$name" "$rec" >>"$z/$D.zone"
	done
	E2E_ZONES=$z
}
copy_zones || die "cannot copy the zones"
_setup_net || die "cannot set up the network namespace"
start_nsd >&2 || die "NSD did not start"

# ---------------------------------------------------------- the messages
. "$BENCH_DIR/bench_msg.sh" # make_bench_msg
M=$E2E_TMP/msg
mkdir -p "$M"
make_bench_msg >"$M/sign.eml" || die "cannot write the message"
dkim_sign rsa "$DOMAIN" "$KEYS/rsa2048.pem" <"$M/sign.eml" >"$M/plain5k.eml" ||
	die "dkimsign failed"
$PY "$BENCH_DIR/newsletter.py" "$DOMAIN" "$E2E_RCPT" |
	dkim_sign rsa "$DOMAIN" "$KEYS/rsa2048.pem" >"$M/html50k.eml" || die "newsletter.py or dkimsign failed"
ARC_SKIP=
if [ ! -f "$ARC_FORWARD" ]; then
	ARC_SKIP="no $ARC_FORWARD (the ARC tests of issue 18)"
elif ! $PY -c 'import dkim, authres' 2>/dev/null; then
	ARC_SKIP="python3-dkim or python3-authres missing"
else
	# two forwarders seal it unchanged (--keep): the signature still passes
	seen="dkim=pass header.d=$DOMAIN header.s=rsa; dmarc=pass header.from=$DOMAIN"
	$PY "$ARC_FORWARD" --keep --sealer "arcfwd.$D" --key "$KEYS/rsa2048.pem" --results "$seen" \
		"$M/plain5k.eml" >"$M/arc1.eml" || die "arc_forward.py failed (arcfwd)"
	$PY "$ARC_FORWARD" --keep --sealer "arcother.$D" --key "$KEYS/rsa2048.pem" \
		--results "$seen" "$M/arc1.eml" >"$M/arc2.eml" || die "arc_forward.py failed (arcother)"
	[ "$(grep -ci '^ARC-Seal:' "$M/arc2.eml")" = 2 ] || die "arc2: not two ARC sets"
fi
# the Ed25519 key as PKCS#8 PEM (the milter's dkim-key wants PEM; the test
# key is a base64 seed, dkimpy's format)
mkdir -p "$E2E_TMP/keys"
install -m 0600 "$KEYS/rsa2048.pem" "$E2E_TMP/keys/rsa.pem"
{
	echo '-----BEGIN PRIVATE KEY-----'
	{ printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20' &&
		base64 -d "$KEYS/ed25519.seed.b64"; } | base64 -w 64
	echo '-----END PRIVATE KEY-----'
} >"$E2E_TMP/keys/ed.pem" && chmod 0600 "$E2E_TMP/keys/ed.pem"
openssl pkey -in "$E2E_TMP/keys/ed.pem" -noout 2>/dev/null || die "the Ed25519 PEM key is not valid"

# --------------------------------------------------------------- filters
# conf BUILD KIND FILE SOCKET - each build's configuration: the checks of
# production (the default rules, GeoIP), and for the new build's sign kind
# the two keys
conf() {
	local build=$1 kind=$2 file=$3 sock=$4 extra=()
	if [ "$build" = new ] && [ "$kind" = sign ]; then
		extra=("dkim-key $DOMAIN rsa $E2E_TMP/keys/rsa.pem"
			"dkim-key $DOMAIN ed $E2E_TMP/keys/ed.pem"
			"dkim-sign $DOMAIN $DOMAIN:rsa $DOMAIN:ed")
	fi
	# COST_NEW_CONF: lines for the new build only (a setting's cost)
	if [ "$build" = new ] && [ -n "${COST_NEW_CONF:-}" ]; then
		mapfile -t -O "${#extra[@]}" extra <<<"$COST_NEW_CONF"
	fi
	E2E_MILTER_SOCKET=$sock write_milter_conf "$file" \
		"geoip-country $top_srcdir/tests/data/geoip/GeoLite2-Country-Test.mmdb" \
		"geoip-asn $top_srcdir/tests/data/geoip/GeoLite2-ASN-Test.mmdb" "${extra[@]}"
	sed -i -e 's/^log-level .*/log-level warning/' \
		-e "s|^state-dir .*|state-dir $E2E_TMP/state-$build|" "$file"
}

# start BUILD KIND - a fresh filter of BUILD (base|new) on its own socket;
# sets BASE_PID or NEW_PID
start() {
	local build=$1 kind=$2 bin sock=$E2E_TMP/$1.sock pid
	if [ "$build" = base ]; then
		bin=$BASE_MILTER
		_stop_pid "$BASE_PID"
	else
		bin=$NEW_MILTER
		_stop_pid "$NEW_PID"
	fi
	rm -rf "$sock" "$E2E_TMP/state-$build"
	conf "$build" "$kind" "$E2E_TMP/$build-$kind.conf" "$sock"
	"$bin" -f -c "$E2E_TMP/$build-$kind.conf" -p "unix:$sock" >>"$E2E_TMP/$build.log" 2>&1 3>&- &
	pid=$!
	wait_for 15 "_unix_listening $sock || ! _pid_alive $pid" >/dev/null
	_pid_alive "$pid" || { tail "$E2E_TMP/$build.log" >&2; die "the $build filter did not start for $kind"; }
	if [ "$build" = base ]; then BASE_PID=$pid; else NEW_PID=$pid; fi
}

# msg_of BUILD KIND - the message the build gets for the kind
msg_of() {
	case $2 in
	arc2) [ "$1" = base ] && echo "$M/plain5k.eml" || echo "$M/arc2.eml" ;;
	*) echo "$M/$2.eml" ;;
	esac
}
client_of() { [ "$1" = sign ] && echo 127.0.0.1 || echo "$E2E_CLIENT4"; }

# load BUILD KIND [milter_load args]
load() {
	local build=$1 kind=$2
	shift 2
	"$LOAD" -s "unix:$E2E_TMP/$build.sock" -f "$(msg_of "$build" "$kind")" \
		-a "$(client_of "$kind")" -F "$SENDER" -R "$E2E_RCPT" "$@"
}

kv() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A R # R[kind,key]
# warm BUILD KIND - the warm-up, its modifications kept for the checks
warm() {
	local line
	line=$(load "$1" "$2" -c "$COST_CONC" -n 200 -v 2>"$E2E_TMP/$1-$2.mods")
	[ "$(kv "$line" errors)" = 0 ] ||
		echo "cost_bench: $2 on $1: warm-up errors: $line" >&2
	echo "$line" >"$E2E_TMP/$1-$2.warm"
}

# run_kind KIND - both filters, alternating rounds
run_kind() {
	local kind=$1 i b line pid cpu
	start base "$kind"
	start new "$kind"
	warm base "$kind"
	warm new "$kind"
	: >"$E2E_TMP/$kind.rounds"
	for ((i = 1; i <= COST_ROUNDS; i++)); do
		for b in base new; do
			[ "$b" = base ] && pid=$BASE_PID || pid=$NEW_PID
			line=$(load "$b" "$kind" -c "$COST_CONC" -n "$COST_MSGS" -p "$pid")
			printf '# %s %s round %d: %s\n' "$kind" "$b" "$i" "$line" >&2
			cpu=$(kv "$line" milter_cpu_ms_per_msg)
			echo "$i $b ${cpu:-nan} $(kv "$line" errors)" >>"$E2E_TMP/$kind.rounds"
		done
	done
	for b in base new; do
		R[$kind,$b]=$(awk -v b=$b '$2 == b { print $3 }' "$E2E_TMP/$kind.rounds" | median)
		R[$kind,$b.errors]=$(awk -v b=$b '$2 == b { s += $4 } END { print s + 0 }' "$E2E_TMP/$kind.rounds")
		R[$kind,$b.replies]=$(kv "$(cat "$E2E_TMP/$b-$kind.warm")" replies)
	done
	R[$kind,diff]=$(awk '$2 == "base" { b[$1] = $3 } $2 == "new" { n[$1] = $3 }
		END { for (i in b) if (i in n) print n[i] - b[i] }' "$E2E_TMP/$kind.rounds" | median)
	_stop_pid "$BASE_PID"
	_stop_pid "$NEW_PID"
	BASE_PID='' NEW_PID=''
	check_kind "$kind"
}

# check_kind KIND - the new build did what the kind measures (seen in the
# warm-up's modifications): else a note, and no verdict for the kind
check_kind() {
	local kind=$1 mods=$E2E_TMP/new-$1.mods why=
	case $kind in
	sign)
		[ "$(grep -c 'DKIM-Signature' "$mods")" -ge 2 ] ||
			why="the new build added no two DKIM-Signature fields"
		grep -q 'DKIM-Signature' "$E2E_TMP/base-$kind.mods" &&
			why="the base build signed too"
		;;
	arc2)
		grep -Eqi '[[:space:];]arc=pass' "$mods" || # not dmarc=pass
			why="the new build's Authentication-Results have no arc=pass (is ARC in it?)"
		;;
	*)
		grep -qi 'dkim=pass' "$mods" || why="the new build's Authentication-Results have no dkim=pass"
		;;
	esac
	R[$kind,check]=$why
	[ -z "$why" ] && R[$kind,checked]=1 || R[$kind,checked]=0
	[ -z "$why" ] || echo "cost_bench: $kind: $why" >&2
}

# hold BUILD - memory with COST_HOLD sessions, html50k in flight in each
hold() {
	local build=$1 line pid
	start "$build" html50k
	[ "$build" = base ] && pid=$BASE_PID || pid=$NEW_PID
	line=$(load "$build" html50k -o "$COST_HOLD" -b -p "$pid" -t 120)
	printf '# %s holding %d sessions, html50k in flight: %s\n' "$build" "$COST_HOLD" "$line" >&2
	for key in held errors idle_rss_kb rss_kb pss_kb threads "done" peak_kb total_errors; do
		R[mem,$build.$key]=$(kv "$line" "$key")
	done
	R[mem,$build.replies]=$(kv "$line" replies)
	_stop_pid "$pid"
	BASE_PID='' NEW_PID=''
}

for kind in $COST_KINDS; do
	if [ "$kind" = arc2 ] && [ -n "$ARC_SKIP" ]; then
		echo "cost_bench: arc2 skipped: $ARC_SKIP" >&2
		continue
	fi
	run_kind "$kind"
done
for b in base new; do
	hold "$b"
done

# ---------------------------------------------------------------- table
budget_of() {
	case $1 in plain5k) echo 0.05 ;; html50k | arc2) echo 0.3 ;; sign) echo 0.5 ;; esac
}
met() { # VALUE LIMIT [CHECK] - yes/NO, or - when not measured or not checked
	[ -z "$1" ] || [ "$1" = nan ] || [ -n "${3:-}" ] && { echo -; return; }
	awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "yes" : "NO" }'
}
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo -; }
printf '\ncost per message, the build before issues 18/19 (base: %s) beside this one (new: %s)\n' \
	"$BASE_MILTER" "$NEW_MILTER"
printf 'milter CPU ms/msg, medians of %d alternating rounds of %d msgs over %d sessions; difference: median of the rounds'"'"' new - base\n' \
	"$COST_ROUNDS" "$COST_MSGS" "$COST_CONC"
row() { printf '%-8s | %8s | %15s | %14s | %10s | %8s | %s\n' "$@"; }
row kind size_B "base CPU ms/msg" "new CPU ms/msg" difference budget met
for kind in $COST_KINDS; do
	if [ -z "${R[$kind,base]:-}" ]; then
		row "$kind" - - - - "+$(budget_of "$kind")" "- (skipped)"
		continue
	fi
	row "$kind" "$(wc -c <"$(msg_of new "$kind")")" "${R[$kind,base]}" "${R[$kind,new]}" \
		"$(awk -v d="${R[$kind,diff]}" 'BEGIN { printf "%+.3f", d }')" "+$(budget_of "$kind")" \
		"$(met "${R[$kind,diff]}" "$(budget_of "$kind")" "${R[$kind,check]}")${R[$kind,check]:+ (${R[$kind,check]})}"
done
echo "replies (warm-up), errors (rounds):"
for kind in $COST_KINDS; do
	[ -n "${R[$kind,base]:-}" ] || continue
	printf '  %-8s base %s errors=%s; new %s errors=%s\n' "$kind" "${R[$kind,base.replies]}" \
		"${R[$kind,base.errors]}" "${R[$kind,new.replies]}" "${R[$kind,new.errors]}"
done
printf '\nmemory: %d sessions, each with the html50k message sent up to its end of body (fresh filter)\n' "$COST_HOLD"
printf '%-5s | %6s | %7s | %7s | %7s | %8s | %5s | %7s | %s\n' build held idle_MB RSS_MB PSS_MB peak_MB "done" threads errors
for b in base new; do
	printf '%-5s | %6s | %7s | %7s | %7s | %8s | %5s | %7s | %s\n' "$b" "${R[mem,$b.held]}" \
		"$(mb "${R[mem,$b.idle_rss_kb]}")" "$(mb "${R[mem,$b.rss_kb]}")" "$(mb "${R[mem,$b.pss_kb]}")" \
		"$(mb "${R[mem,$b.peak_kb]}")" "${R[mem,$b.done]}" "${R[mem,$b.threads]}" "${R[mem,$b.total_errors]}"
done
printf 'budget: new peak RSS (VmHWM after the %d eoms) < 64 MB: %s\n' "$COST_HOLD" \
	"$([ -n "${R[mem,new.peak_kb]}" ] && awk -v k="${R[mem,new.peak_kb]}" 'BEGIN { print (k < 65536) ? "yes" : "NO" }' || echo -)"
# for tests/bench/bench_table.sh: one "key value" line per figure
if [ -n "${BENCH_RESULTS:-}" ]; then
	for k in "${!R[@]}"; do
		[ -n "${R[$k]}" ] || continue
		case $k in *.replies | *,check) continue ;; esac
		printf 'cost.%s %s\n' "${k//,/.}" "${R[$k]}"
	done >>"$BENCH_RESULTS"
fi
exit 0

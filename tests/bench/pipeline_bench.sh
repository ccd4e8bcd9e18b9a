#!/bin/bash
# tests/bench/pipeline_bench.sh - the whole Postfix pipeline with and without
# a milter (issue #7): smtp-source -> the private Postfix of tests/e2e/lib.sh
# -> smtp-sink, inside the e2e namespace (root; skipped otherwise).
#
# Sets, measured in the same run, rounds interleaved:
#   none       Postfix without a milter (the baseline)
#   null       the naive libmilter null filter, tests/bench/null_milter, when
#              it has been built (`make tests/bench/null_milter`); skipped if not
#   lean       the same program with -l: the fewest packets and replies a
#              libmilter filter that reads the whole message can ask for (no
#              reply before the end of the message, no EOH), no edits; the
#              floor under any such filter, authscore included
#   headers    the lean filter with -e: it also adds the two header fields
#              authscore adds, of their sizes (the floor for a filter that
#              writes its verdict into the message)
#   authscore  authscore-milter: SPF, DKIM, DMARC, the default rules (three
#              DNSBLs, DNSWL, DBL, iprev) and GeoIP on tests/data/geoip
# The message: ~5.4 kB, DKIM-signed (rsa-sha256, 2048 bits) by
# reject.dmarc.authscore.test, whose SPF and DMARC (p=reject) pass for the
# client 203.0.113.10 (PTR client.authscore.test): every check runs and
# passes.  Postfix gets a listener on 203.0.113.10:25 so that the client is
# not loopback (trusted-networks and libspf2 would skip it).
#
# 1. Throughput: ROUNDS rounds of MESSAGES messages over SESSIONS parallel
#    sessions per set; a round's time runs from the start of smtp-source
#    until smtp-sink has counted all its messages (smtp-sink -c, no files;
#    tests/bench/sink_wait polls its count without forking).
#    DNS answers are cached by the milter after the warm-up, so this is the
#    CPU cost of the filter.  msg/s: the median of the rounds; the ratio:
#    the median of each round's ratio to the "none" run of the same round
#    (which cancels slow drift and other load on the machine).  CPU: the
#    machine's busy time (/proc/stat: user, nice, system, irq, softirq) per
#    message over the round, everything in the pipeline included, and the
#    filter process's own (/proc/PID/stat); medians of the rounds.
# 2. DNS latency: tests/bench/dns_delay, a UDP proxy in front of NSD, delays
#    every answer by DELAY ms; the milter's dns-stub lines point at it.  One
#    message at a time, the milter restarted before each one (cold cache),
#    plain (proxy with 0 ms) and delayed runs alternating.  "Added DNS rounds"
#    = (p50 session time delayed - p50 plain) / DELAY.  The lookups of the
#    first delayed message are printed in rounds (the proxy's -v log).
#
# Environment: PIPELINE_BENCH_MESSAGES (500), _SESSIONS (10), _ROUNDS (6),
# _LATENCY_MESSAGES (20), _DELAY_MS (50); NULL_MILTER (default
# $top_builddir/tests/bench/null_milter, run as `null_milter [-l] unix:SOCKET`);
# DNS_DELAY, SINK_WAIT (the helpers' paths);
# BENCH_RESULTS (a file the figures are appended to, "pipeline.SET.KEY
# VALUE" lines, for tests/bench/bench_table.sh).
. "$(dirname "$0")/../e2e/lib.sh"

N=${PIPELINE_BENCH_MESSAGES:-500}
SESSIONS=${PIPELINE_BENCH_SESSIONS:-10}
ROUNDS=${PIPELINE_BENCH_ROUNDS:-6}
LAT_N=${PIPELINE_BENCH_LATENCY_MESSAGES:-20}
DELAY=${PIPELINE_BENCH_DELAY_MS:-50}
: "${NULL_MILTER:=$top_builddir/tests/bench/null_milter}"
: "${DNS_DELAY:=$top_builddir/tests/bench/dns_delay}"
: "${SINK_WAIT:=$top_builddir/tests/bench/sink_wait}"
CLIENT=203.0.113.10
D=dmarc.authscore.test
SENDER=user@reject.$D
PLAIN_PORT=5354 # dns_delay -d 0
SLOW_PORT=5355  # dns_delay -d DELAY

say() { printf '%s\n' "$*" >&2; }
die() { say "pipeline_bench: $*"; exit 1; }
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The milter's log level: debug for the latency runs (SPF timestamps), info
# (one line per message, as in production) for throughput.  lib.sh writes
# "log-level debug"; rewrite it after it has written the file.
LOG_LEVEL=info
eval "_lib_$(declare -f write_milter_conf)"
write_milter_conf() { _lib_write_milter_conf "$@" && sed -i "s/^log-level debug\$/log-level $LOG_LEVEL/" "$1"; }

[ -x "$AUTHSCORE_MILTER" ] || die "no $AUTHSCORE_MILTER (make)"
[ -x "$DNS_DELAY" ] || die "no $DNS_DELAY (make tests/bench/dns_delay)"
[ -x "$SINK_WAIT" ] || die "no $SINK_WAIT (make tests/bench/sink_wait)"
command -v smtp-source >/dev/null || die "smtp-source (postfix) not found"
command -v dkimsign >/dev/null || die "dkimsign (python3-dkim) not found"

# ------------------------------------------------------------------ setup
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-pipeline.XXXXXX") || exit 1
chmod 0755 "$E2E_TMP"
bench_cleanup() {
	local st=$? p
	for p in ${NULL_PID:-} ${LEAN_PID:-} ${HDRS_PID:-} ${PLAIN_PID:-} ${SLOW_PID:-}; do _stop_pid "$p"; done
	(exit "$st")
	e2e_cleanup # stops smtp-sink (SINK_PID), Postfix, the milter, NSD
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
_setup_net || die "cannot set up the network namespace"
start_nsd >&2 || die "NSD did not start"

# smtp-sink counting, not writing: "sess=N quit=N mesg=N" records, CR-separated
SINK_COUNT=$E2E_TMP/sink.count
smtp-sink -c -u postfix -h sink.test 127.0.0.1:"$E2E_SINK_PORT" 256 >"$SINK_COUNT" 2>"$E2E_TMP/sink.log" &
# shellcheck disable=SC2034 # e2e_cleanup stops it
SINK_PID=$!
wait_for 10 "_tcp_listening $E2E_SINK_PORT" || die "smtp-sink did not start"
sink_count() {
	local n
	n=$(tail -c 80 "$SINK_COUNT" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1)
	echo "${n:-0}"
}

start_postfix >&2 || die "Postfix did not start"
postconf -M "$CLIENT:25/inet=$CLIENT:25 inet n - n - - smtpd" &&
	postconf -e 'smtpd_client_connection_count_limit = 0' 'smtpd_milters =' &&
	postfix reload >/dev/null 2>&1 || die "cannot configure Postfix"
wait_for 10 "ss -Hltn 'src $CLIENT:25' | grep -q ." || die "Postfix does not listen on $CLIENT:25"

# the message: ~5.4 kB signed
MSG=$E2E_TMP/message.eml
{
	printf 'From: <%s>\nTo: <%s>\nSubject: pipeline benchmark\n' "$SENDER" "$E2E_RCPT"
	printf 'Date: %s\nMessage-ID: <bench-%s@reject.%s>\n' "$(date -R)" "$$" "$D"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	for ((i = 1; i <= 60; i++)); do
		printf 'Line %02d of the benchmark message: some plain text to give the body a size.\n' "$i"
	done
} >"$MSG"
dkim_sign rsa "reject.$D" "$E2E_DIR/data/keys/rsa2048.pem" <"$MSG" >"$MSG.signed" && mv "$MSG.signed" "$MSG" ||
	die "dkimsign failed"

# send COUNT SESSIONS - smtp-source; fails if a message is not accepted
send() {
	smtp-source -F "$MSG" -m "$1" -s "$2" -M client.authscore.test -f "$SENDER" -t "$E2E_RCPT" \
		"$CLIENT:25" >>"$E2E_TMP/smtp-source.log" 2>&1
}

MILTER_CONF_LINES=("rules $top_srcdir/rules/default.rules"
	"geoip-country $top_srcdir/tests/data/geoip/GeoLite2-Country-Test.mmdb"
	"geoip-asn $top_srcdir/tests/data/geoip/GeoLite2-ASN-Test.mmdb")
NULL_SOCK=$E2E_TMP/null.sock
LEAN_SOCK=$E2E_TMP/lean.sock
HDRS_SOCK=$E2E_TMP/headers.sock
# start_null SOCKET [-l] - start the null filter; its pid in STARTED_PID
start_null() {
	[ -x "$NULL_MILTER" ] || return 1
	rm -f "$1"
	# shellcheck disable=SC2086
	(umask 0 && exec "$NULL_MILTER" ${2:-} "unix:$1") >>"$E2E_TMP/null_milter.log" 2>&1 &
	STARTED_PID=$!
	wait_for 5 "_unix_listening $1 || ! _pid_alive $STARTED_PID" && _pid_alive $STARTED_PID && return 0
	_stop_pid "$STARTED_PID"
	return 1
}

SETS="none authscore"
if start_null "$NULL_SOCK" && NULL_PID=$STARTED_PID && start_null "$LEAN_SOCK" -l &&
	LEAN_PID=$STARTED_PID && start_null "$HDRS_SOCK" -e; then
	HDRS_PID=$STARTED_PID
	SETS="none null lean headers authscore"
else
	say "# null milter not found or does not start ($NULL_MILTER): sets null, lean and headers skipped"
fi
start_milter "${MILTER_CONF_LINES[@]}" >&2 || die "authscore-milter did not start"

# use SET - point Postfix's smtpd at the set's milter
use() {
	local spec=
	case $1 in
	null) spec=unix:$NULL_SOCK ;;
	lean) spec=unix:$LEAN_SOCK ;;
	headers) spec=unix:$HDRS_SOCK ;;
	authscore) spec=unix:$E2E_TMP/milter.sock ;;
	esac
	postfix_set "smtpd_milters = $spec"
	sleep 1 # the reload replaces the smtpd processes
}

# the set's filter process, for its CPU time
set_pid() {
	case $1 in
	null) echo "$NULL_PID" ;;
	lean) echo "$LEAN_PID" ;;
	headers) echo "$HDRS_PID" ;;
	authscore) echo "$MILTER_PID" ;;
	esac
}
# machine_ticks / proc_ticks PID - busy CPU time in clock ticks
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
proc_ticks() { [ -n "$1" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
ms_per_msg() { awk -v t="$1" -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.2f", t * 1000 / hz / n }'; } # TICKS

# ------------------------------------------------------------- throughput
T_START=$SECONDS
say "# throughput: $ROUNDS rounds x $N messages, $SESSIONS sessions, $(wc -c <"$MSG") byte message"
declare -A RATES RATIOS CPU MCPU
for ((r = 1; r <= ROUNDS; r++)); do
	for set in $SETS; do
		use "$set"
		c0=$(sink_count)
		send 20 "$SESSIONS" || die "$set: warm-up messages refused (see $E2E_TMP/smtp-source.log)"
		"$SINK_WAIT" "$SINK_COUNT" $((c0 + 20)) 30000 >/dev/null || die "$set: warm-up messages not delivered"
		c0=$(sink_count)
		want=$((c0 + N))
		pid=$(set_pid "$set")
		k0=$(machine_ticks) p0=$(proc_ticks "$pid")
		t0=$(now_ms)
		send "$N" "$SESSIONS" || die "$set: messages refused (see $E2E_TMP/smtp-source.log)"
		got=$("$SINK_WAIT" "$SINK_COUNT" "$want" $((N * 100 + 60000))) ||
			die "$set: only $((got - c0)) of $N delivered"
		t1=$(now_ms)
		k1=$(machine_ticks) p1=$(proc_ticks "$pid")
		rate=$(awk -v n="$N" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", n * 1000 / ms }')
		RATES[$set]+="$rate "
		CPU[$set]+="$(ms_per_msg $((k1 - k0))) "
		MCPU[$set]+="$(ms_per_msg $((p1 - p0))) "
		[ "$set" = none ] && base_rate=$rate
		RATIOS[$set]+="$(awk -v a="$rate" -v b="$base_rate" 'BEGIN { printf "%.3f", a / b }') "
		say "# round $r $set: $N messages in $((t1 - t0)) ms, $rate msg/s"
	done
done
if [ -s "$E2E_TMP/milter.log" ] && grep -q 'action=' "$E2E_TMP/milter.log"; then
	say "# authscore verdicts: $(grep -o 'dkim=[^ ]* dmarc=[^ ]* policy=[^ ]* iprev=[^ ]*' "$E2E_TMP/milter.log" | sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
fi

# ------------------------------------------------------------ DNS latency
T_LAT=$SECONDS
# dns_delay instances: 0 ms (plain) and DELAY ms, both in front of NSD
"$DNS_DELAY" -l 127.0.0.1@$PLAIN_PORT -u 127.0.0.1@$E2E_DNS_PORT -d 0 2>"$E2E_TMP/dns_plain.log" &
PLAIN_PID=$!
"$DNS_DELAY" -v -l 127.0.0.1@$SLOW_PORT -u 127.0.0.1@$E2E_DNS_PORT -d "$DELAY" 2>"$E2E_TMP/dns_slow.log" &
SLOW_PID=$!
sleep 0.3
_pid_alive $PLAIN_PID && _pid_alive $SLOW_PID || die "dns_delay did not start"

LOG_LEVEL=debug
# one_message - ms of one SMTP session (connect to QUIT), from smtp-source -m 1
one_message() {
	local t0 t1
	t0=$(date +%s%N)
	send 1 1 || return 1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
declare -A ROUNDS_OF
LAST_SLOW= # start and end (ms) of the last delayed authscore message
for set in $SETS; do
	[ "$set" = none ] && continue
	use "$set"
	send 1 1 || die "$set: latency warm-up message refused" # the reload's new smtpd
	plain=() slow=()
	for ((i = 1; i <= LAT_N; i++)); do
		for port in $PLAIN_PORT $SLOW_PORT; do
			if [ "$set" = authscore ]; then
				# a fresh milter, its cache empty, resolving through PORT.
				# KILL: after TERM the daemon takes ~5 s to exit, even idle
				# (disowned first: no "Killed" job notice from bash)
				disown "$MILTER_PID" 2>/dev/null
				stop_milter KILL
				E2E_DNS_PORT=$port start_milter "${MILTER_CONF_LINES[@]}" >&2 || die "milter restart failed"
			fi
			ts=$(now_ms)
			ms=$(one_message) || die "$set: latency message refused"
			if [ $port = $PLAIN_PORT ]; then
				plain+=("$ms")
			else
				slow+=("$ms")
				[ "$set" = authscore ] && LAST_SLOW="$ts $((ts + ms))"
			fi
		done
	done
	p_plain=$(printf '%s\n' "${plain[@]}" | median)
	p_slow=$(printf '%s\n' "${slow[@]}" | median)
	ROUNDS_OF[$set]=$(awk -v a="$p_plain" -v b="$p_slow" -v d="$DELAY" 'BEGIN { printf "%.1f", (b - a) / d }')
	say "# latency $set: p50 ${p_plain} ms plain, ${p_slow} ms with ${DELAY} ms per DNS answer: ${ROUNDS_OF[$set]} rounds"
done
if [ -n "$LAST_SLOW" ]; then
	# the lookups of the last delayed message, grouped in rounds of DELAY ms
	say "# the last delayed message (cold cache): queries as they reached the proxy, in rounds:"
	awk -v from="${LAST_SLOW% *}" -v to="${LAST_SLOW#* }" -v d="$DELAY" '
		$2 == "Q" { split($1, t, "."); ms = t[1] * 1000 + t[2]
			if (ms < from || ms > to) next
			if (t0 == "") t0 = ms
			r = int((ms - t0) / d + 0.5)
			line[r] = line[r] " " $4 ":" $3; at[r] = at[r] == "" ? ms - t0 : at[r]; if (r > max) max = r }
		END { for (r = 0; r <= max; r++) if (line[r] != "") printf "#   round %d (+%d ms):%s\n", r + 1, at[r], line[r] }' \
		"$E2E_TMP/dns_slow.log" >&2
	say "# its milter log (debug; ms= counts from MAIL FROM):"
	grep -E '^20[0-9-]+T' "$E2E_TMP/milter.log" | grep -E 'spf: |action=' | tail -n 3 | sed 's/^/#   /' >&2
fi

# ------------------------------------------------------------------ table
printf '%-10s | %-22s | %8s | %-14s | %-15s | %s\n' set "pipeline ratio to none" "msg/s" \
	"CPU ms/msg" "filter CPU ms" "added DNS rounds at ${DELAY} ms"
declare -A MED_RATE MED_RATIO MED_CPU MED_MCPU # the medians of the rounds
fixed() { awk -v f="$1" '{ printf f, $1 }'; } # FORMAT - reformat a number
for set in $SETS; do
	MED_RATE[$set]=$(printf '%s\n' ${RATES[$set]} | median)
	MED_RATIO[$set]=$(printf '%s\n' ${RATIOS[$set]} | median)
	MED_CPU[$set]=$(printf '%s\n' ${CPU[$set]} | median)
	[ "$set" = none ] || MED_MCPU[$set]=$(printf '%s\n' ${MCPU[$set]} | median)
	printf '%-10s | %-22s | %8s | %-14s | %-15s | %s\n' "$set" \
		"$(fixed %.2f <<<"${MED_RATIO[$set]}")" "$(fixed %.1f <<<"${MED_RATE[$set]}")" \
		"$(fixed %.2f <<<"${MED_CPU[$set]}")" \
		"$([ "$set" = none ] && echo - || fixed %.2f <<<"${MED_MCPU[$set]}")" "${ROUNDS_OF[$set]:--}"
done
say "# times: throughput $((T_LAT - T_START)) s, latency $((SECONDS - T_LAT)) s"
# for tests/bench/bench_table.sh: one "key value" line per figure
if [ -n "${BENCH_RESULTS:-}" ]; then
	for set in $SETS; do
		printf 'pipeline.%s.rate %s\n' "$set" "${MED_RATE[$set]}"
		printf 'pipeline.%s.ratio %s\n' "$set" "${MED_RATIO[$set]}"
		printf 'pipeline.%s.dns_rounds %s\n' "$set" "${ROUNDS_OF[$set]:--}"
		printf 'pipeline.%s.cpu_ms_per_msg %s\n' "$set" "${MED_CPU[$set]}"
		[ "$set" = none ] || printf 'pipeline.%s.filter_cpu_ms_per_msg %s\n' "$set" "${MED_MCPU[$set]}"
	done >>"$BENCH_RESULTS"
fi

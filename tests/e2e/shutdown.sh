#!/bin/bash
# tests/e2e/shutdown.sh - SIGTERM as an admin (or systemd) sends it: an idle
# milter is gone within 1 s; under load it answers the messages in flight,
# is gone within the DNS deadline + 1 s, and every message it answered has
# exactly one history record (store or spool).  Then a state directory
# that is read-only at start and writable later: every record reaches the
# store exactly once.  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

# The DNS deadline of these tests: lib.sh's dns-timeout 2s, and SPF's whole
# evaluation bounded the same.  slow.test. goes to a UDP port that takes
# queries and never answers: an SPF check there lasts until its deadline.
DEADLINE_S=2
BASE=("on-spf-fail accept" "on-spf-temperror accept" "spf-timeout ${DEADLINE_S}s"
	"dns-stub slow.test. 127.0.0.1@5399")
e2e_setup "${BASE[@]}"
perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:5399", Proto => "udp") or die; sleep 300' &
BLACKHOLE=$!

# stop_within PID SECONDS NAME [SIGNAL...] - the signals (default TERM),
# then poll (every 10 ms) until the process is gone.  Two tests: the daemon
# logged "stopped" within SECONDS of the first signal, and the process was
# gone within SECONDS (plus E2E_EXIT_SLACK in a sanitizer build, whose
# leak scan at exit is not the daemon's work); the times as TAP comments.
# SIGNAL "TERM2" is a second SIGTERM 0.1 s later.  A process still there at
# the deadline is killed (the next test starts a new one).
stop_within() {
	local pid=$1 secs=$2 limit_ms=$(($2 * 1000)) name=$3 t0 ms sig second= own
	local exit_ms=$((($2 + E2E_EXIT_SLACK) * 1000))
	shift 3
	t0=$(date +%s%N)
	for sig in "${@:-TERM}"; do
		[ "$sig" = TERM2 ] && second=1 || kill -"$sig" "$pid" 2>/dev/null
	done
	while :; do
		ms=$((($(date +%s%N) - t0) / 1000000))
		_pid_alive "$pid" || break
		[ -n "$second" ] && [ "$ms" -ge 100 ] && { kill -TERM "$pid" 2>/dev/null; second=; }
		[ "$ms" -gt "$exit_ms" ] && break
		sleep 0.01
	done
	own=$(milter_stop_ms $((t0 / 1000000)))
	diag "$name: $(_pid_alive "$pid" && echo "still there" || echo gone) ${ms} ms after SIGTERM;" \
		"\"stopped\" logged after ${own:-(never)} ms"
	ok "[ -n '$own' ] && [ '${own:-0}' -le $limit_ms ]" \
		"$name: stopped within $secs s of SIGTERM (${own:-never} ms)"
	ok "[ $ms -le $exit_ms ]" "$name: process gone within $((secs + E2E_EXIT_SLACK)) s (${ms} ms)"
	_pid_alive "$pid" && { kill -KILL "$pid"; wait_for 5 "! _pid_alive $pid"; }
	return 0
}

# records PART - the markers (shutdown-PARTn-PID) of the messages that have
# a record, one a line, sorted, once per record: store rows and spool lines
records() {
	{
		sqlite3 "$E2E_TMP/state/history.db" "SELECT message_id FROM messages" 2>/dev/null
		cat "$E2E_TMP/state/authscore-spool.jsonl" 2>/dev/null
	} | grep -o "shutdown-$1[0-9]*-$$" | sort
}

# ------------------------------------------------------------------ idle
accepted warm-up 'spf=pass smtp.mailfrom=pass.authscore.test' -- --from user@pass.authscore.test
stop_within "$MILTER_PID" 1 "idle"
MILTER_PID=
# SIGHUP and SIGTERM together: the stop is not lost behind the reload
start_milter "${BASE[@]}" || fail "milter restarts"
stop_within "$MILTER_PID" 1 "SIGHUP then SIGTERM" HUP TERM
MILTER_PID=

# ------------------------------------------------------------ under load
# N messages in parallel, half of them waiting for SPF until the deadline;
# SIGTERM once a few are answered, so that others are in flight.
#
# "Answered by the milter" is exact here: Postfix's milter_default_action
# is tempfail and every message passes or gets spf=temperror (accepted by
# this config), so a 250 at the end of DATA means Postfix got the milter's
# end-of-message reply, and anything else means it did not (a 451 from the
# default action: the milter was gone or had stopped serving the session).
# The milter appends the record before it replies, so each 250 must have
# exactly one record and each other reply none.
start_milter "${BASE[@]}" || fail "milter restarts for the load test"
N=24
mkdir -p "$E2E_TMP/load"
pids=()
for i in $(seq 1 $N); do
	marker=shutdown-load$i-$$
	from=user@pass.authscore.test
	[ $((i % 2)) = 0 ] && from=user@hang$i.slow.test
	msg=$(make_msg "$marker")
	send_mail --data "$msg" --from "$from" >"$E2E_TMP/load/$marker.out" 2>&1 &
	pids+=($!)
done
answered_now() { grep -l '^<- *250 .*queued as' "$E2E_TMP"/load/*.out 2>/dev/null | wc -l; }
clients_done() {
	local p
	for p in "${pids[@]}"; do _pid_alive "$p" && return 1; done
	return 0
}
ok 'wait_for 60 "[ \$(answered_now) -ge 3 ]"' "load: a first few messages answered before SIGTERM"
stop_within "$MILTER_PID" $((DEADLINE_S + 1)) "load, SIGTERM twice" TERM TERM2
MILTER_PID=
ok 'wait_for 90 clients_done' "load: every SMTP client is done"
answered=$(for f in "$E2E_TMP"/load/*.out; do
	[[ $(data_reply "$(cat "$f")") == 250\ * ]] && basename "$f" .out
done | sort)
n=$(grep -c . <<<"$answered")
got=$(records load)
diag "load: $n of $N answered by the milter; $(grep -c . <<<"$got") records"
ok '[ "$n" -ge 3 ]' "load: some messages answered ($n)"
is "$(uniq -d <<<"$got" | tr '\n' ' ')" "" "load: no message has two records"
is "$(uniq <<<"$got" | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$answered")" \
	"load: the messages answered are exactly those with a record"

# ------------------------------------------------ sessions that never pause
# Milter clients that play message after message on their connections, as
# fast as the daemon answers: there is never a quiet moment, yet the stop
# takes its time bound, every later command gets tempfail without touching
# what the daemon frees (the sanitizer build would report it, see
# done_testing), and each client sees its session end.
CLIENT=$top_builddir/tests/e2e/milter_client
start_milter "${BASE[@]}" || fail "milter restarts for the busy sessions"
mkdir -p "$E2E_TMP/flood"
fpids=()
for i in 1 2 3 4; do
	"$CLIENT" "$E2E_TMP/milter.sock" flood >"$E2E_TMP/flood/$i.out" 2>&1 &
	fpids+=($!)
done
flood_logged() { grep -c 'action=accept' "$E2E_TMP/milter.log" 2>/dev/null || echo 0; }
# every client in a session (on a loaded machine one may connect late) and
# messages flowing, before the stop
flood_started() { [ "$(grep -lx answered "$E2E_TMP"/flood/*.out 2>/dev/null | wc -l)" = 4 ]; }
before=$(flood_logged)
ok 'wait_for 30 "flood_started && [ \$(flood_logged) -ge $((before + 20)) ]"' \
	"busy sessions: every client has had a message answered, messages are flowing"
# The open transactions run to their verdicts, each bounded by its DNS
# deadline (DEADLINE_S): on a loaded machine their answers can take that
# long, so the bound is the one the design gives, not the idle 1 s.
stop_within "$MILTER_PID" $((DEADLINE_S + 1)) "busy sessions"
MILTER_PID=
flood_done() {
	local p
	for p in "${fpids[@]}"; do _pid_alive "$p" && return 1; done
	return 0
}
ok 'wait_for 15 flood_done' "busy sessions: every client sees its session end"
for i in 1 2 3 4; do
	like "$(cat "$E2E_TMP/flood/$i.out")" $'(tempfail|closed)\nmessages [1-9]' \
		"busy sessions: client $i got answers, then tempfail or a closed connection"
done

# ------------------------------------- read-only state directory, later writable
# Root ignores permission bits: a read-only bind mount of the state
# directory over itself (this script has its own mount namespace) refuses
# the store and the spool alike, until it is remounted read-write.
rm -f "$E2E_TMP/state/history.db"* "$E2E_TMP/state/authscore-spool.jsonl"
mount --bind "$E2E_TMP/state" "$E2E_TMP/state" &&
	mount -o remount,bind,ro "$E2E_TMP/state" ||
	fail "read-only state directory: bind mount"
start_milter "${BASE[@]}" || fail "milter starts with a read-only state directory"
ok "wait_for 10 \"grep -q 'history store .* unavailable' '$E2E_TMP/milter.log'\"" \
	"read-only: the store is unavailable at start"
ok "grep -q 'content-spool-dir .*: cannot make a file there: Read-only file system; message bodies wait for their scan in memory' '$E2E_TMP/milter.log'" \
	"read-only: the default content spool falls back to memory, with a warning"
ro_sent=
for i in 1 2 3 4 5; do
	out=$(send_mail --data "$(make_msg shutdown-ro$i-$$)" --from user@pass.authscore.test)
	[[ $(data_reply "$out") == 250\ * ]] && ro_sent+="shutdown-ro$i-$$ "
done
is "$(wc -w <<<"$ro_sent")" 5 "read-only: 5 messages accepted"
ok "wait_for 10 \"grep -q 'history spool .*Read-only file system' '$E2E_TMP/milter.log'\"" \
	"read-only: the spool cannot be written either"
mount -o remount,bind,rw "$E2E_TMP/state"
ok 'wait_for 20 "[ \"\$(records ro | tr \"\\n\" \" \")\" = \"$ro_sent\" ]"' \
	"writable again: each record in the store exactly once" ||
	diag "records: $(records ro | tr '\n' ' ')"
stop_within "$MILTER_PID" 1 "after the read-only state directory"
MILTER_PID=
is "$(records ro | tr '\n' ' ')" "$ro_sent" "after the stop: still exactly once each"
# An explicit content-spool-dir that cannot take a file is a configuration
# error: the daemon does not start, and says why.
mount -o remount,bind,ro "$E2E_TMP/state"
if start_milter "${BASE[@]}" "content-spool-dir $E2E_TMP/state" 2>/dev/null; then
	fail "an explicit read-only content-spool-dir: the milter does not start"
	stop_within "$MILTER_PID" 1 "the milter that should not have started"
	MILTER_PID=
else
	last_start=$(sed -n '/^==== start/=' "$E2E_TMP/milter.log" | tail -n 1)
	tail -n "+$last_start" "$E2E_TMP/milter.log" >"$E2E_TMP/spool-refused.log"
	ok "grep -q 'content-spool-dir .*: cannot make a file there: Read-only file system\$' '$E2E_TMP/spool-refused.log'" \
		"an explicit read-only content-spool-dir: the milter does not start, and says why" ||
		diag "$(cat "$E2E_TMP/spool-refused.log")"
fi
umount "$E2E_TMP/state" 2>/dev/null
kill "$BLACKHOLE" 2>/dev/null
done_testing

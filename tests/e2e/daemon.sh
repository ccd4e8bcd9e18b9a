#!/bin/bash
# tests/e2e/daemon.sh - the daemon as an admin runs it: -n, SIGHUP reload
# (a good file applied, a broken one refused while mail keeps flowing),
# SIGTERM letting a message in flight finish.  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

# slow.test. goes to a UDP port that takes queries and never answers, so a
# lookup there lasts until its deadline: a message that is "in flight".
e2e_setup "on-spf-fail accept" "on-spf-temperror accept" "dns-stub slow.test. 127.0.0.1@5399" \
	"spf-timeout 4s"
start_blackhole 5399 || fail "the blackhole DNS port starts"

# ---------------------------------------------------------------- -n
good=$E2E_TMP/good.conf bad=$E2E_TMP/bad.conf
cp "$E2E_CONF" "$good"
{ cat "$E2E_CONF"; echo "skip-authenticated sometimes"; } >"$bad"
out=$("$AUTHSCORE_MILTER" -n -c "$good" 2>&1)
is "$?" 0 "-n: a valid file exits 0"
out=$("$AUTHSCORE_MILTER" -n -c "$bad" 2>&1)
is "$?" 1 "-n: a broken file exits 1"
line=$(wc -l <"$bad")
like "$out" "$bad:$line:20: skip-authenticated: expected yes or no, not \"sometimes\"" "-n: the error names file:line:column"

# ---------------------------------------------------- -u, -P, -p, no -f
# A second instance as a daemon (no -f): binds as root, drops to nobody,
# writes its pid file, detaches.
"$AUTHSCORE_MILTER" -c "$good" -p "unix:$E2E_TMP/second.sock" -u nobody:nogroup \
	-P "$E2E_TMP/second.pid"
is "$?" 0 "daemon mode: the parent exits 0 once detached"
ok 'wait_for $E2E_WAIT "[ -s $E2E_TMP/second.pid ] && _unix_listening $E2E_TMP/second.sock"' \
	"-P/-p: pid file written, socket listening"
second=$(cat "$E2E_TMP/second.pid" 2>/dev/null)
ids() { awk -v k="$1" '$1 == k ":" {print $2, $3}' "/proc/$second/status" 2>/dev/null; }
want_uid="$(id -u nobody) $(id -u nobody)" want_gid="$(getent group nogroup | cut -d: -f3)"
want_gid="$want_gid $want_gid"
# the pid file may come before the privileges are dropped: wait for it
wait_for "$E2E_WAIT" '[ "$(ids Uid)" = "$want_uid" ] && [ "$(ids Gid)" = "$want_gid" ]' \
	"pid $second to run as nobody:nogroup"
is "$(ids Uid)" "$want_uid" "-u: runs as nobody after binding"
is "$(ids Gid)" "$want_gid" "-u user:group: runs with that group"
kill -TERM "$second" 2>/dev/null
ok 'wait_for $E2E_WAIT "! _pid_alive $second" "the second instance to exit after SIGTERM"' "daemon mode: stops on SIGTERM"
out=$("$AUTHSCORE_MILTER" -n -c "$good" -u no-such-user-here 2>&1)
like "$?:$out" "^1:.*user no-such-user-here: no such user" "-u with an unknown user is refused"

# ------------------------------------------------------ trusted network
# 127.0.0.0/8 is trusted: no checks, no AR of ours, one "skipped" line.  The
# connect stage is negotiated without a reply (one round trip fewer for
# every client), so the accept comes at MAIL FROM.
marker=trusted-$$
msg=$(make_msg "$marker")
out=$(send_mail --ip 127.0.0.1 --data "$msg")
like "$(data_reply "$out")" '^250 ' "trusted network: accepted"
if f=$(wait_delivered "$marker"); then
	is "$(ar_headers "$f" | grep -c .)" 0 "trusted network: no Authentication-Results of ours"
else
	fail "trusted network: no Authentication-Results of ours" "not delivered"
fi
ok "wait_for $E2E_WAIT \"grep -q 'client=[^ ]*\\[127.0.0.1\\] .*skipped=\\\"trusted network\\\" action=accept' '$E2E_TMP/milter.log'\"" \
	"trusted network: logged as skipped"

# -------------------------------------------------------------- SIGHUP
accepted before-reload 'spf=fail smtp.mailfrom=fail.authscore.test' -- --from user@fail.authscore.test
pid=$MILTER_PID
write_milter_conf "$E2E_CONF" "on-spf-fail reject" "on-spf-temperror accept" "dns-stub slow.test. 127.0.0.1@5399"
kill -HUP "$pid"
ok 'wait_for $E2E_WAIT "grep -q \"configuration reloaded\" \"$E2E_TMP/milter.log\""' "SIGHUP: reload logged"
refused after-reload '^550 5\.7\.23 ' --from user@fail.authscore.test
ok '_pid_alive $pid' "SIGHUP: same process, not restarted"

cp "$bad" "$E2E_CONF"
kill -HUP "$pid"
ok 'wait_for $E2E_WAIT "grep -q \"reload failed, keeping the running configuration\" \"$E2E_TMP/milter.log\""' \
	"SIGHUP with a broken file: the failure is logged"
like "$(grep 'reload failed' "$E2E_TMP/milter.log" | tail -1)" "$E2E_CONF:[0-9]+:20: skip-authenticated" \
	"SIGHUP with a broken file: the log names file:line:column"
ok '_pid_alive $pid' "SIGHUP with a broken file: the daemon keeps running"
refused old-config-kept '^550 5\.7\.23 ' --from user@fail.authscore.test
accepted mail-flows 'spf=pass smtp.mailfrom=pass.authscore.test' -- --from user@pass.authscore.test

# -------------------------------------------------------------- SIGTERM
# A message whose SPF lookups hang is in flight when SIGTERM arrives: it
# must get the milter's own answer (temperror, accepted by this config),
# not Postfix's milter-failure reply.
marker=inflight-$$-$RANDOM
msg=$(make_msg "$marker")
send_mail --data "$msg" --from user@hang.slow.test >"$E2E_TMP/inflight.out" &
sender=$!
# in flight: Postfix has the message's content, the milter's SPF lookup is
# under way (the blackhole got its query) and no verdict is logged yet
ok "wait_for $E2E_WAIT \"grep -q 'message-id=<$marker@' '$E2E_TMP/postfix.log' && blackhole_asked 5399 hang.slow.test\" \
	'the message in Postfix and its SPF lookup at the blackhole' &&
	! grep -q 'from=<user@hang.slow.test>' '$E2E_TMP/milter.log'" \
	"SIGTERM: sent while the message is in flight (its lookup hangs, no verdict yet)"
kill -TERM "$pid"
wait "$sender"
like "$(data_reply "$(cat "$E2E_TMP/inflight.out")")" '^250 ' "SIGTERM: the message in flight is answered by the milter"
if f=$(wait_delivered "$marker"); then
	like "$(ar_headers "$f")" 'spf=temperror' "SIGTERM: the message in flight carries our AR (spf=temperror)"
else
	fail "SIGTERM: the message in flight carries our AR (spf=temperror)" "not delivered"
fi
ok 'wait_for $E2E_WAIT "! _pid_alive $pid" "the milter to exit after SIGTERM"' "SIGTERM: the daemon exits after the message"
like "$(grep -E 'stopping|stopped' "$E2E_TMP/milter.log" | tr '\n' ' ')" 'stopping: no new connections; waiting for 1 message\(s\) in progress.*stopped' \
	"SIGTERM: it waited for the connection in flight"
MILTER_PID=
refused milter-stopped '^451 4\.7\.1 ' --from user@pass.authscore.test
done_testing

#!/bin/bash
# tests/e2e/logging.sh - the daemon's logging and configuration file as
# systemd and an admin meet them (issue 15 items 5 and 7): under the journal
# (JOURNAL_STREAM naming stderr) every line carries its sd-daemon(3)
# priority prefix; elsewhere none; log-facility is checked; a file named
# with -c must exist, the default one may be absent.  Prints TAP.  Root.
. "$(dirname "$0")/lib.sh"

e2e_setup

# ------------------------------------------------------------ the journal
# systemd sets JOURNAL_STREAM=DEV:INO of the stream it gave the service
# (systemd.exec(5)); a file stands in for that stream here.
J=$E2E_TMP/journal.out
: >"$J"
stream=$(stat -c '%d:%i' "$J")
(umask 0 && JOURNAL_STREAM=$stream exec "$AUTHSCORE_MILTER" -f -c "$E2E_CONF" \
	-p "unix:$E2E_TMP/journal.sock") 2>>"$J" 3>&- &
jpid=$!
ok "wait_for $E2E_WAIT \"grep -q 'listening on' '$J'\"" "under the journal: the daemon starts"
like "$(grep 'listening on' "$J")" '^<5>authscore-milter [^ ]+ listening on unix:' \
	"a notice is <5>, with no time stamp or name before the text"
like "$(grep '[0-9]* rules loaded from' "$J")" '^<6>' "an info line is <6>"
like "$(grep 'DNS resolution failing at start\|DNS works' "$J")" '^<[36]>' \
	"the DNS probe's line is <3> (failing) or <6> (works)"
is "$(grep -cv '^<[0-7]>' "$J")" 0 "every line has a priority prefix"
kill -TERM "$jpid"
ok "wait_for $E2E_WAIT \"grep -q '^<5>stopped' '$J'\"" "the last line too: <5>stopped"

# JOURNAL_STREAM inherited but stderr redirected elsewhere: plain lines
P=$E2E_TMP/plain.out
: >"$P"
(umask 0 && JOURNAL_STREAM=$stream exec "$AUTHSCORE_MILTER" -f -c "$E2E_CONF" \
	-p "unix:$E2E_TMP/plain.sock") 2>>"$P" 3>&- &
ppid=$!
ok "wait_for $E2E_WAIT \"grep -q 'listening on' '$P'\"" "stderr not the journal's stream: starts"
is "$(grep -c '^<' "$P")" 0 "stderr not the journal's stream: no prefixes"
like "$(grep 'listening on' "$P")" '^[0-9-]+T[0-9:.]+Z authscore-milter\[notice\]: ' \
	"stderr not the journal's stream: time stamp, name and level"
kill -TERM "$ppid"
ok "wait_for $E2E_WAIT '! _pid_alive $ppid'" "and stops"
is "$(grep -c '^<' "$E2E_TMP/milter.log")" 0 "without JOURNAL_STREAM: no prefixes"

# ------------------------------------------------------------ log-facility
F=$E2E_TMP/facility.conf
cp "$E2E_CONF" "$F"
echo "log-facility local5" >>"$F"
out=$("$AUTHSCORE_MILTER" -n -c "$F" 2>&1)
is "$?" 0 "log-facility local5 is accepted" || diag "$out"
cp "$E2E_CONF" "$F"
echo "log-facility kern" >>"$F"
out=$("$AUTHSCORE_MILTER" -n -c "$F" 2>&1)
st=$?
is "$st:$out" "1:authscore-milter: $F:$(wc -l <"$F"):14: log-facility: expected mail, daemon, user or local0 to local7, not \"kern\"" \
	"log-facility kern is refused, naming file:line:column"

# ------------------------------------------------------ a missing -c file
out=$("$AUTHSCORE_MILTER" -n -c /no/such/file 2>&1)
is "$?:$out" "1:authscore-milter: /no/such/file: No such file or directory" \
	"-n -c /no/such/file: exit 1 and one line naming the file"
out=$(timeout 20 "$AUTHSCORE_MILTER" -f -c /no/such/file -p "unix:$E2E_TMP/none.sock" 2>&1)
is "$?:$out" "1:authscore-milter: /no/such/file: No such file or directory" \
	"-c /no/such/file: the daemon does not start"
mkdir -p "$E2E_TMP/conf.d"
out=$("$AUTHSCORE_MILTER" -n -c "$E2E_TMP/conf.d" 2>&1)
like "$?:$out" "^1:authscore-milter: $E2E_TMP/conf.d: " "-c naming a directory: refused"

# ------------------------------------------- no -c: the default file, if any
default=$("$AUTHSCORE_MILTER" --help | sed -n 's/^Without -c: \(.*\) if it exists.*/\1/p')
like "$default" '^/.*/authscore\.conf$' "--help names the default file ($default)"
# our own (empty) directory over the default one: this mount namespace only
mkdir -p "$E2E_TMP/etc-empty" "$(dirname "$default")" 2>/dev/null
if mount --bind "$E2E_TMP/etc-empty" "$(dirname "$default")"; then
	out=$("$AUTHSCORE_MILTER" -n 2>&1)
	like "$?:$out" "^0:$default: no such file; the built-in defaults are OK \\([0-9]+ rules from the built-in default\\.rules\\)\$" \
		"no -c, no default file: -n says the built-in defaults apply"
	echo "no-such-key 1" >"$E2E_TMP/etc-empty/authscore.conf"
	out=$("$AUTHSCORE_MILTER" -n 2>&1)
	is "$?:$out" "1:authscore-milter: $default:1:1: unknown key \"no-such-key\"" \
		"no -c, a default file: it is read"
	rm -f "$E2E_TMP/etc-empty/authscore.conf"
	umount "$(dirname "$default")"
else
	fail "a private directory over $(dirname "$default")"
fi

done_testing

#!/bin/bash
# tests/e2e/report.sh - `authscore report` end to end: records go into a
# real SQLite store through the store API (tests/e2e/report_seed), then the
# tool writes (--dry-run), sends through a sendmail(1) stand-in, and sends
# by SMTP to smtp-sink.  Every report is checked with xmllint against the
# RFC 9990 schema and read by dmarc-cat.  Prints TAP; root (namespaces).
. "$(dirname "$0")/lib.sh"

XSD=$top_srcdir/tests/data/dmarc/dmarc-aggregate-2.0.xsd
SEED=$top_builddir/tests/e2e/report_seed
DAY=2023-11-15
DAY_T=1700006400 # 2023-11-15 00:00:00 UTC
END_T=$((DAY_T + 86399))
RECEIVER=mx.example.net

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-e2e.XXXXXX") || exit 1
chmod 0755 "$E2E_TMP"
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
_setup_net || { echo "Bail out! cannot set up the network namespace"; exit 1; }
T=$E2E_TMP

for tool in xmllint dmarc-cat gunzip; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done

# conf NAME STORE [EXTRA LINE...] - a configuration in $T/NAME.conf
conf() {
	local name=$1 store=$2
	shift 2
	mkdir -p "$T/state-$name"
	{
		echo "state-dir $T/state-$name"
		echo "history sqlite:$T/$store.db"
		echo "report-email dmarc-reports@$RECEIVER"
		echo 'report-org-name "Example Receiver <&>"'
		echo "report-suppress quiet.example"
		echo "log-to stderr"
		printf '%s\n' "$@"
	} >"$T/$name.conf"
}

# report NAME ARGS... - run the tool; status in $RC, stderr in $T/NAME.err
report() {
	local name=$1
	shift
	"$AUTHSCORE" report -c "$T/$name.conf" --period $DAY "$@" >"$T/$name.out" 2>"$T/$name.err"
	RC=$?
}

for s in one two three; do
	ok "'$SEED' sqlite:$T/$s.db $DAY_T" "seed store $s through the store API"
done

# ------------------------------------------------------------------ dry run
conf dry one
report dry --dry-run "$T/dry"
is "$RC" 0 "dry run: exit 0" || diag "$(cat "$T/dry.err")"
is "$(ls "$T/dry" | grep -c '\.xml\.gz$')" 2 "dry run: two reports (the domain without rua= has none)"
is "$(ls "$T/dry" | grep -c '\.eml$')" 2 "dry run: a message per report"
COM=$(ls "$T/dry" | grep "^$RECEIVER!example.com!$DAY_T!$END_T![0-9a-f]\{32\}\.xml\.gz$")
ORG=$(ls "$T/dry" | grep "^$RECEIVER!example.org!$DAY_T!$END_T![0-9a-f]\{32\}\.xml\.gz$")
ok "[ -n '$COM' ] && [ -n '$ORG' ]" "dry run: receiver!domain!begin!end!id.xml.gz names"
for f in "$COM" "$ORG"; do
	[ -n "$f" ] || continue
	d=$(cut -d'!' -f2 <<<"$f")
	ok "gzip -t '$T/dry/$f'" "$d: a valid gzip file"
	gunzip -c "$T/dry/$f" >"$T/dry/$d.xml"
	ok "xmllint --noout --schema '$XSD' '$T/dry/$d.xml'" "$d: xmllint validates it against the RFC 9990 schema" ||
		diag "$(xmllint --noout --schema "$XSD" "$T/dry/$d.xml" 2>&1 | head -5)"
	ok "dmarc-cat -N '$T/dry/$f' >'$T/dry/$d.cat' 2>&1" "$d: dmarc-cat reads the .xml.gz" ||
		diag "$(head -5 "$T/dry/$d.cat")"
	like "$(cat "$T/dry/$d.cat")" "$d" "$d: dmarc-cat shows the domain"
done
X=$(cat "$T/dry/example.com.xml" 2>/dev/null)
like "$X" '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">' "example.com: the dmarc-2.0 namespace"
like "$X" '<source_ip>192\.0\.2\.1</source_ip>[[:space:]]*<count>3</count>' "example.com: three records, one row"
like "$X" '<selector>a&lt;b&amp;"c'"'"'&gt;</selector>' "example.com: the selector escaped"
like "$X" '<org_name>Example Receiver &lt;&amp;&gt;</org_name>' "example.com: org_name escaped"
like "$X" '<disposition>reject</disposition>' "example.com: the failing row's disposition"
unlike "$X" '192\.0\.2\.99' "example.com: the next day's record is not in this period"
like "$(cat "$T/dry/example.org.xml" 2>/dev/null)" '<selector>sel\]\]&gt;x</selector>' \
	"example.org: ]]> in a selector escaped"
EML=$(cat "$T/dry/${COM%.xml.gz}.eml" 2>/dev/null)
like "$EML" "Subject: Report Domain: example.com Submitter: $RECEIVER Report-ID: <[0-9a-f]{32}>" \
	"the message's subject"
like "$EML" 'Auto-Submitted: auto-generated' "the message is Auto-Submitted"
like "$EML" 'Content-Type: application/gzip' "the report is an application/gzip attachment"
cp -a "$T/dry" "$T/dry.first"
report dry --dry-run "$T/dry"
ok "cmp '$T/dry.first/$COM' '$T/dry/$COM' && cmp '$T/dry.first/$ORG' '$T/dry/$ORG'" \
	"a re-run gives the same files (stable report_id, same bytes)"

# --------------------------------------------------------- sendmail(1)
cat >"$T/sendmail" <<EOF
#!/bin/sh
n=\$(ls "$T/sent" | wc -l)
echo "\$*" >"$T/sent/\$n.args"
cat >"$T/sent/\$n.msg"
EOF
chmod +x "$T/sendmail"
mkdir -p "$T/sent"
conf send two
report send --sendmail "$T/sendmail"
is "$RC" 0 "sendmail: exit 0" || diag "$(cat "$T/send.err")"
is "$(ls "$T/sent" | grep -c '\.msg$')" 2 "sendmail: two messages handed over"
like "$(cat "$T/sent/"*.args 2>/dev/null)" \
	"-oi -f dmarc-reports@$RECEIVER -- dmarc@example.com copy@reports.example.com" \
	"sendmail: -oi -f FROM -- the rua addresses"
report send --sendmail "$T/sendmail"
is "$RC" 0 "sendmail: second run exit 0"
is "$(ls "$T/sent" | grep -c '\.msg$')" 2 "sendmail: a report already sent is not sent again"
like "$(cat "$T/send.err")" 'already sent' "sendmail: the second run says so"

# ------------------------------------------------------------- SMTP relay
start_sink || { echo "Bail out! smtp-sink did not start"; exit 1; }
conf relay three "report-relay 127.0.0.1:$E2E_SINK_PORT"
report relay
is "$RC" 0 "relay: exit 0" || diag "$(cat "$T/relay.err")"
wait_for "$E2E_WAIT" "[ \$(ls '$T/sink' | wc -l) -ge 2 ]" "two messages in $T/sink"
is "$(ls "$T/sink" | wc -l)" 2 "relay: smtp-sink received two messages"
like "$(cat "$T/sink/"* 2>/dev/null)" 'Subject: Report Domain: example\.org' "relay: the example.org report arrived"
conf down one "report-relay 127.0.0.1:1"
report down --domain example.org
# store one has no ledger entries (only dry runs used it)
is "$RC" 3 "relay down: exit 3" || diag "$(cat "$T/down.err")"
like "$(cat "$T/down.err")" 'not sent' "relay down: logged, left for the next run"

# ------------------------------------ periods (issue 15, item 11)
# A date that does not exist is refused, whatever its form.
for bad in 2026-02-31 2025-02-29 2023-13-01 2023-00-10 2023-04-31 1969-12-31; do
	"$AUTHSCORE" report -c "$T/send.conf" --period $bad --sendmail "$T/sendmail" \
		>/dev/null 2>"$T/bad.err"
	is "$?" 2 "--period $bad: refused (exit 2)"
	like "$(cat "$T/bad.err")" "--period $bad: not a date" "--period $bad: says it is not a date"
done
"$AUTHSCORE" report -c "$T/send.conf" --begin 2023-02-29 --end 2023-03-02 >/dev/null 2>"$T/bad.err"
is "$?" 2 "--begin 2023-02-29: refused (exit 2)"
"$AUTHSCORE" report -c "$T/send.conf" --begin 2023-11-15T24:00 --end 2023-11-17 >/dev/null 2>"$T/bad.err"
is "$?" 2 "--begin 2023-11-15T24:00: refused (exit 2)"
ok "'$AUTHSCORE' report -c '$T/send.conf' --period 2024-02-29 --dry-run '$T/leap' 2>/dev/null" \
	"--period 2024-02-29 (a leap day) is accepted"
# Today's period is not over: nothing sent, nothing marked; a dry run may look.
TODAY=$(date -u +%F)
TODAY_T=$(($(date -u +%s) / 86400 * 86400))
ok "'$SEED' sqlite:$T/today.db $TODAY_T" "seed a store for today"
conf today today
ls "$T/sent" >"$T/sent.before"
report_today() {
	"$AUTHSCORE" report -c "$T/today.conf" "$@" --sendmail "$T/sendmail" >/dev/null 2>"$T/today.err"
	RC=$?
}
report_today --period "$TODAY"
is "$RC" 2 "--period today: refused (exit 2)"
like "$(cat "$T/today.err")" "the period is not over until $(date -u -d @$((TODAY_T + 86400)) '+%Y-%m-%d') 00:00:00 UTC" \
	"--period today: says when the period ends"
report_today --begin $((TODAY_T - 3600)) --end $(($(date -u +%s) + 3600))
is "$RC" 2 "--end in the future: refused (exit 2)"
is "$(ls "$T/sent" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/sent.before")" "--period today: nothing sent"
is "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
	"select count(*) from reports_sent").fetchone()[0])' "$T/today.db" 2>&1)" 0 \
	"--period today: nothing marked sent"
report_today --period "$TODAY" --dry-run "$T/today-dry"
is "$RC" 0 "--period today --dry-run: allowed (nothing is marked)"
ok "ls '$T/today-dry'/*.xml.gz >/dev/null 2>&1" "--period today --dry-run: the partial reports are written"

unlike "$(cat "$T"/*.err | grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' | head -3)" . \
	"no sanitizer report from authscore report"
# ------------------------------------------------ report-email not set
# The reports come from noreply-dmarc@ the host's fully qualified name, or
# the authserv-id's when the host name is not one (a host name that no
# lookup resolves, in a UTS namespace of its own); neither: refused.
noemail() { # NAME AUTHSERV-ID
	conf "$1" one "authserv-id $2"
	sed -i '/^report-email /d' "$T/$1.conf"
	unshare --uts sh -c 'hostname nodot-host && exec "$@"' sh \
		"$AUTHSCORE" report -c "$T/$1.conf" --period $DAY --dry-run "$T/$1" \
		>"$T/$1.out" 2>"$T/$1.err"
	RC=$?
}
noemail noemail mx.example.net
is "$RC" 0 "no report-email: exit 0" || diag "$(cat "$T/noemail.err")"
like "$(cat "$T"/noemail/*.eml 2>/dev/null | grep -m1 '^From:')" 'noreply-dmarc@mx\.example\.net' \
	"no report-email: the reports come from noreply-dmarc@ the authserv-id"
like "$(cat "$T/noemail.err")" 'report-email is not set: the reports come from noreply-dmarc@mx\.example\.net' \
	"no report-email: the log says which address"
noemail noemail2 nodot
ok "[ $RC != 0 ]" "no report-email and no domain to make one of: refused"
like "$(cat "$T/noemail2.err")" 'report-email .* is not set' "no report-email and no domain: says why"

done_testing

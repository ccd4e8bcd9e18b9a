#!/bin/bash
# tests/e2e/content.sh - the body's facts and the URL block lists end to end
# (issue 19): Postfix -> authscore-milter, whose content check fills the
# body's facts and whose uribl(zone) lists ask NSD's dbl.spamhaus.org zone
# (zones/) about the links' registrable domains.  Prints TAP; root.
#
#   phishing   HTML, a login-verify.phish-link.test link whose text says
#              www.example.com; phish-link.test is DBL 127.0.1.4 -> rejected
#              (PHISH_REJECT), and its tagged twin (no disguise) -> tagged
#   hidden     the same listed link hidden where only a pre-HTML5 parser
#              misses it (<!-->, --!>, <a/href=, &period;) -> still scored
#   newsletter text and HTML parts, 200 links to 200 domains: only the first
#              20 (uribl-max-domains) are asked, late-link.test (listed,
#              link 150) never is -> accepted; the metrics count 20 and 180
#   blocked    a link to refused-link.test: DBL answers 127.0.1.255 (a
#              refusal) -> accepted, no score, the monitor and one warning
# then `authscore test`, `explain` and `replay` on the same messages, and
# content-spool-dir: one that does not exist stops the daemon at start; one
# removed while it runs -> the newsletter (over 16 kB) stays in memory while
# content-spool-memory has room (no warning); with it at 0 (a reload) it
# would wait in a spool file, and is accepted all the same, with one warning.
# Needs the content check (MIME module) and the uribl lookups built in.
. "$(dirname "$0")/lib.sh"

RULES=$E2E_DIR/rules/content.rules
LOG=$E2E_TMP/milter.log
PORT=9199
URL=http://127.0.0.1:$PORT/metrics
e2e_setup "rules $RULES" "metrics-listen $PORT"
LOG=$E2E_TMP/milter.log

# ------------------------------------------------------------------ helpers
# html_msg MARKER LINK TEXT [EXTRA BODY LINE] - an HTML-only message with
# one link; path in $M
html_msg() {
	MK=$1-$$-$RANDOM
	M=$E2E_TMP/msg/$MK
	mkdir -p "$E2E_TMP/msg"
	{
		printf 'From: <sender@authscore.test>\nTo: <%s>\n' "$E2E_RCPT"
		printf 'Subject: e2e %s\nDate: %s\n' "$MK" "$(date -R)"
		printf 'Message-ID: <%s@e2e.authscore.test>\nMIME-Version: 1.0\n' "$MK"
		printf 'Content-Type: text/html; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: quoted-printable\n\n'
		printf '<html><body><p>Dear customer, your account is suspended.</p>\n'
		printf '<p><a href=3D"%s">%s</a></p>\n' "$2" "$3"
		[ -n "${4:-}" ] && printf '%s\n' "$4"
		printf '</body></html>\nE2E-END %s\n' "$MK"
	} >"$M"
}
# newsletter_msg MARKER - multipart/alternative, 200 links to news1.test ..
# news200.test in each part, late-link.test as link 150
newsletter_msg() {
	local i d b=nl-boundary-$$
	MK=$1-$$-$RANDOM
	M=$E2E_TMP/msg/$MK
	{
		printf 'From: <news@authscore.test>\nTo: <%s>\n' "$E2E_RCPT"
		printf 'Subject: e2e newsletter %s\nDate: %s\n' "$MK" "$(date -R)"
		printf 'Message-ID: <%s@e2e.authscore.test>\nMIME-Version: 1.0\n' "$MK"
		printf 'Content-Type: multipart/alternative; boundary="%s"\n\n' "$b"
		printf -- '--%s\nContent-Type: text/plain; charset=us-ascii\n\n' "$b"
		for i in $(seq 1 200); do
			d=news$i.test
			[ "$i" = 150 ] && d=late-link.test
			printf 'Item %d: https://www.%s/article/%d\n' "$i" "$d" "$i"
		done
		printf -- '\n--%s\nContent-Type: text/html; charset=us-ascii\n\n<html><body>\n' "$b"
		for i in $(seq 1 200); do
			d=news$i.test
			[ "$i" = 150 ] && d=late-link.test
			printf '<p><a href="https://www.%s/article/%d">Item %d</a></p>\n' "$d" "$i" "$i"
		done
		printf '</body></html>\n--%s--\nE2E-END %s\n' "$b" "$MK"
	} >"$M"
}
send() {
	OUT=$(send_mail --data "$M" "$@")
	REPLY=$(data_reply "$OUT")
	QID=$(queued_id "$OUT")
}
delivered() {
	FILE='' HDRS='' RESULT=''
	like "$REPLY" '^250 ' "$1: accepted" || diag "$(grep -E '^(<|<\*\*) ' <<<"$OUT" | tail -n 3)"
	if [[ $REPLY == 250\ * ]] && FILE=$(wait_delivered "$MK"); then
		pass "$1: delivered"
		HDRS=$(delivered_headers "$FILE")
		RESULT=$(awk 'BEGIN { FS = ":" } tolower($1) == "x-authscore-result" { sub(/^[^:]*:[ \t]*/, ""); print; exit }' <<<"$HDRS")
	else
		fail "$1: delivered" "not delivered within ${E2E_TIMEOUT}s"
	fi
}
metric() { curl -s --max-time 5 "$URL" | awk -v n="$1" '$1 == n { print $2 }'; }

# ------------------------------------------------------- 1. phishing
# the text names example.com (a real top-level domain: the content check
# takes only those for a domain), the link goes to phish-link.test
html_msg phish "https://login-verify.phish-link.test/acct?u=alice" "https://www.example.com/"
PHISH=$M
send
like "$REPLY" '^550 5\.7\.1 .*phishing link refused' "phishing: rejected by PHISH_REJECT (550 5.7.1)" ||
	diag "$(grep -E '^(<|<\*\*) ' <<<"$OUT" | tail -n 3)"
ok 'never_delivered "$MK"' "phishing: not delivered"
ok "wait_for $E2E_WAIT \"grep -F 'PHISH_REJECT' '$LOG' | grep -q 'action=reject'\" 'the log line'" \
	"phishing: the log line names PHISH_REJECT and action=reject"

html_msg phish-tag "https://login-verify.phish-link.test/acct" "Log in here"
send
delivered "listed link without a disguise"
like "$RESULT" 'URI_DBL_PHISH\(6\)' "listed link: URI_DBL_PHISH(6) in X-Authscore-Result"
unlike "$RESULT" 'PHISH_LINK' "listed link: no PHISH_LINK (the text names no domain)"
like "$RESULT" 'SUSPENDED\(1\)' "listed link: the body rule SUSPENDED(1) read the decoded text"
like "$RESULT" 'action=tag' "listed link: tagged (7 >= 5)"
TAG_QID=$QID

# ------------------------------------- 1b. links an HTML4 parser does not see
# Every mail client reads HTML as the WHATWG standard says; a phisher hides
# the listed link behind what an older parser reads otherwise: "<!-->" is an
# empty comment, "--!>" ends one, "<a/href=" is an <a> with an href, and
# "&period;" is a "." (a named reference HTML4 lacks).  Each must be seen.
hidden_links=(
	'comment <p>hi<!--> <a href=3D"https://login-verify.phish-link.test/c">Log in</a> --> there</p>'
	'bang <p>hi<!-- x --!> <a href=3D"https://login-verify.phish-link.test/b">Log in</a> --></p>'
	'slash <p><a/href=3D"https://login-verify.phish-link.test/s">Log in</a></p>'
	'entity <p><a href=3D"https://login-verify.phish-link&period;test/e">Log in</a></p>'
)
for h in "${hidden_links[@]}"; do
	html_msg "hidden-${h%% *}" "https://www.example.org/" "Example" "${h#* }"
	send
	delivered "link hidden by '${h%% *}'"
	like "$RESULT" 'URI_DBL_PHISH\(6\)' "link hidden by '${h%% *}': seen, and its DBL listing scored" ||
		diag "$RESULT"
done

# ----------------------------------------------------- 2. newsletter, 200 links
before_over=$(metric authscore_uribl_domains_over_cap_total)
newsletter_msg newsletter
NEWSLETTER=$M
fds_before=$(ls "/proc/$MILTER_PID/fd" | wc -l)
send
delivered "newsletter with 200 links"
# over 16 kB: in memory while the pool has room, else in an unlinked file
# in the state directory; either way nothing is left
ok "wait_for $E2E_WAIT '[ \$(ls /proc/$MILTER_PID/fd | wc -l) -le $fds_before ]' 'the milter back to $fds_before descriptors'" \
	"newsletter: no descriptor left open once the session is over"
is "$(find "$E2E_TMP/state" -name '.authscore-body*' | wc -l)" 0 "newsletter: no spool file left in the state directory"
unlike "$RESULT" 'URI_DBL' "newsletter: no link listed (late-link.test, link 150, is past the cap)"
like "$RESULT" 'NEWSLETTER\(-1\)' "newsletter: uri-domain and not html-only read its facts"
like "$RESULT" 'action=accept' "newsletter: accepted"
after_over=$(metric authscore_uribl_domains_over_cap_total)
is "$((after_over - ${before_over:-0}))" 180 "newsletter: 180 domains over uribl-max-domains (20 asked)"
like "$(curl -s --max-time 5 "$URL")" 'authscore_uribl_domains_bucket\{le="20"\} [1-9]' "metrics: a message in the le=20 bucket"

# ----------------------------------------------------- 3. the DBL refuses
blocked_re='dnsbl: dbl\.spamhaus\.org refuses our queries \(answer 127\.0\.1\.255\)'
for i in 1 2; do
	html_msg refused$i "https://www.refused-link.test/" "www.refused-link.test"
	send
	delivered "refused DBL answer ($i)"
	unlike "$RESULT" 'URI_DBL' "refused DBL answer ($i): no listing rule fired"
	like "$RESULT" ' monitors=([^ ]*,)?URIBL_BLOCKED(,|$)' "refused DBL answer ($i): the URIBL_BLOCKED monitor"
	like "$RESULT" 'action=accept' "refused DBL answer ($i): accepted"
done
wait_for "$E2E_WAIT" "grep -qE '$blocked_re' '$LOG'" "the refusal warning in the milter log"
is "$(grep -cE "$blocked_re" "$LOG")" 1 "refused DBL answer: ignored and logged once for two messages"

# ----------------------------------------------------- 4. authscore test
out=$(authscore_test --ip 203.0.113.10 --helo client.authscore.test --mail-from user@pass.authscore.test <"$PHISH" 2>&1)
like "$out" 'body: 1 part\(s\), 2 link\(s\)[^\n]*, HTML only, a link.s text names another domain' \
	"authscore test: the body's facts (the link and the URL its text shows)" || diag "$out"
like "$out" 'uribl\(dbl\.spamhaus\.org\) about phish-link\.test: listed 127\.0\.1\.4' "authscore test: the link's DBL answer"
like "$out" 'action: reject 550 5\.7\.1 phishing link refused' "authscore test: the same verdict as the daemon"

# ----------------------------------------------------- 5. explain, replay
stop_milter TERM # the writer flushes its queue on the way out
A() { "$AUTHSCORE" "$@" -c "$E2E_CONF" 2>>"$E2E_TMP/tool.err"; }
out=$(A explain "$TAG_QID")
like "$out" 'link domains \(1\): phish-link\.test' "explain: the link's domain from the history" || diag "$out"
like "$out" 'about phish-link\.test, the link domain: listed 127\.0\.1\.4' "explain: its DBL answer"
like "$out" 'SUSPENDED' "explain: the body rule counted as it fired"
like "$out" 'read header or body contents \(header, body, rawbody, uri\), which are not stored \(counted as they fired when the message came\): PHISH_LINK, PHISH_REJECT, SUSPENDED' \
	"explain: body and uri rules are named as not replayable"
RAISE=$E2E_TMP/raise.rules
sed -e 's/score 6  "a link.s domain is a phishing domain"/score 9 "raised"/' "$RULES" >"$RAISE"
out=$(A replay --rules "$RAISE")
like "$out" 'rules that read header or body contents \(header, body, rawbody, uri: not stored, so not replayable: each counts as it fired when the message came\): PHISH_LINK PHISH_REJECT SUSPENDED' \
	"replay: names the body rules it cannot re-evaluate" || diag "$out"
like "$out" "$TAG_QID [^ ]*: tag -> quarantine, score 7\\.00 -> 10\\.00" \
	"replay: the listed link re-scored from its stored DBL answer (9 + 1: quarantine)"
is "$(grep -v '^$' "$E2E_TMP/tool.err" 2>/dev/null | grep -c .)" 0 "the tools wrote nothing to stderr"

# ------------------------------------------- 6. the spool directory
ok "! start_milter 'rules $RULES' 'content-spool-dir $E2E_TMP/no-such-dir' >/dev/null" \
	"a content-spool-dir that does not exist: the daemon does not start"
like "$(tail -n 5 "$LOG")" "content-spool-dir $E2E_TMP/no-such-dir: cannot make a file there" \
	"and says why"
mkdir "$E2E_TMP/spool"
start_milter "rules $RULES" "content-spool-dir $E2E_TMP/spool" || fail "the milter starts with a spool directory"
rmdir "$E2E_TMP/spool" # gone while the daemon runs
spool_re="content: cannot make a spool file in $E2E_TMP/spool"
# newsletter_again - the newsletter under a new marker
newsletter_again() {
	M=$NEWSLETTER
	MK=$(awk '/^E2E-END / { print $2 }' "$M")
	sed -i "s/$MK/$MK-again/g" "$M"
	MK=$MK-again
}
# With room in the pool (content-spool-memory, 2M by default), the
# newsletter (over 16 kB) stays in memory: no file is wanted.
newsletter_again
send
delivered "newsletter, room in the memory pool"
like "$RESULT" 'action=accept' "room in the memory pool: accepted"
is "$(grep -cF "$spool_re" "$LOG")" 0 "room in the memory pool: no spool file wanted, no warning"
# The pool at 0, by a reload: every body over 16 kB waits in a file again,
# from the next message on.
mkdir "$E2E_TMP/spool"
write_milter_conf "$E2E_CONF" "rules $RULES" "content-spool-dir $E2E_TMP/spool" "content-spool-memory 0"
reloads=$(grep -c 'configuration reloaded' "$LOG")
kill -HUP "$MILTER_PID"
ok "wait_for $E2E_WAIT \"[ \\\$(grep -c 'configuration reloaded' '$LOG') -gt $reloads ]\" 'the reload'" \
	"content-spool-memory 0: reloaded"
rmdir "$E2E_TMP/spool"
newsletter_again
send
delivered "newsletter, pool 0, missing spool directory"
like "$RESULT" 'action=accept' "missing spool directory: accepted all the same"
wait_for "$E2E_WAIT" "grep -qF '$spool_re' '$LOG'" "the spool warning in the milter log"
is "$(grep -cF "$spool_re" "$LOG")" 1 "missing spool directory: one warning for the message"
done_testing

#!/bin/bash
# tests/e2e/sendmail.sh - issue 16: authscore attached to a real Sendmail
# 8.17 with the shipped contrib/sendmail/authscore.mc (lib_sendmail.sh says
# how Sendmail runs here): swaks -> Sendmail -> the milter (DNS from NSD)
# -> smtp-sink, or Sendmail's quarantine.  Each scenario is checked on the
# SMTP reply, on the delivered header, and on the milter's log line and
# history row, named by Sendmail's queue id.  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib_sendmail.sh"

D=dmarc.authscore.test
RSA=$E2E_DIR/data/keys/rsa2048.pem
NOALIGN=user@pass.authscore.test # SPF passes, never aligned with D's domains

# SMTP AUTH for the "authenticated client" scenario (lib_sendmail.sh)
E2E_PRE_START=sm_sasl_setup
SM_MC_EXTRA=$SM_SASL_MC
e2e_setup
sm_sasl_user submitter secret
# the default rules and one of ours, for the tag action
cat >"$E2E_TMP/e2e.rules" <<EOF
include "$top_srcdir/rules/default.rules"
rule E2E_LURE   header(Subject) =~ /\blure\b/i   score 6   "a lure"
EOF
MILTER_CONF=("rules $E2E_TMP/e2e.rules" 'tag-subject-prefix "[SPAM] "')
stop_milter
start_milter "${MILTER_CONF[@]}" || fail "the milter starts with $E2E_TMP/e2e.rules"

# ---------------------------------------------------- the shipped fragment
cf=$SM_DIR/sendmail.cf
like "$(grep '^Xauthscore' "$cf")" '^Xauthscore, S=local:/run/authscore/milter\.sock, F=T, T=C:10s;S:10s;R:30s;E:2m$' \
	"sendmail.cf: the filter from contrib/sendmail/authscore.mc"
like "$(grep '^O Milter.macros.envfrom=' "$cf")" '[=, ]i,.*\{auth_authen\}' "sendmail.cf: {auth_authen} and i sent at MAIL"
like "$(grep '^O Milter.macros.eom=' "$cf")" '[=, ]i$' "sendmail.cf: i sent at the end of the message"

# qid_of ERE - the queue id of the milter's last log line that matches ERE
# (Sendmail names the id only in its 250 reply: a refused message has none)
qid_of() {
	grep -E "\]: [0-9A-Za-z]+: client=.*$1" "$E2E_TMP/milter.log" | tail -n 1 |
		sed -n 's/.*\]: \([0-9A-Za-z]*\): client=.*/\1/p'
}

# delivered NAME - 250 with a queue id, the message in the sink with one AR
# of ours (LAST_FILE, LAST_AR lowercased), the log line names the queue id
delivered() {
	local name=$1 n
	LAST_FILE='' LAST_AR=''
	like "$SENT_REPLY" '^250 2\.0\.0 [0-9A-Za-z]+ Message accepted' "$name: accepted" ||
		diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 4)"
	if [ -n "$SENT_QID" ] && LAST_FILE=$(wait_delivered_sm "$SENT_QID"); then
		pass "$name: delivered to the sink"
		LAST_AR=$(ar_headers "$LAST_FILE" | tr 'A-Z' 'a-z')
		n=$(grep -c . <<<"$LAST_AR")
		is "$n" 1 "$name: one Authentication-Results of ours" || diag "$(delivered_headers "$LAST_FILE")"
	else
		LAST_FILE=''
		fail "$name: delivered to the sink" "not delivered within ${E2E_TIMEOUT}s"
		fail "$name: one Authentication-Results of ours" "no message"
	fi
	ok "wait_log '$SENT_QID'" "$name: the milter's log line names Sendmail's queue id $SENT_QID"
}
# new NAME FROM [HEADER...] - a message from FROM: path in $M, marker $MK
new() {
	MK=$1-$$-$RANDOM
	M=$(msg_from "$MK" "$2" "${@:3}")
}
# not_taken - the message with marker $MK is neither in Sendmail's queue nor
# in the sink: refused at the end of DATA, it cannot be delivered later
not_taken() {
	! grep -rqx "E2E-END $MK" "$SM_DIR/mqueue" "$E2E_TMP"/sink 2>/dev/null
}
# refused_sm NAME REPLY-ERE - the last message got that reply and was not
# taken
refused_sm() {
	like "$SENT_REPLY" "$2" "$1: reply $2" || diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 3)"
	ok not_taken "$1: not queued, not delivered"
}

# --------------------------------------------------------------- SPF
new spf-pass sender@authscore.test
sent spf-pass "$M" --from "$NOALIGN"
delivered spf-pass
ar_has spf-pass "spf=pass smtp.mailfrom=pass.authscore.test" "spf=pass smtp.helo=client.authscore.test" \
	"iprev=pass policy.iprev=203.0.113.10"
PASS_QID=$SENT_QID

new spf-fail sender@authscore.test
sent spf-fail "$M" --from user@fail.authscore.test
delivered spf-fail
ar_has spf-fail "spf=fail smtp.mailfrom=fail.authscore.test"

# --------------------------------------------------------------- DKIM
new dkim-pass "u@reject.$D"
dkim_sign_file "$M" rsa "reject.$D" "$RSA"
sent dkim-pass "$M" --from "$NOALIGN"
delivered dkim-pass
ar_has dkim-pass "dkim=pass header.d=reject.$D" "dmarc=pass header.from=reject.$D"

# ---------------------------------------------------- DMARC reject, quarantine
new dmarc-reject "u@reject.$D"
sent dmarc-reject "$M" --from "$NOALIGN"
refused_sm dmarc-reject "^550 5\.7\.1 .*rejected by the DMARC policy of reject\.dmarc\.authscore\.test"
REJECT_QID=$(qid_of "header\.from=reject\.$D .*action=reject")
ok "[ -n '$REJECT_QID' ]" "dmarc-reject: the milter logged Sendmail's queue id"
like "$(log_line "$REJECT_QID")" 'dmarc=fail .*action=reject' "dmarc-reject: logged dmarc=fail action=reject"

new quarantine "u@quarantine.$D"
sent quarantine "$M" --from "$NOALIGN"
like "$SENT_REPLY" '^250 ' "quarantine: accepted (250)"
ok "[ -n '$SENT_QID' ] && wait_for $E2E_WAIT \"sm_queue_file hf '$SENT_QID'\" 'hf$SENT_QID in the queue'" \
	"quarantine: in Sendmail's quarantine (hf file)" || diag "$(ls "$SM_DIR/mqueue")"
like "$(sm -bp -qQ 2>&1)" "$SENT_QID" "quarantine: mailq -qQ lists it"
like "$(sm -bp -qQ 2>&1)" 'DMARC' "quarantine: with our reason" || diag "$(sm -bp -qQ 2>&1)"
ok "! grep -qx 'E2E-END $MK' '$E2E_TMP'/sink/* 2>/dev/null" "quarantine: not delivered"
like "$(tr 'A-Z' 'a-z' <"$SM_DIR/mqueue/hf$SENT_QID" 2>/dev/null)" "authentication-results: mx\.authscore\.test;.*dmarc=fail" \
	"quarantine: the held message has our AR"
# released as README.md says, it is delivered (the queue run that follows)
sm -qQ -qI"$SENT_QID" -Q >/dev/null 2>&1
ok "sm_queue_file qf '$SENT_QID' >/dev/null" "quarantine: sendmail -qQ -qIID -Q releases it" ||
	diag "$(ls "$SM_DIR/mqueue")"
sm -qI"$SENT_QID" >/dev/null 2>&1
ok "wait_delivered_sm '$SENT_QID' >/dev/null" "quarantine: released, it is delivered"

# ------------------------------------------------------------ forged ARs
new forged-ar sender@authscore.test \
	'Authentication-Results: mx.authscore.test; spf=pass smtp.mailfrom=forged1.example' \
	'Authentication-Results: other.example; spf=pass smtp.mailfrom=keep1.example' \
	'Authentication-Results:   MX.AuthScore.TEST ;spf=pass smtp.mailfrom=forged2.example' \
	'authentication-results:mx.authscore.test;spf=pass smtp.mailfrom=forged3.example' \
	'Authentication-Results: mx.authscore.test.example; spf=pass smtp.mailfrom=keep2.example'
sent forged-ar "$M" --from user@fail.authscore.test
delivered forged-ar
hdrs=$(delivered_headers "$LAST_FILE" 2>/dev/null)
unlike "$hdrs" 'forged[0-9]\.example' "forged-ar: every AR with our authserv-id removed" || diag "$hdrs"
like "$hdrs" 'Authentication-Results: other\.example; spf=pass smtp\.mailfrom=keep1\.example' "forged-ar: another's AR kept"
like "$hdrs" 'Authentication-Results: mx\.authscore\.test\.example; spf=pass smtp\.mailfrom=keep2\.example' \
	"forged-ar: a look-alike authserv-id kept"
is "$(head -n 1 <<<"$hdrs" | cut -d';' -f1)" "Authentication-Results: $E2E_AUTHSERV_ID" "forged-ar: ours is the first field"
like "$(log_line "$SENT_QID")" 'forged_ar=3' "forged-ar: the log line counts 3 removed"

# ------------------------------------------------------------------- tag
new tagged sender@authscore.test
sed -i "s/^Subject: .*/Subject: a lure $MK/" "$M"
sent tagged "$M" --from "$NOALIGN"
delivered tagged
hdrs=$(delivered_headers "$LAST_FILE" 2>/dev/null)
like "$hdrs" $'(^|\n)Subject: \\[SPAM\\] a lure ' "tagged: the Subject prefixed" || diag "$hdrs"
like "$hdrs" $'(^|\n)X-Spam-Flag: YES' "tagged: X-Spam-Flag: YES"
like "$hdrs" $'(^|\n)X-Spam-Status: Yes, score=6\\.0 ' "tagged: X-Spam-Status: Yes"
is "$(grep -ci '^Subject:' <<<"$hdrs")" 1 "tagged: one Subject"

# ------------------------------------------------------------ DNS failure
new dns-fail sender@authscore.test
sent dns-fail "$M" --from user@servfail.authscore.test
refused_sm dns-fail '^451 4\.4\.3 '

# ------------------------------------------ trusted and authenticated: skipped
new trusted sender@authscore.test
sent trusted "$M" --ip 127.0.0.1 --from "$NOALIGN"
like "$SENT_REPLY" '^250 ' "trusted network: accepted"
if f=$(wait_delivered_sm "$SENT_QID"); then
	is "$(ar_headers "$f" | grep -c .)" 0 "trusted network: no AR of ours"
else
	fail "trusted network: no AR of ours" "not delivered"
fi
ok "wait_log '$SENT_QID' && grep -qE '\]: $SENT_QID: client=.*skipped=\"trusted network\" action=accept' '$E2E_TMP/milter.log'" \
	"trusted network: logged as skipped, with the queue id"

new authenticated "u@reject.$D"
sent authenticated "$M" --from "$NOALIGN" --auth PLAIN --auth-user "submitter@$E2E_AUTHSERV_ID" --auth-password secret
like "$SENT_REPLY" '^250 ' "authenticated: a DMARC-failing message accepted" ||
	diag "$(grep -E '^(<|<\*\*|<~) ' <<<"$SENT_OUT" | tail -n 6)"
if f=$(wait_delivered_sm "$SENT_QID"); then
	is "$(ar_headers "$f" | grep -c .)" 0 "authenticated: no AR of ours"
else
	fail "authenticated: no AR of ours" "not delivered"
fi
ok "wait_log '$SENT_QID' && grep -qE '\]: $SENT_QID: client=.*skipped=authenticated action=accept' '$E2E_TMP/milter.log'" \
	"authenticated: logged as skipped, with the queue id" || diag "$(log_line "$SENT_QID")"

# ------------------------------------------------------------------ DNSBL
new zen sender@authscore.test
sent zen "$M" --ip 203.0.113.66 --helo client.authscore.test --from "$NOALIGN"
refused_sm zen '^550 5\.7\.1 .*Spamhaus'

# --------------------------------------------------------- many recipients
rcpts=$(for i in $(seq 1 60); do printf 'r%d@sink.test,' "$i"; done)
new many sender@authscore.test
sent many "$M" --from "$NOALIGN" --to "${rcpts%,}"
delivered many
is "$(grep -lx "E2E-END $MK" "$E2E_TMP"/sink/* 2>/dev/null | wc -l)" 1 "many: delivered once, in one transaction"
is "$(grep -c '^X-Rcpt-Args: <r[0-9]*@sink\.test>$' "$LAST_FILE" 2>/dev/null)" 60 "many: to all 60 recipients"
is "$(grep -cE "\]: $SENT_QID: client=" "$E2E_TMP/milter.log")" 1 "many: one log line for 60 recipients"
like "$(log_line "$SENT_QID")" 'action=accept' "many: logged action=accept"

# ------------------------------------------------- the milter stops, restarts
stop_milter TERM
new down sender@authscore.test
sent down "$M" --from "$NOALIGN"
like "$SENT_REPLY" '^451 4\.3\.2 ' "milter down: F=T gives 451 4.3.2" || diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 3)"
ok not_taken "milter down: nothing passes unchecked"
# back, now with the SPF-fail action set to reject
start_milter "${MILTER_CONF[@]}" "on-spf-fail reject" || fail "the milter starts again"
new up sender@authscore.test
sent up "$M" --from "$NOALIGN"
delivered up

new spf-fail-reject sender@authscore.test
sent spf-fail-reject "$M" --from user@fail.authscore.test
refused_sm spf-fail-reject '^550 5\.7\.23 '

# ---------------------------------------------------------- history rows
stop_milter TERM # the writer flushes its queue on the way out
A() { "$AUTHSCORE" "$@" -c "$E2E_CONF" 2>>"$E2E_TMP/tool.err"; }
for q in "$PASS_QID" "$REJECT_QID"; do
	out=$(A explain "$q" 2>&1)
	like "$out" "queue id $q" "history: the row of $q found by Sendmail's queue id" || diag "$out"
done
like "$(A explain "$REJECT_QID" 2>&1)" 'reject' "history: the rejected message's row says reject"
is "$(cat "$E2E_TMP/tool.err" 2>/dev/null)" "" "the tool wrote nothing to stderr"

done_testing

#!/bin/bash
# tests/e2e/spf.sh - SPF end-to-end scenarios: swaks -> Postfix -> the milter
# (DNS from NSD, zones in tests/e2e/zones) -> smtp-sink.  Prints TAP.
# Run as root: tests/e2e/spf.sh (E2E_KEEP=1 keeps the temporary files).
. "$(dirname "$0")/lib.sh"

e2e_setup "on-spf-fail accept"

# ----------------------------------------------------------------- results
accepted pass 'spf=pass smtp.mailfrom=pass.authscore.test' 'spf=pass smtp.helo=client.authscore.test' -- \
	--from user@pass.authscore.test

# the AR is the first header, below Postfix's own Received at most
if [ -n "$LAST_FILE" ]; then
	hdrs=$(delivered_headers "$LAST_FILE")
	top=$(sed -n 1p <<<"$hdrs")
	[[ $top =~ ^Received:\ from\ .*\ by\ mx\.authscore\.test\ \(Postfix\) ]] && top=$(sed -n 2p <<<"$hdrs")
	like "$top" "^Authentication-Results: $ID_RE;" "AR is the first header (below Postfix's Received at most)" ||
		diag "headers:" "$hdrs"
else
	fail "AR is the first header (below Postfix's Received at most)" "no message"
fi

# the admin tool gives the same SPF results as the daemon for this message
if [ -x "$AUTHSCORE" ] && [ -n "$LAST_FILE" ]; then
	tool_out=$(authscore_test --ip "$E2E_CLIENT4" --helo client.authscore.test \
		--mail-from user@pass.authscore.test --rcpt "$E2E_RCPT" <"$LAST_MSG" 2>&1)
	like "$tool_out" "Authentication-Results: $ID_RE;" "authscore test prints our AR" || diag "$tool_out"
	want=$(spf_results "$LAST_AR")
	ok '[ -n "$want" ]' "delivered AR has SPF results"
	is "$(spf_results "$tool_out")" "$want" "authscore test: same SPF results as the delivered AR"
else
	fail "authscore test prints our AR" "no $AUTHSCORE or no delivered message"
	fail "delivered AR has SPF results"
	fail "authscore test: same SPF results as the delivered AR"
fi

accepted fail 'spf=fail smtp.mailfrom=fail.authscore.test' -- --from user@fail.authscore.test
accepted softfail 'spf=softfail smtp.mailfrom=softfail.authscore.test' -- --from user@softfail.authscore.test
accepted neutral 'spf=neutral smtp.mailfrom=neutral.authscore.test' -- --from user@neutral.authscore.test
accepted none-txt 'spf=none smtp.mailfrom=none.authscore.test' -- --from user@none.authscore.test
accepted none-nxdomain 'spf=none smtp.mailfrom=nx.authscore.test' -- --from user@nx.authscore.test
accepted permerror-syntax 'spf=permerror smtp.mailfrom=syntax.authscore.test' -- --from user@syntax.authscore.test
accepted permerror-11-lookups 'spf=permerror smtp.mailfrom=toomany.authscore.test' -- --from user@toomany.authscore.test
accepted permerror-two-records 'spf=permerror smtp.mailfrom=tworecords.authscore.test' -- --from user@tworecords.authscore.test
accepted include-chain 'spf=pass smtp.mailfrom=chain.authscore.test' -- --from user@chain.authscore.test

# temperror: the record lookup SERVFAILs -> on-spf-temperror's default, tempfail
refused temperror-servfail '^451 4\.4\.3 ' --from user@servfail.authscore.test
refused temperror-include '^451 4\.4\.3 ' --from user@temperror.authscore.test

# IPv6 client
accepted ipv6-pass 'spf=pass smtp.mailfrom=v6.authscore.test' 'spf=pass smtp.helo=client6.authscore.test' -- \
	--ip "$E2E_CLIENT6" --helo client6.authscore.test --from user@v6.authscore.test
accepted ipv6-fail 'spf=fail smtp.mailfrom=pass.authscore.test' -- \
	--ip "$E2E_CLIENT6" --helo client6.authscore.test --from user@pass.authscore.test

# null sender: the HELO identity is checked (and the MAIL FROM identity,
# postmaster@HELO, has the same result)
accepted null-sender 'spf=pass smtp.helo=nullhelo.authscore.test' -- \
	--helo nullhelo.authscore.test --from '<>'
ok '[ -n "$LAST_AR" ] && ! grep -qiE "spf=(none|neutral|fail|softfail|permerror|temperror)" <<<"$LAST_AR"' \
	"null-sender: no SPF result other than pass"

# ------------------------------------------------------------- forged ARs
MSG_HEADERS=(
	'Authentication-Results: mx.authscore.test; spf=pass smtp.mailfrom=forged1.example'
	'Authentication-Results: other.example; spf=pass smtp.mailfrom=keep1.example'
	'Authentication-Results:   MX.AuthScore.TEST ;spf=pass smtp.mailfrom=forged2.example'
	'Received: from relay.example (relay.example [192.0.2.7]) by mx1.example; Thu, 1 Jan 2026 00:00:00 +0000'
	'authentication-results:mx.authscore.test;spf=pass smtp.mailfrom=forged3.example'
	'Authentication-Results:' $'\tmx.authscore.test;' $'\tspf=pass smtp.mailfrom=forged4.example'
	'Authentication-Results: mx.authscore.test.example; spf=pass smtp.mailfrom=keep2.example'
)
accepted forged-ar 'spf=fail smtp.mailfrom=fail.authscore.test' -- --from user@fail.authscore.test
if [ -n "$LAST_FILE" ]; then
	hdrs=$(delivered_headers "$LAST_FILE")
	unlike "$hdrs" 'forged[0-9]\.example' "forged-ar: every AR with our authserv-id (any case/spacing/folding) removed" ||
		diag "headers:" "$hdrs"
	like "$hdrs" 'Authentication-Results: other\.example; spf=pass smtp\.mailfrom=keep1\.example' \
		"forged-ar: AR of another authserv-id kept"
	like "$hdrs" 'Authentication-Results: mx\.authscore\.test\.example; spf=pass smtp\.mailfrom=keep2\.example' \
		"forged-ar: AR of a look-alike authserv-id kept"
	like "$(sed -n '1,2p' <<<"$hdrs")" "Authentication-Results: $ID_RE;" "forged-ar: our AR on top"
else
	for d in "forged ARs removed" "other AR kept" "look-alike AR kept" "our AR on top"; do
		fail "forged-ar: $d" "no message"
	done
fi

# -------------------------------------------- milter down while Postfix runs
stop_milter KILL
refused milter-down '^451 4\.7\.1 ' --from user@pass.authscore.test
# Postfix logs through postlogd: the line may come after the reply
ok "wait_for $E2E_WAIT \"grep -q 'connect to Milter service unix:.*milter\\.sock' '$E2E_TMP/postfix.log'\" \
	'the milter failure in postfix.log'" "milter-down: Postfix logged the milter failure"
if start_milter "on-spf-fail accept"; then
	pass "milter restarts after a crash (stale socket left behind)"
else
	fail "milter restarts after a crash (stale socket left behind)"
fi
accepted after-restart 'spf=pass smtp.mailfrom=pass.authscore.test' -- --from user@pass.authscore.test

# ------------------------------ on-spf-fail reject, on-spf-temperror accept
t0=$(date +%s%3N)
_pid_alive "$MILTER_PID" && kill -TERM "$MILTER_PID"
ok '[ -n "$MILTER_PID" ] && wait_for $((1 + E2E_EXIT_SLACK)) "! _pid_alive $MILTER_PID"' \
	"milter process gone within $((1 + E2E_EXIT_SLACK)) s of SIGTERM"
own=$(milter_stop_ms "$t0")
ok "[ -n '$own' ] && [ '${own:-0}' -le 1000 ]" "milter stops on SIGTERM within 1 s (${own:-never} ms)"
stop_milter KILL
if start_milter "on-spf-fail reject" "on-spf-temperror accept"; then
	pass "milter starts with on-spf-fail reject"
else
	fail "milter starts with on-spf-fail reject"
fi
refused reject-fail '^550 5\.7\.23 ' --from user@fail.authscore.test
accepted reject-softfail-accepted 'spf=softfail smtp.mailfrom=softfail.authscore.test' -- --from user@softfail.authscore.test
accepted reject-pass-accepted 'spf=pass smtp.mailfrom=pass.authscore.test' -- --from user@pass.authscore.test
accepted temperror-accept 'spf=temperror smtp.mailfrom=servfail.authscore.test' -- --from user@servfail.authscore.test

done_testing

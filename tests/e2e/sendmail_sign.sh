#!/bin/bash
# tests/e2e/sendmail_sign.sh - DKIM signing and ARC sealing through a real
# Sendmail 8.17 with the shipped contrib/sendmail/authscore.mc (see
# lib_sendmail.sh): Sendmail hands the milter its header with other macros
# ({i} at the end of the message) and other indices than Postfix (its own
# Received field is in the list smfi_insheader counts, values come with their
# leading blank under SMFIP_HDR_LEADSPC), so where DKIM-Signature and the ARC
# set land, and whether they still verify, is checked here as sign.sh and
# arc.sh check it through Postfix.  Keys are made by `authscore dkim keygen`
# at test time and published by the private NSD (a copy of the test zones
# with a zone for $D).  dkimpy (python3-dkim) verifies: dkimverify for the
# signatures, dkim.arc_verify for the seal, both asking NSD through the
# namespace's /etc/resolv.conf.  Signed: a trusted client's and an SMTP AUTH
# client's mail; sealed: accepted inbound mail.  Prints TAP; run as root.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib_sendmail.sh"

D=sign.authscore.test
NOALIGN=user@pass.authscore.test # SPF passes, never aligned with D
PY=/usr/bin/python3              # Debian's, where python3-dkim lives
for tool in dkimverify swaks; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done
$PY -c 'import dkim' 2>/dev/null || { echo "1..0 # SKIP python3-dkim missing"; exit 0; }

# Before NSD starts: the keys, and a copy of the test zones with D's zone
# holding their records (as sign.sh does).
sign_pre() {
	KEYS=$E2E_TMP/keys
	mkdir -p "$KEYS" || return 1
	"$AUTHSCORE" dkim keygen --domain $D --selector rsa1 --directory "$KEYS" >/dev/null &&
		"$AUTHSCORE" dkim keygen --domain $D --selector ed1 --type ed25519 \
			--directory "$KEYS" >/dev/null || return 1
	zones_with $D "$KEYS"/rsa1.txt "$KEYS"/ed1.txt || return 1
	sm_sasl_setup # SMTP AUTH, for the authenticated client
}
E2E_PRE_START=sign_pre
E2E_NO_MILTER=1
SM_MC_EXTRA=$SM_SASL_MC
e2e_setup
sm_sasl_user submitter secret
# one daemon for both: mail of trusted clients is signed, accepted inbound
# mail is sealed with the rsa1 key of the DKIM key table
start_milter "dkim-key $D rsa1 $KEYS/rsa1.private" "dkim-key $D ed1 $KEYS/ed1.private" \
	"dkim-sign $D $D:rsa1 $D:ed1" "arc-seal $D rsa1" || fail "the milter starts with the keys"
ok "'$AUTHSCORE' dkim check -c '$E2E_CONF' --domain $D --selector rsa1 >/dev/null &&
	'$AUTHSCORE' dkim check -c '$E2E_CONF' --domain $D --selector ed1 >/dev/null" \
	"NSD publishes both keys (authscore dkim check)"

# new NAME FROM [HEADER...] - a message from FROM: path in $M, marker $MK
new() {
	MK=$1-$$-$RANDOM
	M=$(msg_from "$MK" "$2" "${@:3}")
}
# delivered_sm NAME - the last message got 250 from Sendmail and reached the
# sink (LAST_FILE, LAST_HDRS: its header as delivered_headers gives it).
# Always emits 2 results.
delivered_sm() {
	LAST_FILE='' LAST_HDRS=''
	like "$SENT_REPLY" '^250 2\.0\.0 [0-9A-Za-z]+ Message accepted' "$1: accepted" ||
		diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 4)"
	if [ -n "$SENT_QID" ] && LAST_FILE=$(wait_delivered_sm "$SENT_QID"); then
		pass "$1: delivered to the sink"
		LAST_HDRS=$(delivered_headers "$LAST_FILE")
	else
		LAST_FILE=''
		fail "$1: delivered to the sink" "not delivered within ${E2E_TIMEOUT}s"
	fi
}
# names - the field names of LAST_HDRS, one a line, in order
names() { sed 's/:.*//' <<<"$LAST_HDRS"; }
# crlf FILE - the delivered message with CRLF line ends (what dkimpy reads)
crlf() { sed 's/\r*$/\r/' "$1"; }
# dkim_ok FILE INDEX - dkimverify says the INDEXth signature verifies
dkim_ok() { [ "$(crlf "$1" | dkimverify --index "$2" 2>&1)" = "signature ok" ]; }

# ------------------------------------------------------------- signing
# a folded field the signature covers, as Sendmail passes it (leading blank)
new trusted "user@$D" "References: <1@$D>" $'\t<2@'"$D>"
sent trusted "$M" --ip 127.0.0.1 --from "user@$D"
delivered_sm trusted
s=$(grep -i '^DKIM-Signature:' <<<"$LAST_HDRS")
is "$(grep -c . <<<"$s")" 2 "trusted: two DKIM-Signature fields" || diag "$LAST_HDRS"
is "$(names | head -n 2 | tr '\n' ' ')" "DKIM-Signature DKIM-Signature " \
	"trusted: they are the first two fields, above Sendmail's Received" || diag "$LAST_HDRS"
is "$(names | sed -n 3p)" Received "trusted: Sendmail's Received follows them"
# each is inserted at index 0 after the one before, so the line's last key
# is on top, as through Postfix
like "$(sed -n 1p <<<"$s")" "^DKIM-Signature: v=1; a=ed25519-sha256; .*d=$D; ?s=ed1;" \
	"trusted: the top one is ed25519-sha256 with ed1"
like "$(sed -n 2p <<<"$s")" "^DKIM-Signature: v=1; a=rsa-sha256; .*d=$D; ?s=rsa1;" \
	"trusted: the next one is rsa-sha256 with rsa1"
unlike "$s" 'DKIM-Signature:  ' "trusted: one blank after the colon (SMFIP_HDR_LEADSPC)"
ok "[ -n '$LAST_FILE' ] && dkim_ok '$LAST_FILE' 0" "trusted: dkimverify passes the top (ed25519-sha256) signature" ||
	diag "$(crlf "$LAST_FILE" | dkimverify --index 0 2>&1)"
ok "[ -n '$LAST_FILE' ] && dkim_ok '$LAST_FILE' 1" "trusted: dkimverify passes the next (rsa-sha256) signature" ||
	diag "$(crlf "$LAST_FILE" | dkimverify --index 1 2>&1)"
is "$(ar_headers "$LAST_FILE" | grep -c .)" 0 "trusted: no Authentication-Results of ours"
ok "wait_log '$SENT_QID'" "trusted: the milter's log line names Sendmail's queue id"
like "$(log_line "$SENT_QID")" \
	"skipped=\"trusted network\" dkim\\.signed=$D/rsa1/rsa-sha256,$D/ed1/ed25519-sha256( |\$)" \
	"trusted: the log line says dkim.signed= with both keys"

# oversigning: a From added on top after signing breaks both signatures
if [ -n "$LAST_FILE" ]; then
	{ printf 'From: <ceo@%s>\r\n' "$D"; crlf "$LAST_FILE"; } >"$E2E_TMP/forged.eml"
	for i in 0 1; do
		is "$(dkimverify --index $i <"$E2E_TMP/forged.eml" 2>&1)" "signature verification failed" \
			"oversigned: dkimverify fails signature $i with a From added"
	done
else
	fail "oversigned: dkimverify fails signature 0 with a From added" "no message"
	fail "oversigned: dkimverify fails signature 1 with a From added" "no message"
fi

# an outside client's message from D is checked, not signed
new outside "user@$D"
sent outside "$M" --ip 203.0.113.10 --from "user@$D"
delivered_sm outside
is "$(grep -ci '^DKIM-Signature:' <<<"$LAST_HDRS")" 0 "outside: not signed"

# an authenticated client's message ({auth_authen} from Sendmail) is signed
new authenticated "user@$D"
sent authenticated "$M" --ip 203.0.113.10 --from "user@$D" \
	--auth PLAIN --auth-user "submitter@$E2E_AUTHSERV_ID" --auth-password secret
delivered_sm authenticated
is "$(grep -ci '^DKIM-Signature:' <<<"$LAST_HDRS")" 2 "authenticated: two DKIM-Signature fields"
is "$(names | head -n 3 | tr '\n' ' ')" "DKIM-Signature DKIM-Signature Received " \
	"authenticated: they are on top" || diag "$LAST_HDRS"
ok "[ -n '$LAST_FILE' ] && dkim_ok '$LAST_FILE' 0 && dkim_ok '$LAST_FILE' 1" \
	"authenticated: dkimverify passes both"
ok "wait_log '$SENT_QID'" "authenticated: the milter's log line names Sendmail's queue id"
like "$(log_line "$SENT_QID")" "skipped=authenticated dkim\\.signed=$D/rsa1/rsa-sha256,$D/ed1/ed25519-sha256( |\$)" \
	"authenticated: the log line says dkim.signed= with both keys"

# ------------------------------------------------------------- sealing
# arc_verified FILE - dkimpy validates the chain of the delivered message,
# the seal's key from NSD; smtp-sink's own records (up to its Received
# field) are not part of the message
arc_verified() {
	$PY - "$1" <<-'EOF'
		import re, sys, dkim
		raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
		fields = re.finditer(rb"^Received:[^\n]*\n(?:[ \t][^\n]*\n)*", raw, re.M)
		sink = next(f for f in fields if b"(smtp-sink)" in f.group(0))
		msg = raw[sink.end():].replace(b"\n", b"\r\n")
		cv, _, why = dkim.arc_verify(msg)
		print(cv.decode(), why)
		sys.exit(0 if cv == b"pass" else 1)
	EOF
}
new sealed sender@authscore.test
sent sealed "$M" --from "$NOALIGN"
delivered_sm sealed
is "$(names | head -n 5 | tr '\n' ' ')" \
	"ARC-Seal ARC-Message-Signature ARC-Authentication-Results Authentication-Results Received " \
	"sealed: one ARC set on top, above our Authentication-Results and Sendmail's Received" ||
	diag "$LAST_HDRS"
for f in ARC-Seal ARC-Message-Signature ARC-Authentication-Results Authentication-Results; do
	is "$(grep -ci "^$f:" <<<"$LAST_HDRS")" 1 "sealed: exactly one $f"
done
is "$(grep -ci '^DKIM-Signature:' <<<"$LAST_HDRS")" 0 "sealed: inbound mail is not DKIM-signed"
seal=$(grep -i '^ARC-Seal:' <<<"$LAST_HDRS" | tr -d ' \t')
for t in i=1 cv=none a=rsa-sha256 "d=${D//./\\.}" s=rsa1; do
	like "$seal" "[:;]$t(;|\$)" "sealed: the ARC-Seal has $t"
done
like "$(grep -i '^ARC-Message-Signature:' <<<"$LAST_HDRS" | tr -d ' \t')" "[:;]i=1;" \
	"sealed: the ARC-Message-Signature has i=1"
aar=$(grep -i '^ARC-Authentication-Results:' <<<"$LAST_HDRS" | tr 'A-Z' 'a-z')
ar=$(ar_headers "$LAST_FILE" | tr 'A-Z' 'a-z')
like "$aar" '^arc-authentication-results: i=1; mx\.authscore\.test;.*spf=pass' \
	"sealed: the AAR is instance 1 with our results"
is "${aar#arc-authentication-results: i=1; }" "${ar#authentication-results: }" \
	"sealed: the AAR carries our Authentication-Results word for word"
ok "[ -n '$LAST_FILE' ] && arc_verified '$LAST_FILE' >'$E2E_TMP/sealed.verify' 2>&1" \
	"sealed: dkimpy's arc_verify passes (key from NSD)" || diag "$(cat "$E2E_TMP/sealed.verify")"
ok "wait_log '$SENT_QID'" "sealed: the milter's log line names Sendmail's queue id"

# the seal signs what was delivered: a Subject changed after it breaks it
if [ -n "$LAST_FILE" ]; then
	sed 's/^Subject: e2e /Subject: changed /' "$LAST_FILE" >"$E2E_TMP/changed.eml"
	like "$(arc_verified "$E2E_TMP/changed.eml" 2>&1)" '^fail ' "sealed: a changed Subject fails arc_verify"
else
	fail "sealed: a changed Subject fails arc_verify" "no message"
fi

# an inbound message already sealed once (by arcfwd.dmarc.authscore.test,
# unchanged, the author's signature intact): ours is instance 2, on top,
# over a passing chain, and dkimpy validates both sets
SRC=arcsrc.dmarc.authscore.test
new resealed "u@$SRC"
dkim_sign_file "$M" rsa "$SRC" "$E2E_DIR/data/keys/rsa2048.pem"
$PY "$E2E_DIR/arc_forward.py" --sealer arcfwd.dmarc.authscore.test --keep \
	--key "$E2E_DIR/data/keys/rsa2048.pem" --results "dkim=pass header.d=$SRC; dmarc=pass header.from=$SRC" \
	"$M" >"$M.fwd" && mv "$M.fwd" "$M"
sent resealed "$M" --from "$NOALIGN"
delivered_sm resealed
is "$(names | head -n 5 | tr '\n' ' ')" \
	"ARC-Seal ARC-Message-Signature ARC-Authentication-Results Authentication-Results Received " \
	"resealed: our ARC set on top, above our Authentication-Results" || diag "$LAST_HDRS"
is "$(grep -ci '^ARC-Seal:' <<<"$LAST_HDRS")" 2 "resealed: two ARC-Seal fields"
seal=$(grep -m1 -i '^ARC-Seal:' <<<"$LAST_HDRS" | tr -d ' \t')
for t in i=2 cv=pass "d=${D//./\\.}"; do
	like "$seal" "[:;]$t(;|\$)" "resealed: the top ARC-Seal has $t"
done
like "$(ar_headers "$LAST_FILE" | tr 'A-Z' 'a-z')" '(^|;)[[:space:]]*arc=pass[[:space:];]' "resealed: our Authentication-Results has arc=pass"
ok "[ -n '$LAST_FILE' ] && arc_verified '$LAST_FILE' >'$E2E_TMP/resealed.verify' 2>&1" \
	"resealed: dkimpy's arc_verify passes both sets" || diag "$(cat "$E2E_TMP/resealed.verify")"

done_testing

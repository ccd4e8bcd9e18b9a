#!/bin/bash
# tests/e2e/sign.sh - DKIM signing of outgoing mail end to end: swaks ->
# Postfix -> the milter (signs) -> smtp-sink, keys made by `authscore dkim
# keygen` at test time and their records served by the private NSD from a
# zone written here (so the tool's TXT record is parsed by a real DNS
# server).  Each signature is verified by authscore's own verifier (the
# delivered message fed back as inbound mail to `authscore test`) and by
# dkimpy's dkimverify (python3-dkim; it asks NSD through the namespace's
# /etc/resolv.conf).  Trusted-network and SMTP AUTH mail is signed, rsa-sha256
# and ed25519-sha256 side by side; a From added after signing breaks both
# (oversigning); SIGHUP swaps keys; a reload with a bad key keeps the old
# ones.  `authscore dkim check` against the zone.  Prints TAP; run as root.
. "$(dirname "$0")/lib.sh"

D=sign.authscore.test
for tool in dkimverify openssl swaks; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done

# Before NSD starts: the keys, and a copy of the test zones with ours added.
sign_pre() {
	KEYS=$E2E_TMP/keys
	mkdir -p "$KEYS" || return 1
	"$AUTHSCORE" dkim keygen --domain $D --selector rsa1 --directory "$KEYS" >"$KEYS/rsa1.out" &&
		"$AUTHSCORE" dkim keygen --domain $D --selector ed1 --type ed25519 \
			--directory "$KEYS" >"$KEYS/ed1.out" &&
		"$AUTHSCORE" dkim keygen --domain $D --selector rsa2 --bits 1024 \
			--directory "$KEYS" >"$KEYS/rsa2.out" || return 1
	zones_with $D "$KEYS"/rsa1.txt "$KEYS"/ed1.txt "$KEYS"/rsa2.txt
}
E2E_PRE_START=sign_pre
E2E_NO_MILTER=1
e2e_setup

# ------------------------------------------------------------- the tool
is "$(stat -c %a "$KEYS/rsa1.private") $(stat -c %a "$KEYS/ed1.private")" "600 600" \
	"keygen: the private keys are mode 0600"
ok "openssl pkey -in '$KEYS/rsa1.private' -noout" "keygen: openssl reads the RSA key"
like "$(openssl pkey -in "$KEYS/rsa1.private" -noout -text 2>&1 | head -n 1)" '2048 bit' \
	"keygen: RSA 2048 bits by default"
like "$(head -n 1 "$KEYS/rsa1.private")" '^-----BEGIN PRIVATE KEY-----$' "keygen: PKCS#8 PEM"
like "$(openssl pkey -in "$KEYS/ed1.private" -noout -text 2>&1 | head -n 1)" 'ED25519' \
	"keygen: openssl reads the Ed25519 key"
is "$(cat "$KEYS/rsa1.out")" "$(cat "$KEYS/rsa1.txt")" "keygen: prints the record it writes"
like "$(cat "$KEYS/ed1.txt")" \
	"^ed1\\._domainkey\\.$D\\.	IN	TXT	\\( \"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=\" \\)\$" \
	"keygen: the Ed25519 record (32 raw bytes, RFC 8463)"
# p= is the DER public key openssl derives from the private one
pub=$(openssl pkey -in "$KEYS/rsa1.private" -pubout -outform DER | base64 -w0)
is "$(tr -d '\n' <"$KEYS/rsa1.txt" | sed 's/" "//g; s/.*p=\([^"]*\)".*/\1/')" "$pub" \
	"keygen: the RSA record's p= is the key's public half"
out=$("$AUTHSCORE" dkim keygen --domain $D --selector rsa1 --directory "$KEYS" 2>&1)
is "$?" 2 "keygen: never over an existing key" || diag "$out"
"$AUTHSCORE" dkim keygen --domain $D --selector x --type ed25519 --bits 2048 --directory "$KEYS" 2>/dev/null
is "$?" 2 "keygen: --bits is for rsa"
"$AUTHSCORE" dkim keygen --domain $D --selector x --type dsa --directory "$KEYS" 2>/dev/null
is "$?" 2 "keygen: an unknown --type is refused"
"$AUTHSCORE" dkim keygen --domain $D --selector x --bits 512 --directory "$KEYS" 2>/dev/null
is "$?$(ls "$KEYS"/x.* 2>/dev/null)" 2 "keygen: 512 bits refused, nothing written"

start_milter "dkim-key $D rsa1 $KEYS/rsa1.private" "dkim-key $D ed1 $KEYS/ed1.private" \
	"dkim-key $D rsa2 $KEYS/rsa2.private" "dkim-sign $D $D:rsa1 $D:ed1" \
	"dkim-sign-expire-days 7" || fail "the milter starts with the keys"

out=$("$AUTHSCORE" dkim check -c "$E2E_CONF" --domain $D --selector rsa1)
is "$?" 0 "check: rsa1 matches its published record" || diag "$out"
out=$("$AUTHSCORE" dkim check -c "$E2E_CONF" --domain $D --selector ed1)
is "$?" 0 "check: ed1 matches" || diag "$out"
out=$("$AUTHSCORE" dkim check -c "$E2E_CONF" --domain $D --selector rsa1 --key "$KEYS/rsa2.private")
is "$?" 1 "check: another key does not match"
like "$out" 'does not match: p=' "check: says p= differs"
out=$("$AUTHSCORE" dkim check -c "$E2E_CONF" --domain $D --selector nosuch --key "$KEYS/rsa1.private")
like "$out" 'no TXT record' "check: no record published"

# ------------------------------------------------------------- signing
# signed_file NAME [send_mail args] - send a message From user@D, wait for it
# in the sink; prints the file
signed_file() {
	local name=$1 f
	shift
	# a folded field the signature covers (References), as Postfix passes it
	f=$(msg_from "$name" "user@$D" "References: <1@$D>" $'\t<2@'"$D>") || return 1
	out=$(send_mail --from "user@$D" --data "$f" "$@")
	[[ $(data_reply "$out") == 250\ * ]] || { diag "$out"; return 1; }
	wait_delivered "$name"
}
# the delivered message with CRLF line ends (what dkimverify reads)
crlf() { sed 's/\r*$/\r/' "$1"; }
# verify_ours FILE - authscore's own verifier: the message as inbound mail
verify_ours() { "$AUTHSCORE" test -c "$E2E_CONF" --ip 203.0.113.10 --mail-from "user@$D" <"$1" 2>&1; }
sigs() { delivered_headers "$1" | grep -i '^DKIM-Signature:'; }

f=$(signed_file trusted-$$ --ip 127.0.0.1) || fail "trusted: delivered"
s=$(sigs "$f")
is "$(grep -c . <<<"$s")" 2 "trusted: two DKIM-Signature fields"
like "$s" "a=rsa-sha256;.*d=$D;.*s=rsa1;" "trusted: rsa-sha256 with rsa1"
like "$s" "a=ed25519-sha256;.*d=$D;.*s=ed1;" "trusted: ed25519-sha256 with ed1"
like "$s" 'c=relaxed/relaxed' "trusted: relaxed/relaxed"
unlike "$s" '[; ]l=' "trusted: no l="
like "$s" 'x=[0-9]+' "trusted: x= (dkim-sign-expire-days)"
like "$(delivered_headers "$f" | head -n 1)" '^DKIM-Signature:' \
	"trusted: the signatures are on top"
ok "crlf '$f' | dkimverify" "trusted: dkimpy's dkimverify passes (rsa)"
ok "crlf '$f' | dkimverify --index 1" "trusted: dkimpy's dkimverify passes (ed25519)"
v=$(verify_ours "$f" | tr 'A-Z' 'a-z')
like "$v" "dkim=pass[^;]*header\\.d=$D[^;]*header\\.s=rsa1" "trusted: authscore's verifier: rsa1 passes"
like "$v" "dkim=pass[^;]*header\\.d=$D[^;]*header\\.s=ed1" "trusted: authscore's verifier: ed1 passes"
ok "grep -q 'skipped=\"trusted network\" dkim.signed=$D/rsa1/rsa-sha256,$D/ed1/ed25519-sha256' '$E2E_TMP/milter.log'" \
	"trusted: the log line says what was signed with which key"

m=$(msg_from tool-$$ "user@$D")
out=$(authscore_test --ip 127.0.0.1 --mail-from "user@$D" <"$m" | tr -d '\n\t')
like "$out" 'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sign\.authscore\.test; ?s=rsa1;' \
	"authscore test: shows the signature outgoing mail would get"

# oversigning: a From added on top after signing breaks both signatures
{ printf 'From: <ceo@%s>\r\n' "$D"; crlf "$f"; } >"$E2E_TMP/forged.eml"
ok "! dkimverify <'$E2E_TMP/forged.eml' && ! dkimverify --index 1 <'$E2E_TMP/forged.eml'" \
	"oversigned: dkimverify fails both with a From added"
v=$(verify_ours "$E2E_TMP/forged.eml" | tr 'A-Z' 'a-z')
unlike "$v" 'dkim=pass' "oversigned: authscore's verifier passes neither"

# not our mail: an outside client's message is checked, not signed
f=$(signed_file outside-$$ --ip 203.0.113.10) || fail "outside: delivered"
is "$(sigs "$f" | grep -c .)" 0 "outside: not signed"
# a From no signing-table line matches: not signed
m=$(msg_from other-$$ "user@pass.authscore.test")
out=$(send_mail --ip 127.0.0.1 --data "$m")
f=$(wait_delivered other-$$) && is "$(sigs "$f" | grep -c .)" 0 "no matching line: not signed"

# ------------------------------------------------------------- reloads
reloads() { grep -c 'configuration reloaded' "$E2E_TMP/milter.log"; }
failures() { grep -c 'reload failed' "$E2E_TMP/milter.log"; }
n=$(reloads)
write_milter_conf "$E2E_CONF" "dkim-key $D rsa1 $KEYS/rsa1.private" \
	"dkim-key $D rsa2 $KEYS/rsa2.private" "dkim-sign $D $D:rsa2"
kill -HUP "$MILTER_PID"
ok "wait_for $E2E_WAIT '[ \$(reloads) -gt $n ]'" "reload: SIGHUP loads the new keys"
f=$(signed_file swapped-$$ --ip 127.0.0.1) || fail "swapped: delivered"
s=$(sigs "$f")
is "$(grep -c . <<<"$s")" 1 "swapped: one signature"
like "$s" "s=rsa2;" "swapped: signed with rsa2"
ok "crlf '$f' | dkimverify" "swapped: dkimverify passes"

# a bad key: world-readable; the reload fails naming it, the old keys stay
cp "$KEYS/rsa1.private" "$KEYS/open.private" && chmod 0644 "$KEYS/open.private"
n=$(failures)
write_milter_conf "$E2E_CONF" "dkim-key $D rsa1 $KEYS/open.private" "dkim-sign $D $D:rsa1"
kill -HUP "$MILTER_PID"
ok "wait_for $E2E_WAIT '[ \$(failures) -gt $n ]'" "bad key: the reload fails"
ok "grep 'reload failed' '$E2E_TMP/milter.log' | tail -n 1 | grep -q 'open.private.*group or others'" \
	"bad key: the error names the file and why"
f=$(signed_file kept-$$ --ip 127.0.0.1) || fail "kept: delivered"
like "$(sigs "$f")" "s=rsa2;" "bad key: still signed with the old key (rsa2)"
ok "crlf '$f' | dkimverify" "bad key: the old key's signature verifies"

# ------------------------------------------------------ SMTP AUTH users
# Cyrus SASL with a sasldb of our own, as ratelimit.sh does
sasl_setup() {
	local db=$E2E_TMP/sasldb2
	command -v saslpasswd2 >/dev/null || return 1
	echo secret | saslpasswd2 -p -c -f "$db" -u mx.authscore.test alice || return 1
	chown postfix "$db" && chmod 0600 "$db"
	mkdir -p /etc/postfix/sasl
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n' \
		"$db" >/etc/postfix/sasl/smtpd.conf
	postfix_set smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus smtpd_sasl_path=smtpd \
		cyrus_sasl_config_path=/etc/postfix/sasl smtpd_sasl_local_domain=mx.authscore.test
}
if ! sasl_setup; then
	fail "SMTP AUTH set up (saslpasswd2 from sasl2-bin, Postfix with Cyrus SASL)"
else
	stop_milter
	start_milter "dkim-key $D rsa1 $KEYS/rsa1.private" "dkim-key $D ed1 $KEYS/ed1.private" \
		"dkim-sign *@$D $D:ed1" || fail "the milter restarts"
	f=$(signed_file auth-$$ --ip 203.0.113.10 --auth PLAIN --auth-user alice \
		--auth-password secret) || fail "auth: delivered"
	s=$(sigs "$f")
	like "$s" "a=ed25519-sha256;.*s=ed1;" "auth: an authenticated client's mail is signed (*@$D)"
	ok "crlf '$f' | dkimverify" "auth: dkimverify passes"
	like "$(verify_ours "$f" | tr 'A-Z' 'a-z')" "dkim=pass[^;]*header\\.s=ed1" \
		"auth: authscore's verifier passes"
	ok "grep -q 'skipped=authenticated dkim.signed=$D/ed1/ed25519-sha256' '$E2E_TMP/milter.log'" \
		"auth: logged"
fi

done_testing

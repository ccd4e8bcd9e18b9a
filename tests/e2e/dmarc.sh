#!/bin/bash
# tests/e2e/dmarc.sh - DMARC (RFC 9989) end-to-end scenarios: swaks -> Postfix
# -> the milter (DNS from NSD) -> smtp-sink or Postfix's hold queue.  Prints
# TAP.  Run as root (E2E_KEEP=1 keeps the temporary files).
# Domains: zones/dmarc.authscore.test.zone (D below); messages are signed at
# test time with the keys in data/keys/.  Default enforcement: on-dmarc-reject
# reject, on-dmarc-quarantine quarantine, on-dkim/dmarc-temperror tempfail,
# on-from-error reject.
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
RSA=$E2E_DIR/data/keys/rsa2048.pem
NOALIGN=user@pass.authscore.test # SPF passes, never aligned with D's domains

# SERVFAIL zones: the key of tempkey.D, the policy record of policyfail.D
E2E_SERVFAIL_ZONES+=" _domainkey.tempkey.$D _dmarc.policyfail.$D"
e2e_setup

# new NAME FROM [HEADER...] - a message from FROM; path in $M, marker in $MK
new() {
	MK=$1-$$-$RANDOM
	M=$(msg_from "$MK" "$2" "${@:3}")
}
sent_to_sink() { grep -qx "E2E-END $MK" "$E2E_TMP"/sink/* 2>/dev/null; }
# refused_ok NAME REPLY-ERE - the last send_file got that reply, nothing
# delivered, nothing held
refused_ok() {
	like "$SENT_REPLY" "$2" "$1: reply $2" || diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 3)"
	ok 'never_delivered "$MK"' "$1: not delivered"
	ok "! postqueue -p | grep -q '!'" "$1: nothing in the hold queue"
}
# held_ok NAME - the last send_file got 250 and the message sits in the hold
# queue (postqueue shows "ID!"), not delivered; its headers in $HELD_AR
held_ok() {
	local name=$1
	like "$SENT_REPLY" '^250 ' "$name: accepted (250)"
	ok "[ -n '$SENT_QID' ] && wait_for $E2E_WAIT \"postqueue -p | grep -qE '^$SENT_QID!'\" 'queue id $SENT_QID in the hold queue'" \
		"$name: held in Postfix's hold queue" || diag "$(postqueue -p)"
	# held, it cannot leave the hold queue by itself: the sink cannot get it
	ok '! sent_to_sink' "$name: not delivered"
	HELD_AR=$(postcat -hq "$SENT_QID" 2>/dev/null | awk '/^[^ \t]/ { printf "\n" } { sub(/^[ \t]+/, " "); printf "%s", $0 }' |
		grep -i "^Authentication-Results: $ID_RE;" | tr 'A-Z' 'a-z')
	LAST_AR=$HELD_AR
	# delete it, so later scenarios see an empty hold queue
	postsuper -d "$SENT_QID" hold >/dev/null 2>&1
}

# ------------------------------------------------------------ DMARC pass
new spf-only "u@reject.$D"
send_file spf-only "$M" --from "user@reject.$D"
delivered_ok spf-only
ar_has spf-only "spf=pass smtp.mailfrom=reject.$D" "dkim=none" "dmarc=pass header.from=reject.$D"

new dkim-only "u@reject.$D"
dkim_sign_file "$M" rsa "reject.$D" "$RSA"
send_file dkim-only "$M" --from "$NOALIGN"
delivered_ok dkim-only
ar_has dkim-only "spf=pass smtp.mailfrom=pass.authscore.test" "dkim=pass header.d=reject.$D" \
	"dmarc=pass header.from=reject.$D"

# ------------------------------------------------- fail: reject / quarantine / none
new p-reject "u@reject.$D"
send_file p-reject "$M" --from "$NOALIGN"
refused_ok p-reject "^550 5\.7\.1 .*rejected by the DMARC policy of reject\.dmarc\.authscore\.test"
if [ -x "$AUTHSCORE" ]; then
	out=$(authscore_test --ip "$E2E_CLIENT4" --helo client.authscore.test --mail-from "$NOALIGN" \
		--rcpt "$E2E_RCPT" <"$M" 2>&1)
	like "$(tr 'A-Z' 'a-z' <<<"$out")" "$(resinfo_re "dmarc=fail header.from=reject.$D policy.dmarc=reject")" \
		"authscore test: the same DMARC result" || diag "$out"
	like "$out" 'action: reject' "authscore test: action: reject"
fi

new p-quarantine "u@quarantine.$D"
send_file p-quarantine "$M" --from "$NOALIGN"
held_ok p-quarantine
ar_has p-quarantine "dmarc=fail header.from=quarantine.$D policy.dmarc=quarantine"

new p-none "u@none.$D"
send_file p-none "$M" --from "$NOALIGN"
delivered_ok p-none
ar_has p-none "dmarc=fail header.from=none.$D policy.dmarc=none"

# ------------------------------------------------- relaxed vs strict alignment
new relaxed-spf "u@relaxed.$D"
send_file relaxed-spf "$M" --from "user@mail.relaxed.$D"
delivered_ok relaxed-spf
ar_has relaxed-spf "spf=pass smtp.mailfrom=mail.relaxed.$D" "dmarc=pass header.from=relaxed.$D"

new relaxed-dkim "u@relaxed.$D"
dkim_sign_file "$M" rsa "sig.relaxed.$D" "$RSA"
send_file relaxed-dkim "$M" --from "$NOALIGN"
delivered_ok relaxed-dkim
ar_has relaxed-dkim "dkim=pass header.d=sig.relaxed.$D" "dmarc=pass header.from=relaxed.$D"

new strict-spf "u@strict.$D"
send_file strict-spf "$M" --from "user@mail.strict.$D"
refused_ok strict-spf "^550 5\.7\.1 .*DMARC policy of strict\.$D"

new strict-dkim "u@strict.$D"
dkim_sign_file "$M" rsa "sig.strict.$D" "$RSA"
send_file strict-dkim "$M" --from "$NOALIGN"
refused_ok strict-dkim "^550 5\.7\.1 .*DMARC policy of strict\.$D"

new strict-exact-spf "u@strict.$D"
send_file strict-exact-spf "$M" --from "user@strict.$D"
delivered_ok strict-exact-spf
ar_has strict-exact-spf "dmarc=pass header.from=strict.$D"

new strict-exact-dkim "u@strict.$D"
dkim_sign_file "$M" rsa "strict.$D" "$RSA"
send_file strict-exact-dkim "$M" --from "$NOALIGN"
delivered_ok strict-exact-dkim
ar_has strict-exact-dkim "dkim=pass header.d=strict.$D" "dmarc=pass header.from=strict.$D"

# ------------------------- Organizational Domain several labels up (tree walk)
new orgdomain-fail "u@a.b.c.org.$D"
send_file orgdomain-fail "$M" --from "$NOALIGN"
refused_ok orgdomain-fail "^550 5\.7\.1 .*DMARC policy of (a\.b\.c\.)?org\.$D"

new orgdomain-spf "u@a.b.c.org.$D"
send_file orgdomain-spf "$M" --from "user@mail.org.$D"
delivered_ok orgdomain-spf
ar_has orgdomain-spf "dmarc=pass header.from=a.b.c.org.$D"

new orgdomain-dkim "u@a.b.c.org.$D"
dkim_sign_file "$M" rsa "org.$D" "$RSA"
send_file orgdomain-dkim "$M" --from "$NOALIGN"
delivered_ok orgdomain-dkim
ar_has orgdomain-dkim "dkim=pass header.d=org.$D" "dmarc=pass header.from=a.b.c.org.$D"

# ------------------------------------------------------------------ sp, np
new sp-sub "u@sub.sp.$D"
send_file sp-sub "$M" --from "$NOALIGN"
refused_ok sp-sub "^550 5\.7\.1 .*DMARC policy of (sub\.)?sp\.$D"

new sp-self "u@sp.$D"
send_file sp-self "$M" --from "$NOALIGN"
delivered_ok sp-self
ar_has sp-self "dmarc=fail header.from=sp.$D policy.dmarc=none"

new np-nxdomain "u@nx.np.$D"
send_file np-nxdomain "$M" --from "$NOALIGN"
refused_ok np-nxdomain "^550 5\.7\.1 .*DMARC policy of (nx\.)?np\.$D"

new np-exists "u@exists.np.$D"
send_file np-exists "$M" --from "$NOALIGN"
delivered_ok np-exists
ar_has np-exists "dmarc=fail header.from=exists.np.$D policy.dmarc=none"

# ---------------------------------------------- t=y: reject becomes quarantine
new testing "u@testing.$D"
send_file testing "$M" --from "$NOALIGN"
held_ok testing
ar_has testing "dmarc=fail header.from=testing.$D policy.dmarc=quarantine"

# -------------------------------------------- temperror: 451, never reject/hold
new dkim-temperror "u@tempkey.$D"
dkim_sign_file "$M" rsa "tempkey.$D" "$RSA"
send_file dkim-temperror "$M" --from "$NOALIGN"
refused_ok dkim-temperror '^451 4\.7\.5 '

new policy-temperror "u@policyfail.$D"
send_file policy-temperror "$M" --from "$NOALIGN"
refused_ok policy-temperror '^451 4\.7\.5 '

# ------------------------------------------------ From errors (on-from-error)
new two-from "u@none.$D" "From: <other@none.$D>"
send_file two-from "$M" --from "$NOALIGN"
refused_ok two-from '^550 5\.7\.1 '

new two-addresses "u@none.$D"
sed -i "s/^From: .*/From: <u@none.$D>, <v@none.$D>/" "$M"
send_file two-addresses "$M" --from "$NOALIGN"
refused_ok two-addresses '^550 5\.7\.1 '

new no-from "u@none.$D"
sed -i '/^From: /d' "$M"
send_file no-from "$M" --from "$NOALIGN"
refused_ok no-from '^550 5\.7\.1 '

# -------------------------------- overrides: recorded, not enforced
stop_milter
if start_milter "dmarc-override-domains fwd.$D" "dmarc-override-networks 203.0.113.11/32"; then
	pass "milter restarts with dmarc-override-domains/-networks"
else
	fail "milter restarts with dmarc-override-domains/-networks"
fi
new override-domain "u@reject.$D"
send_file override-domain "$M" --from "list@list.fwd.$D"
delivered_ok override-domain
ar_has override-domain "dmarc=fail header.from=reject.$D"
like "$LAST_AR" 'dmarc=fail \([^)]*not enforced: local_policy' "override-domain: AR says not enforced: local_policy"

new override-network "u@reject.$D"
send_file override-network "$M" --from "$NOALIGN" --ip 203.0.113.11 --helo client11.authscore.test
delivered_ok override-network
ar_has override-network "dmarc=fail header.from=reject.$D"
like "$LAST_AR" 'dmarc=fail \([^)]*not enforced: trusted_forwarder' "override-network: AR says not enforced: trusted_forwarder"

new no-override "u@reject.$D"
send_file no-override "$M" --from "$NOALIGN"
refused_ok no-override "^550 5\.7\.1 .*rejected by the DMARC policy of reject\.$D"

done_testing

#!/bin/bash
# tests/e2e/arc.sh - ARC (RFC 8617) end to end through the real Postfix:
# trusted forwarders and the attempts to abuse them, then this host's own
# seal.  A message from arcsrc.D (p=reject, with reports) is DKIM-signed,
# then a forwarder tags its Subject and adds a footer (the signature
# breaks) and ARC-seals it (tests/e2e/arc_forward.py, dkimpy's arc_sign),
# recording what it saw.  arcfwd.D is in arc-trusted-sealers, arcother.D is
# not.  Accepted with an override only when the chain passes, the newest
# sealer is trusted and its own ARC-Authentication-Results say the message
# passed; the override is in our header, the log line, the history row and
# the aggregate report.  Prints TAP; root.
#
# Needs the ARC module (checks/arc.c, branch arc): with milter/arc_stub.c,
# which sees no chain, the override and sealing cases fail.
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
SRC=arcsrc.$D
FWD=arcfwd.$D    # trusted
OTHER=arcother.$D # not trusted
RSA=$E2E_DIR/data/keys/rsa2048.pem
NOALIGN=user@pass.authscore.test # the forwarder's envelope: SPF passes, never aligned
PY=/usr/bin/python3              # Debian's, where python3-dkim lives
TODAY=$(date -u +%F)

$PY -c 'import dkim, authres' 2>/dev/null || { echo "1..0 # SKIP python3-dkim or python3-authres missing"; exit 0; }
# SERVFAIL zones: the keys of two more sealers, one trusted, one not
E2E_SERVFAIL_ZONES+=" _domainkey.arctemp.$D _domainkey.arctempother.$D"
e2e_setup "arc-trusted-sealers $FWD arctemp.$D"

# new NAME FROM [HEADER...] - a message from FROM; path in $M, marker in $MK
new() {
	MK=$1-$$-$RANDOM
	M=$(msg_from "$MK" "$2" "${@:3}")
}
# forwarded NAME SEALER RESULTS [arc_forward.py args] - a message of SRC,
# DKIM-signed by it, then changed and ARC-sealed by SEALER, which records
# RESULTS; in $M
forwarded() {
	local name=$1 sealer=$2 results=$3
	shift 3
	new "$name" "u@$SRC"
	dkim_sign_file "$M" rsa "$SRC" "$RSA"
	$PY "$E2E_DIR/arc_forward.py" --sealer "$sealer" --key "$RSA" --results "$results" "$@" "$M" \
		>"$M.fwd" && mv "$M.fwd" "$M"
}
refused_ok() {
	like "$SENT_REPLY" "$2" "$1: reply $2" || diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 3)"
	ok 'never_delivered "$MK"' "$1: not delivered"
}
# qid_of MARKER - Postfix's queue id of the message (cleanup logs its
# Message-ID, rejected or not)
qid_of() {
	sed -n "s/.* \([0-9A-Za-z]*\): message-id=<$1@e2e\.authscore\.test>.*/\1/p" "$E2E_TMP/postfix.log" |
		tail -n 1
}
# logged NAME ERE - the milter's summary line of the last message ($MK) matches
logged() {
	local qid
	wait_for "$E2E_WAIT" "[ -n \"\$(qid_of $MK)\" ]" "the queue id of $MK" >/dev/null
	qid=$(qid_of "$MK")
	ok "[ -n '$qid' ] && wait_for $E2E_WAIT \"grep -E '$qid: .*$2' '$E2E_TMP/milter.log' >/dev/null\" 'the summary line of $qid'" \
		"$1: log line has $2" || diag "$(grep "${qid:-none}: " "$E2E_TMP/milter.log" | tail -n 2)"
}
PASSED="dkim=pass header.d=$SRC header.s=rsa; dmarc=pass header.from=$SRC"

# ----------------------------------- (a) trusted forwarder: accepted, overridden
forwarded trusted "$FWD" "$PASSED"
send_file trusted "$M" --from "$NOALIGN"
delivered_ok trusted
ar_has trusted "arc=pass smtp.remote-ip=$E2E_CLIENT4" "dkim=fail header.d=$SRC" \
	"dmarc=fail header.from=$SRC policy.dmarc=none"
like "$LAST_AR" 'dmarc=fail \([^)]*not enforced: trusted_forwarder\)' "trusted: AR says not enforced: trusted_forwarder"
like "$LAST_AR" "reason=\"arc sealer ${FWD//./\\.} saw dmarc=pass\"" "trusted: AR names the sealer in reason="
logged trusted "arc=pass override=trusted_forwarder arc\.sealer=${FWD//./\\.} .* action=accept "
TRUSTED_QID=$SENT_QID

# the same through the admin's tool: the same decision, offline
if [ -x "$AUTHSCORE" ]; then
	# with CRLF line ends, as the milter gets the message from Postfix
	out=$(sed 's/$/\r/' "$M" | authscore_test --ip "$E2E_CLIENT4" --helo client.authscore.test \
		--mail-from "$NOALIGN" --rcpt "$E2E_RCPT" 2>&1)
	like "$out" 'action: accept' "authscore test: the trusted forwarder's message is accepted" || diag "$out"
fi

# ------------------------------------- (b) untrusted forwarder: p=reject applies
forwarded untrusted "$OTHER" "$PASSED"
send_file untrusted "$M" --from "$NOALIGN"
refused_ok untrusted "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"

# --------------------------------- (c) a forged seal of the trusted domain
forwarded forged-seal "$FWD" "$PASSED" --corrupt-seal
send_file forged-seal "$M" --from "$NOALIGN"
refused_ok forged-seal "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"
logged forged-seal " arc=fail "

# ----------------------- (d) a trusted chain replayed onto another message
new replay-victim "u@$SRC"
sed -i 's/^Subject: .*/Subject: please confirm your password/' "$M"
victim=$M victim_mk=$MK
forwarded replay "$FWD" "$PASSED" --replay-onto "$victim"
MK=$victim_mk
send_file replay "$M" --from "$NOALIGN"
refused_ok replay "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"
logged replay " arc=fail "

# ------------------------ the trusted sealer itself saw the message fail
forwarded saw-fail "$FWD" "dkim=fail header.d=$SRC; dmarc=fail header.from=$SRC"
send_file saw-fail "$M" --from "$NOALIGN"
refused_ok saw-fail "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"

# ---------- a later hop, not trusted, after the trusted one: not the sealer read
forwarded later-hop "$FWD" "$PASSED"
$PY "$E2E_DIR/arc_forward.py" --sealer "$OTHER" --key "$RSA" --results "$PASSED" "$M" >"$M.2" && mv "$M.2" "$M"
send_file later-hop "$M" --from "$NOALIGN"
refused_ok later-hop "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"
logged later-hop " arc=pass "

# ------------- arc=temperror: never an override; "later" when one was possible
forwarded temperror-trusted "arctemp.$D" "$PASSED"
send_file temperror-trusted "$M" --from "$NOALIGN"
refused_ok temperror-trusted '^451 4\.7\.5 .*ARC'
logged temperror-trusted " arc=temperror .*action=tempfail reason=.arc=temperror"
forwarded temperror-untrusted "arctempother.$D" "$PASSED"
send_file temperror-untrusted "$M" --from "$NOALIGN"
refused_ok temperror-untrusted "^550 5\.7\.1 .*DMARC policy of ${SRC//./\\.}"

# ------------------- the history row and the aggregate report say so (RFC 9990)
stop_milter TERM # the writer flushes its queue on the way out
db=$E2E_TMP/state/history.db
row=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
    "select \"override\" from messages where queue_id = ?", (sys.argv[2],)).fetchone()[0])' \
	"$db" "$TRUSTED_QID" 2>&1)
is "$row" trusted_forwarder "history: the trusted forwarder's row has override trusted_forwarder"
out=$("$AUTHSCORE" report -c "$E2E_CONF" --period "$TODAY" --dry-run "$E2E_TMP/dry" 2>&1)
is "$?" 0 "report: authscore report --dry-run exits 0" || diag "$out"
f=$(ls "$E2E_TMP"/dry/*"!$SRC!"*.xml.gz 2>/dev/null | head -n 1)
xml=$([ -n "$f" ] && gunzip -c "$f")
like "$xml" '<reason>[[:space:]]*<type>trusted_forwarder</type>' "report: the override reason is trusted_forwarder"
like "$xml" '<disposition>reject</disposition>' "report: the others were rejected per p=reject"

# --------------------------------------- this host seals what it accepts
install -m 0600 "$RSA" "$E2E_TMP/seal.pem"
if start_milter "arc-trusted-sealers $FWD" "arc-seal arcmx.$D arc $E2E_TMP/seal.pem"; then
	pass "milter restarts with arc-seal"
else
	fail "milter restarts with arc-seal"
fi
# arc_verified FILE - dkimpy validates the chain of the delivered message
# with the zone's key (selector arc, all keys are the rsa one)
arc_verified() {
	$PY - "$1" "$RSA" <<-'EOF'
		import base64, subprocess, sys, dkim
		der = subprocess.run(["openssl", "pkey", "-in", sys.argv[2], "-pubout", "-outform", "DER"],
		                     capture_output=True, check=True).stdout
		rec = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
		raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
		head, _, body = raw.partition(b"\n\n")
		# smtp-sink's own records above the message are not part of it
		lines = head.split(b"\n")
		while lines and not lines[0].lower().startswith(b"arc-seal:"):
		    lines.pop(0)
		msg = (b"\n".join(lines) + b"\n\n" + body).replace(b"\n", b"\r\n")
		cv, _, why = dkim.arc_verify(msg, dnsfunc=lambda name, timeout=5: rec)
		print(cv.decode(), why)
		sys.exit(0 if cv == b"pass" else 1)
	EOF
}
new sealed "u@reject.$D"
send_file sealed "$M" --from "user@reject.$D"
delivered_ok sealed
# seal_has NAME INSTANCE CV - the topmost ARC-Seal is ours, with those tags
# (in any order)
seal_has() {
	local seal t
	seal=$(delivered_headers "$LAST_FILE" 2>/dev/null | grep -m1 -i '^ARC-Seal:' | tr -d ' \t')
	for t in "i=$2" "cv=$3" "a=rsa-sha256" "d=arcmx\.${D//./\\.}" "s=arc"; do
		like "$seal" "[:;]$t(;|\$)" "$1: our ARC-Seal has $t" || break
	done
}
hdrs=$(delivered_headers "$LAST_FILE" 2>/dev/null)
seal_has sealed 1 none
like "$(grep -i -m1 '^ARC-Authentication-Results:' <<<"$hdrs" | tr 'A-Z' 'a-z')" \
	"i=1; mx\.authscore\.test;.*dmarc=pass" "sealed: the AAR is our Authentication-Results"
ok "arc_verified '$LAST_FILE' >'$E2E_TMP/sealed.verify' 2>&1" "sealed: dkimpy validates our seal" ||
	diag "$(cat "$E2E_TMP/sealed.verify")"

forwarded reseal "$FWD" "$PASSED"
send_file reseal "$M" --from "$NOALIGN"
delivered_ok reseal
seal_has reseal 2 pass # instance 2 over a passing chain
ok "arc_verified '$LAST_FILE' >'$E2E_TMP/reseal.verify' 2>&1" "reseal: dkimpy validates the two sets" ||
	diag "$(cat "$E2E_TMP/reseal.verify")"

new not-sealed "u@reject.$D" "X-Spam-Flag: NO"
send_file not-sealed "$M" --from "user@reject.$D"
delivered_ok not-sealed
ok "[ -n '$LAST_FILE' ] && ! delivered_headers '$LAST_FILE' | grep -qi '^ARC-Seal:'" \
	"not-sealed: a message whose X-Spam-Flag is removed is not sealed"

done_testing

#!/bin/bash
# tests/e2e/reputation.sh - reputation and scoring end-to-end (issue #5):
# the default rules against the DNS lists of zones/ (Spamhaus ZEN, DNSWL,
# DBL, a "blocked" answer), GeoIP rules on MaxMind's test databases, a
# header rule that tags, forced actions (tempfail, quarantine, discard),
# SIGHUP with a broken and a fixed rules file, `authscore rules check`,
# `authscore-milter -n`, and iprev in Authentication-Results.  Prints TAP.
# Run as root (E2E_KEEP=1 keeps the temporary files).
#
# Clients (203.0.113.0/24 is local in the namespace; zones/):
#   203.0.113.10  PTR client.authscore.test, A back: iprev=pass; unlisted
#   203.0.113.66  zen.spamhaus.org 127.0.0.2 (SBL)     2001:db8::66  127.0.0.3
#   203.0.113.67  zen.spamhaus.org 127.255.255.254 (Spamhaus: query refused)
#   203.0.113.70  list.dnswl.org 127.0.10.3 (high trust)
#   203.0.113.99  no PTR at all
#   dbl-listed.authscore.test  dbl.spamhaus.org 127.0.1.2
# GeoIP (tests/data/geoip, values from MaxMind's source-data, fixed here):
#   81.2.69.160 GB, no AS; 89.160.20.112 SE, AS29518; 1.128.0.1 AS1221, no
#   country.  The namespace has no interface but lo: they are put on it.
. "$(dirname "$0")/lib.sh"

RULES_DIR=$E2E_DIR/rules
GEO_DIR=$top_srcdir/tests/data/geoip
DEFAULT_RULES=$top_srcdir/rules/default.rules
LOG=$E2E_TMP/milter.log

e2e_setup
LOG=$E2E_TMP/milter.log
ip addr add 2001:db8::66/128 dev lo nodad
for a in 81.2.69.160 89.160.20.112 1.128.0.1; do ip addr add "$a/32" dev lo; done

# ------------------------------------------------------------------ helpers
# new_msg NAME [HEADER...] - a new message: its path in $M, marker in $MK
new_msg() {
	MK=$1-$$-$RANDOM
	M=$(make_msg "$MK" "${@:2}")
}
# subject TEXT - the Subject of $M becomes "TEXT <marker>"
subject() { sed -i "s/^Subject: .*/Subject: $1 $MK/" "$M"; }
from_hdr() { sed -i "s/^From: <sender@authscore\.test>\$/From: <$1>/" "$M"; }

# send [send_mail args] - send $M; sets OUT, REPLY, QID
send() {
	OUT=$(send_mail --data "$M" "$@")
	REPLY=$(data_reply "$OUT")
	QID=$(queued_id "$OUT")
}
in_sink() { grep -qx "E2E-END $MK" "$E2E_TMP"/sink/* 2>/dev/null; }

# delivered NAME - the last send got 250 and $M reached the sink; sets
# FILE, HDRS (unfolded header lines), RESULT (X-Authscore-Result), AR
# (ours, lowercased).  Emits 2 results.
delivered() {
	FILE='' HDRS='' RESULT='' AR=''
	like "$REPLY" '^250 ' "$1: accepted" || diag "$(grep -E '^(<|<\*\*) ' <<<"$OUT" | tail -n 3)"
	if [[ $REPLY == 250\ * ]] && FILE=$(wait_delivered "$MK"); then
		pass "$1: delivered"
		HDRS=$(delivered_headers "$FILE")
		RESULT=$(hdr X-Authscore-Result)
		AR=$(ar_headers "$FILE" | tr 'A-Z' 'a-z')
	else
		FILE=''
		fail "$1: delivered" "not delivered within ${E2E_TIMEOUT}s"
	fi
}
# refused_now NAME REPLY-ERE - the last send got that reply; nothing delivered
refused_now() {
	like "$REPLY" "$2" "$1: reply $2" || diag "$(grep -E '^(<|<\*\*) ' <<<"$OUT" | tail -n 3)"
	ok 'never_delivered "$MK"' "$1: not delivered"
}
# log_line FIXED-STRING [ERE] - the last milter log line holding the string
# (and matching ERE), once there is one: the log line of a message may come
# after the SMTP reply
log_line() {
	wait_for "$E2E_WAIT" "grep -F -- '$1' '$LOG' | grep -qE -- '${2:-.}'" "a milter log line with $1${2:+ matching $2}"
	grep -F -- "$1" "$LOG" | grep -E -- "${2:-.}" | tail -n 1
}
# hdr NAME - the first delivered header NAME's value (from $HDRS)
hdr() { awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" 'BEGIN { FS = ":" }
	tolower($1) == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }' <<<"$HDRS"; }
has_hdr() { awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" -F: 'tolower($1) == n { f = 1 } END { exit !f }' <<<"$HDRS"; }

# ===================================================== 1. default rules
new_msg clean
send
delivered "default rules: clean client"
like "$RESULT" '^score=-?[0-9]+\.[0-9] action=accept rules=' "clean client: X-Authscore-Result: score=... action=accept rules=..."
unlike "$RESULT" 'RCVD_IN_|DBL_' "clean client: no list rule in the hits"
ok '! has_hdr X-Spam-Flag' "clean client: no X-Spam-Flag (not tagged)"
like "$(hdr X-Spam-Status)" '^No, score=-?[0-9]+\.[0-9] required=' "clean client: X-Spam-Status: No, as SpamAssassin writes it"
# 7. iprev (client.authscore.test has the PTR and the A record back)
like "$AR" "$(resinfo_re 'iprev=pass policy.iprev=203.0.113.10')" "iprev: AR has iprev=pass policy.iprev=203.0.113.10"
like "$AR" 'iprev=pass \(client\.authscore\.test\) policy\.iprev=' "iprev: the comment names the PTR name"

new_msg noptr
send --ip 203.0.113.99 --helo neutral.authscore.test
delivered "client without PTR"
like "$AR" "$(resinfo_re 'iprev=(fail|permerror) policy.iprev=203.0.113.99')" "iprev: no PTR -> iprev=fail/permerror policy.iprev=203.0.113.99"
like "$RESULT" 'NO_PTR\(1\.5\)' "no PTR: the default rule NO_PTR(1.5) fires"

new_msg zen
send --ip 203.0.113.66 --helo neutral.authscore.test
refused_now "ZEN-listed client (IPv4)" '^550 5\.7\.1 .*Spamhaus'
like "$(log_line "[203.0.113.66]" ' action=')" 'action=reject' "ZEN-listed client: the log line says action=reject"

new_msg zen6
send --ip 2001:db8::66 --helo neutral.authscore.test
refused_now "ZEN-listed client (IPv6, nibble name)" '^550 5\.7\.1 .*Spamhaus'

new_msg dnswl
send --ip 203.0.113.70 --helo neutral.authscore.test
delivered "DNSWL-listed client"
like "$RESULT" 'rules=([^ ]*,)?RCVD_IN_DNSWL_HI\(-5\)' "DNSWL: RCVD_IN_DNSWL_HI(-5) in X-Authscore-Result"
like "$RESULT" '^score=-[0-9]' "DNSWL: the total is negative"

blocked_re='dnsbl: zen\.spamhaus\.org refuses our queries \(answer 127\.255\.255\.254\)'
for i in 1 2; do
	new_msg blocked$i
	send --ip 203.0.113.67 --helo neutral.authscore.test
	delivered "blocked answer ($i)"
	unlike "$RESULT" 'RCVD_IN_ZEN' "blocked answer ($i): no ZEN rule in the hits"
	like "$RESULT" ' monitors=([^ ]*,)?ZEN_BLOCKED(,|$)' "blocked answer ($i): monitor ZEN_BLOCKED listed as a monitor"
	like "$RESULT" 'action=accept' "blocked answer ($i): action=accept"
done
wait_for "$E2E_WAIT" "grep -qE '$blocked_re' '$LOG'" "the blocked-answer warning in the milter log"
is "$(grep -cE "$blocked_re" "$LOG")" 1 "blocked answer: the warning is logged once for two messages"

new_msg dbl-mailfrom
send --from user@dbl-listed.authscore.test
delivered "DBL: MAIL FROM domain listed"
like "$RESULT" 'rules=([^ ]*,)?DBL_MAIL_FROM\(5\)' "DBL: DBL_MAIL_FROM(5) for the MAIL FROM domain"
unlike "$RESULT" 'DBL_FROM\(' "DBL: not DBL_FROM (the From domain is clean)"

new_msg dbl-from
from_hdr user@dbl-listed.authscore.test
send
delivered "DBL: From domain listed"
like "$RESULT" 'rules=([^ ]*,)?DBL_FROM\(6\)' "DBL: DBL_FROM(6) for the From domain"
like "$RESULT" 'action=tag' "DBL: 6 points reach the default tag threshold"
is "$(hdr X-Spam-Flag)" YES "DBL: tagged (X-Spam-Flag: YES)"

# ============================================================== 2. GeoIP
GEO_MAIN=$E2E_TMP/geo-main.rules
printf 'include "%s"\ninclude "%s"\n' "$DEFAULT_RULES" "$RULES_DIR/geo.rules" >"$GEO_MAIN"
stop_milter
if start_milter "rules $GEO_MAIN" "geoip-country $GEO_DIR/GeoLite2-Country-Test.mmdb" \
	"geoip-asn $GEO_DIR/GeoLite2-ASN-Test.mmdb" \
	"dnsbl-blocked zen.spamhaus.org 127.0.0.3 127.255.255.254"; then
	pass "GeoIP: the milter starts with the test databases and geo.rules"
else
	fail "GeoIP: the milter starts with the test databases and geo.rules"
fi

# geo NAME IP WANT-RULES-ERE LOG-ERE [UNWANTED-ERE]
geo() {
	new_msg "$1"
	send --ip "$2" --helo neutral.authscore.test --from user@neutral.authscore.test
	delivered "GeoIP $1 ($2)"
	like "$RESULT" "$3" "GeoIP $1: X-Authscore-Result lists the rules"
	[ -n "${5:-}" ] && unlike "$RESULT" "$5" "GeoIP $1: and not the others"
	like "$(log_line "[$2]" " from=<user@neutral.authscore.test> .* country=")" "$4" "GeoIP $1: the log line shows $4"
}
geo gb 81.2.69.160 'GEO_GB\(0\.5\)' ' country=GB asn=0 ' 'GEO_NORDIC|ASN_|GEO_UNKNOWN'
geo se 89.160.20.112 'GEO_NORDIC\(0\.7\),ASN_RANGE\(0\.2\).* monitors=ASN_KNOWN$' ' country=SE asn=29518 ' 'GEO_GB|ASN_TELSTRA'
geo telstra 1.128.0.1 'GEO_UNKNOWN\(0\.1\),ASN_TELSTRA\(0\.3\).* monitors=ASN_KNOWN$' ' country=- asn=1221 ' 'GEO_GB|GEO_NORDIC'
geo unknown 203.0.113.11 'GEO_UNKNOWN\(0\.1\)' ' country=- asn=0 ' 'ASN_|monitors=.*ASN_KNOWN'
like "$RESULT" '^score=0\.1 ' "GeoIP: a monitor rule's score (9) is not counted"

# dnsbl-blocked (same config): 127.0.0.3, 2001:db8::66's code, is now a refusal
new_msg zen6-blocked
send --ip 2001:db8::66 --helo neutral.authscore.test --from user@v6.authscore.test
delivered "dnsbl-blocked: a configured refusal code"
unlike "$RESULT" 'RCVD_IN_ZEN' "dnsbl-blocked: no ZEN rule in the hits"
like "$RESULT" ' monitors=([^ ]*,)?ZEN_BLOCKED(,|$)' "dnsbl-blocked: monitor ZEN_BLOCKED"
ok 'wait_for $E2E_WAIT "grep -q \"zen\.spamhaus\.org refuses our queries (answer 127\.0\.0\.3)\" \"$LOG\""' \
	"dnsbl-blocked: the warning names the code"
new_msg zen-still
send --ip 203.0.113.66 --helo neutral.authscore.test
refused_now "dnsbl-blocked: 127.0.0.2 still a listing" '^550 5\.7\.1 .*Spamhaus'

# ============================================ 3-5. header rule, forced actions, reload
LIVE=$E2E_TMP/live.rules
cp "$RULES_DIR/actions.rules" "$LIVE"
stop_milter
if start_milter "rules $LIVE" 'tag-subject-prefix "[SPAM] "'; then
	pass "actions.rules: the milter starts"
else
	fail "actions.rules: the milter starts"
fi

# ---------------------------------------------------------- 3. header rule -> tag
new_msg lure
subject "You WIN a   prize"
send
delivered "header rule"
like "$RESULT" '^score=6\.0 action=tag rules=LURE\(6\)$' "header rule: X-Authscore-Result score=6.0 action=tag rules=LURE(6)"
is "$(hdr X-Spam-Flag)" YES "header rule: X-Spam-Flag: YES"
is "$(hdr X-Spam-Score)" 6.0 "header rule: X-Spam-Score: 6.0"
is "$(hdr X-Spam-Status)" "Yes, score=6.0 required=5.0 tests=LURE" "header rule: X-Spam-Status: Yes, score=6.0 required=5.0 tests=LURE"
is "$(hdr Subject)" "[SPAM] You WIN a   prize $MK" "header rule: the Subject gets the tag-subject-prefix"
is "$(grep -ci '^Subject:' <<<"$HDRS")" 1 "header rule: still one Subject"
LURE_RESULT=$RESULT

new_msg mild
subject "Our newsletter"
send
delivered "below the tag threshold"
is "$RESULT" "score=1.0 action=accept rules=MILD(1)" "below tag: X-Authscore-Result score=1.0 action=accept rules=MILD(1)"
ok '! has_hdr X-Spam-Flag' "below tag: no X-Spam-Flag"
is "$(hdr X-Spam-Status)" "No, score=1.0 required=5.0 tests=MILD" "below tag: X-Spam-Status: No, score=1.0 required=5.0 tests=MILD"
is "$(hdr X-Spam-Level)" "*" "below tag: X-Spam-Level: * (one point)"
is "$(hdr Subject)" "Our newsletter $MK" "below tag: Subject unchanged"

# ------------------------------------------------------- 4. forced actions
new_msg tempfail "X-E2E-Action: tempfail"
send
refused_now "action tempfail" '^451 4\.7\.1 .*e2e: try again later'

new_msg quarantine "X-E2E-Action: quarantine"
send
like "$REPLY" '^250 ' "action quarantine: accepted (250)"
ok "[ -n '$QID' ] && wait_for $E2E_WAIT \"postqueue -p | grep -qE '^$QID!'\" 'queue id $QID in the hold queue'" \
	"action quarantine: held in Postfix's hold queue" || diag "$(postqueue -p)"
# held, it cannot leave the hold queue by itself: the sink cannot get it
ok '! in_sink' "action quarantine: not delivered"
like "$(postcat -hq "$QID" 2>/dev/null | grep -i '^X-Authscore-Result:')" 'action=quarantine rules=.*E2E_QUARANTINE' \
	"action quarantine: the held message's X-Authscore-Result names the rule"
like "$(postcat -hq "$QID" 2>/dev/null | grep -i '^X-Spam-Flag:')" 'YES' "action quarantine: the held message has X-Spam-Flag: YES"
postsuper -d "$QID" hold >/dev/null 2>&1

new_msg discard "X-E2E-Action: discard"
send
like "$REPLY" '^250 ' "action discard: 250"
ok 'never_delivered "$MK"' "action discard: not delivered"
ok "! postqueue -p | grep -q '^[0-9A-F]'" "action discard: nothing left in the queue"

# -------------------------------------------- 5. reload with a broken rules file
pid=$MILTER_PID
reloads() { grep -c 'configuration reloaded' "$LOG"; }
n0=$(reloads)
# the same rules with LURE at 7 and a syntax error: nothing of it may apply
sed 's/score 6  "lure/score 7  "lure/' "$RULES_DIR/actions.rules" >"$LIVE.new"
printf 'rule BROKEN      spf == fial  score 1\n' >>"$LIVE.new"
bad_line=$(wc -l <"$LIVE.new")
bad_col=$(awk 'END { print index($0, "fial") }' "$LIVE.new")
mv "$LIVE.new" "$LIVE"
kill -HUP "$pid"
ok 'wait_for $E2E_WAIT "grep -q \"reload failed\" \"$LOG\""' "reload with a broken rules file: 'reload failed' logged"
like "$(grep 'reload failed' "$LOG" | tail -n 1)" "$LIVE:$bad_line:$bad_col: unknown SPF result \"fial\"" \
	"reload with a broken rules file: the log names file:line:col"
ok '_pid_alive $pid' "reload with a broken rules file: the daemon keeps running"
is "$(reloads)" "$n0" "reload with a broken rules file: not reported as reloaded"
new_msg lure-kept
subject "win a prize"
send
delivered "after the failed reload"
is "$RESULT" "$LURE_RESULT" "after the failed reload: the old rules apply (same X-Authscore-Result)"
new_msg flows
send
delivered "after the failed reload, plain mail"
like "$RESULT" '^score=0\.0 action=accept rules=none$' "after the failed reload: plain mail still accepted"

sed '$d' "$LIVE" >"$LIVE.new" && mv "$LIVE.new" "$LIVE"
kill -HUP "$pid"
ok 'wait_for $E2E_WAIT "[ \$(reloads) -gt $n0 ]"' "reload with the fixed file: applied ('configuration reloaded')"
new_msg lure-new
subject "win a prize"
send
delivered "after the good reload"
like "$RESULT" '^score=7\.0 action=tag rules=LURE\(7\)$' "after the good reload: the new score applies (LURE(7))"
ok '_pid_alive $pid' "reload: same process throughout"

# ---------------------------------------------- 6. authscore rules check, -n
BAD=$E2E_TMP/bad.rules
BAD_LINE='rule SPF_FAIL  spf == fial  score 3.5'
printf 'actions { tag 5 }\n# a comment\n%s\n' "$BAD_LINE" >"$BAD"
col=$(awk 'END { print index($0, "fial") }' "$BAD")
out=$("$AUTHSCORE" rules check "$BAD" 2>&1)
is "$?" 1 "rules check: a broken file exits 1"
like "$(head -n 1 <<<"$out")" "^$BAD:3:$col: unknown SPF result \"fial\"" "rules check: file:line:col: message"
ok 'grep -qxF "$BAD_LINE" <<<"$out"' "rules check: quotes the line"
ok 'grep -qx "$(printf "%*s" $((col - 1)) "")^" <<<"$out"' "rules check: a caret under column $col"
out=$("$AUTHSCORE" rules check "$DEFAULT_RULES" 2>&1)
is "$?" 0 "rules check: default.rules exits 0"
like "$out" '^[0-9]+ rules, [0-9]+ monitors, thresholds tag 5 quarantine 10 reject 15' "rules check: default.rules summary"
out=$("$AUTHSCORE" rules check "$RULES_DIR/geo.rules" 2>&1)
is "$?" 0 "rules check: geo.rules exits 0"
out=$("$AUTHSCORE" rules check "$GEO_MAIN" 2>&1)
is "$?" 0 "rules check: default + geo (absolute includes) exits 0"

NCONF=$E2E_TMP/n.conf
write_milter_conf "$NCONF" "rules $BAD"
out=$("$AUTHSCORE_MILTER" -n -c "$NCONF" 2>&1)
is "$?" 1 "-n with a broken rules file: exits 1"
like "$out" "$BAD:3:$col: " "-n with a broken rules file: names file:line:col"
write_milter_conf "$NCONF" "rules $RULES_DIR/actions.rules"
"$AUTHSCORE_MILTER" -n -c "$NCONF" >/dev/null 2>&1
is "$?" 0 "-n with a good rules file: exits 0"

done_testing

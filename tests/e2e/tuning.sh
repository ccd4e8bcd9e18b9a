#!/bin/bash
# tests/e2e/tuning.sh - the admin's tuning loop end to end (issue 8): seven
# messages through the real Postfix, NSD and milter, scored with
# rules/tuning.rules and recorded in the SQLite store of the test
# directory; then `authscore explain`, `replay` and `stats` on that store.
# A rules file that raises NO_PTR from 3 to 5 (rules/tuning-raise.rules)
# must flip exactly the three messages whose score crosses a threshold, and
# replay must name exactly those queue ids.  Prints TAP; root.
#
# Messages (zones/: only 203.0.113.10 has a PTR; .66 is on ZEN, .67 gets
# ZEN's "blocked" answer, .70 is on DNSWL at 127.0.10.3):
#   name        client  subject   tuning.rules            raised NO_PTR
#   clean       .10               0      accept            0    accept
#   noptr       .99               3      accept            5    tag        flips
#   zen         .66               7      tag (ZEN+NO_PTR)  9    tag
#   blocked     .67               3      accept            5    tag        flips
#   dnswl       .70               1      accept            3    accept
#   lure        .10     prize     6      tag (LURE)        6    tag
#   lure-noptr  .99     prize     9      tag               11   quarantine flips
. "$(dirname "$0")/lib.sh"

RULES=$E2E_DIR/rules/tuning.rules
RAISE=$E2E_DIR/rules/tuning-raise.rules
e2e_setup "rules $RULES"

declare -A QID
# send NAME IP [SUBJECT] - one message; QID[NAME] is its Postfix queue id
send() {
	local marker=$1-$$-$RANDOM f
	f=$(make_msg "$marker")
	[ -n "${3:-}" ] && sed -i "s/^Subject: .*/Subject: $3 $marker/" "$f"
	send_file "$1" "$f" --ip "$2" --helo neutral.authscore.test
	like "$SENT_REPLY" '^250 ' "$1: accepted" || diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 3)"
	QID[$1]=$SENT_QID
	MID[$1]="<$marker@e2e.authscore.test>"
}
declare -A MID
send clean 203.0.113.10
send noptr 203.0.113.99
send zen 203.0.113.66
send blocked 203.0.113.67
send dnswl 203.0.113.70
send lure 203.0.113.10 "You win a prize"
send lure-noptr 203.0.113.99 "Claim your prize"
stop_milter TERM # the writer flushes its queue on the way out
for n in "${!QID[@]}"; do
	[ -n "${QID[$n]}" ] || fail "$n: Postfix gave a queue id"
done

# the tool's stderr is kept apart: checked once at the end (sanitizer builds)
A() { "$AUTHSCORE" "$@" -c "$E2E_CONF" 2>>"$E2E_TMP/tool.err"; }

# ------------------------------------------------------------- explain
out=$(A explain "${QID[zen]}" 2>&1)
is "$?" 0 "explain QUEUE-ID exits 0" || diag "$out"
like "$out" "queue id ${QID[zen]}, Message-ID ${MID[zen]}" "explain: finds the message by its queue id"
like "$out" 'client: 203\.0\.113\.66( \([^)]*\))?, HELO neutral\.authscore\.test' "explain: the client and its HELO"
like "$out" 'zen\.spamhaus\.org about 203\.0\.113\.66: listed 127\.0\.0\.2 \([0-9]+ ms\)' \
	"explain: the DNS answer ZEN gave"
like "$out" 'iprev: (fail|permerror)' "explain: iprev's result"
like "$out" $'\n  NO_PTR +\\+3  client has no' "explain: NO_PTR fired, +3 with its description"
like "$out" $'\n  ZEN +\\+4  client listed at Spamhaus ZEN' "explain: ZEN fired, +4"
unlike "$out" $'\n  (DNSWL_HI|LURE) ' "explain: the rules that did not fire are not listed"
like "$out" 'at the time: score 7\.00, rules (NO_PTR,ZEN|ZEN,NO_PTR) \(the same\)' \
	"explain: the stored hits match today's rules"
like "$out" 'thresholds: tag 5 quarantine 10 reject 15' "explain: the thresholds"
like "$out" 'action: tag at the time; tag now: score 7\.00 reaches the tag threshold 5' \
	"explain: why the action"
like "$out" 'SPF, MAIL FROM identity \(domain pass\.authscore\.test\): pass' "explain: SPF's input and result"
like "$out" 'DMARC: From domain authscore\.test' "explain: DMARC's Author Domain"

out=$(A explain "${MID[lure]}" 2>&1)
is "$?" 0 "explain MESSAGE-ID exits 0" || diag "$out"
like "$out" "queue id ${QID[lure]}," "explain: finds the message by its Message-ID"
like "$out" $'\n  LURE +\\+6  lure in the Subject' "explain: the header rule LURE, as it fired"
like "$out" 'read header or body contents \(header, body, rawbody, uri\), which are not stored \(counted as they fired when the message came\): LURE' \
	"explain: says LURE cannot be re-evaluated"

json=$(A explain --json "${QID[zen]}" 2>&1)
is "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["record"]["queue_id"], d["action"], sorted(h["name"] for h in d["hits"]), d["score"])' <<<"$json" 2>&1)" \
	"${QID[zen]} tag ['NO_PTR', 'ZEN'] 7" "explain --json: one JSON object with the hits and the action"

A explain NOSUCHID >/dev/null 2>&1
is "$?" 1 "explain: an unknown id exits 1"

# -------------------------------------------------------------- replay
out=$(A replay --rules "$RULES" --since 1h 2>&1)
is "$?" 0 "replay with the same rules exits 0" || diag "$out"
like "$out" 'replayed 7, not replayable 0' "replay: the 7 messages replayed"
like "$out" $'\nchanged: 0 message' "replay: the rules the mail came with change nothing"

out=$(A replay --rules "$RAISE" --since 1h --sample 100 2>&1)
is "$?" 0 "replay --rules tuning-raise.rules exits 0" || diag "$out"
like "$out" $'\nchanged: 3 message' "replay: NO_PTR 3 -> 5 changes exactly 3 messages" || diag "$out"
like "$out" "${QID[noptr]} ${MID[noptr]}: accept -> tag, score 3\\.00 -> 5\\.00" "replay: noptr flips accept -> tag"
like "$out" "${QID[blocked]} ${MID[blocked]}: accept -> tag, score 3\\.00 -> 5\\.00" "replay: blocked flips accept -> tag"
like "$out" "${QID[lure-noptr]} ${MID[lure-noptr]}: tag -> quarantine, score 9\\.00 -> 11\\.00" \
	"replay: lure-noptr flips tag -> quarantine (its header rule counted as stored)"
for n in clean zen dnswl lure; do
	unlike "$out" "${QID[$n]}" "replay: $n is not among the changes"
done
like "$out" $'\n  accept +4 -> +2  \\(-2\\)' "replay: accept 4 -> 2"
like "$out" $'\n  tag +3 -> +4  \\(\\+1\\)' "replay: tag 3 -> 4"
like "$out" $'\n  quarantine +0 -> +1  \\(\\+1\\)' "replay: quarantine 0 -> 1"
like "$out" $'\n  NO_PTR +\\+5 +5 -> +5 ' "replay: NO_PTR hits 5 -> 5 with its new score"
like "$out" 'rules that read header or body contents \(header, body, rawbody, uri: not stored, so not replayable: each counts as it fired when the message came\): LURE' \
	"replay: names the rule it cannot re-evaluate"
out=$(A replay --rules "$RAISE" --since 1h --domain nowhere.example 2>&1)
like "$out" 'replay of 0 stored message' "replay --domain: another domain selects nothing"
out=$(A replay --rules "$RAISE" --since 1h --domain authscore.test 2>&1)
like "$out" 'replay of 7 stored message' "replay --domain: the From domain selects all 7"

# --------------------------------------------------------------- stats
out=$(A stats --since 1h 2>&1)
is "$?" 0 "stats exits 0" || diag "$out"
like "$out" '^7 message\(s\)' "stats: 7 messages"
like "$out" $'\nactions: accept 4 \\(57\\.1%\\) tag 3 \\(42\\.9%\\)' "stats: the actions sent"
like "$out" $'\n  NO_PTR +5 hits \\(71\\.4%\\)  \\+3 each, \\+15\\.0 in all' "stats: NO_PTR hits and score contribution"
like "$out" $'\n  LURE +2 hits' "stats: LURE hits"
like "$out" $'\n  ZEN +1 hits' "stats: ZEN hits"
like "$out" $'\n  DNSWL_HI +1 hits' "stats: DNSWL_HI hits"
like "$out" $'\n  ZEN_BLOCKED +1 hits \\(monitor\\)' "stats: the monitor rule"
like "$out" 'SPF \(MAIL FROM\): pass 7 \(100\.0%\)' "stats: SPF mix"
like "$out" 'zen\.spamhaus\.org \(IP\): asked 7, listed 1 \(14\.3%\), not listed 5, blocked 1, errors 0' \
	"stats: ZEN hit rate and answers"
like "$out" 'list\.dnswl\.org \(IP\): asked 7, listed 1 ' "stats: DNSWL hit rate"
like "$out" $'\n  zen\\.spamhaus\\.org \\(IP\\): 1 \\(127\\.255\\.255\\.254 x1\\)' "stats: the blocked answer and its code"
like "$(cat "$E2E_TMP/tool.err")" 'no stored message with queue id or Message-ID NOSUCHID' \
	"the tool says why explain found nothing"
unlike "$(cat "$E2E_TMP/tool.err")" 'Sanitizer|runtime error' "no sanitizer report from the tool" ||
	diag "$(head -40 "$E2E_TMP/tool.err")"
done_testing

#!/bin/bash
# tests/e2e/spamheaders.sh - issue 15 item 13: the header fields authscore
# writes cannot come from the sender.  swaks -> Postfix -> the milter; the
# sink shows what reaches a mailbox.  A message carrying its own
# X-Spam-Flag: NO (three times, any case, one with a blank before the
# colon), a folded X-Spam-Status, an X-Spam-Level and an X-Authscore-Result
# arrives with ours only, at each of Postfix's indexes (a wrong index would
# leave one or remove the wrong field); a field that only looks alike
# (X-Spammer) stays.  SpamAssassin's fields go on every checked message:
# X-Spam-Status No/Yes, X-Spam-Score, X-Spam-Level with one star per point
# (none at 0, at most 50), X-Spam-Flag: YES only when tagged.  A trusted
# client's message is not checked: its fields pass as they are
# (authscore-milter(8) says why).  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

e2e_setup_rules() {
	cat >"$1" <<'EOF'
actions { tag 5 }
rule E2E_LURE   header(Subject) =~ /\blure\b/i   score 6   "a lure"
rule E2E_HUGE   header(Subject) =~ /\bhuge\b/i   score 70  "off the scale"
rule E2E_GOOD   header(Subject) =~ /\bgood\b/i   score -2  "known good"
EOF
}

e2e_setup
RULES=$E2E_TMP/spam.rules
e2e_setup_rules "$RULES"
stop_milter
start_milter "rules $RULES" || fail "the milter starts with $RULES"

PLANTED=("X-Spam-Flag: NO" "x-spam-flag : NO" "X-Spam-Status: No, score=-10.0 required=5.0"
	$'\ttests=ALL_TRUSTED' "X-SPAM-FLAG: NO" "X-Spam-Level: " "X-Authscore-Result: score=-10.0"
	"X-Spammer: kept, not ours" "X-Spam-Score: -10.0")

# send NAME SUBJECT [send_mail args] - a message with the planted fields;
# its delivered header lines in $HDRS
send() {
	local name=$1 subject=$2 marker f
	shift 2
	marker=$name-$$-$RANDOM
	f=$(make_msg "$marker" "${PLANTED[@]}")
	sed -i "s/^Subject: e2e .*/Subject: $subject $marker/" "$f"
	REPLY=$(data_reply "$(send_mail --data "$f" "$@")")
	HDRS=
	if [[ $REPLY == 250\ * ]] && f=$(wait_delivered "$marker"); then
		HDRS=$(delivered_headers "$f")
		pass "$name: delivered"
	else
		fail "$name: delivered" "reply: $REPLY"
	fi
}
# values NAME - the values of every delivered field NAME (any case), one a line
values() { awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" '{ l = tolower($0) }
	l ~ "^" n "[ \t]*:" { sub(/^[^:]*:[ \t]?/, ""); print }' <<<"$HDRS"; }
count() { values "$1" | grep -c '' ; }

# ------------------------------------------------------------ accepted
send accepted "plain"
is "$(count X-Spam-Flag)" 0 "accepted: every planted X-Spam-Flag (3, any case, one 'name :') removed, none added"
is "$(values X-Spam-Status)" "No, score=0.0 required=5.0 tests=none" "accepted: one X-Spam-Status, ours (the folded one removed)"
is "$(count X-Spam-Level)" 1 "accepted: one X-Spam-Level"
is "$(values X-Spam-Level)" "" "accepted: score 0: X-Spam-Level has no star"
is "$(values X-Spam-Score)" "0.0" "accepted: one X-Spam-Score, ours"
is "$(values X-Authscore-Result)" "score=0.0 action=accept rules=none" "accepted: one X-Authscore-Result, ours"
is "$(values X-Spammer)" "kept, not ours" "accepted: X-Spammer is not ours: kept"
ok "! grep -q 'score=-10' <<<\"\$HDRS\"" "accepted: nothing of the planted values left" || diag "$HDRS"
ok "! grep -q 'cannot remove' '$E2E_TMP/milter.log'" "accepted: every removal succeeded (no 'cannot remove' in the log)"

send negative "good"
is "$(values X-Spam-Level)" "" "score -2: no star"
is "$(values X-Spam-Status)" "No, score=-2.0 required=5.0 tests=E2E_GOOD" "score -2: X-Spam-Status: No"

# ------------------------------------------------------------ tagged
send tagged "lure"
is "$(values X-Spam-Flag)" "YES" "tagged: one X-Spam-Flag, YES"
is "$(values X-Spam-Level)" "******" "tagged: score 6: X-Spam-Level ******"
is "$(values X-Spam-Status)" "Yes, score=6.0 required=5.0 tests=E2E_LURE" "tagged: X-Spam-Status: Yes"
is "$(values X-Spam-Score)" "6.0" "tagged: X-Spam-Score: 6.0"

send huge "huge"
is "$(values X-Spam-Level)" "$(printf '%050d' 0 | tr 0 '*')" "score 70: X-Spam-Level capped at 50 stars"

# ------------------------------------------------------------ trusted
# 127.0.0.1 is a trusted network: accepted unchecked at MAIL FROM
send trusted "lure" --ip 127.0.0.1
is "$(count X-Spam-Flag)" 3 "trusted client: its own X-Spam-Flag fields pass untouched"
is "$(count X-Authscore-Result)" 1 "trusted client: nothing added, its X-Authscore-Result kept"
is "$(values X-Authscore-Result)" "score=-10.0" "trusted client: the value as it sent it"

done_testing

#!/bin/bash
# tests/e2e/limits.sh - the largest inputs a client can send through the
# real Postfix (issue 14): a header field longer than Postfix keeps (it
# discards the excess of a header over header_size_limit; about 60 KB of
# this one reach the milter, under libmilter's 64 KB packet limit), thousands
# of header fields, hundreds of forged Authentication-Results fields with
# our authserv-id, a 1 MB body line, a thousand recipients.  Each must be
# decided by the milter (our Authentication-Results header on the delivered
# copy, the forged ones gone), never fall to milter_default_action, and the
# milter must serve the next message.
# Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

e2e_setup

# big_msg MARKER GENERATOR - a message from make_msg with GENERATOR's output
# (header lines) put before its own header fields
big_msg() {
	local marker=$1 gen=$2 f
	f=$(make_msg "$marker")
	{ $gen; cat "$f"; } >"$f.big" && mv "$f.big" "$f"
	echo "$f"
}

# summaries_over N - the milter has logged more than N summary lines
summaries_over() { [ "$(grep -c ' action=' "$E2E_TMP/milter.log")" -gt "$1" ]; }

# decided DESC MARKER [SWAKS ARGS...] - sent, accepted with 250, delivered
# with exactly one Authentication-Results header of ours
decided() {
	local desc=$1 marker=$2 f out n0
	shift 2
	n0=$(grep -c ' action=' "$E2E_TMP/milter.log")
	out=$(send_mail "$@")
	like "$(data_reply "$out")" '^250 ' "$desc: accepted" || return 1
	if ! f=$(wait_delivered "$marker"); then
		fail "$desc: delivered" "no sink file with E2E-END $marker after ${E2E_TIMEOUT}s"
		return 1
	fi
	is "$(ar_headers "$f" | wc -l)" 1 "$desc: one Authentication-Results header of ours"
	ok "wait_for $E2E_TIMEOUT 'summaries_over $n0'" "$desc: the milter logged its summary line"
}

# One field of 99,000 bytes: Cc with 4,300 addresses, folded; Postfix cuts it.
wide_to() {
	local i
	printf 'Cc: <a0@example.net>'
	for ((i = 1; i < 4300; i++)); do printf ',\n <a%05d@example.net>' "$i"; done
	printf '\n'
}
f=$(big_msg wide-$$ wide_to)
decided "a 99 KB header field (cut by Postfix)" "wide-$$" --data "$f"

# Five thousand header fields.
many_fields() {
	local i
	for ((i = 0; i < 5000; i++)); do printf 'X-Filler-%d: %d\n' "$i" "$i"; done
}
f=$(big_msg many-$$ many_fields)
decided "5,000 header fields" "many-$$" --data "$f"

# Three hundred forged Authentication-Results fields with our authserv-id,
# and one of another's, which stays.
forged_ar() {
	local i
	for ((i = 0; i < 300; i++)); do
		printf 'Authentication-Results: %s; spf=pass smtp.mailfrom=forged%d.example\n' \
			"$E2E_AUTHSERV_ID" "$i"
	done
	printf 'Authentication-Results: other.example; spf=pass smtp.mailfrom=kept.example\n'
}
f=$(big_msg forged-$$ forged_ar)
if decided "300 forged Authentication-Results" "forged-$$" --data "$f"; then
	d=$(wait_delivered "forged-$$")
	is "$(delivered_headers "$d" | grep -ci '^authentication-results:.*forged[0-9]')" 0 \
		"300 forged Authentication-Results: every forged one removed"
	is "$(delivered_headers "$d" | grep -ci '^authentication-results: *other\.example;')" 1 \
		"300 forged Authentication-Results: another authserv-id's is kept"
fi

# A body of one 1 MB line (Postfix splits it into records; the milter gets
# body chunks).
long_body() {
	printf 'From: <sender@authscore.test>\nTo: <%s>\nSubject: long line\n' "$E2E_RCPT"
	printf 'Message-ID: <longline-%s@e2e.authscore.test>\n\n' "$$"
	head -c 1048576 /dev/zero | tr '\0' 'x'
	printf '\nE2E-END longline-%s\n' "$$"
}
long_body >"$E2E_TMP/msg/longline"
decided "a 1 MB body line" "longline-$$" --data "$E2E_TMP/msg/longline"

# A thousand recipients (Postfix's smtpd_recipient_limit is 1000).
rcpts=$(for ((i = 0; i < 1000; i++)); do printf 'r%d@sink.test,' "$i"; done)
f=$(make_msg rcpts-$$)
decided "a thousand recipients" "rcpts-$$" --data "$f" --to "${rcpts%,}"

# And the next ordinary message is served as usual.
f=$(make_msg after-$$)
decided "an ordinary message after them" "after-$$" --data "$f"
ok "! grep -q 'milter.*default_action\\|milter.*: \\(error\\|too big\\)' '$E2E_TMP/postfix.log'" \
	"Postfix never fell back to milter_default_action"

done_testing

#!/bin/bash
# tests/e2e/testtool.sh - `authscore test` reads a message's header as
# Postfix hands it to the daemon: odd field names (a NUL byte, blanks
# before the colon) give the daemon's outcome, never a crash.  Only NSD is
# started (for the lookups the tool makes); no Postfix, no milter.
# Prints TAP.  Run as root: tests/e2e/testtool.sh (E2E_KEEP=1 keeps files).
. "$(dirname "$0")/lib.sh"

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-e2e.XXXXXX") || exit 1
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
_setup_net || { echo "Bail out! cannot set up the network namespace"; exit 1; }
start_nsd || { echo "Bail out! NSD did not start"; exit 1; }
E2E_CONF=$E2E_TMP/authscore.conf
write_milter_conf "$E2E_CONF"
mkdir -p "$E2E_TMP/msg"

# tool MESSAGE-FILE - run `authscore test` on it; sets OUT (stdout and
# stderr) and RC
tool() {
	OUT=$(authscore_test --ip "$E2E_CLIENT4" --helo client.authscore.test \
		--mail-from user@pass.authscore.test --rcpt "$E2E_RCPT" <"$1" 2>&1)
	RC=$?
}

# no_crash NAME - the last run ended normally, without a sanitizer report
no_crash() {
	is "$RC" 0 "$1: authscore test exits 0" || diag "$OUT"
	unlike "$OUT" 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$1: no sanitizer report"
}

# A NUL byte in a field name: Postfix ends the header at that line (is_header()
# stops at the NUL) and the rest is body, so the second From is no field.
m=$E2E_TMP/msg/nul-name
printf 'From: <user@pass.authscore.test>\nTo: <%s>\nX-Fr\0ag: yes\nFrom: <evil@fail.authscore.test>\n\nbody\n' \
	"$E2E_RCPT" >"$m"
tool "$m"
no_crash "NUL in a field name"
like "$OUT" 'line 3: NUL byte in a field name: the header ends there' \
	"NUL in a field name: one line says where the header ends"
like "$OUT" 'action: (accept|tag|quarantine|discard|tempfail|reject)' "NUL in a field name: the tool gives an action" || diag "$OUT"
unlike "$OUT" 'From header fields' "NUL in a field name: the From after it is body, as in Postfix"

# `From : x` is a From field to Postfix (it drops the blank before the
# colon), so with another From the message has two: the from-error action.
m=$E2E_TMP/msg/two-from
printf 'Subject: two\nFrom : <evil@fail.authscore.test>\nFrom: <user@pass.authscore.test>\nTo: <%s>\n\nbody\n' \
	"$E2E_RCPT" >"$m"
tool "$m"
no_crash "From with a blank before the colon"
like "$OUT" 'action: reject 550 5\.7\.1 message refused: 2 From header fields' \
	"'From :' and 'From:' are two From fields: on-from-error (reject)" || diag "$OUT"

# ...except on the first line, where Postfix's smtpd takes "From " for an
# mbox line and makes it an X-Mailbox-Line field: one From, as the daemon sees.
m=$E2E_TMP/msg/mbox-from
printf 'From : <evil@fail.authscore.test>\nFrom: <user@pass.authscore.test>\nTo: <%s>\nSubject: mbox\n\nbody\n' \
	"$E2E_RCPT" >"$m"
tool "$m"
no_crash "'From :' on the first line"
unlike "$OUT" 'From header fields' "'From :' on the first line is an mbox line to Postfix, not a From field"

# A forged AR of ours with a blank before the colon is still ours: removed.
m=$E2E_TMP/msg/forged-ar
printf 'Authentication-Results : %s; spf=pass smtp.mailfrom=evil.test; dmarc=pass\nFrom: <user@pass.authscore.test>\nTo: <%s>\nSubject: forged\n\nbody\n' \
	"$E2E_AUTHSERV_ID" "$E2E_RCPT" >"$m"
tool "$m"
no_crash "forged AR with a blank before the colon"
like "$OUT" 'removed: 1 forged Authentication-Results header' \
	"'Authentication-Results :' of our authserv-id is removed" || diag "$OUT"

# The sender's X-Spam-* fields (issue 15 item 13): each one removed, at its
# index among the fields of its name; ours added.
m=$E2E_TMP/msg/spam-fields
printf 'X-Spam-Flag: NO\nx-spam-flag : NO\nFrom: <user@pass.authscore.test>\nTo: <%s>\nSubject: planted\n\nbody\n' \
	"$E2E_RCPT" >"$m"
tool "$m"
no_crash "planted X-Spam-Flag fields"
like "$OUT" "removed: the sender's x-spam-flag header #2"$'\n'"removed: the sender's X-Spam-Flag header #1" \
	"both planted X-Spam-Flag fields removed, the second first" || diag "$OUT"
like "$OUT" $'\nX-Spam-Status: No, score=' "X-Spam-Status: No on a message that is not tagged" || diag "$OUT"

done_testing

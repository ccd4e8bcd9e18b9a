#!/bin/bash
# tests/e2e/protocol.sh - the milter protocol out of order (issue 14): an
# MTA-side client (tests/e2e/milter_client) sends the real daemon every
# command before CONNECT, before negotiation and right after it, twice,
# after ABORT and QUIT, with NULL-ish arguments, huge macros, unknown
# command bytes, lying lengths and truncated packets.  After each, the
# daemon must be alive and serve a complete, well-formed session with an
# Authentication-Results header.  No Postfix: NSD and the milter only.
# Prints TAP; root (namespaces).
. "$(dirname "$0")/lib.sh"

CLIENT=$top_builddir/tests/e2e/milter_client

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-e2e.XXXXXX") || exit 1
chmod 0755 "$E2E_TMP"
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
_setup_net || { echo "Bail out! cannot set up the network namespace"; exit 1; }
[ -x "$CLIENT" ] || { echo "Bail out! $CLIENT not built (make tests/e2e/milter_client)"; exit 1; }
start_nsd || { echo "Bail out! NSD did not start"; exit 1; }
if start_milter; then pass "milter starts"; else fail "milter starts"; fi
SOCK=$E2E_TMP/milter.sock

# session DESC - a complete session is served with our Authentication-Results
session() {
	local out
	out=$("$CLIENT" "$SOCK" session 2>&1)
	like "$out" "insheader Authentication-Results: *$ID_RE;" "$1: then a whole session gets A-R" &&
		like "$out" $'\n(continue|accept)$' "$1: then a whole session is accepted"
}

# probe DESC STEP... - send the steps as they are; the daemon must close
# the connection, stay up and then serve a whole session
probe() {
	local desc=$1 out st=0
	shift
	out=$("$CLIENT" "$SOCK" "$@" 2>&1) || st=$?
	is "$st" 0 "$desc: the daemon ends the connection" || diag "$out"
	if ! ok "_pid_alive $MILTER_PID" "$desc: the daemon is alive"; then
		start_milter || { echo "Bail out! the milter does not restart"; exit 1; }
		return 1
	fi
	session "$desc"
}

session "at start"

# Every command before CONNECT: with no negotiation at all, and right
# after negotiation.
for cmd in helo mail-macros mail mail-empty rcpt data hdr eoh body eom eom-body abort unknown; do
	probe "$cmd before negotiation" "$cmd" rcpt hdr eoh body eom
	probe "$cmd after negotiation" neg "$cmd" rcpt hdr eoh body eom
done
probe "unknown, then a message without CONNECT" neg unknown rcpt data hdr eoh body eom-body
probe "unknown, then a message without negotiation" unknown rcpt hdr eoh body eom
probe "MAIL twice" neg conn helo mail-macros mail mail rcpt hdr eoh body eom
probe "MAIL with no address" neg conn helo mail-empty rcpt hdr eoh body eom

# Macro names in both spellings (issue 16): {i} is read as i, as libmilter
# matches one-letter names with and without braces; an empty {tls_version}
# (Sendmail, no STARTTLS) is no TLS version
out=$("$CLIENT" "$SOCK" neg conn helo mail-macros-braced mail rcpt hdr eoh body eom 2>&1)
like "$out" $'reply insheader\n(.*\n)*reply continue$' "{i}: a whole message, with our header" || diag "$out"
ok "wait_for $E2E_WAIT \"grep -q '\\]: 4BBRACEDID: client=' '$E2E_TMP/milter.log'\"" \
	"{i}: the log line names the queue id sent as {i}"
probe "message without MAIL" neg conn helo rcpt hdr eoh body eom
probe "header without MAIL" neg conn helo hdr eoh eom
probe "end of message without MAIL" neg conn helo eom-body
probe "abort, then more" neg conn helo mail rcpt abort hdr eoh body eom mail rcpt eom
probe "quit-nc, then a message without CONNECT" neg conn helo quit-nc mail rcpt hdr eom
probe "quit-nc, then CONNECT again" neg conn helo quit-nc conn helo mail rcpt hdr eoh body eom
probe "connect of unknown family (NULL address)" neg conn-unknown helo mail rcpt hdr eoh body eom
probe "connect from a unix socket" neg conn-unix helo mail rcpt hdr eoh body eom
probe "huge macros" neg conn helo macros-huge mail rcpt hdr eoh body eom
probe "huge macros before negotiation" macros-huge mail rcpt eom
probe "QUIT mid-message" neg conn helo mail rcpt hdr quit
probe "unknown command byte" neg conn helo badcmd
probe "unknown command byte first" badcmd
probe "oversize length" neg conn helo mail rcpt oversize
probe "zero length" neg conn zerolen
probe "truncated packet" neg conn helo mail rcpt truncated
probe "truncated first packet" truncated

# A client looping on HELO: each would start DNS work and grow the session,
# so past a bound the connection is refused at its next MAIL (tempfail).
helos=()
for _ in $(seq 20); do helos+=(helo); done
out=$("$CLIENT" "$SOCK" neg conn "${helos[@]}" mail-macros mail rcpt 2>&1)
like "$out" 'reply t' "HELO flood: MAIL gets tempfail"
ok "grep -q 'HELO after too many HELOs' '$E2E_TMP/milter.log'" "HELO flood: logged once"
is "$(grep -c 'HELO after too many HELOs' "$E2E_TMP/milter.log")" 1 "HELO flood: one log line"
ok "_pid_alive $MILTER_PID" "HELO flood: the daemon is alive"
session "HELO flood"

like "$(grep -c 'milter protocol' "$E2E_TMP/milter.log")" '^[1-9]' "out-of-order commands are logged"
done_testing

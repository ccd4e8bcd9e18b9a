#!/bin/bash
# tests/e2e/ratelimit.sh - rate limits through the real Postfix: a client
# over `ratelimit-ip 3/60s` gets 451 4.7.1 for its 4th message, which is not
# delivered, while another address goes on; IPv6 clients of one /64 share a
# bucket; the client gets through again once the bucket refills; a SIGHUP
# keeps the buckets; the deferral is in the log and the history's facts.
# Then SMTP AUTH (Cyrus SASL, sasldb) against `ratelimit-user`: the user's
# 3rd message is deferred at MAIL FROM although authenticated clients skip
# the checks, and a limited address does not hold back its users.
# Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

# A token every 20 s (either limit): the messages a check sends back to
# back must all be taken before the next token comes, even on a loaded
# machine where a message may take a few seconds.  The refill checks wait
# one token's time: the price of the margin.
LIMITS=("ratelimit-ip 3/60s" "ratelimit-user 2/40s")
e2e_setup "${LIMITS[@]}"
TOKEN=20
REFILL=$((TOKEN + 1)) # seconds for one token, and a little more

# send_n NAME COUNT [send_mail args] - COUNT messages back to back; sets
# REPLIES (one reply per line) and MARKERS
send_n() {
	local name=$1 n=$2 i marker f out
	shift 2
	REPLIES='' MARKERS=() BURST_T0=$SECONDS
	for ((i = 1; i <= n; i++)); do
		marker=$name-$i-$$-$RANDOM
		f=$(make_msg "$marker")
		out=$(send_mail --data "$f" "$@")
		REPLIES+="$(data_reply "$out")"$'\n'
		MARKERS+=("$marker")
	done
}

reply_n() { sed -n "${1}p" <<<"$REPLIES"; }

# reload [CONFIG LINE...] - rewrite the config with LIMITS and these lines,
# SIGHUP, and wait for the reload to be logged
RELOADS=0
reload() {
	write_milter_conf "$E2E_CONF" "${LIMITS[@]}" "$@"
	RELOADS=$((RELOADS + 1))
	kill -HUP "$MILTER_PID"
	wait_for "$E2E_WAIT" "[ \$(grep -c 'configuration reloaded' '$E2E_TMP/milter.log') -ge $RELOADS ]" \
		"'configuration reloaded' logged $RELOADS time(s)"
}
# logged ERE - wait for a milter log line matching ERE (a message's line may
# come after its SMTP reply)
logged() { wait_for "$E2E_WAIT" "grep -qE -- '$1' '$E2E_TMP/milter.log'" "a milter log line matching $1"; }

# burst_within_token NAME - the last send_n took less than one token's
# time, so no token can have come back in the middle of it (if it did not,
# the machine is too slow for the checks that follow: say so)
burst_within_token() {
	[ $((SECONDS - BURST_T0)) -lt "$TOKEN" ] ||
		diag "$1: the burst took $((SECONDS - BURST_T0)) s, over one token's $TOKEN s"
}

# drain IP - send from IP until a message is deferred (at most 5): its
# bucket is then empty, whatever time the checks before took
drain() {
	local i
	for ((i = 0; i < 5; i++)); do
		send_n drain 1 --ip "$1"
		[[ $(reply_n 1) == 451\ * ]] && return 0
	done
	return 1
}

# --------------------------------------------------------- per IPv4 address
send_n ip4 4 --ip 203.0.113.10
burst_within_token ip4
for i in 1 2 3; do
	like "$(reply_n $i)" '^250 ' "ip4: message $i of 3/20s accepted"
done
like "$(reply_n 4)" '^451 4\.7\.1 ' "ip4: the 4th message gets 451 4.7.1"
for i in 0 1 2; do
	ok "wait_delivered '${MARKERS[$i]}' >/dev/null" "ip4: message $((i + 1)) delivered"
done
ok "never_delivered '${MARKERS[3]}'" "ip4: the deferred message is not delivered"
ok "logged 'from=<user@pass.authscore.test>.*action=tempfail reason=\"rule RATE_LIMITED\" ratelimit=ip'" \
	"ip4: the log line says which limit"
accepted other-address 'spf=pass smtp.mailfrom=pass.authscore.test' -- --ip 203.0.113.11

# ------------------------------------------------------ one bucket per /64
BURST6_T0=$SECONDS
send_n ip6 2 --ip 2001:db8::10
like "$(reply_n 1) $(reply_n 2)" '^250 .* 250 ' "ip6: two messages from 2001:db8::10 accepted"
send_n ip6b 2 --ip 2001:db8::11
BURST_T0=$BURST6_T0 burst_within_token ip6
like "$(reply_n 1)" '^250 ' "ip6: the 3rd message of the /64, from another address, accepted"
like "$(reply_n 2)" '^451 4\.7\.1 ' "ip6: the 4th message of the /64 gets 451 4.7.1"

# ------------------------------------------------------ the history's facts
DB=$E2E_TMP/state/history.db
facts_with() { # SQL LIKE pattern - count of stored facts matching it
	python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute("SELECT count(*) FROM messages WHERE facts LIKE ?", (sys.argv[2],)).fetchone()[0])' \
		"$DB" "$1" 2>/dev/null
}
deferred_ip() { [ "$(facts_with '%"ratelimit":["ip"]%')" -ge 2 ]; }
accepted_none() { [ "$(facts_with '%"ratelimit":[]%')" -ge 3 ]; }
ok 'wait_for $E2E_WAIT deferred_ip "two records with ratelimit [ip] in $DB"' "history: the deferred messages' facts have ratelimit [ip] (replay sees it)" ||
	diag "$(python3 -c 'import sqlite3, sys; [print(r[0][:300]) for r in sqlite3.connect(sys.argv[1]).execute("SELECT facts FROM messages")]' "$DB" 2>&1 | head -3)"
ok 'wait_for $E2E_WAIT accepted_none "three records with an empty ratelimit in $DB"' \
	"history: the accepted messages' facts have an empty ratelimit"

# ------------------------------------------------------ refill and SIGHUP
ok "drain 203.0.113.10" "refill: the bucket is empty again"
# The sleep is the point of the check: the refill comes with time.
sleep "$REFILL"
# A deferral takes no token, so the drained bucket may hold up to one
# token's fraction: after one token's time there are 1 to 2 tokens, not the
# burst of 3 (the unit test checks the exact amounts with its own clock).
send_n refilled 3 --ip 203.0.113.10
burst_within_token refill
like "$(reply_n 1)" '^250 ' "refill: accepted again after ${REFILL}s"
like "$REPLIES" '451 4\.7\.1 ' "refill: not the whole burst back (one of 3 deferred)"

# ------------------------------------------------ per sender, and SIGHUP
# Every other message here has the same sender: its limit is on only for
# this part.  Two client addresses, so that only the sender's is in play.
ok "reload 'ratelimit-sender 2/1h'" "SIGHUP: a sender limit added"
send_n sender 3 --ip 203.0.113.20 --from flood@pass.authscore.test
like "$(reply_n 1) $(reply_n 2)" '^250 .* 250 ' "sender: 2 messages of 2/1h accepted"
like "$(reply_n 3)" '^451 4\.7\.1 ' "sender: the 3rd gets 451 4.7.1"
ok "logged 'from=<flood@pass.authscore.test>.*ratelimit=sender '" \
	"sender: the log line says ratelimit=sender"
accepted other-sender 'spf=pass smtp.mailfrom=pass.authscore.test' -- --ip 203.0.113.21
# A reload with a changed limit keeps the buckets.
ok "reload 'ratelimit-sender 2/2h'" "SIGHUP: the sender limit changed"
refused after-reload '^451 4\.7\.1 ' --ip 203.0.113.21 --from FLOOD@pass.authscore.test
ok "reload" "SIGHUP: the sender limit removed"
sleep "$REFILL" # the refill is the point: 203.0.113.10 was left drained
accepted refilled-after-reload 'spf=pass smtp.mailfrom=pass.authscore.test' -- --ip 203.0.113.10

# ------------------------------------------------------ SMTP AUTH users
# Cyrus SASL with a sasldb of our own (sasl2-bin's saslpasswd2).
sasl_setup() {
	local db=$E2E_TMP/sasldb2
	command -v saslpasswd2 >/dev/null || return 1
	echo secret | saslpasswd2 -p -c -f "$db" -u mx.authscore.test alice || return 1
	echo secret | saslpasswd2 -p -c -f "$db" -u mx.authscore.test bob || return 1
	chown postfix "$db" && chmod 0600 "$db"
	mkdir -p /etc/postfix/sasl
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n' \
		"$db" >/etc/postfix/sasl/smtpd.conf
	postfix_set smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus smtpd_sasl_path=smtpd \
		cyrus_sasl_config_path=/etc/postfix/sasl smtpd_sasl_local_domain=mx.authscore.test
}
AUTH=(--auth PLAIN --auth-password secret)
if ! sasl_setup; then
	fail "SMTP AUTH set up (saslpasswd2 from sasl2-bin, Postfix with Cyrus SASL)"
else
	ok "drain 203.0.113.10" "auth: 203.0.113.10 is over its limit"
	# ...but its authenticated users are not held back by it
	send_n alice 3 --ip 203.0.113.10 --auth-user alice "${AUTH[@]}"
	burst_within_token alice
	like "$(reply_n 1)" '^250 ' "auth: alice's 1st message accepted from an address over its limit"
	like "$(reply_n 2)" '^250 ' "auth: alice's 2nd message accepted"
	like "$(reply_n 3)" '^451 4\.7\.1 ' "auth: alice's 3rd message (ratelimit-user 2/40s) gets 451 4.7.1"
	ok "wait_delivered '${MARKERS[0]}' >/dev/null && wait_delivered '${MARKERS[1]}' >/dev/null" \
		"auth: alice's first two delivered"
	ok "never_delivered '${MARKERS[2]}'" "auth: alice's 3rd not delivered"
	ok "logged 'skipped=authenticated ratelimit=user action=tempfail'" \
		"auth: the skipped message's log line says ratelimit=user action=tempfail"
	out=$(send_mail --ip 203.0.113.12 --auth-user alice "${AUTH[@]}")
	like "$(grep -A1 -e '-> MAIL FROM' <<<"$out" | tail -n 1)" '^<\*\* +451 4\.7\.1 ' \
		"auth: deferred at MAIL FROM (before any data), from any address"
	send_n bob 1 --ip 203.0.113.12 --auth-user bob "${AUTH[@]}"
	like "$(reply_n 1)" '^250 ' "auth: bob has his own bucket"
fi

done_testing

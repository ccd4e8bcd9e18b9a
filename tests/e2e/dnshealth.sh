#!/bin/bash
# tests/e2e/dnshealth.sh - with DNS failing, one clear log line and a metric,
# not one line per message; one line again when it works (issue 15 item 12).
# Every DNS server of the milter is a relay to our NSD that answers only
# while $E2E_TMP/dns-up exists (otherwise it swallows the queries, as a
# firewall that drops outbound DNS does).  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

e2e_setup
stop_milter

RELAY_PORT=5397
METRICS_PORT=9197
URL=http://127.0.0.1:$METRICS_PORT/metrics
UP=$E2E_TMP/dns-up
perl -MIO::Socket::INET -MIO::Select -e '
	my ($port, $upstream, $flag) = @ARGV;
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port", Proto => "udp")
		or die "relay: $!\n";
	my $u = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$upstream", Proto => "udp")
		or die "relay: $!\n";
	my (%asker, $q);
	my $sel = IO::Select->new($s, $u);
	for (;;) {
		for my $h ($sel->can_read) {
			if ($h == $s) {
				my $peer = $s->recv($q, 65535);
				my $up = -e $flag;
				printf STDERR "%s %s\n", $up ? "pass" : "drop", unpack("H*", substr($q, 12, 40));
				next unless $up && length $q > 2;
				$asker{substr($q, 0, 2)} = $peer;
				$u->send($q);
			} else {
				$u->recv($q, 65535);
				my $peer = delete $asker{substr($q, 0, 2)};
				$s->send($q, 0, $peer) if defined $peer;
			}
		}
	}' "$RELAY_PORT" "$E2E_DNS_PORT" "$UP" 2>>"$E2E_TMP/relay.log" 3>&- &
BLACKHOLE_PIDS+=" $!"
wait_for "$E2E_WAIT" "ss -Hlun 'sport = :$RELAY_PORT' | grep -q ." "the DNS relay to listen" ||
	fail "the DNS relay starts" "$(cat "$E2E_TMP/relay.log")"

# start_relayed [PROBE] - the milter with every DNS server replaced by the
# relay, and dns-probe PROBE (default authscore.test)
start_relayed() {
	E2E_CONF=$E2E_TMP/authscore.conf
	write_milter_conf "$E2E_CONF" "metrics-listen $METRICS_PORT" "dns-timeout 1s" \
		"spf-timeout 2s" "dns-probe ${1:-authscore.test}" \
		"dns-stub authscore.test. 127.0.0.1@$RELAY_PORT" \
		"dns-stub dmarc.authscore.test. 127.0.0.1@$RELAY_PORT"
	# The base file's dns-timeout gives way to ours (a key may be set
	# once).  NSD delegates the child zones to ns.test, port 53, past the
	# relay: they get stubs of their own.
	sed -i -e "/^dns-timeout 2s\$/d" -e "s/@$E2E_DNS_PORT\$/@$RELAY_PORT/" \
		-e "s/@$E2E_DNS_PORT /@$RELAY_PORT /g" "$E2E_CONF"
	(umask 0 && exec "$AUTHSCORE_MILTER" -f -c "$E2E_CONF") >>"$E2E_TMP/milter.log" 2>&1 3>&- &
	MILTER_PID=$!
	wait_for "$E2E_WAIT" "_unix_listening $E2E_TMP/milter.sock || ! _pid_alive $MILTER_PID" \
		"the milter to listen (or exit)" && _pid_alive "$MILTER_PID" &&
		chmod 0666 "$E2E_TMP/milter.sock"
}
scrape() { curl -sf --max-time 5 "$URL"; }
metric() { scrape | awk -v s="$1" '$1 == s { print $2 }'; }
# the log since the last `mark` (the whole log stays for done_testing)
MARK=0
mark() { MARK=$(wc -l <"$E2E_TMP/milter.log"); }
new_log() { tail -n "+$((MARK + 1))" "$E2E_TMP/milter.log"; }
log_count() { new_log | grep -c "$1"; }
# send N - N messages, each from a client address, HELO name and sender
# domain of its own, so that no answer can come from a cache; their replies
# in $REPLIES (not run in a subshell: SENT must count on)
SENT=20
send() {
	local i
	REPLIES=
	for ((i = 0; i < $1; i++)); do
		SENT=$((SENT + 1))
		REPLIES+=$(data_reply "$(send_mail --ip 203.0.113.$SENT --helo h$SENT.authscore.test \
			--from user@s$SENT.authscore.test --data "$(make_msg "dns-$SENT")")")$'\n'
	done
}

ok '! grep -q "@$E2E_DNS_PORT" <(write_milter_conf /dev/stdout | sed "s/@$E2E_DNS_PORT/@$RELAY_PORT/g")' \
	"every DNS server of the test configuration goes through the relay"

# ------------------------------------------------ down at start, then up
rm -f "$UP"
mark
start_relayed || { fail "the milter starts with DNS down"; done_testing; }
ok "wait_for $E2E_WAIT \"new_log | grep -q 'DNS resolution failing at start: authscore.test NS: timeout after'\"" \
	"start with DNS down: one line says so"
like "$(new_log | grep 'DNS resolution failing at start')" \
	"messages get tempfail \\(on-spf-temperror, on-dkim-temperror, on-dmarc-temperror\\)" \
	"the line says what messages get, and by which settings"
ok "new_log | grep -q 'listening on'" "the probe did not keep the milter from starting"
is "$(metric authscore_dns_up)" 0 "authscore_dns_up is 0"

# unbound may hold a server that did not answer as down for a moment:
# messages are sent until one is accepted, within a deadline
accepted_one() { send 1; [[ $REPLIES == 250\ * ]]; }
touch "$UP"
ok "wait_for $E2E_WAIT accepted_one 'a message to be accepted'" "DNS back: messages are accepted"
ok "wait_for $E2E_WAIT \"new_log | grep -q 'DNS resolution works again'\"" \
	"DNS back: one line says so"
is "$(metric authscore_dns_up)" 1 "authscore_dns_up is 1 again"

# ------------------------------------------------ failing while running
rm -f "$UP"
before=$(metric authscore_dns_resolver_timeouts_total)
send 6
is "$(grep -c '^451 ' <<<"$REPLIES")" 6 "DNS down: every message gets 451" || diag "$REPLIES"
ok "wait_for $E2E_WAIT \"[ \\\$(log_count 'DNS resolution failing: ') -eq 1 ]\"" \
	"DNS down: one line for the run"
like "$(new_log | grep 'DNS resolution failing: ')" \
	"DNS resolution failing: timeout for [^ ]+ \\(1[0-9]* lookups failed in a row, [0-9]+ timed out\\); messages get tempfail" \
	"the line names the failure, the run and what messages get"
send 2
is "$(log_count 'DNS resolution failing: ')" 1 "more failing messages: no more lines"
is "$(log_count 'DNS resolution')" 3 "nothing else about DNS per message"
is "$(metric authscore_dns_up)" 0 "authscore_dns_up is 0"
ok "[ $(metric authscore_dns_resolver_timeouts_total) -ge $((before + 10)) ]" \
	"the timeouts are counted ($(metric authscore_dns_resolver_timeouts_total))"
is "$(metric authscore_dns_outages_total)" 2 "two outages counted"

touch "$UP"
ok "wait_for $E2E_WAIT accepted_one 'a message to be accepted'" "DNS back again: accepted"
ok "wait_for $E2E_WAIT \"[ \\\$(log_count 'DNS resolution works again') -eq 2 ]\"" \
	"DNS back again: one more line"
is "$(metric authscore_dns_up)" 1 "authscore_dns_up is 1"

# ------------------------------------------------ a probe that works
stop_milter
mark
start_relayed || fail "the milter starts with DNS up"
ok "wait_for $E2E_WAIT \"new_log | grep -q 'DNS works: authscore.test NS answered'\"" \
	"start with DNS up: the probe says it works"
is "$(log_count 'DNS resolution')" 0 "and nothing says it fails"
stop_milter
mark
start_relayed none
ok "wait_for $E2E_WAIT \"new_log | grep -q 'listening on'\"" "dns-probe none: starts"
is "$(log_count 'DNS works\|DNS resolution')" 0 "dns-probe none: no probe"

done_testing

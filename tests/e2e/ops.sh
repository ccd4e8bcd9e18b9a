#!/bin/bash
# tests/e2e/ops.sh - monitoring end to end: the Prometheus endpoint
# (metrics-listen) and the JSON summary line (log-format json).  swaks ->
# Postfix -> the milter (DNS from NSD); a known mix of messages (accepted,
# rejected, quarantined and tempfailed by DMARC, one with hostile bytes in
# HELO and MAIL FROM), then the counts scraped with curl must match what
# was sent exactly, every summary line must parse as JSON, and every
# metric the Grafana dashboard names must be in the scrape.  Also: no
# metrics unless configured, a bad address is a config error with
# file:line:column, a port in use is a start-up error, reloads are counted.
# Prints TAP.  Run as root (E2E_KEEP=1 keeps the temporary files).
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
NOALIGN=user@pass.authscore.test # SPF passes, never aligned with D's domains
PORT=9187
URL=http://127.0.0.1:$PORT/metrics
DASHBOARD=$top_srcdir/contrib/grafana/authscore.json

E2E_SERVFAIL_ZONES+=" _dmarc.policyfail.$D"
e2e_setup # the base configuration: no metrics-listen

# ------------------------------------------------------- off by default
ok "! ss -Hltnp | grep -q 'pid=$MILTER_PID,'" "without metrics-listen the milter listens on no TCP port"
ok "! curl -s --max-time 2 -o /dev/null $URL" "nothing answers on $PORT"

# ------------------------------------------- a bad address: config error
BAD=$E2E_TMP/bad.conf
write_milter_conf "$BAD" "metrics-listen 127.0.0.1:99999"
out=$("$AUTHSCORE_MILTER" -n -c "$BAD" 2>&1)
st=$?
is "$st" 1 "metrics-listen 127.0.0.1:99999: the configuration is refused"
line=$(grep -n '^metrics-listen' "$BAD" | cut -d: -f1)
like "$out" "^authscore-milter: $BAD:$line:16: metrics-listen: \"127\\.0\\.0\\.1:99999\" is not PORT" \
	"the error names file:line:column"

# ------------------------------------------------ metrics and JSON logs on
stop_milter
# the default rules and a monitor rule that fires for every message
{ cat "$top_srcdir/rules/default.rules"; echo 'monitor rule E2E_SEEN spf == pass score 1'; } \
	>"$E2E_TMP/ops.rules"
start_milter "metrics-listen $PORT" "log-format json" "rules $E2E_TMP/ops.rules" ||
	fail "milter starts with metrics-listen"
ok "wait_for $E2E_WAIT 'curl -sf --max-time 2 -o /dev/null $URL' '$URL to answer'" "metrics-listen $PORT: $URL answers"
ok "ss -Hltn 'sport = :$PORT' | grep -q '127\.0\.0\.1:$PORT'" "a bare port listens on 127.0.0.1 only"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
is "$code" 404 "other paths: 404"
ctype=$(curl -s --max-time 5 -o /dev/null -w '%{content_type}' "$URL")
is "$ctype" "text/plain; version=0.0.4; charset=utf-8" "exposition format 0.0.4"

# ------------------------------------------------- a port in use: start-up error
out=$(timeout 60 "$AUTHSCORE_MILTER" -f -c "$E2E_CONF" -p "unix:$E2E_TMP/second.sock" 2>&1)
st=$?
ok "[ $st -ne 0 ] && [ $st -ne 124 ]" "a second daemon on the same metrics port exits ($st)"
like "$out" "metrics-listen 127\\.0\\.0\\.1:$PORT: cannot listen: Address already in use" \
	"the error says which address is in use"

# --------------------------------------------------------- a known mix
# new NAME FROM - a message with that From; path in $M
new() { M=$(msg_from "$1-$$-$RANDOM" "$2"); }
want_accept=0 want_reject=0 want_quarantine=0 want_tempfail=0

for i in 1 2; do
	new pass$i "u@reject.$D"
	send_file pass$i "$M" --from "user@reject.$D"
	like "$SENT_REPLY" '^250 ' "pass$i (DMARC pass): accepted" && want_accept=$((want_accept + 1))
done
for i in 1 2; do
	new reject$i "u@reject.$D"
	send_file reject$i "$M" --from "$NOALIGN"
	like "$SENT_REPLY" '^550 5\.7\.1 ' "reject$i (DMARC fail, p=reject): rejected" &&
		want_reject=$((want_reject + 1))
done
new quarantine "u@quarantine.$D"
send_file quarantine "$M" --from "$NOALIGN"
like "$SENT_REPLY" '^250 ' "quarantine (DMARC fail, p=quarantine): held" &&
	want_quarantine=$((want_quarantine + 1))
[ -n "$SENT_QID" ] && postsuper -d "$SENT_QID" hold >/dev/null 2>&1
new tempfail "u@policyfail.$D"
send_file tempfail "$M" --from "$NOALIGN"
like "$SENT_REPLY" '^451 4\.7\.5 ' "tempfail (the DMARC policy lookup fails): 451" &&
	want_tempfail=$((want_tempfail + 1))
# Bytes from the client that a log pipeline must survive: quotes,
# backslashes and a byte that is not UTF-8 in HELO, a quoted local-part.
HOSTILE_HELO=$'evil"helo\\\xff.test'
HOSTILE_FROM='"we\"ird\\x"@reject.'$D
new hostile "u@reject.$D"
send_file hostile "$M" --from "$HOSTILE_FROM" --helo "$HOSTILE_HELO"
like "$SENT_REPLY" '^250 ' "hostile HELO and MAIL FROM: accepted (SPF aligns)" &&
	want_accept=$((want_accept + 1))
sent=$((want_accept + want_reject + want_quarantine + want_tempfail))
is "$sent" 7 "7 messages sent as planned"
# A trusted client is accepted unchecked at MAIL FROM (the connect stage
# has no reply to wait for): a summary line that says "skipped", an accept.
new trusted "u@reject.$D"
send_file trusted "$M" --ip 127.0.0.1 --from "user@reject.$D"
like "$SENT_REPLY" '^250 ' "trusted network (127.0.0.1): accepted unchecked"
trusted=1

# ---------------------------------------------------------- the JSON log
# summary lines: the log lines whose message is a JSON object
summaries() {
	sed -n '/^==== start/h; /^==== start/!H; ${x; p}' "$E2E_TMP/milter.log" |
		sed -n 's/^[^ ]* authscore-milter\[info\]: \({.*\)$/\1/p'
}
ok "wait_for $E2E_WAIT '[ \$(summaries | wc -l) -ge $((sent + trusted)) ]' '$((sent + trusted)) summary lines'" \
	"one summary line per message"
summaries >"$E2E_TMP/summaries.jsonl"
check=$(python3 - "$E2E_TMP/summaries.jsonl" "$HOSTILE_FROM" <<'EOF' 2>&1
import json, sys, collections
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
actions = collections.Counter()
hostile = None
for raw in lines:
    raw.decode("utf-8")  # valid UTF-8, or this raises
    o = json.loads(raw)
    assert isinstance(o, dict), raw
    if o.get("skipped") is not None:
        assert o["skipped"] == "trusted network" and o["action"] == "accept", raw
        actions[o["action"]] += 1
        continue
    for k in ("queue_id", "client", "client_ip", "helo", "from", "header_from", "spf",
              "spf_helo", "dkim", "dmarc", "iprev", "score", "action", "ms"):
        assert k in o, (k, raw)
    actions[o["action"]] += 1
    if o["from"] == sys.argv[2]:
        hostile = o
assert hostile is not None, "no line has the hostile MAIL FROM"
helo = hostile["helo"].encode("utf-8", "surrogateescape")
assert helo == b'evil"helo\\\xff.test', helo
print(len(lines), " ".join("%s=%d" % kv for kv in sorted(actions.items())))
EOF
)
is "$check" "$((sent + trusted)) accept=$((want_accept + trusted)) quarantine=$want_quarantine reject=$want_reject tempfail=$want_tempfail" \
	"every summary line parses; actions as sent; hostile bytes round-trip exactly"

# ---------------------------------------------------------- the scrape
scrape() { curl -sf --max-time 5 "$URL"; }
# value SERIES - a sample's value in the last scrape
value() { awk -v s="$1" '$1 == s { print $2 }' <<<"$METRICS"; }
METRICS=$(scrape)
want_accept=$((want_accept + trusted)) # accepted unchecked, counted all the same
for a in accept reject quarantine tempfail; do
	w=want_$a
	is "$(value "authscore_messages_total{action=\"$a\"}")" "${!w}" "messages_total{action=\"$a\"} is ${!w}"
done
want_accept=$((want_accept - trusted))
is "$(value 'authscore_connections_total{trusted="no"}') $(value 'authscore_connections_total{trusted="yes"}')" \
	"$sent 1" "connections: one per checked message, the trusted one apart"
is "$(value 'authscore_messages_total{action="tag"}') $(value 'authscore_messages_total{action="discard"}')" \
	"0 0" "no tag, no discard"
is "$(value 'authscore_dmarc_results_total{result="pass"}')" "$want_accept" "DMARC pass counted"
is "$(value 'authscore_dmarc_results_total{result="fail"}')" "$((want_reject + want_quarantine))" \
	"DMARC fail counted"
is "$(value 'authscore_dmarc_results_total{result="temperror"}')" "$want_tempfail" \
	"DMARC temperror counted"
is "$(value 'authscore_spf_results_total{scope="mfrom",result="pass"}')" "$sent" \
	"SPF (MAIL FROM) pass for every message"
is "$(value 'authscore_monitor_rule_hits_total{rule="E2E_SEEN"}')" "$sent" "monitor rule hits per rule"
ok "[ $(value 'authscore_dns_errors_total{kind="dmarc"}') -ge 1 ]" "the SERVFAIL policy is a DMARC DNS error"
ok "[ $(value 'authscore_dns_queries_total{kind="dmarc"}') -ge $sent ]" "DMARC DNS answers counted"
# Postfix confirmed the client's name before connecting (iprev-trust-mta):
# iprev passes without a query of ours.
is "$(value 'authscore_iprev_results_total{result="pass"}') $(value 'authscore_dns_queries_total{kind="iprev"}')" \
	"$sent 0" "iprev: pass for every message, no DNS query (the MTA confirmed the name)"
ok "[ $(value 'authscore_dnsbl_queries_total{zone="zen.spamhaus.org"}') -ge 1 ]" \
	"DNS list answers counted per zone"
is "$(value 'authscore_phase_duration_seconds_count{phase="message"}')" "$sent" \
	"one latency observation per message"
is "$(value 'authscore_phase_duration_seconds_bucket{phase="message",le="+Inf"}')" "$sent" \
	"histogram +Inf bucket equals the count"
is "$(value 'authscore_history_enabled')" 1 "history store figures present"
ok "[ -n '$(value authscore_history_queue_depth)' ]" "history queue depth present"
like "$(value 'authscore_start_time_seconds')" '^1[0-9]{9}$' "start time"

# ---------------------------------------------------------- the dashboard
names=$(python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "expr":
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(d)
assert exprs, "no queries"
print("\n".join(sorted({n for e in exprs for n in re.findall(r"\bauthscore_[a-z_]+", e)})))
' "$DASHBOARD" 2>&1)
n=$(grep -c '^authscore_' <<<"$names")
ok "[ $n -ge 10 ]" "the dashboard is valid JSON and names the metrics ($n)" || diag "$names"
missing=
for n in $names; do
	grep -qE "^($n(\{| )|# TYPE $n )" <<<"$METRICS" || missing+=" $n"
done
is "$missing" "" "every metric the dashboard names is in the scrape"

# ---------------------------------------------------------- reloads
kill -HUP "$MILTER_PID"
ok "wait_for $E2E_WAIT '[ \"\$(METRICS=\$(scrape); value authscore_config_reloads_total)\" = 1 ]' 'config_reloads_total 1'" \
	"a reload is counted"
cp "$E2E_CONF" "$E2E_TMP/good.conf"
echo "no-such-key 1" >>"$E2E_CONF"
kill -HUP "$MILTER_PID"
ok "wait_for $E2E_WAIT '[ \"\$(METRICS=\$(scrape); value authscore_config_reload_failures_total)\" = 1 ]' 'config_reload_failures_total 1'" \
	"a refused reload is counted as a failure"
cp "$E2E_TMP/good.conf" "$E2E_CONF"
ok "curl -sf --max-time 5 -o /dev/null $URL" "still serving after the refused reload"

done_testing

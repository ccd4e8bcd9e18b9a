#!/bin/bash
# tests/e2e/logline.sh - issue 15 item 14: the summary line parses, whatever
# the client sends.  swaks -> Postfix -> the milter; a HELO and a MAIL FROM
# with blanks, quotes, backslashes, 'key=value', a byte that is not UTF-8
# and UTF-8, through Postfix as a client would send them.  The milter's
# line is parsed by the reader below (python3, from authscore-milter(8)'s
# description of log-format kv): each field once, the HELO and MAIL FROM
# byte for byte, the fired rules with their scores.  Then the same with
# log-format json.  Prints TAP.  Run as root.
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
e2e_setup
RULES=$E2E_TMP/log.rules
{
	cat "$top_srcdir/rules/default.rules"
	echo 'rule E2E_SPF_PASS    spf == pass   score 0.25  "a scored rule that fires"'
	echo 'rule E2E_DMARC_PASS  dmarc == pass score -1    "another"'
	echo 'monitor rule E2E_SEEN spf == pass  score 1'
} >"$RULES"

# Postfix joins HELO's words with one blank; SMTP carries no CR LF.
HELO=$'evil "helo" action=accept x=\\y\xff\x01 caf\xc3\xa9 ms=0'
FROM='"a b \"q\" action=reject\\z"@reject.'$D

# summaries ERE - the milter's summary lines matching ERE (stderr prefix off)
# since the last start
summaries() {
	sed -n '/^==== start/h; /^==== start/!H; ${x; p}' "$E2E_TMP/milter.log" |
		sed -n 's/^[^ ]* authscore-milter\[info\]: //p' | grep -a -E "$1"
}

# run FORMAT WHAT - send the hostile message, parse its line: WHAT holds
run() {
	local fmt=$1 what=$2 f marker out qid res
	marker=log-$fmt-$$-$RANDOM
	f=$(msg_from "$marker" "u@reject.$D")
	out=$(send_mail --data "$f" --helo "$HELO" --from "$FROM")
	like "$(data_reply "$out")" '^250 ' "$fmt: the hostile HELO and MAIL FROM are accepted by Postfix and the milter"
	qid=$(queued_id "$out")
	ok "wait_for $E2E_WAIT \"summaries '^$qid[:]|\\\"queue_id\\\":\\\"$qid\\\"' | grep -q .\" 'the summary line of $qid'" \
		"$fmt: the milter logs the message's line"
	summaries "^$qid[:]|\"queue_id\":\"$qid\"" >"$E2E_TMP/line.$fmt"
	res=$(python3 - "$fmt" "$E2E_TMP/line.$fmt" "$qid" "$FROM" 3<<<"$HELO" 2>&1 <<'EOF'
import json, os, re, sys
fmt, path, qid, sender = sys.argv[1:5]
helo = os.fdopen(3, "rb").read().rstrip(b"\n")
raw = open(path, "rb").read()
assert raw.count(b"\n") == 1, "one line: %r" % raw
line = raw[:-1]
line.decode("utf-8")  # valid UTF-8, or this raises
assert not re.search(rb"[\x00-\x1f\x7f]", line), "no control byte"

def kv(line):
    """authscore-milter(8): QUEUEID: then key=value, a value bare or quoted
    with \\" \\\\ \\xHH inside."""
    m = re.match(rb"([^ :]+): ", line)
    assert m, line
    pos, fields = m.end(), []
    tok = re.compile(rb'([^ ="]+)=(?:"((?:[^"\\]|\\["\\]|\\x[0-9A-F]{2})*)"|([^ "\\=]+))( |$)')
    while pos < len(line):
        t = tok.match(line, pos)
        assert t, "cannot parse at %d: %r" % (pos, line[pos:pos + 40])
        if t.group(2) is not None:
            v = re.sub(rb'\\(["\\]|x[0-9A-F]{2})',
                       lambda e: bytes([int(e.group(1)[1:], 16)]) if e.group(1)[:1] == b"x" else e.group(1),
                       t.group(2))
        else:
            v = t.group(3)
        fields.append((t.group(1).decode(), v))
        pos = t.end()
    return m.group(1).decode(), fields

if fmt == "kv":
    q, fields = kv(line)
    assert q == qid, q
    keys = [k for k, _ in fields]
    assert len(keys) == len(set(keys)), "each field once: %s" % keys
    order = ["client", "helo", "from", "header.from", "spf", "spf.helo", "dkim", "dmarc",
             "policy", "iprev", "country", "asn", "score", "rules", "monitors", "forged_ar",
             "action", "ms"]
    assert keys == order, keys
    f = dict(fields)
    assert f["helo"] == helo, (f["helo"], helo)
    assert f["from"] == b"<" + sender.encode() + b">", f["from"]
    assert f["action"] == b"accept" and f["spf"] == b"pass" and f["dmarc"] == b"pass", f
    assert f["client"] == b"client.authscore.test[203.0.113.10]", f["client"]
    rules = dict((n, float(s)) for n, s in (r.split(b":") for r in f["rules"].split(b",")))
    assert rules[b"E2E_SPF_PASS"] == 0.25 and rules[b"E2E_DMARC_PASS"] == -1.0, rules
    assert abs(sum(rules.values()) - float(f["score"])) < 0.051, (rules, f["score"])
    assert f["monitors"] == b"E2E_SEEN", f["monitors"]
else:
    o = json.loads(line)
    assert o["queue_id"] == qid, o
    assert o["helo"].encode("utf-8", "surrogateescape") == helo, o["helo"]
    assert o["from"] == sender and o["action"] == "accept", o
    rules = {r["name"]: r["score"] for r in o["rules"]}
    assert rules["E2E_SPF_PASS"] == 0.25 and rules["E2E_DMARC_PASS"] == -1.0, rules
    assert abs(sum(rules.values()) - o["score"]) < 0.051, (rules, o["score"])
    assert o["monitors"] == ["E2E_SEEN"], o["monitors"]
print("ok")
EOF
)
	is "$res" ok "$fmt: $what" || diag "$(cat "$E2E_TMP/line.$fmt")"
}

stop_milter
start_milter "rules $RULES" || fail "the milter starts (log-format kv by default)"
run kv "the line parses; HELO and MAIL FROM byte for byte; each field once; rules with scores"

stop_milter
start_milter "rules $RULES" "log-format json" || fail "the milter starts with log-format json"
run json "the line parses; HELO and MAIL FROM byte for byte; rules as {name, score}"

# The skipped form: a trusted client, kv again
stop_milter
start_milter "rules $RULES" || fail "the milter restarts"
out=$(send_mail --ip 127.0.0.1 --helo "$HELO" --from "$FROM" --data "$(make_msg trusted-$$)")
ok "wait_for $E2E_WAIT \"summaries 'skipped=' | grep -q .\" 'the skipped line'" "trusted: a summary line"
# the expected line from client=, written out once by hand
cat >"$E2E_TMP/skipped.want" <<'WANT'
: client=localhost[127.0.0.1] from="<\"a b \\\"q\\\" action=reject\\\\z\"@reject.dmarc.authscore.test>" skipped="trusted network" action=accept
WANT
got=$(summaries 'skipped=' | tail -n 1)
is "${got#*:}" "$(cut -c2- "$E2E_TMP/skipped.want")" \
	"trusted: client=NAME[IP], from=\"<...>\" quoted with \\\" and \\\\, skipped=\"trusted network\", action=accept"
like "$got" '^[0-9A-Za-z]+: ' "trusted: the line starts with the queue id (NOQUEUE at MAIL FROM)"

done_testing

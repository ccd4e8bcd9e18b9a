#!/usr/bin/python3
"""arc_forward.py - what a forwarder or mailing list does to a message, for
tests/e2e/arc.sh: record what it saw (its own Authentication-Results),
change the message the way lists do (a Subject tag, a footer: the author's
DKIM signature breaks) and ARC-seal the result (RFC 8617) with dkimpy's
arc_sign.  Or forge: spoil the new seal's b=, or put a sealed message's ARC
sets onto another message (a replay).

  arc_forward.py --sealer D --key PEM --results "dmarc=pass ..." IN > OUT
      [--selector arc] [--keep] [--corrupt-seal] [--replay-onto OTHER]

The result is written with LF line ends (swaks sends CRLF).  Test-only.
"""
import argparse
import re
import sys

import dkim


def split(raw):
    raw = raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    return head + b"\n", body


def modify(head, body):
    """A list's changes: a Subject tag and a footer before the last line."""
    head = re.sub(rb"(?m)^Subject: ", b"Subject: [list] ", head, count=1)
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    last = lines.pop() if lines else b""
    lines += [b"-- ", b"You got this from the list.", last, b""]
    return head, b"\n".join(lines)


def seal(head, body, sealer, selector, key, results):
    srv_id = b"mx." + sealer
    prior = b""
    if re.search(rb"(?mi)^ARC-Seal:", head):
        # a later hop: its own verdict on the chain, as dkimpy wants it
        prior = b" arc=pass;"
    ar = b"Authentication-Results: " + srv_id + b";" + prior + b" " + results + b"\n"
    msg = (ar + head + b"\n" + body).replace(b"\n", b"\r\n")
    arc = dkim.arc_sign(msg, selector, sealer, key, srv_id,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    if not arc:
        sys.exit("arc_forward.py: dkimpy produced no ARC set")
    sealed = b"".join(arc).replace(b"\r\n", b"\n") + ar + head
    return sealed


def arc_fields(head):
    """The ARC-* and Authentication-Results fields (unfolded runs) of a head."""
    out, keep = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = re.match(rb"(?i)(ARC-[A-Za-z-]+|Authentication-Results):", line) is not None
        if keep:
            out.append(line)
    return b"\n".join(out) + b"\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sealer", required=True)
    p.add_argument("--selector", default="arc")
    p.add_argument("--key", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--keep", action="store_true", help="do not modify the message")
    p.add_argument("--corrupt-seal", action="store_true")
    p.add_argument("--replay-onto")
    p.add_argument("message")
    a = p.parse_args()

    with open(a.message, "rb") as f:
        head, body = split(f.read())
    with open(a.key, "rb") as f:
        key = f.read()
    if not a.keep:
        head, body = modify(head, body)
    head = seal(head, body, a.sealer.encode(), a.selector.encode(), key, a.results.encode())
    if a.corrupt_seal:
        # one character of the newest ARC-Seal's b= changed: a forged seal
        m = re.search(rb"(?s)^ARC-Seal:.*?\bb=\s*([A-Za-z0-9+/])", head)
        c = m.group(1)
        head = head[:m.start(1)] + (b"A" if c != b"A" else b"B") + head[m.end(1):]
    if a.replay_onto:
        with open(a.replay_onto, "rb") as f:
            other_head, other_body = split(f.read())
        head, body = arc_fields(head) + other_head, other_body
    sys.stdout.buffer.write(head + b"\n" + body)


if __name__ == "__main__":
    main()

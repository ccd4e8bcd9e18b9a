#!/usr/bin/env python3
"""arc_suite_convert - the ValiMail ARC test suite's YAML to the line format
checks/arc_test.c reads, so the unit test needs no YAML parser.

    tests/arc_suite_convert.py tests/data/arc/arc-draft-validation-tests.yml \
        >tests/data/arc/validation.txt
    tests/arc_suite_convert.py tests/data/arc/arc-draft-sign-tests.yml \
        >tests/data/arc/sign.txt

Run by hand when the YAML changes (python3-yaml); the output is committed.
Two quirks of the suite's files are handled here: arc-draft-sign-tests.yml
lacks the "---" before its "Malformed Arc Sets" scenario (a top-level
"description:" inside a document starts a new scenario here, as its
authors meant), and a mis-indented "AAR:" there parses as a test of its
own, which is not a mapping and is skipped.
Every YAML document is a scenario; the output is records of the form

    KEY LENGTH\\n<LENGTH bytes>\\n

in this order: "scenario" (its description), "domain", "sel", "privatekey"
(signing only), one "txt" per DNS record ("NAME\\tVALUE"), then per case
"case" (its name) followed by its fields (message, cv, t, sig-headers,
auth-res, AS, AMS, AAR) and "end".
"""
import sys

import yaml


def put(out, key, value):
    data = str(value).encode("utf-8")
    out.write(b"%s %d\n" % (key.encode(), len(data)))
    out.write(data + b"\n")


def main():
    out = sys.stdout.buffer
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    # every top-level "description:" after the first of a document opens
    # a new one
    lines, seen = [], False
    for line in text.split("\n"):
        if line.startswith("---"):
            seen = False
        elif line.startswith("description:"):
            if seen:
                lines.append("---")
            seen = True
        lines.append(line)
    docs = [d for d in yaml.safe_load_all("\n".join(lines)) if d]
    for doc in docs:
        put(out, "scenario", doc.get("description", "").strip())
        for key in ("domain", "sel", "privatekey"):
            if key in doc:
                put(out, key, doc[key])
        for name, value in (doc.get("txt-records") or {}).items():
            put(out, "txt", "%s\t%s" % (name, value))
        for name, case in (doc.get("tests") or {}).items():
            if not isinstance(case, dict):
                continue
            put(out, "case", name)
            for key in ("message", "cv", "t", "sig-headers", "auth-res", "AS", "AMS", "AAR"):
                if key in case:
                    value = case[key]
                    put(out, key, "" if value is None else value)
            put(out, "end", "")


if __name__ == "__main__":
    main()

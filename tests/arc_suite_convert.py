#!/usr/bin/env python3
"""arc_suite_convert - the ValiMail ARC test suite's YAML to the line format
milter/arc_test.c reads, so the unit test needs no YAML parser.

    tests/arc_suite_convert.py tests/data/arc/arc-draft-validation-tests.yml \
        >tests/data/arc/validation.txt
    tests/arc_suite_convert.py tests/data/arc/arc-draft-sign-tests.yml \
        >tests/data/arc/sign.txt

Run by hand when the YAML changes (python3-yaml); the output is committed.
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
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        put(out, "scenario", doc.get("description", "").strip())
        for key in ("domain", "sel", "privatekey"):
            if key in doc:
                put(out, key, doc[key])
        for name, value in (doc.get("txt-records") or {}).items():
            put(out, "txt", "%s\t%s" % (name, value))
        for name, case in (doc.get("tests") or {}).items():
            put(out, "case", name)
            for key in ("message", "cv", "t", "sig-headers", "auth-res", "AS", "AMS", "AAR"):
                if key in case:
                    value = case[key]
                    put(out, key, "" if value is None else value)
            put(out, "end", "")


if __name__ == "__main__":
    main()

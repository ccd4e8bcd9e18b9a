#!/usr/bin/env python3
"""yaml2zone - an openspf-format SPF test suite (YAML) as NSD zones and a test list.

    yaml2zone.py SUITE.yml OUTDIR

Each YAML document becomes OUTDIR/docN/: root.zone (the document's zone
data as the root zone, so every name it uses, and a CNAME to the root,
resolves from one loopback server) and servfail.list (names whose zone
data is only TIMEOUT: served as zones NSD cannot load, which it answers
SERVFAIL -- a temperror like a timeout, at once) and stubs.list (the
zones the resolver must send to that server besides the root: unbound
answers its built-in local zones -- RFC 1918 and documentation reverse
zones, test., invalid. -- itself unless each is configured as a stub).
OUTDIR/tests lists the
test cases, one a line, fields separated by US (0x1f): document, name,
helo, client, mail-from, acceptable results (space-separated), explanation
(or empty), a reason to skip (or empty), description.

Zone data follows the suite's rules: SPF entries are also served as TXT
unless the name has TXT entries ("TXT: NONE" means none); strings are
bytes (YAML escapes like \\x80 and \\0 are octets) split into 255-octet
character-strings; "" as an MX or CNAME target is the root.
"""
import os
import sys

import yaml

SEP = "\x1f"
SOA = (". 300 IN SOA ns.spf-suite. hostmaster.spf-suite. 1 3600 600 86400 300\n"
       ". 300 IN NS ns.spf-suite.\n"
       "ns.spf-suite. 300 IN A 127.0.0.1\n")


# unbound 1.17's default local zones (unbound.conf(5), "local-zone").
UNBOUND_LOCAL_ZONES = (
    ["localhost", "127.in-addr.arpa", "onion", "test", "invalid", "home.arpa",
     "resolver.arpa", "service.arpa", "10.in-addr.arpa", "168.192.in-addr.arpa",
     "0.in-addr.arpa", "254.169.in-addr.arpa", "2.0.192.in-addr.arpa",
     "100.51.198.in-addr.arpa", "113.0.203.in-addr.arpa", "255.255.255.255.in-addr.arpa",
     "d.f.ip6.arpa", "8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa", "b.e.f.ip6.arpa",
     "8.b.d.0.1.0.0.2.ip6.arpa", "1." + "0." * 31 + "ip6.arpa", "0." * 32 + "ip6.arpa"]
    + ["%d.172.in-addr.arpa" % i for i in range(16, 32)]
    + ["%d.100.in-addr.arpa" % i for i in range(64, 128)])


def local_zones(names):
    """The unbound local zones holding any of names."""
    out = set()
    for name in names:
        n = str(name).lower().rstrip(".")
        for zone in UNBOUND_LOCAL_ZONES:
            if n == zone or n.endswith("." + zone):
                out.add(zone)
    return sorted(out)


def octets(value):
    """A YAML string as the octets it stands for."""
    if isinstance(value, bytes):
        return value
    value = str(value)
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def zone_name(name):
    """A domain name in zone-file form, absolute, odd octets as \\DDD."""
    labels = [label for label in str(name).split(".") if label != ""]
    if not labels:
        return "."
    out = []
    for label in labels:
        text = ""
        for c in octets(label):
            ch = chr(c)
            if ch.isascii() and (ch.isalnum() or ch in "-_*"):
                text += ch
            else:
                text += "\\%03d" % c
        out.append(text)
    return ".".join(out) + "."


def character_strings(value):
    """TXT data: one or more quoted character-strings of at most 255 octets."""
    parts = value if isinstance(value, list) else [value]
    out = []
    for part in parts:
        data = octets(part)
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        for chunk in chunks:
            text = ""
            for c in chunk:
                if 0x20 <= c <= 0x7E and chr(c) not in '"\\':
                    text += chr(c)
                else:
                    text += "\\%03d" % c
            out.append('"%s"' % text)
    return " ".join(out)


def records(name, entries):
    """Zone lines for one name, and whether it is TIMEOUT only."""
    owner = zone_name(name)
    has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
    lines, others = [], 0
    timeout = False
    for entry in entries:
        if entry == "TIMEOUT":
            timeout = True
            continue
        for rtype, value in entry.items():
            if value == "NONE" or value == "TIMEOUT":
                continue
            others += 1
            if rtype in ("TXT", "SPF"):
                lines.append("%s 300 IN %s %s" % (owner, rtype, character_strings(value)))
                if rtype == "SPF" and not has_txt:
                    lines.append("%s 300 IN TXT %s" % (owner, character_strings(value)))
            elif rtype == "MX":
                lines.append("%s 300 IN MX %d %s" % (owner, int(value[0]), zone_name(value[1])))
            elif rtype in ("CNAME", "PTR"):
                lines.append("%s 300 IN %s %s" % (owner, rtype, zone_name(value)))
            elif rtype in ("A", "AAAA"):
                lines.append("%s 300 IN %s %s" % (owner, rtype, value))
            else:
                raise SystemExit("yaml2zone: %s: unknown type %s" % (name, rtype))
    return lines, timeout and others == 0


def field(value):
    text = "" if value is None else str(value)
    return text.replace(SEP, " ").replace("\n", " ").strip()


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: yaml2zone.py SUITE.yml OUTDIR")
    suite, outdir = sys.argv[1], sys.argv[2]
    with open(suite, "rb") as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    tests = []
    for n, doc in enumerate(documents, 1):
        docdir = os.path.join(outdir, "doc%d" % n)
        os.makedirs(docdir, exist_ok=True)
        zone, servfail = [SOA], []
        for name, entries in (doc.get("zonedata") or {}).items():
            lines, timeout_only = records(name, entries)
            if timeout_only:
                servfail.append(zone_name(name))
            zone.extend(line + "\n" for line in lines)
        with open(os.path.join(docdir, "root.zone"), "w") as f:
            f.writelines(zone)
        with open(os.path.join(docdir, "servfail.list"), "w") as f:
            f.writelines(name + "\n" for name in servfail)
        with open(os.path.join(docdir, "stubs.list"), "w") as f:
            f.writelines(z + "\n" for z in local_zones((doc.get("zonedata") or {}).keys()))
        for name, t in sorted((doc.get("tests") or {}).items()):
            result = t.get("result")
            results = result if isinstance(result, list) else [result]
            skip = ""
            if "strict" in t and t["strict"] != 1:
                skip = ("pyspf strictness mode %s (not RFC 7208 processing, which is "
                        "pyspf's strict=1)" % t["strict"])
            desc = t.get("description") or t.get("comment") or ""
            tests.append(SEP.join(field(x) for x in (
                n, name, t.get("helo"), t.get("host"), t.get("mailfrom"),
                " ".join(str(r) for r in results), t.get("explanation"), skip, desc)))
    with open(os.path.join(outdir, "tests"), "w") as f:
        f.writelines(line + "\n" for line in tests)


main()

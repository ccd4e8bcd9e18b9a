/*
 * spf_test - spf.c against RFC 7208, one table row per case, over the fake
 * resolver (tests/fake_dns.c).  Each row: zone text, client, HELO, MAIL
 * FROM and scope, then the result expected and, where they say something,
 * the reason, the explanation and the counts of DNS-querying terms, void
 * lookups and queries asked.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "addr.h"
#include "arena.h"
#include "check.h"
#include "dns.h"
#include "fake_dns.h"
#include "spf.h"
#include "spf_record.h"

#define ANY (-1) /* a count the row does not check */

struct spf_case {
	const char *rfc; /* the section the row checks */
	const char *what;
	const char *zone;
	const char *client;
	const char *helo;
	const char *sender; /* NULL: the null sender */
	enum spf_scope scope;
	enum spf_result want;
	const char *reason; /* a substring of the reason, or NULL */
	int terms, voids, queries;
	const char *explanation;
	const char *domain; /* NULL: not checked; NO_DOMAIN: none evaluated */
};

#define NO_DOMAIN ""

#define MFROM SPF_SCOPE_MFROM
#define HELO  SPF_SCOPE_HELO

/* a:t1.test .. a:t11.test all exist and miss 203.0.113.5. */
#define TERM_HOSTS                                                                                 \
	"t1.test A 192.0.2.1\nt2.test A 192.0.2.2\nt3.test A 192.0.2.3\nt4.test A 192.0.2.4\n"     \
	"t5.test A 192.0.2.5\nt6.test A 192.0.2.6\nt7.test A 192.0.2.7\nt8.test A 192.0.2.8\n"     \
	"t9.test A 192.0.2.9\nt10.test A 192.0.2.10\nt11.test A 192.0.2.11\n"

/* 5.113.0.203.in-addr.arpa has eleven PTR names, n1.test .. n10.test then
 * example.test; only those given an address validate. */
#define PTR_NAMES                                                                                  \
	"5.113.0.203.in-addr.arpa PTR n1.test\n5.113.0.203.in-addr.arpa PTR n2.test\n"             \
	"5.113.0.203.in-addr.arpa PTR n3.test\n5.113.0.203.in-addr.arpa PTR n4.test\n"             \
	"5.113.0.203.in-addr.arpa PTR n5.test\n5.113.0.203.in-addr.arpa PTR n6.test\n"             \
	"5.113.0.203.in-addr.arpa PTR n7.test\n5.113.0.203.in-addr.arpa PTR n8.test\n"             \
	"5.113.0.203.in-addr.arpa PTR n9.test\n5.113.0.203.in-addr.arpa PTR n10.test\n"            \
	"5.113.0.203.in-addr.arpa PTR example.test\n"

/* 26 labels of 9 characters: 259 characters of literal text */
#define LONG_LABELS                                                                                \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."         \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."         \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."         \
	"abcdefghi.abcdefghi"

/* foobar.%{o} eight times .example.test, cut from the left to 253 characters */
#define LONG_EXP_NAME                                                                              \
	"long.exp.example.test.somewhat.long.exp.example.test.somewhat.long.exp.example.test."     \
	"somewhat.long.exp.example.test.somewhat.long.exp.example.test.somewhat.long.exp.example." \
	"test.somewhat.long.exp.example.test.somewhat.long.exp.example.test.example.test"

/* Columns: rfc, what, zone, client, helo, sender, scope, want, reason,
 * terms, voids, queries, explanation, domain. */
static const struct spf_case cases[] = {
	/* pass */
	{"§5.6", "ip4 matches", "example.test TXT \"v=spf1 ip4:203.0.113.0/24 -all\"", "203.0.113.5",
	 "mail.example.test", "user@example.test", MFROM, SPF_PASS, "designates 203.0.113.5", 0,
	 0, 1, NULL, "example.test"},
	{"§3.3", "TXT strings joined", "example.test TXT \"v=spf1 ip4:203.0.113.5\" \" -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5.3", "a matches", "example.test TXT \"v=spf1 a -all\"\nexample.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.3", "a:domain/cidr matches",
	 "example.test TXT \"v=spf1 a:web.example.test/24 -all\"\nweb.example.test A 203.0.113.200",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.3", "a: through a CNAME",
	 "example.test TXT \"v=spf1 a:alias.example.test -all\"\n"
	 "alias.example.test CNAME real.example.test.\nreal.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.4", "mx matches the second MX host",
	 "example.test TXT \"v=spf1 mx -all\"\nexample.test MX 10 mx1.example.test\n"
	 "example.test MX 20 mx2.example.test\nmx1.example.test A 192.0.2.1\n"
	 "mx2.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 4, NULL,
	 NULL},
	{"§5.2", "include chain passes",
	 "example.test TXT \"v=spf1 include:i1.test -all\"\n"
	 "i1.test TXT \"v=spf1 include:i2.test -all\"\n"
	 "i2.test TXT \"v=spf1 ip4:203.0.113.5 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 2, 0, 3, NULL,
	 NULL},
	{"§6.1", "redirect= passes",
	 "example.test TXT \"v=spf1 redirect=r.test\"\nr.test TXT \"v=spf1 ip4:203.0.113.0/24 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.7", "exists with %{i}",
	 "example.test TXT \"v=spf1 exists:%{i}.ok.example.test -all\"\n"
	 "203.0.113.5.ok.example.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.5", "ptr validated",
	 "example.test TXT \"v=spf1 ptr -all\"\n5.113.0.203.in-addr.arpa PTR mail.example.test\n"
	 "mail.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 3, NULL,
	 NULL},
	{"§4.5", "version tag case-insensitive", "example.test TXT \"V=SPF1 ip4:203.0.113.5 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL,
	 NULL},

	/* fail, softfail, neutral */
	{"§2.6.4", "-all fails, exp= explains",
	 "example.test TXT \"v=spf1 ip4:198.51.100.1 -all exp=why.example.test\"\n"
	 "why.example.test TXT \"%{i} is not one of %{d}'s senders\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, "does not designate", 0,
	 0, ANY, "203.0.113.5 is not one of example.test's senders", NULL},
	{"§2.6.4", "-all fails, no exp=: no explanation", "example.test TXT \"v=spf1 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5.2", "include's -all is no match, then -all",
	 "example.test TXT \"v=spf1 include:i2.test -all\"\n"
	 "i2.test TXT \"v=spf1 ip4:198.51.100.1 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§2.6.5", "~all softfails", "example.test TXT \"v=spf1 ip4:198.51.100.1 ~all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_SOFTFAIL, NULL, 0, 0, 1, NULL, NULL},
	{"§2.6.2", "?all is neutral", "example.test TXT \"v=spf1 ?all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_NEUTRAL, NULL, 0, 0, 1, NULL, NULL},
	{"§4.7", "no match, no all: neutral", "example.test TXT \"v=spf1 ip4:198.51.100.1\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_NEUTRAL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§4.5", "bare v=spf1 is a record", "example.test TXT \"v=spf1\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_NEUTRAL, NULL, 0, 0, 1, NULL, NULL},
	{"§2.6", "loopback client gets no free pass", "example.test TXT \"v=spf1 -all\"", "127.0.0.1",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, 1, NULL, NULL},
	{"§4.6.4", "two void lookups are allowed",
	 "example.test TXT \"v=spf1 a:nx1.test a:nx2.test -all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_FAIL, NULL, 2, 2, 3, NULL, NULL},
	{"§4.6.4", "ten DNS terms are allowed",
	 "example.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test a:t6.test "
	 "a:t7.test a:t8.test a:t9.test a:t10.test -all\"\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 10, 0, 11, NULL,
	 NULL},
	{"§4.6.4", "MX hosts without AAAA are not void lookups",
	 "example.test TXT \"v=spf1 mx -all\"\nexample.test MX 10 mx1.example.test\n"
	 "example.test MX 20 mx2.example.test\nexample.test MX 30 mx3.example.test\n"
	 "mx1.example.test A 192.0.2.1\nmx2.example.test A 192.0.2.2\nmx3.example.test A 192.0.2.3",
	 "2001:db8::25", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 5, NULL,
	 NULL},

	/* none */
	{"§4.5", "no TXT record", "example.test A 192.0.2.1", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_NONE, "no SPF record", 0, 1, 1, NULL, "example.test"},
	{"§4.5", "TXT records, none SPF", "example.test TXT \"hello\"\nexample.test TXT \"v=spf10\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_NONE, "no SPF record", 0, 0, 1,
	 NULL, NULL},
	{"§4.3", "sender domain NXDOMAIN", "", "203.0.113.5", "h.test", "user@nowhere.test", MFROM,
	 SPF_NONE, "no SPF record", 0, 1, 1, NULL, "nowhere.test"},
	{"§4.3", "empty label in sender domain", "", "203.0.113.5", "h.test", "user@bad..test", MFROM,
	 SPF_NONE, "malformed", 0, 0, 0, NULL, NO_DOMAIN},
	{"§4.3", "label over 63 characters", "", "203.0.113.5", "h.test",
	 "user@a123456789012345678901234567890123456789012345678901234567890123.test", MFROM,
	 SPF_NONE, "malformed", 0, 0, 0, NULL, NO_DOMAIN},
	{"§4.3", "single-label sender domain", "localhost TXT \"v=spf1 -all\"", "203.0.113.5", "h.test",
	 "user@localhost", MFROM, SPF_NONE, "malformed", 0, 0, 0, NULL, NO_DOMAIN},
	{"§4.3", "sender with empty domain", "", "203.0.113.5", "h.test", "user@", MFROM,
	 SPF_NONE, "malformed", 0, 0, 0, NULL, NO_DOMAIN},

	/* permerror */
	{"§4.6", "unknown mechanism", "example.test TXT \"v=spf1 foo:bar -all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "nknown mechanism", 0, 0, 1, NULL,
	 NULL},
	{"§4.6", "bad ip4 literal", "example.test TXT \"v=spf1 ip4:203.0.113.256 -all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, NULL, 0, 0, 1, NULL, NULL},
	{"§4.5", "two SPF records",
	 "example.test TXT \"v=spf1 -all\"\nexample.test TXT \"v=spf1 +all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, "multiple SPF records", 0, 0, 1, NULL, NULL},
	{"§4.6.4", "eleven DNS terms",
	 "example.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test a:t6.test "
	 "a:t7.test a:t8.test a:t9.test a:t10.test a:t11.test -all\"\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "too many DNS lookups", 10, 0, 11, NULL, NULL},
	{"§4.6.4", "eleven DNS terms, the last one last (libspf2 misses it)",
	 "example.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test a:t6.test "
	 "a:t7.test a:t8.test a:t9.test a:t10.test a:t11.test\"\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "too many DNS lookups", 10, 0, 11, NULL, NULL},
	{"§4.6.4", "twelve DNS terms across includes (libspf2 counts per record)",
	 "example.test TXT \"v=spf1 include:i5.test include:i6.test -all\"\n"
	 "i5.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test ?all\"\n"
	 "i6.test TXT \"v=spf1 a:t6.test a:t7.test a:t8.test a:t9.test a:t10.test ?all\"\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "too many DNS lookups", 10, 0, 11, NULL, NULL},
	{"§4.6.4", "three void lookups",
	 "example.test TXT \"v=spf1 a:nx1.test a:nx2.test a:nx3.test a:t1.test -all\"\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "too many void lookups", 3, 3, 4, NULL, NULL},
	{"§4.6.4", "void lookups are NODATA too",
	 "example.test TXT \"v=spf1 a:d1.test a:d2.test mx:d3.test -all\"\n"
	 "d1.test TXT \"x\"\nd2.test TXT \"x\"\nd3.test TXT \"x\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "too many void lookups", 3, 3, 4, NULL, NULL},
	{"§4.6.4", "mx with eleven MX hosts",
	 "example.test TXT \"v=spf1 mx -all\"\nexample.test MX 1 t1.test\nexample.test MX 2 t2.test\n"
	 "example.test MX 3 t3.test\nexample.test MX 4 t4.test\nexample.test MX 5 t5.test\n"
	 "example.test MX 6 t6.test\nexample.test MX 7 t7.test\nexample.test MX 8 t8.test\n"
	 "example.test MX 9 t9.test\nexample.test MX 10 t10.test\nexample.test MX 11 "
	 "t11.test\n" TERM_HOSTS,
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR,
	 "more than 10 MX records", 1, 0, 2, NULL, NULL},
	{"§4.6.4", "mx with eleven MX records, a match among the first ten",
	 "example.test TXT \"v=spf1 mx -all\"\nexample.test MX 1 t1.test\nexample.test MX 2 t2.test\n"
	 "example.test MX 3 t3.test\nexample.test MX 4 t4.test\nexample.test MX 5 t5.test\n"
	 "example.test MX 6 t6.test\nexample.test MX 7 t7.test\nexample.test MX 8 t8.test\n"
	 "example.test MX 9 t9.test\nexample.test MX 10 t10.test\nexample.test MX 11 "
	 "t11.test\n" TERM_HOSTS,
	 "192.0.2.1", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "more than 10 MX records",
	 1, 0, 2, NULL, NULL},
	{"§5.2", "include of a domain without a record",
	 "example.test TXT \"v=spf1 include:nx.test -all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, NULL, 1, 1, 2, NULL, NULL},

	/* temperror */
	{"§4.4", "SERVFAIL on the record", "example.test SERVFAIL", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_TEMPERROR, "DNS error: SERVFAIL", 0, 0, 1, NULL, NULL},
	{"§4.4", "timeout on the record", "example.test TIMEOUT", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_TEMPERROR, "DNS timeout", 0, 0, 1, NULL, NULL},
	{"§5", "timeout on an a: lookup",
	 "example.test TXT \"v=spf1 a:slow.test -all\"\nslow.test TIMEOUT", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_TEMPERROR, "DNS timeout", 1, 0, 2, NULL, NULL},
	{"§5.2", "SERVFAIL on an include",
	 "example.test TXT \"v=spf1 include:broken.test -all\"\nbroken.test SERVFAIL", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_TEMPERROR, "DNS error", 1, 0, 2, NULL, NULL},
	{"§5.4", "SERVFAIL on an MX host",
	 "example.test TXT \"v=spf1 mx -all\"\nexample.test MX 10 mx.example.test\n"
	 "mx.example.test SERVFAIL",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_TEMPERROR, "DNS error", 1, 0,
	 3, NULL, NULL},

	/* §5.5: "If a DNS error occurs while doing the PTR RR lookup, then
	 * this mechanism fails to match"; likewise a name whose address
	 * lookup fails is not validated. */
	{"§5.5", "ptr: PTR SERVFAIL is no match, the next term decides",
	 "example.test TXT \"v=spf1 ptr ip4:203.0.113.5 -all\"\n5.113.0.203.in-addr.arpa SERVFAIL",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§5.5", "ptr: PTR SERVFAIL, then -all",
	 "example.test TXT \"v=spf1 ptr -all\"\n5.113.0.203.in-addr.arpa SERVFAIL", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 2, NULL, NULL},
	{"§5.5", "ptr: PTR timeout is no match",
	 "example.test TXT \"v=spf1 -ptr ~all\"\n5.113.0.203.in-addr.arpa TIMEOUT", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_SOFTFAIL, NULL, 1, 0, 2, NULL, NULL},
	{"§5.5", "ptr: one name's A lookup SERVFAIL, the next name validates",
	 "example.test TXT \"v=spf1 ptr -all\"\n5.113.0.203.in-addr.arpa PTR bad.example.test\n"
	 "5.113.0.203.in-addr.arpa PTR mail.example.test\nbad.example.test SERVFAIL\n"
	 "mail.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 4, NULL, NULL},
	{"§5.5", "ptr: the only name's A lookup SERVFAIL: not validated",
	 "example.test TXT \"v=spf1 ptr -all\"\n5.113.0.203.in-addr.arpa PTR bad.example.test\n"
	 "bad.example.test SERVFAIL",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 3, NULL, NULL},
	{"§5.5", "ptr: AAAA lookup timeout, not validated",
	 "example.test TXT \"v=spf1 ptr ~all\"\n"
	 "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.example.test\n"
	 "v6.example.test TIMEOUT",
	 "2001:db8::25", "h.test", "user@example.test", MFROM, SPF_SOFTFAIL, NULL, 1, 0, 3, NULL,
	 NULL},
	{"§7.3", "p macro: PTR SERVFAIL expands to unknown",
	 "example.test TXT \"v=spf1 exists:%{p}.ok.test -all\"\n5.113.0.203.in-addr.arpa SERVFAIL\n"
	 "unknown.ok.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, ANY, 0, ANY, NULL,
	 NULL},
	{"§7.3", "p macro beside literal text over 255 characters (libspf2 refuses it)",
	 "example.test TXT \"v=spf1 exists:%{p}." LONG_LABELS ".ok.test -all\"\n"
	 "5.113.0.203.in-addr.arpa PTR mx.example.test\nmx.example.test A 203.0.113.5\n"
	 "abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."
	 "abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."
	 "abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."
	 "abcdefghi.ok.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, ANY, 0, ANY, NULL,
	 NULL},
	{"§5.4", "mx: an MX host's SERVFAIL stays a temperror",
	 "example.test TXT \"v=spf1 mx ptr -all\"\nexample.test MX 10 mx.example.test\n"
	 "mx.example.test SERVFAIL\n5.113.0.203.in-addr.arpa PTR mx.example.test",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_TEMPERROR, "DNS error", 1, 0,
	 3, NULL, NULL},

	/* IPv6 and mapped clients */
	{"§5.6", "ip6 matches", "example.test TXT \"v=spf1 ip6:2001:db8::/32 -all\"", "2001:db8::25",
	 "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL, NULL},
	{"§5.3", "a finds the AAAA",
	 "example.test TXT \"v=spf1 a -all\"\nexample.test A 203.0.113.5\n"
	 "example.test AAAA 2001:db8::25",
	 "2001:db8::25", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§5.6", "IPv6 client misses ip4", "example.test TXT \"v=spf1 ip4:203.0.113.0/24 -all\"",
	 "2001:db8::25", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5", "IPv4-mapped client is IPv4", "example.test TXT \"v=spf1 ip4:203.0.113.0/24 -all\"",
	 "::ffff:203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1,
	 NULL, NULL},

	/* identities */
	{"§2.4", "null sender checks postmaster@HELO",
	 "mail.helo.test TXT \"v=spf1 exists:%{l}.%{d}.x.test -all\"\n"
	 "postmaster.mail.helo.test.x.test A 127.0.0.2",
	 "203.0.113.5", "mail.helo.test", "", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 "mail.helo.test"},
	{"§2.4", "NULL sender is the null sender", "mail.helo.test TXT \"v=spf1 ip4:203.0.113.5 -all\"",
	 "203.0.113.5", "mail.helo.test", NULL, MFROM, SPF_PASS, NULL, 0, 0, 1, NULL,
	 "mail.helo.test"},
	{"§2.4", "null sender, HELO an IP literal", "", "203.0.113.5", "[203.0.113.5]", "", MFROM,
	 SPF_NONE, "HELO is not a domain name", 0, 0, 0, NULL, NO_DOMAIN},
	{"§4.3", "no local-part means postmaster",
	 "example.test TXT \"v=spf1 exists:%{l}.x.test -all\"\npostmaster.x.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§2.3", "HELO scope checks the HELO name",
	 "mail.helo.test TXT \"v=spf1 ip4:203.0.113.5 -all\"\nexample.test TXT \"v=spf1 -all\"",
	 "203.0.113.5", "mail.helo.test.", "user@example.test", HELO, SPF_PASS, NULL, 0, 0, 1,
	 NULL, "mail.helo.test"},
	{"§2.3", "HELO an IP literal", "", "203.0.113.5", "[203.0.113.5]", "user@example.test", HELO,
	 SPF_NONE, "HELO is not a domain name", 0, 0, 0, NULL, NO_DOMAIN},
	{"§2.3", "HELO a bare IPv4 address", "", "203.0.113.5", "203.0.113.5", "user@example.test",
	 HELO, SPF_NONE, "HELO is not a domain name", 0, 0, 0, NULL, NO_DOMAIN},
	{"§2.3", "HELO without a dot", "localhost TXT \"v=spf1 +all\"", "203.0.113.5", "localhost",
	 "user@example.test", HELO, SPF_NONE, "HELO is not a domain name", 0, 0, 0, NULL,
	 NO_DOMAIN},
	{"§2.3", "HELO empty", "", "203.0.113.5", "", "user@example.test", HELO, SPF_NONE,
	 "HELO is not a domain name", 0, 0, 0, NULL, NO_DOMAIN},
	{"§2.3", "HELO missing", "", "203.0.113.5", NULL, "user@example.test", HELO, SPF_NONE,
	 "HELO is not a domain name", 0, 0, 0, NULL, NO_DOMAIN},
	/* Syntax: the whole record is checked before libspf2 sees it (§4.6) */
	{"§4.6", "error after a matching term", "example.test TXT \"v=spf1 ip4:203.0.113.5 -all moo\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "unknown mechanism", 0,
	 0, 1, NULL, NULL},
	{"§7.1", "a: with a bare top label", "example.test TXT \"v=spf1 a:museum +all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "top-level label", 0, 0,
	 1, NULL, NULL},
	{"§5.3", "a: with an empty domain-spec", "example.test TXT \"v=spf1 a: +all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "empty domain-spec", 0, 0, 1, NULL,
	 NULL},
	{"§5.7", "exists: with a prefix length", "example.test TXT \"v=spf1 exists:x/24 +all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "top-level label", 0, 0,
	 1, NULL, NULL},
	{"§7.1", "a: with a port", "example.test TXT \"v=spf1 a:example.test:8080 +all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5.6", "prefix length with a leading zero",
	 "example.test TXT \"v=spf1 ip4:203.0.113.5/032 -all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, "prefix length", 0, 0, 1, NULL, NULL},
	{"§5.6", "ip4 address with a port", "example.test TXT \"v=spf1 ip4:203.0.113.5:8080\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "IPv4 address", 0, 0, 1,
	 NULL, NULL},
	{"§5.1", "all with an argument", "example.test TXT \"v=spf1 -all:foobar\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "no argument", 0, 0, 1, NULL, NULL},
	{"§3.1", "a NUL cuts nothing short", "example.test TXT \"v=spf1 +all\\000 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "0x00", 0, 0, 1, NULL,
	 NULL},
	{"§3.1", "a NUL in a non-SPF TXT is none of our business",
	 "example.test TXT \"v=spf1 ip4:203.0.113.5 -all\"\nexample.test TXT \"x\\000y\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL, NULL},
	{"§3.1", "non-ASCII byte", "example.test TXT \"v=spf1 \\128a:example.test -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "0x80", 0, 0, 1, NULL,
	 NULL},
	{"§4.6.1", "a control character is no separator",
	 "example.test TXT \"v=spf1 ip4:203.0.113.5\\013-all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, "0x0d", 0, 0, 1, NULL, NULL},
	{"§7.1", "bad macro", "example.test TXT \"v=spf1 -exists:%(ir).sbl.test ?all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "not a macro", 0, 0, 1, NULL, NULL},
	{"§7.2", "c, r, t only in explanations",
	 "example.test TXT \"v=spf1 -exists:%{t}.%{r}.%{c}.x.test ?all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, "only in explanations", 0, 0, 1, NULL, NULL},
	{"§5.2", "include of a record with a syntax error",
	 "example.test TXT \"v=spf1 include:bad.test -all\"\nbad.test TXT \"v=spf1 a:museum\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, NULL, 1, 0, 2, NULL,
	 NULL},

	/* Modifiers (§6) */
	{"§6", "modifier names with '.', '-', '_'",
	 "example.test TXT \"v=spf1 moo.cow-far_out=man:dog/cat ip4:203.0.113.5 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL, NULL},
	{"§6", "unknown modifier default= changes nothing", "example.test TXT \"v=spf1 default=-\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_NEUTRAL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§6", "exp= twice", "example.test TXT \"v=spf1 exp=a.test -all exp=b.test\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "twice", 0, 0, 1, NULL, NULL},
	{"§6", "redirect= twice",
	 "example.test TXT \"v=spf1 redirect=r.test redirect=r.test\"\nr.test TXT \"v=spf1 +all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "twice", 0, 0, 1, NULL,
	 NULL},
	{"§6.2", "empty exp=", "example.test TXT \"v=spf1 exp= -all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PERMERROR, "empty domain-spec", 0, 0, 1, NULL, NULL},
	{"§6.1", "empty redirect=", "example.test TXT \"v=spf1 ?all redirect=\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PERMERROR, "empty domain-spec", 0, 0, 1, NULL,
	 NULL},
	{"§6.1", "redirect= after the mechanisms (libspf2 runs it first)",
	 "example.test TXT \"v=spf1 redirect=r.test ip4:203.0.113.5\"\nr.test TXT \"v=spf1 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL, NULL},
	{"§6.1", "redirect= when nothing matched",
	 "example.test TXT \"v=spf1 redirect=r.test ip4:198.51.100.1\"\nr.test TXT \"v=spf1 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 2, NULL, NULL},
	{"§6.1", "redirect= beside all is ignored",
	 "example.test TXT \"v=spf1 redirect=r.test ~all\"\nr.test TXT \"v=spf1 +all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_SOFTFAIL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§6.1", "redirect= to a domain without a record", "example.test TXT \"v=spf1 redirect=nx.test\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, NULL, 1, 1, 2, NULL,
	 NULL},
	{"§6.1", "redirect= changes the current domain",
	 "example.test TXT \"v=spf1 redirect=r.test\"\nexample.test A 198.51.100.1\n"
	 "r.test TXT \"v=spf1 a -all\"\nr.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 2, 0, 3, NULL, NULL},
	{"§6.2", "redirect= drops the first record's exp=",
	 "example.test TXT \"v=spf1 exp=why1.test redirect=r.test\"\nr.test TXT \"v=spf1 -all\"\n"
	 "why1.test TXT \"No-see-um\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, ANY, NULL, NULL},
	{"§6.2", "redirect= target's exp= is used",
	 "example.test TXT \"v=spf1 exp=why1.test redirect=r.test\"\n"
	 "r.test TXT \"v=spf1 -all exp=why2.test\"\nwhy1.test TXT \"No-see-um\"\n"
	 "why2.test TXT \"See me.\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, ANY, "See me.",
	 NULL},
	{"§6.2", "an include's exp= is not used",
	 "example.test TXT \"v=spf1 include:i.test -all exp=why1.test\"\n"
	 "i.test TXT \"v=spf1 -all exp=why2.test\"\nwhy1.test TXT \"Correct!\"\n"
	 "why2.test TXT \"Wrong\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, ANY, "Correct!",
	 NULL},

	/* Prefix lengths (§5.3-§5.6) */
	{"§5.6", "ip4 /0 matches any IPv4", "example.test TXT \"v=spf1 ip4:192.0.2.1/0 -all\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL, NULL},
	{"§5.6", "ip6 /0 matches any IPv6", "example.test TXT \"v=spf1 ip6:2001:db8::1/0 -all\"",
	 "2001:db8:ffff::1", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5", "ip6 /0 does not match an IPv4 client", "example.test TXT \"v=spf1 ip6:::1.1.1.1/0\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_NEUTRAL, NULL, 0, 0, 1, NULL,
	 NULL},
	{"§5.3", "a/0 matches if there is any A",
	 "example.test TXT \"v=spf1 a:any.test/0 -all\"\nany.test A 198.51.100.7", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§5.3", "a/0 does not match without an A",
	 "example.test TXT \"v=spf1 a:any.test/0 -all\"\nany.test AAAA 2001:db8::7", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 1, 2, NULL, NULL},
	{"§5.3", "a/0 of the current domain",
	 "example.test TXT \"v=spf1 a/0 -all\"\nexample.test A 198.51.100.7", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§5.3", "a//0 matches any AAAA for an IPv6 client",
	 "example.test TXT \"v=spf1 a//0 -all\"\nexample.test AAAA 2001:db8::7", "2001:db8:ffff::1",
	 "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§5.3", "a//0 is not for an IPv4 client",
	 "example.test TXT \"v=spf1 a//0 -all\"\nexample.test A 198.51.100.7", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 2, NULL, NULL},
	{"§5.4", "mx/0 matches if an MX host has an A",
	 "example.test TXT \"v=spf1 mx/0 -all\"\nexample.test MX 10 h.mx.test\n"
	 "h.mx.test A 198.51.100.8",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 3, NULL, NULL},
	{"§5.4", "mx//0 matches if an MX host has an AAAA",
	 "example.test TXT \"v=spf1 mx//0 -all\"\nexample.test MX 10 h.mx.test\n"
	 "h.mx.test AAAA 2001:db8::8",
	 "2001:db8:ffff::1", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 3, NULL,
	 NULL},
	{"§5.4", "mx/0 with no addresses does not match",
	 "example.test TXT \"v=spf1 mx/0 -all\"\nexample.test MX 10 h.mx.test\n"
	 "h.mx.test TXT \"x\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 1, 0, 3, NULL, NULL},

	/* IPv4-mapped clients are IPv4 (§5) */
	{"§5", "mapped client: ip4 fails before ip6 matches",
	 "example.test TXT \"v=spf1 -ip4:203.0.113.5 ip6:::FFFF:203.0.113.5\"", "::ffff:203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, 1, NULL, NULL},
	{"§5", "mapped client: a looks up A",
	 "example.test TXT \"v=spf1 a -all\"\nexample.test A 203.0.113.5", "::ffff:203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},

	/* Limits (§4.6.4) */
	{"§4.6.4", "include loop", "example.test TXT \"v=spf1 include:l1.test\"\n"
	 "l1.test TXT \"v=spf1 include:l2.test\"\nl2.test TXT \"v=spf1 include:l1.test\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PERMERROR, "too many DNS lookups",
	 10, 0, 11, NULL, NULL},
	{"§4.6.4", "eleven PTR names: the eleventh is ignored",
	 "example.test TXT \"v=spf1 ptr\"\n" PTR_NAMES "example.test A 203.0.113.5", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_NEUTRAL, NULL, 1, 0, 12, NULL, NULL},
	{"§4.6.4", "eleven PTR names: one of the first ten validates",
	 "example.test TXT \"v=spf1 ptr:n3.test -all\"\n" PTR_NAMES "n3.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 5, NULL, NULL},
	{"§5.4", "null MX: no address lookup",
	 "mail.test TXT \"v=spf1 mx\"\nmail.test MX 0 .\nmail.test A 203.0.113.5", "203.0.113.5",
	 "mail.test", "", MFROM, SPF_NEUTRAL, NULL, 1, 0, 2, NULL, NULL},
	{"§4.6.4", "exp= lookups are not void lookups",
	 "example.test TXT \"v=spf1 a:nx1.test a:nx2.test exp=nx3.test -all\"", "203.0.113.5",
	 "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 2, 2, ANY, NULL, NULL},

	/* Names (§4.3, §7.3) */
	{"§7.3", "a label over 63 octets is no such name",
	 "example.test TXT \"v=spf1 a:%{l}.example.test -all\"", "203.0.113.5", "h.test",
	 "a123456789012345678901234567890123456789012345678901234567890123@example.test", MFROM,
	 SPF_FAIL, NULL, 1, 1, 1, NULL, NULL},
	{"§7.1", "an empty label is no such name",
	 "example.test TXT \"v=spf1 a:mail.example...test -all\"", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_FAIL, NULL, 1, 1, 1, NULL, NULL},
	{"§7.1", "':' and '/' in a domain-spec",
	 "example.test TXT \"v=spf1 a:foo:bar/baz.example.test -all\"\n"
	 "foo:bar/baz.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§7.1", "trailing dots are ignored",
	 "example.test TXT \"v=spf1 include:o.test. -all\"\no.test TXT \"v=spf1 ip4:203.0.113.5\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§7.3", "a name over 253 characters is cut from the left",
	 "somewhat.long.exp.example.test TXT \"v=spf1 -all "
	 "exp=foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.test\"\n" LONG_EXP_NAME
	 " TXT \"Congratulations!  That was tricky.\"",
	 "203.0.113.5", "h.test", "user@somewhat.long.exp.example.test", MFROM, SPF_FAIL, NULL, 0, 0,
	 ANY, "Congratulations!  That was tricky.", NULL},
	{"§7.3", "',' delimiter (libspf2 rejects it)",
	 "example.test TXT \"v=spf1 exists:%{l1r,}.ok.test -all\"\nfirst.ok.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "first,second@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL,
	 NULL},
	{"§7.3", "upper-case macro: RFC 3986 escaping",
	 "example.test TXT \"v=spf1 exists:%{L}.ok.test -all\"\no%27k%21.ok.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "o'k!@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2, NULL, NULL},
	{"§7.3", "%{l2r-}", "example.test TXT \"v=spf1 exists:%{i}.%{l2r-}.user.%{d2}\"\n"
	 "203.0.113.5.gladstone.philip.user.example.test A 127.0.0.2",
	 "203.0.113.5", "h.test", "philip-gladstone-test@example.test", MFROM, SPF_PASS, NULL, 1, 0, 2,
	 NULL, NULL},
	{"§4.3", "domain literal sender", "", "203.0.113.5", "h.test", "foo@[203.0.113.5]", MFROM,
	 SPF_NONE, "malformed", 0, 0, 0, NULL, NO_DOMAIN},

	/* Explanations (§6.2, §7) */
	{"§7.3", "explanation: upper-case macro escaped",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\n"
	 "why.test TXT \"http://why.test/why.html?l=%{L}\"",
	 "203.0.113.5", "h.test", "~jack&jill=up-a_b3.c@example.test", MFROM, SPF_FAIL, NULL, 0, 0,
	 ANY, "http://why.test/why.html?l=~jack%26jill%3Dup-a_b3.c", NULL},
	{"§7.3", "explanation: c, v and IPv6 i",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\n"
	 "why.test TXT \"%{c} is queried as %{ir}.%{v}.arpa\"",
	 "2001:db8::cb01", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY,
	 "2001:db8::cb01 is queried as "
	 "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	 NULL},
	{"§7.3", "explanation: validated p",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"connect from %{p}\"\n"
	 "5.113.0.203.in-addr.arpa PTR mx.example.test\nmx.example.test A 203.0.113.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY,
	 "connect from mx.example.test", NULL},
	{"§7.3", "explanation: p not validated",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"connect from %{p}\"\n"
	 "5.113.0.203.in-addr.arpa PTR mx.example.test\nmx.example.test A 198.51.100.5",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY,
	 "connect from unknown", NULL},
	{"§4.3", "explanation: no local-part is postmaster",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"%{l}\"", "203.0.113.5",
	 "h.test", "@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY, "postmaster", NULL},
	{"§6.2", "explanation with a syntax error is dropped",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"The %{x}-files.\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY, NULL, NULL},
	{"§6.2", "explanation: two TXT records, none",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"one\"\nwhy.test TXT \"two\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY, NULL, NULL},
	{"§6.2", "explanation: DNS error, none, still fail",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TIMEOUT", "203.0.113.5", "h.test",
	 "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY, NULL, NULL},
	{"§6.2", "explanation: non-ASCII, none",
	 "example.test TXT \"v=spf1 -all exp=why.test\"\nwhy.test TXT \"\\239\\187\\191Explanation\"",
	 "203.0.113.5", "h.test", "user@example.test", MFROM, SPF_FAIL, NULL, 0, 0, ANY, NULL, NULL},
};

static void run_case(struct dns *dns, const struct spf_case *c)
{
	struct spf_params p = {
	    .helo = c->helo,
	    .sender = c->sender,
	    .scope = c->scope,
	    .deadline_ms = 5000,
	    .lookup_timeout_ms = 2000,
	};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;

	if (addr_parse(c->client, &p.client) != 0) {
		CHECK(0, "%s %s: client %s parses", c->rfc, c->what, c->client);
		return;
	}
	fake_dns_reset();
	fake_dns_load(c->zone);
	spf_evaluate(dns, &p, a, &out);

	if (!CHECK(out.result == c->want, "%s %s: %s", c->rfc, c->what, spf_result_name(c->want)))
		printf("#   got %s (%s)\n", spf_result_name(out.result),
		       out.reason ? out.reason : "");
	if (c->reason != NULL && !CHECK(out.reason != NULL && strstr(out.reason, c->reason) != NULL,
					"%s %s: reason has \"%s\"", c->rfc, c->what, c->reason))
		printf("#   got reason: %s\n", out.reason ? out.reason : "(null)");
	if (c->terms != ANY && !CHECK(out.dns_queries == (unsigned)c->terms, "%s %s: %d DNS terms",
				      c->rfc, c->what, c->terms))
		printf("#   got %u\n", out.dns_queries);
	if (c->voids != ANY && !CHECK(out.void_lookups == (unsigned)c->voids,
				      "%s %s: %d void lookups", c->rfc, c->what, c->voids))
		printf("#   got %u\n", out.void_lookups);
	if (c->queries != ANY && !CHECK(fake_dns_queries() == (unsigned)c->queries,
					"%s %s: %d queries asked", c->rfc, c->what, c->queries))
		printf("#   got %u\n", fake_dns_queries());
	if (c->want == SPF_FAIL)
		CHECK_STR(out.explanation, c->explanation, "%s %s: explanation", c->rfc, c->what);
	if (c->domain != NULL)
		CHECK_STR(out.domain, c->domain[0] ? c->domain : NULL, "%s %s: domain", c->rfc,
			  c->what);
	CHECK(out.scope == c->scope, "%s %s: scope kept", c->rfc, c->what);
	arena_free(&a);
}

/* Every check has ended, abandoned ones too (their workers free them), or
 * 10 s went by: a loaded machine may take long. */
static void wait_answered(const char *what)
{
	for (int i = 0; i < 1000 && !spf_pool_quiet(); i++)
		usleep(10 * 1000);
	CHECK(spf_pool_quiet(), "%s: every check ended within 10 s", what);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* RFC 7208 §4.6.4: the whole evaluation has a deadline; a slow server
 * cannot hold it longer. */
static void test_deadline(struct dns *dns)
{
	struct spf_params p = {.helo = "h.test",
			       .sender = "user@example.test",
			       .deadline_ms = 300,
			       .lookup_timeout_ms = 250};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	struct timespec t0;
	long ms;

	addr_parse("203.0.113.5", &p.client);
	fake_dns_reset();
	fake_dns_load("example.test TXT \"v=spf1 a:s1.test a:s2.test a:s3.test -all\"\n"
		      "s1.test DELAY 200\ns1.test A 192.0.2.1\n"
		      "s2.test DELAY 5000\ns2.test A 192.0.2.2\ns3.test A 203.0.113.5\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	spf_evaluate(dns, &p, a, &out);
	ms = elapsed_ms(&t0);
	CHECK(out.result == SPF_TEMPERROR, "§4.6.4 deadline: temperror (got %s)",
	      spf_result_name(out.result));
	CHECK_STR(out.reason, "DNS timeout", "§4.6.4 deadline: reason");
	/* s2 alone would hold it 5 s: well under that is "at the deadline",
	 * whatever the machine's load adds. */
	CHECK(ms >= 250 && ms < 4000, "§4.6.4 deadline: ended at the deadline (%ld ms)", ms);
	CHECK(fake_dns_queries() == 3, "§4.6.4 deadline: s3 never asked (%u queries)",
	      fake_dns_queries());
	arena_free(&a);
}

/* §5.5 makes a ptr's DNS errors no match, but the evaluation's deadline
 * passing during them is still a temperror (§4.6.4), never a result the
 * rest of the record would give. */
static void test_ptr_deadline(struct dns *dns)
{
	static const char *const zones[] = {
	    "5.113.0.203.in-addr.arpa DELAY 5000\n5.113.0.203.in-addr.arpa PTR mail.example.test\n",
	    "5.113.0.203.in-addr.arpa PTR mail.example.test\nmail.example.test DELAY 5000\n"
	    "mail.example.test A 203.0.113.5\n",
	};
	static const char *const what[] = {"the PTR lookup", "a name's A lookup"};
	struct spf_params p = {.helo = "h.test", .sender = "user@example.test", .deadline_ms = 300};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	char zone[512];

	addr_parse("203.0.113.5", &p.client);
	for (int i = 0; i < 2; i++) {
		for (unsigned lookup_timeout = 0; lookup_timeout <= 1000; lookup_timeout += 1000) {
			p.lookup_timeout_ms = lookup_timeout;
			snprintf(zone, sizeof(zone),
				 "example.test TXT \"v=spf1 ptr ip4:203.0.113.5 -all\"\n%s",
				 zones[i]);
			fake_dns_reset();
			fake_dns_load(zone);
			spf_evaluate(dns, &p, a, &out);
			CHECK(out.result == SPF_TEMPERROR && out.reason &&
				  strcmp(out.reason, "DNS timeout") == 0,
			      "§4.6.4 the deadline passes during %s (lookup timeout %u): temperror "
			      "(got %s, %s)",
			      what[i], lookup_timeout, spf_result_name(out.result),
			      out.reason ? out.reason : "");
		}
	}
	arena_free(&a);
}

/* spf_start() overlaps; spf_finish() copies into the caller's arena. */
static void test_thread(struct dns *dns)
{
	char helo[] = "mail.helo.test", sender[] = "user@example.test";
	struct spf_params p = {.helo = helo, .sender = sender, .deadline_ms = 5000};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	struct spf_check *c;
	struct timespec t0;

	addr_parse("2001:db8::25", &p.client);
	fake_dns_reset();
	fake_dns_load("example.test TXT \"v=spf1 a -all\"\nexample.test DELAY 1000\n"
		      "example.test AAAA 2001:db8::25\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = spf_start(dns, &p);
	CHECK(elapsed_ms(&t0) < 500, "spf_start returns before the lookups end");
	/* The check holds its own copies of the caller's strings. */
	memset(sender, 'x', sizeof(sender) - 1);
	memset(helo, 'x', sizeof(helo) - 1);
	spf_finish(&c, a, &out);
	CHECK(c == NULL, "spf_finish clears the pointer");
	CHECK(out.result == SPF_PASS, "threaded check passes (got %s)",
	      spf_result_name(out.result));
	CHECK_STR(out.domain, "example.test", "threaded check: domain");
	CHECK(out.reason != NULL && strstr(out.reason, "2001:db8::25") != NULL,
	      "threaded check: reason names the client");
	CHECK(out.dns_queries == 1, "threaded check: 1 DNS term");

	/* Nine includes deep: libspf2 recurses once per include, on the
	 * check's small stack. */
	fake_dns_reset();
	fake_dns_load("example.test TXT \"v=spf1 include:i1.test -all\"\n"
		      "i1.test TXT \"v=spf1 include:i2.test -all\"\n"
		      "i2.test TXT \"v=spf1 include:i3.test -all\"\n"
		      "i3.test TXT \"v=spf1 include:i4.test -all\"\n"
		      "i4.test TXT \"v=spf1 include:i5.test -all\"\n"
		      "i5.test TXT \"v=spf1 include:i6.test -all\"\n"
		      "i6.test TXT \"v=spf1 include:i7.test -all\"\n"
		      "i7.test TXT \"v=spf1 include:i8.test -all\"\n"
		      "i8.test TXT \"v=spf1 include:i9.test -all exp=why.test\"\n"
		      "why.test TXT \"not %{i} at %{d}\"\n"
		      "i9.test TXT \"v=spf1 ip6:2001:db8::/32 -all\"\n");
	strcpy(sender, "user@example.test");
	c = spf_start(dns, &p);
	spf_finish(&c, a, &out);
	CHECK(out.result == SPF_PASS && out.dns_queries == 9,
	      "§5.2 nine includes deep in a thread: pass, 9 terms (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	fake_dns_reset();
	/* One lookup of 2 s: a cancel that waited for the check would take it. */
	fake_dns_load("example.test TXT \"v=spf1 -all\"\nexample.test DELAY 2000\n");
	c = spf_start(dns, &p);
	for (int i = 0; i < 1000 && fake_dns_queries() == 0; i++)
		usleep(1000); /* until a worker runs it */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	spf_cancel(&c);
	CHECK(elapsed_ms(&t0) < 1000, "spf_cancel does not wait for a running check (%ld ms)",
	      elapsed_ms(&t0));
	CHECK(c == NULL, "spf_cancel clears the pointer");
	spf_cancel(&c);
	CHECK(1, "spf_cancel accepts NULL");
	wait_answered("abandoned check"); /* it ends (its worker frees it) before the zone goes */
	arena_free(&a);
}

/* Many checks at once share the worker pool and still overlap. */
static void test_pool(struct dns *dns)
{
	enum { N = 40 };
	struct spf_params p = {.helo = "mail.helo.test", .sender = "user@example.test",
			       .deadline_ms = 5000};
	struct spf_check *c[N];
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	struct timespec t0;
	int passed = 0;
	long ms;

	addr_parse("2001:db8::25", &p.client);
	fake_dns_reset();
	fake_dns_load("example.test TXT \"v=spf1 a -all\"\nexample.test DELAY 30\n"
		      "example.test AAAA 2001:db8::25\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++)
		c[i] = spf_start(dns, &p);
	for (int i = 0; i < N; i++) {
		spf_finish(&c[i], a, &out);
		passed += out.result == SPF_PASS;
	}
	ms = elapsed_ms(&t0);
	CHECK(passed == N, "%d checks started at once: all pass (%d)", N, passed);
	/* One after another they take N * 2 * 30 ms; half that is overlap
	 * even with the machine busy. */
	CHECK(ms < N * 30, "they overlap: %ld ms for %d checks of two 30 ms lookups", ms, N);
	/* a queued check can be cancelled before any worker takes it */
	for (int i = 0; i < N; i++)
		c[i] = spf_start(dns, &p);
	for (int i = N - 1; i >= 0; i--)
		spf_cancel(&c[i]);
	CHECK(c[0] == NULL && c[N - 1] == NULL, "cancelling queued and running checks");
	wait_answered("cancelled pool checks");
	arena_free(&a);
}

/* A record past any DNS answer's sensible size is not parsed. */
static void test_long_record(struct dns *dns)
{
	struct spf_params p = {.helo = "h.test", .sender = "user@example.test"};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	char zone[8192] = "example.test TXT \"v=spf1";

	while (strlen(zone) < 4200)
		strcat(zone, " ip4:198.51.100.1");
	strcat(zone, " -all\"");
	addr_parse("203.0.113.5", &p.client);
	fake_dns_reset();
	fake_dns_load(zone);
	spf_evaluate(dns, &p, a, &out);
	CHECK(out.result == SPF_PERMERROR && out.reason && strstr(out.reason, "too long"),
	      "record over 4096 characters: permerror (got %s, %s)", spf_result_name(out.result),
	      out.reason ? out.reason : "");
	arena_free(&a);
}

/* Evaluate one zone for user@example.test from client; the outcome's
 * strings are in a. */
static void eval_zone(struct dns *dns, const char *zone, const char *client, struct arena *a,
		      struct spf_outcome *out)
{
	struct spf_params p = {.helo = "h.test",
			       .sender = "user@example.test",
			       .deadline_ms = 5000,
			       .lookup_timeout_ms = 2000};

	addr_parse(client, &p.client);
	fake_dns_reset();
	fake_dns_load(zone);
	spf_evaluate(dns, &p, a, out);
}

/* Append n short ip4 terms 1.1.x.y (or ip6 1::x) to s; the term at
 * index match (from 0; none if negative) is for the client instead, with
 * its qualifier. */
static void add_ip_terms(char *s, size_t size, int v6, int n, int match, const char *qualifier,
			 const char *client)
{
	size_t len = strlen(s);

	for (int i = 0; i < n && len < size; i++) {
		if (i == match)
			len += (size_t)snprintf(s + len, size - len, " %s%s:%s", qualifier,
						v6 ? "ip6" : "ip4", client);
		else if (v6)
			len += (size_t)snprintf(s + len, size - len, " ip6:1::%x", i);
		else
			len += (size_t)snprintf(s + len, size - len, " ip4:1.1.%d.%d", i / 100,
						i % 100);
	}
}

/* RFC 7208 sets no limit on the number of terms; libspf2 1.2.10 counts
 * mechanisms in an unsigned char.  Columns: what, v6, terms, index of the
 * client's term (-1: none), its qualifier, what follows, the result. */
static const struct {
	const char *what;
	int v6, n, match;
	const char *qualifier, *tail;
	enum spf_result want;
} many_cases[] = {
    {"300 ip4, the 280th matches", 0, 300, 279, "", " -all", SPF_PASS},
    {"300 ip4, the 280th is -ip4", 0, 300, 279, "-", " ?all", SPF_FAIL},
    {"300 ip4, the 256th matches", 0, 300, 255, "~", " -all", SPF_SOFTFAIL},
    {"300 ip4, none matches, ~all", 0, 300, -1, "", " ~all", SPF_SOFTFAIL},
    {"300 ip4, none matches, -all", 0, 300, -1, "", " -all", SPF_FAIL},
    {"300 ip4, none matches, no all", 0, 300, -1, "", "", SPF_NEUTRAL},
    {"300 ip4, the last matches, no all", 0, 300, 299, "", "", SPF_PASS},
    {"300 ip6, the 280th matches", 1, 300, 279, "", " -all", SPF_PASS},
    {"300 ip6, the 280th is -ip6", 1, 300, 279, "-", " +all", SPF_FAIL},
    {"300 ip6, none matches, ?all", 1, 300, -1, "", " ?all", SPF_NEUTRAL},
};

static void test_many_terms(struct dns *dns)
{
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	char zone[16384];

	for (size_t i = 0; i < sizeof(many_cases) / sizeof(many_cases[0]); i++) {
		const char *client = many_cases[i].v6 ? "2001:db8::25" : "203.0.113.5";

		strcpy(zone, "example.test TXT \"v=spf1");
		add_ip_terms(zone, sizeof(zone), many_cases[i].v6, many_cases[i].n,
			     many_cases[i].match, many_cases[i].qualifier, client);
		strcat(zone, many_cases[i].tail);
		strcat(zone, "\"");
		eval_zone(dns, zone, client, a, &out);
		if (!CHECK(out.result == many_cases[i].want, "§4.6.2 %s: %s", many_cases[i].what,
			   spf_result_name(many_cases[i].want)))
			printf("#   got %s (%s)\n", spf_result_name(out.result),
			       out.reason ? out.reason : "");
	}
	arena_free(&a);
}

/* Long runs of ip4 terms between DNS terms. */
static void test_many_terms_mixed(struct dns *dns)
{
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	char zone[32768];

	/* 100 ip4, a:, 100 ip4, include: (no match), mx, 100 ip4 the 80th matching */
	strcpy(zone, "example.test TXT \"v=spf1");
	add_ip_terms(zone, sizeof(zone), 0, 100, -1, "", NULL);
	strcat(zone, " a:t1.test");
	add_ip_terms(zone, sizeof(zone), 0, 100, -1, "", NULL);
	strcat(zone, " include:inc.test mx:t2.test");
	add_ip_terms(zone, sizeof(zone), 0, 100, 79, "", "203.0.113.5");
	strcat(zone, " -all\"\ninc.test TXT \"v=spf1 ip4:192.0.2.99 -all\"\n"
		     "t2.test MX 10 t3.test\n" TERM_HOSTS);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_PASS && out.dns_queries == 3,
	      "§4.6.2 ip4 runs around a, include, mx: pass after 3 DNS terms (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	/* the same, the client's term before the a: -- no DNS term asked */
	strcpy(zone, "example.test TXT \"v=spf1");
	add_ip_terms(zone, sizeof(zone), 0, 200, 190, "-", "203.0.113.0/24");
	strcat(zone, " a:t1.test");
	add_ip_terms(zone, sizeof(zone), 0, 80, 50, "+", "203.0.113.5");
	strcat(zone, " +all\"\n" TERM_HOSTS);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_FAIL && out.dns_queries == 0,
	      "§4.6.2 the first matching term wins, before a DNS term (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	/* the a: term matches between two long runs */
	strcpy(zone, "example.test TXT \"v=spf1");
	add_ip_terms(zone, sizeof(zone), 0, 200, -1, "", NULL);
	strcat(zone, " ~a:t5.test");
	add_ip_terms(zone, sizeof(zone), 0, 80, 50, "+", "203.0.113.5");
	strcat(zone, " -all\"\n" TERM_HOSTS "t5.test A 203.0.113.5\n");
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_SOFTFAIL && out.dns_queries == 1,
	      "§4.6.2 a DNS term after 200 ip4 terms is evaluated (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	arena_free(&a);
}

/* Long runs of ip4 terms in includes and redirects, and beside the limits. */
static void test_many_terms_nested(struct dns *dns)
{
	struct arena *a = arena_new(1024);
	struct spf_outcome out;
	char zone[32768], inc[8192];

	/* the match is in an included record of 300 terms */
	strcpy(inc, "inc.test TXT \"v=spf1");
	add_ip_terms(inc, sizeof(inc), 0, 300, 279, "", "203.0.113.5");
	strcat(inc, " -all\"\n");
	snprintf(zone, sizeof(zone),
		 "example.test TXT \"v=spf1 a:t1.test include:inc.test -all\"\n%s%s", inc,
		 TERM_HOSTS);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_PASS && out.dns_queries == 2,
	      "§5.2 an include of 300 ip4 terms, the 280th matching: pass (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	/* and through a redirect= */
	strcpy(inc, "inc.test TXT \"v=spf1");
	add_ip_terms(inc, sizeof(inc), 0, 300, 279, "-", "203.0.113.5");
	strcat(inc, " ?all\"\n");
	snprintf(zone, sizeof(zone),
		 "example.test TXT \"v=spf1 ip4:192.0.2.1 redirect=inc.test\"\n%s", inc);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_FAIL,
	      "§6.1 a redirect= to 300 ip4 terms, the 280th -ip4: fail (got %s)",
	      spf_result_name(out.result));

	/* all in the middle ends the evaluation (§5.1) */
	strcpy(zone, "example.test TXT \"v=spf1");
	add_ip_terms(zone, sizeof(zone), 0, 200, -1, "", NULL);
	strcat(zone, " -all");
	add_ip_terms(zone, sizeof(zone), 0, 100, 79, "", "203.0.113.5");
	strcat(zone, " redirect=inc.test\"\ninc.test TXT \"v=spf1 +all\"\n");
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_FAIL && out.dns_queries == 0,
	      "§5.1 -all after 200 ip4 terms ends it, redirect= ignored (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	/* ten DNS terms, then a long run: the run is still reached */
	strcpy(zone, "example.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test "
		     "a:t6.test a:t7.test a:t8.test a:t9.test a:t10.test");
	add_ip_terms(zone, sizeof(zone), 0, 280, 270, "", "203.0.113.5");
	strcat(zone, " -all\"\n" TERM_HOSTS);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_PASS && out.dns_queries == 10,
	      "§4.6.4 ten DNS terms then 280 ip4 terms: pass (got %s, %u)",
	      spf_result_name(out.result), out.dns_queries);

	/* eleven DNS terms, then a long run: the eleventh is a permerror */
	strcpy(zone, "example.test TXT \"v=spf1 a:t1.test a:t2.test a:t3.test a:t4.test a:t5.test "
		     "a:t6.test a:t7.test a:t8.test a:t9.test a:t10.test a:t11.test");
	add_ip_terms(zone, sizeof(zone), 0, 280, 270, "", "203.0.113.5");
	strcat(zone, " a:t1.test a:t2.test -all\"\n" TERM_HOSTS);
	eval_zone(dns, zone, "203.0.113.5", a, &out);
	CHECK(out.result == SPF_PERMERROR && out.reason && strstr(out.reason, "too many DNS"),
	      "§4.6.4 eleven DNS terms then 280 ip4 terms: permerror (got %s, %s)",
	      spf_result_name(out.result), out.reason ? out.reason : "");
	arena_free(&a);
}

/* A record of exactly SPF_RECORD_MAX_LEN characters of ip4 terms, the
 * client's last: the longest record accepted gets its result. */
static void test_max_record(struct dns *dns)
{
	static const char *const tails[] = {" ip4:203.0.113.5 -all", " -ip4:203.0.113.5 +all"};
	static const enum spf_result want[] = {SPF_PASS, SPF_FAIL};
	struct arena *a = arena_new(1024);
	struct spf_outcome out;

	for (size_t t = 0; t < 2; t++) {
		char record[4097] = "v=spf1", zone[4200];
		size_t len;
		int i = 0;

		/* " ip4:10.0.x.y" terms while a tail still fits, then spaces
		 * (1*SP between terms, §12) to reach exactly 4096 */
		for (; strlen(record) + 14 + strlen(tails[t]) <= 4096; i++)
			snprintf(record + strlen(record), sizeof(record) - strlen(record),
				 " ip4:10.0.%d.%d", i / 250, i % 250 + 1);
		while (strlen(record) + strlen(tails[t]) < 4096)
			strcat(record, " ");
		strcat(record, tails[t]);
		len = strlen(record);
		snprintf(zone, sizeof(zone), "example.test TXT \"%s\"", record);
		eval_zone(dns, zone, "203.0.113.5", a, &out);
		CHECK(len == SPF_RECORD_MAX_LEN && out.result == want[t],
		      "§4.6.2 a %zu-byte record of %d ip4 terms, then%s: %s (got %s, %s)", len, i,
		      tails[t], spf_result_name(want[t]), spf_result_name(out.result),
		      out.reason ? out.reason : "");
	}
	arena_free(&a);
}

static void test_names(void)
{
	static const char *const want[] = {
	    [SPF_NONE] = "none",		  [SPF_NEUTRAL] = "neutral",
	    [SPF_PASS] = "pass",		  [SPF_FAIL] = "fail",
	    [SPF_SOFTFAIL] = "softfail",	  [SPF_TEMPERROR] = "temperror",
	    [SPF_PERMERROR] = "permerror",
	};

	for (int r = SPF_NONE; r <= SPF_PERMERROR; r++)
		CHECK_STR(spf_result_name((enum spf_result)r), want[r], "RFC 8601 §2.7.2 name %d",
			  r);
	CHECK_STR(spf_scope_name(SPF_SCOPE_MFROM), "mfrom", "scope name mfrom");
	CHECK_STR(spf_scope_name(SPF_SCOPE_HELO), "helo", "scope name helo");
}

int main(void)
{
	struct dns *dns;
	char *error = NULL;

	spf_init();
	dns = dns_new(NULL, &error);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(dns, &cases[i]);
	test_deadline(dns);
	test_ptr_deadline(dns);
	test_long_record(dns);
	test_many_terms(dns);
	test_many_terms_mixed(dns);
	test_many_terms_nested(dns);
	test_max_record(dns);
	test_thread(dns);
	test_pool(dns);
	test_names();
	fake_dns_reset();
	dns_free(&dns);
	return check_done();
}

/*
 * dmarc_test - dmarc.c against RFC 9989, one table row per case, over the
 * fake resolver (tests/fake_dns.c).  Four tables: record parsing (§4.7,
 * §4.8, §4.10.1), libopendmarc 1.4.2's parser where it departs from them
 * (the evidence for parsing here), discovery by the tree walk (§4.10) and
 * evaluation (§4.4, §4.10.1, §5.3).  Each row names the section it checks.
 * Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "check.h"
#include "dmarc.h"
#include "dns.h"
#include "fake_dns.h"

#define ANY (-2) /* a field the row does not check */

#define UNSET DMARC_POLICY_UNSET
#define NONE  DMARC_POLICY_NONE
#define QUAR  DMARC_POLICY_QUARANTINE
#define REJ   DMARC_POLICY_REJECT

/* ---- parsing ---- */

struct parse_case {
	const char *rfc, *what, *text;
	size_t len; /* 0: strlen(text) */
	int is_record;
	enum dmarc_policy p, sp, np;
	int adkim_strict, aspf_strict, testing, psd;
	int invalid; /* the record cannot be applied */
};

#define NOT_RECORD(rfc, what, text)                                                                \
	{                                                                                          \
		rfc, what, text, 0, 0, UNSET, UNSET, UNSET, 0, 0, 0, 0, 0                          \
	}

static const struct parse_case parse_cases[] = {
    {"§4.7", "minimal record", "v=DMARC1; p=reject", 0, 1, REJ, UNSET, UNSET, 0, 0, 0, -1, 0},
    {"§4.7", "every tag we act on",
     "v=DMARC1;p=quarantine;sp=none;np=reject;adkim=s;aspf=s;t=y;psd=n", 0, 1, QUAR, NONE, REJ, 1,
     1, 1, 0, 0},
    {"§4.8", "spaces around = and ;", "v = DMARC1 ; p = reject ;", 0, 1, REJ, UNSET, UNSET, 0, 0, 0,
     -1, 0},
    {"§4.8", "psd=u is the default", "v=DMARC1; psd=u; p=none", 0, 1, NONE, UNSET, UNSET, 0, 0, 0,
     -1, 0},
    NOT_RECORD("§4.7 v", "v=dmarc1: the value is case-sensitive", "v=dmarc1; p=reject"),
    NOT_RECORD("§4.7 v", "v not first", "p=reject; v=DMARC1"),
    NOT_RECORD("§4.7 v", "v=DMARC2", "v=DMARC2; p=reject"),
    NOT_RECORD("§4.7 v", "v=DMARC1x", "v=DMARC1x; p=reject"),
    NOT_RECORD("§4.7 v", "leading space before v", " v=DMARC1; p=reject"),
    NOT_RECORD("§4.7 v", "SPF record", "v=spf1 -all"),
    {"§4.10.1", "no p, no rua: cannot be applied", "v=DMARC1", 0, 1, UNSET, UNSET, UNSET, 0, 0, 0,
     -1, 1},
    {"§4.10.1", "no p, valid rua: p=none", "v=DMARC1; rua=mailto:d@example.test", 0, 1, NONE, UNSET,
     UNSET, 0, 0, 0, -1, 0},
    {"§4.10.1", "bad p, valid rua: p=none", "v=DMARC1; p=bogus; rua=mailto:d@example.test", 0, 1,
     NONE, UNSET, UNSET, 0, 0, 0, -1, 0},
    {"§4.10.1", "bad p, no rua", "v=DMARC1; p=bogus", 0, 1, UNSET, UNSET, UNSET, 0, 0, 0, -1, 1},
    {"§4.10.1", "bad sp, no rua", "v=DMARC1; p=reject; sp=bogus", 0, 1, UNSET, UNSET, UNSET, 0, 0,
     0, -1, 1},
    {"§4.10.1", "bad np, valid rua: acts as p=none only",
     "v=DMARC1; p=reject; np=bogus; rua=mailto:x@y.test", 0, 1, NONE, UNSET, UNSET, 0, 0, 0, -1, 0},
    {"§4.10.1", "bad p, rua not a URI", "v=DMARC1; p=bogus; rua=notauri", 0, 1, UNSET, UNSET, UNSET,
     0, 0, 0, -1, 1},
    {"§4.8", "rua with an obsolete !size is valid", "v=DMARC1; p=bogus; rua=mailto:a@x.test!10m", 0,
     1, NONE, UNSET, UNSET, 0, 0, 0, -1, 0},
    {"§4.8", "bad adkim/aspf/t/psd fall back to defaults",
     "v=DMARC1; p=reject; adkim=x; aspf=q; t=maybe; psd=x", 0, 1, REJ, UNSET, UNSET, 0, 0, 0, -1,
     0},
    {"§4.7, §9.3", "pct, rf, ri, fo and unknown tags ignored",
     "v=DMARC1; p=reject; pct=0; rf=afrf; ri=abc; fo=9; foo=bar; 9x=1", 0, 1, REJ, UNSET, UNSET, 0,
     0, 0, -1, 0},
    {"§4.8 (RFC 5234 §2.3)", "p=REJECT: ABNF strings are case-insensitive", "v=DMARC1; p=REJECT", 0,
     1, REJ, UNSET, UNSET, 0, 0, 0, -1, 0},
    {"§4.8", "p=r is not a dmarc-request", "v=DMARC1; p=r", 0, 1, UNSET, UNSET, UNSET, 0, 0, 0, -1,
     1},
    {"§4.8", "a repeated tag: the first counts", "v=DMARC1; p=none; p=reject", 0, 1, NONE, UNSET,
     UNSET, 0, 0, 0, -1, 0},
    {"§4.8", "a NUL in p= is a syntax error", "v=DMARC1; p=reject\0", 19, 1, UNSET, UNSET, UNSET, 0,
     0, 0, -1, 1},
    {"§4.8", "text after a NUL is parsed, not cut", "v=DMARC1; p=none\0; p=reject", 28, 1, UNSET,
     UNSET, UNSET, 0, 0, 0, -1, 1},
};

/* ---- long records ---- */

/* A record of about `size` bytes: p=reject, then a rua= list of `nuris`
 * URIs, then an unknown tag filled up to the size (§4.7: ignored). */
static char *long_record(size_t size, unsigned nuris, size_t *len_r)
{
	char *t = malloc(size + 1);
	size_t n;

	if (t == NULL)
		abort();
	n = (size_t)snprintf(t, size + 1, "v=DMARC1; p=reject; rua=");
	for (unsigned i = 0; i < nuris && n + 64 < size; i++)
		n += (size_t)snprintf(t + n, size + 1 - n, "%smailto:dmarc-%u@reports.example.test",
				      i > 0 ? "," : "", i);
	n += (size_t)snprintf(t + n, size + 1 - n, "; filler=");
	while (n < size)
		t[n++] = 'a' + (char)(n % 26);
	t[n] = '\0';
	*len_r = n;
	return t;
}

/* As a zone line: 255-byte character-strings, as a DNS server serves a
 * TXT record longer than one string (RFC 1035 §3.3.14). */
static char *long_zone_line(const char *name, const char *text, size_t len)
{
	size_t size = strlen(name) + len + 3 * (len / 255 + 1) + 16, n;
	char *z = malloc(size);

	if (z == NULL)
		abort();
	n = (size_t)snprintf(z, size, "%s TXT", name);
	for (size_t i = 0; i < len; i += 255) {
		size_t k = len - i < 255 ? len - i : 255;

		n += (size_t)snprintf(z + n, size - n, " \"%.*s\"", (int)k, text + i);
	}
	snprintf(z + n, size - n, "\n");
	return z;
}

/* Does rua hold only whole URIs of the published list, in order? */
static int rua_whole_prefix(const char *rua, const char *text)
{
	const char *pub = strstr(text, "rua=") + 4;
	size_t n = strlen(rua);

	return n > 0 && strncmp(pub, rua, n) == 0 && (pub[n] == ',' || pub[n] == ';');
}

/* §4.7/§4.8: any tag may be long and unknown tags are ignored; DNS lets a
 * TXT record reach ~64 KB.  Such a record must keep its p=reject (a 4096
 * byte cap made it a permerror: a spoof of the domain was accepted). */
static void test_parse_long(struct arena *a)
{
	static const struct {
		size_t size;
		unsigned nuris;
	} sizes[] = {{5000, 40}, {60000, 1000}};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len;
		char *big = long_record(sizes[i].size, sizes[i].nuris, &len);
		struct dmarc_record r;
		int rc;

		memset(&r, 0, sizeof(r));
		rc = dmarc_record_parse(big, len, a, &r);
		CHECK(rc == 0 && r.invalid == NULL && r.p == REJ && r.raw != NULL &&
			  strlen(r.raw) == len,
		      "parse: a %zu-byte record applies, p=reject (%s)", len,
		      r.invalid ? r.invalid : "-");
		/* The rua= list is bounded where it is kept: whole URIs only
		 * (a cut URI would send reports to a wrong address). */
		CHECK(r.rua != NULL && strlen(r.rua) <= DMARC_RUA_LEN_MAX &&
			  rua_whole_prefix(r.rua, big) && strchr(r.rua, ',') != NULL,
		      "parse: the rua= list of a %zu-byte record keeps its first whole URIs "
		      "(%zu bytes)",
		      len, r.rua ? strlen(r.rua) : 0);
		free(big);
	}
}

static void test_parse(struct arena *a)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct dmarc_record r;
		size_t len = c->len != 0 ? c->len : strlen(c->text);
		int rc;

		memset(&r, 0, sizeof(r));
		rc = dmarc_record_parse(c->text, len, a, &r);
		if (!c->is_record) {
			CHECK(rc == -1, "parse %s: %s: not a DMARC record", c->rfc, c->what);
			continue;
		}
		CHECK(rc == 0 && r.p == c->p && r.sp == c->sp && r.np == c->np &&
			  r.adkim_strict == c->adkim_strict && r.aspf_strict == c->aspf_strict &&
			  r.testing == c->testing && r.psd == c->psd &&
			  (r.invalid != NULL) == c->invalid,
		      "parse %s: %s (p=%s sp=%s np=%s invalid=%s)", c->rfc, c->what,
		      dmarc_policy_name(r.p), dmarc_policy_name(r.sp), dmarc_policy_name(r.np),
		      r.invalid ? r.invalid : "-");
	}

	test_parse_long(a);
}

/* ---- libopendmarc 1.4.2 against the same text (why we parse here) ---- */

/* libopendmarc's <opendmarc/dmarc.h> defines DMARC_POLICY_NONE and more as
 * macros, clashing with our enum: it is called from its own file. */
int opendmarc_probe_init(void);
int opendmarc_probe_store(const char *record);
const char *opendmarc_probe_status(int status);
void opendmarc_probe_shutdown(void);

/* Status codes of opendmarc_policy_store_dmarc() (opendmarc/dmarc.h). */
enum { LIB_OKAY = 0, LIB_BAD_VALUE = 4, LIB_NO_REQUIRED_P = 5 };

struct lib_case {
	const char *rfc, *what, *text;
	int lib_status; /* what opendmarc_policy_store_dmarc() returns */
	int we_accept;	/* our parser: a record that applies */
};

static const struct lib_case lib_cases[] = {
    {"§4.8", "one bad historic tag loses the whole record", "v=DMARC1; p=reject; ri=abc",
     LIB_BAD_VALUE, 1},
    {"§4.8", "one bad adkim loses the whole record", "v=DMARC1; p=reject; adkim=x", LIB_BAD_VALUE,
     1},
    {"§4.10.1", "no p with a valid rua is refused", "v=DMARC1; rua=mailto:d@example.test",
     LIB_NO_REQUIRED_P, 1},
    {"§4.7 v", "v=dmarc1 (lower case) is taken", "v=dmarc1; p=reject", LIB_OKAY, 0},
    {"§4.7 v", "v not first is taken", "p=reject; v=DMARC1", LIB_OKAY, 0},
};

static void test_libopendmarc(struct arena *a)
{
	if (!CHECK(opendmarc_probe_init() == 0, "libopendmarc: library init"))
		return;
	for (size_t i = 0; i < sizeof(lib_cases) / sizeof(lib_cases[0]); i++) {
		const struct lib_case *c = &lib_cases[i];
		int st = opendmarc_probe_store(c->text);
		struct dmarc_record r;
		int ours;

		memset(&r, 0, sizeof(r));
		ours =
		    dmarc_record_parse(c->text, strlen(c->text), a, &r) == 0 && r.invalid == NULL;
		CHECK(st == c->lib_status && ours == c->we_accept,
		      "libopendmarc 1.4.2 departs from %s: %s (\"%s\": lib %d %s, ours %s)", c->rfc,
		      c->what, c->text, st, opendmarc_probe_status(st),
		      ours ? "applies" : "not applied");
	}
	opendmarc_probe_shutdown();
}

/* ---- discovery ---- */

struct discover_case {
	const char *rfc, *what, *zone, *domain;
	int orgdomain_only; /* dmarc_orgdomain_start() instead */
	enum dmarc_result error;
	int found;
	const char *record_domain; /* NULL: none */
	const char *org_domain;	   /* NULL: none (unknown) */
	enum dmarc_policy p;	   /* ANY: not checked */
	int domain_exists;	   /* ANY: not checked */
	int queries;		   /* tree-walk queries */
	int started;		   /* queries started before finish waits */
	const char *why;	   /* substring of why, or NULL */
};

#define EX_A	 "example.test A 192.0.2.1\n"
#define MAIL_A	 "mail.example.test A 192.0.2.2\n"
#define DEEP	 "a.b.c.d.e.f.g.h.i.j.mail.example.test"
#define BANK_PSD "_dmarc.bank.test TXT \"v=DMARC1; p=reject; psd=y\"\n"

static const struct discover_case discover_cases[] = {
    {"§4.10.1", "record at the Author Domain",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n" EX_A, "example.test", 0, DMARC_NONE, 1,
     "example.test", "example.test", REJ, 1, 2, 3, NULL},
    {"§4.10.1", "no record at the Author Domain: the Organizational Domain's",
     "_dmarc.example.test TXT \"v=DMARC1; p=quarantine; sp=reject\"\n" MAIL_A, "mail.example.test",
     0, DMARC_NONE, 1, "example.test", "example.test", QUAR, 1, 3, 4, NULL},
    {"§4.10.2 rule 3, B.4.1", "the record with the fewest labels is the org domain",
     "_dmarc.mail.example.test TXT \"v=DMARC1; p=none\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n",
     "a.mail.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, ANY, 4, 5, NULL},
    {"§4.10.1, §4.10.2", "Author Domain record applies; org domain still the shortest",
     "_dmarc.mail.example.test TXT \"v=DMARC1; p=none\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n" MAIL_A,
     "mail.example.test", 0, DMARC_NONE, 1, "mail.example.test", "example.test", NONE, 1, 3, 4,
     NULL},
    {"§4.10 step 6, §4.10.2 rule 1", "psd=n stops the walk and is the org domain",
     "_dmarc.mail.example.test TXT \"v=DMARC1; p=none; psd=n\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n",
     "a.mail.example.test", 0, DMARC_NONE, 1, "mail.example.test", "mail.example.test", NONE, ANY,
     4, 5, NULL},
    {"§4.10.2 rule 2, B.4.3", "psd=y: Author Domain with a record is the org domain",
     BANK_PSD "_dmarc.giant.bank.test TXT \"v=DMARC1; p=none\"\n", "giant.bank.test", 0, DMARC_NONE,
     1, "giant.bank.test", "giant.bank.test", NONE, ANY, 3, 4, NULL},
    {"§4.10.2 rule 2, B.4.3", "psd=y: a subdomain takes the org domain's record",
     BANK_PSD "_dmarc.giant.bank.test TXT \"v=DMARC1; p=quarantine\"\n", "mail.giant.bank.test", 0,
     DMARC_NONE, 1, "giant.bank.test", "giant.bank.test", QUAR, ANY, 4, 5, NULL},
    {"§4.10.1, B.4.3", "psd=y: org domain without a record: the PSD's record",
     BANK_PSD "mail.mega.bank.test A 192.0.2.3\n", "mail.mega.bank.test", 0, DMARC_NONE, 1,
     "bank.test", "mega.bank.test", REJ, 1, 4, 5, NULL},
    {"§4.10 step 6", "psd=y stops the walk: a record above it is not used",
     BANK_PSD "_dmarc.test TXT \"v=DMARC1; p=none\"\n", "x.mega.bank.test", 0, DMARC_NONE, 1,
     "bank.test", "mega.bank.test", REJ, ANY, 4, 5, NULL},
    {"§4.10.2 rule 2", "psd=y at the start is not rule 2: the domain is its own org domain",
     BANK_PSD, "bank.test", 0, DMARC_NONE, 1, "bank.test", "bank.test", REJ, ANY, 2, 3, NULL},
    {"§4.10 step 4", "13 labels: 8 queries, the 7-label name is queried",
     "_dmarc.g.h.i.j.mail.example.test TXT \"v=DMARC1; p=quarantine; psd=n\"\n", DEEP, 0,
     DMARC_NONE, 1, "g.h.i.j.mail.example.test", "g.h.i.j.mail.example.test", QUAR, ANY, 8, 9,
     NULL},
    {"§4.10 step 4, §5.1.8", "13 labels: records at skipped names are never seen",
     "_dmarc.b.c.d.e.f.g.h.i.j.mail.example.test TXT \"v=DMARC1; p=reject\"\n"
     "_dmarc.f.g.h.i.j.mail.example.test TXT \"v=DMARC1; p=reject\"\n",
     DEEP, 0, DMARC_NONE, 0, NULL, DEEP, ANY, ANY, 8, 9, NULL},
    {"§4.10 step 4, B.4.2", "13 labels: the org domain's record applies",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n", DEEP, 0, DMARC_NONE, 1, "example.test",
     "example.test", REJ, ANY, 8, 9, NULL},
    {"§4.10 step 4", "8 labels: 8 queries", "", "a.b.c.d.e.f.example.test", 0, DMARC_NONE, 0, NULL,
     "a.b.c.d.e.f.example.test", ANY, 0, 8, 9, NULL},
    {"§4.10 step 4", "9 labels: 8 queries", "", "z.a.b.c.d.e.f.example.test", 0, DMARC_NONE, 0,
     NULL, "z.a.b.c.d.e.f.example.test", ANY, 0, 8, 9, NULL},
    {"§4.10", "1 label: 1 query", "", "test", 0, DMARC_NONE, 0, NULL, "test", ANY, ANY, 1, 2, NULL},
    {"§4.10.1, §4.10.2", "no record anywhere: none; org domain is the domain itself", EX_A,
     "example.test", 0, DMARC_NONE, 0, NULL, "example.test", ANY, 1, 2, 3, NULL},
    {"§4.10 step 2", "several v=DMARC1 records at a name are all discarded",
     "_dmarc.mail.example.test TXT \"v=DMARC1; p=none\"\n"
     "_dmarc.mail.example.test TXT \"v=DMARC1; p=reject\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=quarantine\"\n",
     "mail.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", QUAR, ANY, 3, 4,
     "several DMARC records at _dmarc.mail.example.test"},
    {"§4.10 step 2", "several v=DMARC1 records and nothing else: no record",
     "_dmarc.example.test TXT \"v=DMARC1; p=none\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n",
     "example.test", 0, DMARC_NONE, 0, NULL, "example.test", ANY, ANY, 2, 3, "several"},
    {"§4.10 step 2", "records not starting with v=DMARC1 are ignored",
     "_dmarc.example.test TXT \"v=spf1 -all\"\n"
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n"
     "_dmarc.example.test TXT \"hello\"\n",
     "example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, ANY, 2, 3, NULL},
    {"§4.5", "character-strings are joined",
     "_dmarc.example.test TXT \"v=DMARC1; \" \"p=reject\"\n", "example.test", 0, DMARC_NONE, 1,
     "example.test", "example.test", REJ, ANY, 2, 3, NULL},
    {"§4.10.1", "invalid record (bad p, no rua) that applies: permerror",
     "_dmarc.example.test TXT \"v=DMARC1; p=bogus\"\n", "example.test", 0, DMARC_PERMERROR, 1,
     "example.test", "example.test", ANY, ANY, 2, 3, "invalid p="},
    {"§4.10.1", "invalid p with a valid rua: p=none",
     "_dmarc.example.test TXT \"v=DMARC1; p=bogus; rua=mailto:r@example.test\"\n", "example.test",
     0, DMARC_NONE, 1, "example.test", "example.test", NONE, ANY, 2, 3, NULL},
    {"§5.3.6", "SERVFAIL at the Author Domain: temperror",
     "_dmarc.example.test SERVFAIL\n_dmarc.test TXT \"v=DMARC1; p=none\"\n", "example.test", 0,
     DMARC_TEMPERROR, 0, NULL, NULL, ANY, ANY, 2, 3, "_dmarc.example.test"},
    {"§5.3.6", "TIMEOUT above an Author Domain without a record: temperror",
     "_dmarc.example.test TIMEOUT\n", "mail.example.test", 0, DMARC_TEMPERROR, 0, NULL, NULL, ANY,
     ANY, 3, 4, "timeout"},
    {"§4.10.1, §5.3.6", "SERVFAIL above an Author Domain record: policy known, org unknown",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n_dmarc.test SERVFAIL\n", "example.test", 0,
     DMARC_NONE, 1, "example.test", NULL, REJ, ANY, 2, 3, "_dmarc.test"},
    {"§4.10 step 6", "SERVFAIL past a psd=n stop does not matter",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; psd=n\"\n_dmarc.test SERVFAIL\n",
     "mail.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, ANY, 3, 4, NULL},
    {"§3.2.13", "NXDOMAIN Author Domain does not exist",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; np=quarantine\"\n", "ghost.example.test", 0,
     DMARC_NONE, 1, "example.test", "example.test", REJ, 0, 3, 4, NULL},
    {"§3.2.13, A.4", "NODATA Author Domain exists",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\nmail.example.test MX 10 mx.example.test\n",
     "mail.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, 1, 3, 4, NULL},
    {"§3.2.13", "existence query fails: unknown",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\nghost.example.test SERVFAIL\n",
     "ghost.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, -1, 3, 4, NULL},
    {"§3.2.13 (RFC 8020)", "existence query fails, but _dmarc.<domain> exists",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\nghost.example.test SERVFAIL\n"
     "_dmarc.ghost.example.test TXT \"not dmarc\"\n",
     "ghost.example.test", 0, DMARC_NONE, 1, "example.test", "example.test", REJ, 1, 3, 4, NULL},
    {"§4.10.2", "org-domain walk: no existence query",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n", "mail.example.test", 1, DMARC_NONE, 1,
     "example.test", "example.test", REJ, -1, 3, 3, NULL},
    {"§4.4 (RFC 4343)", "case and a trailing dot do not matter",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n", "Mail.EXAMPLE.test.", 0, DMARC_NONE, 1,
     "example.test", "example.test", REJ, ANY, 3, 4, NULL},
    {"§5.3.1", "an empty label: permerror, no query", "", "a..example.test", 0, DMARC_PERMERROR, 0,
     NULL, NULL, ANY, ANY, 0, 0, "empty label"},
    {"§5.3.1", "no domain: permerror, no query", "", "", 0, DMARC_PERMERROR, 0, NULL, NULL, ANY,
     ANY, 0, 0, "empty domain"},
};

static int str_eq_or_null(const char *got, const char *want)
{
	if (got == NULL || want == NULL)
		return got == want;
	return strcmp(got, want) == 0;
}

static void test_discover(struct dns *dns, struct arena *a)
{
	for (size_t i = 0; i < sizeof(discover_cases) / sizeof(discover_cases[0]); i++) {
		const struct discover_case *c = &discover_cases[i];
		struct dmarc_discovery *d;
		struct dmarc_record r;
		unsigned started;
		int ok;

		fake_dns_reset();
		fake_dns_load(c->zone);
		d = c->orgdomain_only ? dmarc_orgdomain_start(dns, c->domain, 1000)
				      : dmarc_discover_start(dns, c->domain, 1000);
		/* Every query is started before finish waits for any. */
		started = fake_dns_queries();
		dmarc_discover_finish(&d, a, &r);
		ok = d == NULL && r.error == c->error && r.found == c->found &&
		     str_eq_or_null(r.record_domain, c->record_domain) &&
		     str_eq_or_null(r.org_domain, c->org_domain) &&
		     (c->p == (enum dmarc_policy)ANY || r.p == c->p) &&
		     (c->domain_exists == ANY || r.domain_exists == c->domain_exists) &&
		     (int)r.queries == c->queries && r.queries <= 8 && (int)started == c->started &&
		     fake_dns_queries() == started &&
		     (c->why == NULL || (r.why != NULL && strstr(r.why, c->why) != NULL));
		CHECK(ok, "discover %s: %s", c->rfc, c->what);
		if (!ok)
			printf("#   %s: error=%s found=%d record=%s org=%s p=%s exists=%d "
			       "queries=%u started=%u why=%s\n",
			       c->domain, dmarc_result_name(r.error), r.found,
			       r.record_domain ? r.record_domain : "-",
			       r.org_domain ? r.org_domain : "-", dmarc_policy_name(r.p),
			       r.domain_exists, r.queries, started, r.why ? r.why : "-");
	}

	/* Abandoning a discovery (abort) frees it and its queries. */
	{
		struct dmarc_discovery *d;

		fake_dns_reset();
		d = dmarc_discover_start(dns, DEEP, 1000);
		dmarc_discover_cancel(&d);
		dmarc_discover_cancel(&d);
		CHECK(d == NULL,
		      "discover: free cancels and clears the pointer, twice is harmless");
	}
}

/* ---- evaluation ---- */

struct sig {
	enum dkim_result result;
	const char *d;
};

struct eval_case {
	const char *rfc, *what, *zone, *author;
	enum spf_result spf;	/* of the identity below */
	enum spf_scope scope;	/* MFROM, or HELO: must never count */
	const char *spf_domain; /* NULL: no SPF outcome at all */
	struct sig dkim[2];	/* d == NULL ends the list */
	enum dmarc_result want;
	enum dmarc_policy policy;
	int spf_aligned, dkim_aligned;
	const char *reason; /* substring, or NULL */
};

#define MFROM SPF_SCOPE_MFROM
#define HELO  SPF_SCOPE_HELO
#define NOSIG                                                                                      \
	{                                                                                          \
		{                                                                                  \
			0, NULL                                                                    \
		}                                                                                  \
	}
#define EXREJ "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n" EX_A

static const struct eval_case eval_cases[] = {
    {"§4.4, B.1.1", "SPF identical domain", EXREJ, "example.test", SPF_PASS, MFROM, "example.test",
     NOSIG, DMARC_PASS, REJ, 1, 0, "SPF aligned example.test (relaxed: identical)"},
    {"§4.4, B.1.1", "SPF relaxed", EXREJ, "example.test", SPF_PASS, MFROM, "mail.example.test",
     NOSIG, DMARC_PASS, REJ, 1, 0,
     "SPF aligned mail.example.test (relaxed: mail.example.test and example.test share "
     "example.test)"},
    {"§4.4, §4.7 aspf", "SPF strict: a subdomain does not align",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; aspf=s\"\n", "example.test", SPF_PASS, MFROM,
     "mail.example.test", NOSIG, DMARC_FAIL, REJ, 0, 0, "not aligned with example.test, strict"},
    {"§4.4, B.1.1 ex. 3", "SPF pass for an unrelated domain", EXREJ, "example.test", SPF_PASS,
     MFROM, "other.test", NOSIG, DMARC_FAIL, REJ, 0, 0,
     "no aligned identifier: SPF domain other.test (not aligned with example.test"},
    {"§4.4.1, §5.3.5",
     "SPF pass not aligned, DKIM aligned",
     EXREJ,
     "example.test",
     SPF_PASS,
     MFROM,
     "other.test",
     {{DKIM_PASS, "example.test"}},
     DMARC_PASS,
     REJ,
     0,
     1,
     "DKIM d=example.test aligned"},
    {"§4.4.1, B.4.1",
     "DKIM relaxed, signing domain with its own record",
     EXREJ "_dmarc.signing.example.test TXT \"v=DMARC1; p=none\"\n",
     "example.test",
     SPF_FAIL,
     MFROM,
     "example.test",
     {{DKIM_PASS, "signing.example.test"}},
     DMARC_PASS,
     REJ,
     0,
     1,
     "share example.test"},
    {"§4.7 adkim",
     "DKIM strict: a subdomain does not align",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; adkim=s\"\n",
     "example.test",
     SPF_NONE,
     MFROM,
     "example.test",
     {{DKIM_PASS, "signing.example.test"}},
     DMARC_FAIL,
     REJ,
     0,
     0,
     "strict"},
    {"§4.4.1, B.1.2",
     "DKIM fail never aligns",
     EXREJ,
     "example.test",
     SPF_NONE,
     MFROM,
     "example.test",
     {{DKIM_FAIL, "example.test"}},
     DMARC_FAIL,
     REJ,
     0,
     0,
     "DKIM d=example.test fail"},
    {"§4.4.1",
     "second signature aligns",
     EXREJ,
     "example.test",
     SPF_NONE,
     MFROM,
     "example.test",
     {{DKIM_PASS, "x.test"}, {DKIM_PASS, "example.test"}},
     DMARC_PASS,
     REJ,
     0,
     1,
     "DKIM d=x.test passed (not aligned"},
    {"§4.4.2, §3.2.4", "HELO identity never counts", EXREJ, "example.test", SPF_PASS, HELO,
     "example.test", NOSIG, DMARC_FAIL, REJ, 0, 0, "no SPF result for MAIL FROM"},
    {"§4.4.2", "SPF softfail for the aligned domain", EXREJ, "example.test", SPF_SOFTFAIL, MFROM,
     "example.test", NOSIG, DMARC_FAIL, REJ, 0, 0, "SPF softfail for example.test"},
    {"§3.2.4 (RFC 7208 §2.4)", "null sender: postmaster@HELO as given", EXREJ, "example.test",
     SPF_PASS, MFROM, "mail.example.test", NOSIG, DMARC_PASS, REJ, 1, 0, NULL},
    {"§4.4 (RFC 4343)", "alignment ignores case", EXREJ, "example.test", SPF_PASS, MFROM,
     "EXAMPLE.Test", NOSIG, DMARC_PASS, REJ, 1, 0, NULL},
    {"§4.10.2 rule 1", "relaxed: psd=n makes the subdomain its own org domain",
     EXREJ "_dmarc.mail.example.test TXT \"v=DMARC1; p=none; psd=n\"\n", "example.test", SPF_PASS,
     MFROM, "mail.example.test", NOSIG, DMARC_FAIL, REJ, 0, 0,
     "mail.example.test is under mail.example.test, example.test under example.test"},
    {"B.4.3",
     "PSD example: SPF aligned under giant.bank.test, DKIM not",
     BANK_PSD "_dmarc.giant.bank.test TXT \"v=DMARC1; p=reject\"\n",
     "giant.bank.test",
     SPF_PASS,
     MFROM,
     "mail.giant.bank.test",
     {{DKIM_PASS, "mail.mega.bank.test"}},
     DMARC_PASS,
     REJ,
     1,
     0,
     "mail.mega.bank.test is under mega.bank.test"},
    {"B.4.3",
     "PSD example without SPF: fail",
     BANK_PSD "_dmarc.giant.bank.test TXT \"v=DMARC1; p=reject\"\n",
     "giant.bank.test",
     SPF_FAIL,
     MFROM,
     "mail.giant.bank.test",
     {{DKIM_PASS, "mail.mega.bank.test"}},
     DMARC_FAIL,
     REJ,
     0,
     0,
     NULL},
    {"§4.10.1", "no record: none", EX_A, "example.test", SPF_PASS, MFROM, "example.test", NOSIG,
     DMARC_NONE, UNSET, 0, 0, "no DMARC record for example.test"},
    {"§4.10.1, §4.7 sp", "existing subdomain: sp",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"\n" MAIL_A,
     "mail.example.test", SPF_FAIL, MFROM, "mail.example.test", NOSIG, DMARC_FAIL, QUAR, 0, 0,
     "policy quarantine (sp= of example.test)"},
    {"§4.10.1, §4.7 sp", "subdomain without sp: p", EXREJ MAIL_A, "mail.example.test", SPF_FAIL,
     MFROM, "mail.example.test", NOSIG, DMARC_FAIL, REJ, 0, 0, "policy reject (p= of"},
    {"§4.10.1, §4.7 np", "non-existent subdomain: np",
     "_dmarc.example.test TXT \"v=DMARC1; p=none; sp=none; np=reject\"\n", "ghost.example.test",
     SPF_NONE, MFROM, NULL, NOSIG, DMARC_FAIL, REJ, 0, 0, "policy reject (np= of example.test)"},
    {"§4.7 np", "non-existent subdomain without np: sp",
     "_dmarc.example.test TXT \"v=DMARC1; p=none; sp=quarantine\"\n", "ghost.example.test",
     SPF_NONE, MFROM, NULL, NOSIG, DMARC_FAIL, QUAR, 0, 0, "(sp= of"},
    {"§4.7 np", "np does not apply to the record's own domain",
     "_dmarc.example.test TXT \"v=DMARC1; p=none; np=reject\"\n", "example.test", SPF_NONE, MFROM,
     NULL, NOSIG, DMARC_FAIL, NONE, 0, 0, NULL},
    {"§4.7 t", "t=y: reject becomes quarantine",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject; t=y\"\n", "example.test", SPF_FAIL, MFROM,
     "example.test", NOSIG, DMARC_FAIL, QUAR, 0, 0, "lowered from reject by t=y"},
    {"§4.7 t", "t=y: quarantine becomes none",
     "_dmarc.example.test TXT \"v=DMARC1; p=quarantine; t=y\"\n", "example.test", SPF_FAIL, MFROM,
     "example.test", NOSIG, DMARC_FAIL, NONE, 0, 0, NULL},
    {"§4.7 t", "t=y: none stays none", "_dmarc.example.test TXT \"v=DMARC1; p=none; t=y\"\n",
     "example.test", SPF_FAIL, MFROM, "example.test", NOSIG, DMARC_FAIL, NONE, 0, 0, NULL},
    {"§4.7 t", "t=y lowers np too",
     "_dmarc.example.test TXT \"v=DMARC1; p=none; np=reject; t=y\"\n", "ghost.example.test",
     SPF_NONE, MFROM, NULL, NOSIG, DMARC_FAIL, QUAR, 0, 0, NULL},
    {"§5.3.6", "policy discovery temperror", "_dmarc.example.test SERVFAIL\n", "example.test",
     SPF_PASS, MFROM, "example.test", NOSIG, DMARC_TEMPERROR, UNSET, 0, 0,
     "DNS temporary failure at _dmarc.example.test"},
    {"§4.10.1, §9.2", "invalid record: permerror", "_dmarc.example.test TXT \"v=DMARC1; p=x\"\n",
     "example.test", SPF_PASS, MFROM, "example.test", NOSIG, DMARC_PERMERROR, UNSET, 0, 0,
     "invalid p="},
    {"§5.3.6", "org domain unknown, relaxed needed: temperror",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n_dmarc.test SERVFAIL\n", "example.test",
     SPF_PASS, MFROM, "mail.example.test", NOSIG, DMARC_TEMPERROR, UNSET, 0, 0, "undecided"},
    {"§5.3.6", "org domain unknown, identical domain still passes",
     "_dmarc.example.test TXT \"v=DMARC1; p=reject\"\n_dmarc.test SERVFAIL\n", "example.test",
     SPF_PASS, MFROM, "example.test", NOSIG, DMARC_PASS, REJ, 1, 0, NULL},
    {"§5.3.6",
     "SPF domain's org domain unknown, DKIM aligned: pass",
     EXREJ "_dmarc.mail.example.test SERVFAIL\n",
     "example.test",
     SPF_PASS,
     MFROM,
     "mail.example.test",
     {{DKIM_PASS, "example.test"}},
     DMARC_PASS,
     REJ,
     0,
     1,
     NULL},
    {"§5.3.6", "SPF domain's org domain unknown, nothing else: temperror",
     EXREJ "_dmarc.mail.example.test SERVFAIL\n", "example.test", SPF_PASS, MFROM,
     "mail.example.test", NOSIG, DMARC_TEMPERROR, UNSET, 0, 0,
     "Organizational Domain of mail.example.test unknown"},
    {"§3.2.13, §5.3.6", "existence unknown and sp != np: temperror",
     "_dmarc.example.test TXT \"v=DMARC1; p=none; np=reject\"\nghost.example.test SERVFAIL\n",
     "ghost.example.test", SPF_NONE, MFROM, NULL, NOSIG, DMARC_TEMPERROR, UNSET, 0, 0,
     "exists is unknown"},
    {"§3.2.13", "existence unknown, sp == np: fail",
     "_dmarc.example.test TXT \"v=DMARC1; p=quarantine\"\nghost.example.test SERVFAIL\n",
     "ghost.example.test", SPF_NONE, MFROM, NULL, NOSIG, DMARC_FAIL, QUAR, 0, 0, NULL},
};

static void test_evaluate(struct dns *dns, struct arena *a)
{
	for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		const struct eval_case *c = &eval_cases[i];
		struct dmarc_discovery *d;
		struct dmarc_record rec, other;
		struct spf_outcome spf;
		struct dkim_sig sigs[2];
		struct dkim_results dkim = {.sig = sigs};
		const char *dkim_orgs[2] = {NULL, NULL};
		struct dmarc_inputs in = {
		    .author_domain = c->author, .record = &rec, .dkim = &dkim};
		struct dmarc_outcome out;
		int ok;

		fake_dns_reset();
		fake_dns_load(c->zone);
		d = dmarc_discover_start(dns, c->author, 1000);
		dmarc_discover_finish(&d, a, &rec);

		/* As the caller does: the org domains of identifiers that
		 * differ from the Author Domain (§4.10.2). */
		memset(&spf, 0, sizeof(spf));
		spf.result = c->spf;
		spf.scope = c->scope;
		spf.domain = c->spf_domain;
		if (c->spf_domain != NULL) {
			in.spf_mfrom = &spf;
			if (strcasecmp(c->spf_domain, c->author) != 0) {
				d = dmarc_orgdomain_start(dns, c->spf_domain, 1000);
				dmarc_discover_finish(&d, a, &other);
				in.spf_org_domain = other.org_domain;
			}
		}
		memset(sigs, 0, sizeof(sigs));
		for (size_t k = 0; k < 2 && c->dkim[k].d != NULL; k++) {
			sigs[k].result = c->dkim[k].result;
			sigs[k].domain = c->dkim[k].d;
			dkim.count++;
			if (strcasecmp(c->dkim[k].d, c->author) != 0) {
				d = dmarc_orgdomain_start(dns, c->dkim[k].d, 1000);
				dmarc_discover_finish(&d, a, &other);
				dkim_orgs[k] = other.org_domain;
			}
		}
		in.dkim_org_domains = dkim_orgs;

		dmarc_evaluate(&in, a, &out);
		ok = out.result == c->want && out.policy == c->policy &&
		     out.spf_aligned == c->spf_aligned && out.dkim_aligned == c->dkim_aligned &&
		     out.reason != NULL && strcmp(out.header_from, c->author) == 0 &&
		     (c->reason == NULL || strstr(out.reason, c->reason) != NULL);
		CHECK(ok, "evaluate %s: %s -> %s, policy %s", c->rfc, c->what,
		      dmarc_result_name(out.result), dmarc_policy_name(out.policy));
		if (!ok || getenv("DMARC_TEST_VERBOSE") != NULL)
			printf(
			    "#   result=%s policy=%s spf_aligned=%d dkim_aligned=%d reason: %s\n",
			    dmarc_result_name(out.result), dmarc_policy_name(out.policy),
			    out.spf_aligned, out.dkim_aligned, out.reason ? out.reason : "-");
	}

	/* No SPF outcome and no DKIM results at all. */
	{
		struct dmarc_discovery *d;
		struct dmarc_record rec;
		struct dmarc_inputs in = {.author_domain = "example.test", .record = &rec};
		struct dmarc_outcome out;

		fake_dns_reset();
		fake_dns_load(EXREJ);
		d = dmarc_discover_start(dns, "example.test", 1000);
		dmarc_discover_finish(&d, a, &rec);
		dmarc_evaluate(&in, a, &out);
		CHECK(out.result == DMARC_FAIL && out.published == REJ && out.policy == REJ &&
			  out.dkim_aligned_domain == NULL &&
			  strstr(out.reason, "no DKIM signature"),
		      "evaluate §5.3.5: no identifiers at all -> fail (%s)", out.reason);
	}
}

/* The same long records served by DNS in 255-byte strings, through the
 * walk and the evaluation: a spoof (nothing aligned) meets p=reject. */
static void test_evaluate_long(struct dns *dns, struct arena *a)
{
	static const size_t sizes[] = {5000, 60000};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len;
		char *text = long_record(sizes[i], 1000, &len);
		char *zone = long_zone_line("_dmarc.example.test", text, len);
		struct dmarc_discovery *d;
		struct dmarc_record rec;
		struct spf_outcome spf = {
		    .result = SPF_PASS, .scope = SPF_SCOPE_MFROM, .domain = "spoofer.test"};
		struct dmarc_inputs in = {.author_domain = "example.test",
					  .record = &rec,
					  .spf_mfrom = &spf,
					  .spf_org_domain = "spoofer.test"};
		struct dmarc_outcome out;

		fake_dns_reset();
		fake_dns_load(zone);
		fake_dns_load(EX_A);
		d = dmarc_discover_start(dns, "example.test", 1000);
		dmarc_discover_finish(&d, a, &rec);
		dmarc_evaluate(&in, a, &out);
		CHECK(rec.error == DMARC_NONE && rec.found && out.result == DMARC_FAIL &&
			  out.policy == REJ && out.published == REJ,
		      "evaluate: a %zu-byte record from DNS: spoof -> %s, policy %s (%s)", len,
		      dmarc_result_name(out.result), dmarc_policy_name(out.policy),
		      out.reason ? out.reason : "-");
		free(zone);
		free(text);
	}
}

int main(void)
{
	char *error = NULL;
	struct dns_config cfg = {0};
	struct dns *dns = dns_new(&cfg, &error);
	struct arena *a = arena_new(64 * 1024);

	test_parse(a);
	test_libopendmarc(a);
	test_discover(dns, a);
	test_evaluate(dns, a);
	test_evaluate_long(dns, a);
	CHECK(strcmp(dmarc_result_name(DMARC_TEMPERROR), "temperror") == 0 &&
		  strcmp(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine") == 0,
	      "names: RFC 8601 result and policy names");

	arena_free(&a);
	dns_free(&dns);
	return check_done();
}

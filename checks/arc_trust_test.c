/*
 * arc_trust_test - the trusted-forwarder decision over hand-filled ARC
 * outcomes (what checks/arc.c would report), and the bounded AAR reader
 * on hostile text.  Every case but the plain "trusted sealer saw a pass"
 * must give no override.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "arc_trust.h"
#include "check.h"

static char *trusted[] = {"fwd.test", "lists.example", NULL};

/* A chain of n sets: set i sealed by sealers[i], with aar[i]. */
static struct arc_outcome chain(enum arc_result r, size_t n, const char *const *sealers,
				const char *const *aars, struct arc_set *sets)
{
	struct arc_outcome o = {.result = r, .sets = sets, .set_count = n, .oldest_pass = 0};

	for (size_t i = 0; i < n; i++) {
		memset(&sets[i], 0, sizeof(sets[i]));
		sets[i].instance = (unsigned)i + 1;
		sets[i].seal_domain = sealers[i];
		sets[i].ams_domain = sealers[i];
		sets[i].cv = i == 0 ? "none" : "pass";
		sets[i].ams_valid = 1;
		sets[i].aar = aars[i];
	}
	return o;
}

static struct arc_trust decide(const struct arc_outcome *o, const char *from, struct arena *a)
{
	struct arc_trust t;
	struct arc_trust_input in = {
	    .arc = o,
	    .from_domain = from,
	    .org_domain = "bank.test",
	    .trusted = trusted,
	};

	arc_trust_decide(&in, a, &t);
	return t;
}

/* One set sealed by `sealer` whose AAR is `aar`: does it override for From bank.test? */
static int one(enum arc_result r, const char *sealer, const char *aar, struct arena *a)
{
	struct arc_set sets[1];
	struct arc_outcome o = chain(r, 1, (const char *[]){sealer}, (const char *[]){aar}, sets);

	return decide(&o, "bank.test", a).override;
}

static void test_decisions(struct arena *a)
{
	const char *pass = "mx.fwd.test; dmarc=pass (p=reject) header.from=bank.test";
	struct arc_set sets[3];
	struct arc_outcome o;
	struct arc_trust t;

	o = chain(ARC_PASS, 1, (const char *[]){"fwd.test"}, (const char *[]){pass}, sets);
	t = decide(&o, "bank.test", a);
	CHECK(t.override, "trusted sealer, chain pass, its AAR dmarc=pass: override");
	CHECK_STR(t.sealer, "fwd.test", "the sealer is named");
	CHECK_STR(t.why, "dmarc=pass", "what it saw is said");
	CHECK(one(ARC_PASS, "FWD.TEST.", "mx; DMARC=Pass header.from=BANK.test", a),
	      "names and results compared without case, a final dot ignored");

	CHECK(!one(ARC_PASS, "evil.test", pass, a), "untrusted sealer: no override");
	CHECK(!one(ARC_PASS, "sub.fwd.test", pass, a), "a subdomain of a trusted sealer is not it");
	CHECK(!one(ARC_PASS, "evilfwd.test", pass, a),
	      "a name ending like a trusted one is not it");
	CHECK(!one(ARC_FAIL, "fwd.test", pass, a), "broken chain (forged seal): no override");
	CHECK(!one(ARC_NONE, "fwd.test", pass, a), "no chain: no override");
	CHECK(!one(ARC_TEMPERROR, "fwd.test", pass, a), "temperror: never an override");

	/* a later hop, untrusted, after the trusted one */
	o = chain(ARC_PASS, 2, (const char *[]){"fwd.test", "evil.test"},
		  (const char *[]){pass, pass}, sets);
	CHECK(!decide(&o, "bank.test", a).override,
	      "trusted older set, untrusted newest sealer: no override");
	o = chain(ARC_FAIL, 2, (const char *[]){"evil.test", "fwd.test"},
		  (const char *[]){pass, pass}, sets);
	sets[1].cv = "fail";
	CHECK(!decide(&o, "bank.test", a).override, "failing later hop (cv=fail): no override");
	/* the trusted sealer is the newest, the pass is in another set's AAR */
	o = chain(ARC_PASS, 2, (const char *[]){"evil.test", "fwd.test"},
		  (const char *[]){pass, "mx.fwd.test; dmarc=fail header.from=bank.test"}, sets);
	t = decide(&o, "bank.test", a);
	CHECK(!t.override, "the pass in an untrusted set's AAR is not the trusted sealer's");
	CHECK_STR(t.why, "trusted sealer saw dmarc=fail", "the failure it saw is said");
	o = chain(ARC_PASS, 3, (const char *[]){"evil.test", "lists.example", "fwd.test"},
		  (const char *[]){pass, pass, pass}, sets);
	CHECK(decide(&o, "bank.test", a).override, "three sets, newest trusted, its AAR passes");
	sets[2].instance = 2;
	CHECK(!decide(&o, "bank.test", a).override, "instances out of order: no override");
	sets[2].instance = 3;
	sets[2].ams_valid = 0;
	CHECK(!decide(&o, "bank.test", a).override, "newest AMS not verified: no override");
	o.sets = NULL;
	CHECK(!decide(&o, "bank.test", a).override, "a pass without sets: no override");

	CHECK(!one(ARC_PASS, "fwd.test", "mx; dmarc=fail header.from=bank.test", a),
	      "the sealer saw a DMARC failure");
	CHECK(!one(ARC_PASS, "fwd.test",
		   "mx; dkim=pass header.d=bank.test; spf=pass smtp.mailfrom=bank.test; "
		   "dmarc=fail header.from=bank.test",
		   a),
	      "a recorded dmarc=fail wins over aligned passes");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dmarc=temperror header.from=bank.test", a),
	      "dmarc=temperror recorded: no override");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dmarc=pass header.from=other.test", a),
	      "an AAR for another From domain: no override");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dmarc=pass header.from=bank.test.evil", a),
	      "an AAR for a domain under another: no override");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dmarc=pass", a),
	      "a dmarc=pass that names no From domain: no override");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dkim=pass header.d=bank.test; dmarc=fail", a),
	      "a dmarc=fail that names no From domain still counts as a failure");
	CHECK(one(ARC_PASS, "fwd.test", "mx; dmarc=pass; dkim=pass header.d=bank.test", a),
	      "an unnamed dmarc=pass is ignored, an aligned DKIM pass still counts");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; none", a), "no results recorded");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; spf=fail smtp.mailfrom=bank.test", a),
	      "only failures recorded");
	CHECK(!one(ARC_PASS, "fwd.test", NULL, a), "no AAR text: no override");

	/* without a dmarc result: aligned DKIM or SPF */
	CHECK(one(ARC_PASS, "fwd.test", "mx; dkim=pass header.d=bank.test header.s=s1", a),
	      "AAR with an aligned DKIM pass only: override");
	CHECK(one(ARC_PASS, "fwd.test", "mx; dkim=pass header.i=@news.bank.test", a),
	      "relaxed alignment: header.i under the Organizational Domain");
	CHECK(one(ARC_PASS, "fwd.test", "mx; spf=pass smtp.mailfrom=bounce@bank.test", a),
	      "AAR with an aligned SPF pass only: override");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dkim=pass header.d=evil.test", a),
	      "a DKIM pass for another domain does not align");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dkim=pass header.d=xbank.test", a),
	      "a name ending like the domain does not align");
	CHECK(!one(ARC_PASS, "fwd.test", "mx; dkim=fail header.d=bank.test", a),
	      "a failing aligned signature is no pass");
	{
		struct arc_trust_input in = {
		    .from_domain = "bank.test",
		    .org_domain = "bank.test",
		    .adkim_strict = 1,
		    .trusted = trusted,
		};
		struct arc_set s1[1];
		struct arc_outcome o1 =
		    chain(ARC_PASS, 1, (const char *[]){"fwd.test"},
			  (const char *[]){"mx; dkim=pass header.d=news.bank.test"}, s1);

		in.arc = &o1;
		arc_trust_decide(&in, a, &t);
		CHECK(!t.override, "adkim=s: a subdomain's signature does not align");
		in.org_domain = NULL;
		in.adkim_strict = 0;
		arc_trust_decide(&in, a, &t);
		CHECK(!t.override, "no Organizational Domain known: strict alignment only");
		in.from_domain = NULL;
		arc_trust_decide(&in, a, &t);
		CHECK(!t.override, "no Author Domain: no override");
	}
	{
		struct arc_trust_input in = {
		    .arc = &o, .from_domain = "bank.test", .trusted = NULL};

		o = chain(ARC_PASS, 1, (const char *[]){"fwd.test"}, (const char *[]){pass}, sets);
		arc_trust_decide(&in, a, &t);
		CHECK(!t.override, "no trusted sealers configured: no override");
	}
}

static void test_pending(void)
{
	struct arc_set sets[1];
	struct arc_outcome o = chain(ARC_TEMPERROR, 1, (const char *[]){"fwd.test"},
				     (const char *[]){"mx; dmarc=pass"}, sets);

	CHECK(arc_trust_pending(trusted, &o), "temperror, trusted newest sealer: pending");
	CHECK(!arc_trust_pending(NULL, &o), "temperror, nothing trusted: not pending");
	sets[0].seal_domain = "evil.test";
	CHECK(!arc_trust_pending(trusted, &o), "temperror, untrusted sealer: not pending");
	o.set_count = 0;
	CHECK(arc_trust_pending(trusted, &o), "temperror, sealer unknown: pending");
	o.result = ARC_FAIL;
	CHECK(!arc_trust_pending(trusted, &o), "fail is not pending");
}

static void test_parse(struct arena *a)
{
	struct authres_resinfo r[ARC_AAR_MAX_RESULTS];
	size_t n;
	const char *error;
	char *big;

	CHECK(arc_aar_parse("mx.fwd.test 1; dmarc=pass (p=reject (nested)) reason=\"a; b\" "
			    "header.from=bank.test; spf/1=PASS smtp.mailfrom=\"x;y\"@bank.test;",
			    a, r, ARC_AAR_MAX_RESULTS, &n, &error) == 0 &&
		  n == 2,
	      "version, comments, reason, quoted values, a final ';'");
	CHECK_STR(r[0].method, "dmarc", "first method");
	CHECK_STR(r[0].props[0].name, "header.from", "reason= is not a property");
	CHECK_STR(r[1].method, "spf", "method version dropped");
	CHECK_STR(r[1].result, "pass", "result in lower case");
	CHECK(n == 2 && r[1].prop_count == 1 && strcmp(r[1].props[0].value, "x;y@bank.test") == 0,
	      "a ';' inside quotes does not split");
	CHECK(arc_aar_parse("\"quoted id\"; none", a, r, 4, &n, &error) == 0,
	      "quoted authserv-id, none");

	static const char *const bad[] = {
	    "",
	    "mx; dmarc",
	    "mx; dmarc=",
	    "mx; =pass",
	    "mx; dmarc=pass header.from",
	    "mx; dmarc=pass header.from=\"unterminated",
	    "mx; dmarc=pass (unterminated comment",
	    "mx; dmarc=pass \\",
	    "mx dmarc=pass",
	    "mx; dmarc=pass a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(arc_aar_parse(bad[i], a, r, ARC_AAR_MAX_RESULTS, &n, &error) < 0 &&
			  error != NULL,
		      "malformed AAR refused: [%s] (%s)", bad[i], error ? error : "-");

	/* the worst versions: too long, too many results, nested too deep */
	big = malloc(ARC_AAR_MAX_BYTES * 2);
	memset(big, 'a', ARC_AAR_MAX_BYTES * 2 - 1);
	big[ARC_AAR_MAX_BYTES * 2 - 1] = '\0';
	CHECK(arc_aar_parse(big, a, r, ARC_AAR_MAX_RESULTS, &n, &error) < 0, "over the size cap");
	strcpy(big, "mx");
	for (int i = 0; i < 40; i++)
		strcat(big, "; dkim=pass header.d=bank.test");
	CHECK(arc_aar_parse(big, a, r, ARC_AAR_MAX_RESULTS, &n, &error) < 0,
	      "more than %d results refused", ARC_AAR_MAX_RESULTS);
	strcpy(big, "mx; dmarc=pass ");
	for (int i = 0; i < 1000; i++)
		strcat(big, "(");
	CHECK(arc_aar_parse(big, a, r, ARC_AAR_MAX_RESULTS, &n, &error) < 0,
	      "comments nested 1000 deep refused");
	CHECK(!one(ARC_PASS, "fwd.test", big, a), "and give no override");
	free(big);
}

int main(void)
{
	struct arena *a = arena_new(4096);

	test_decisions(a);
	test_pending();
	test_parse(a);
	arena_free(&a);
	return check_done();
}

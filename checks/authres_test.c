/*
 * authres_test - Authentication-Results rendering and forged-header detection.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authres.h"
#include "check.h"

#define TAIL ";\n\tdkim=none;\n\tarc=none;\n\tdmarc=none"

static struct facts base(void)
{
	struct facts f;

	memset(&f, 0, sizeof(f));
	f.mail_from = "user@example.test";
	f.mail_from_domain = "example.test";
	f.helo = "mx.example.test";
	f.spf_mfrom.result = SPF_PASS;
	f.spf_mfrom.scope = SPF_SCOPE_MFROM;
	f.spf_helo.result = SPF_NONE;
	f.spf_helo.scope = SPF_SCOPE_HELO;
	return f;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* authres_read() on value with room for max resinfos, in an arena of its
 * own; the results checked for sanity whatever the input.  Returns the
 * reader's return; *n_r its count; *error_r its error. */
static int read_value(const char *value, size_t max, size_t *n_r, const char **error_r)
{
	struct arena *a = arena_new(4096);
	struct authres_resinfo *r = calloc(max > 0 ? max : 1, sizeof(*r));
	int ret = authres_read(value, a, r, max, n_r, error_r), sane = 1;

	for (size_t i = 0; ret == 0 && i < *n_r; i++)
		if (r[i].method == NULL || r[i].result == NULL ||
		    r[i].prop_count > AUTHRES_READ_PROPS)
			sane = 0;
	if ((ret == 0 && (*n_r > max || *error_r != NULL)) || (ret < 0 && *error_r == NULL))
		sane = 0;
	if (!sane)
		CHECK(0, "authres_read's results are sane (%.40s...)", value);
	free(r);
	arena_free(&a);
	return ret;
}

/* A value of n bytes: head, then fill repeated. */
static char *made(const char *head, const char *fill, size_t n)
{
	char *v = malloc(n + 1);
	size_t h = strlen(head), f = strlen(fill);

	memcpy(v, head, h);
	for (size_t i = h; i < n; i++)
		v[i] = fill[(i - h) % f];
	v[n] = '\0';
	return v;
}

static void test_read(void)
{
	struct arena *a = arena_new(1024);
	struct authres_resinfo r[4];
	size_t n = 0;
	const char *error = NULL;

	int ret = authres_read("mx.example 1; DKIM=pass reason=\"good (sig)\" header.d=example.com "
			       "header.s=sel; spf/2=fail (not (allowed)) "
			       "smtp.mailfrom=\"a;b\"@b.example",
			       a, r, 4, &n, &error);

	CHECK(ret == 0 && n == 2, "two resinfos, a version, comments, quotes");
	CHECK(n == 2 && strcmp(r[0].method, "dkim") == 0 && strcmp(r[0].result, "pass") == 0 &&
		  r[0].reason != NULL && strcmp(r[0].reason, "good (sig)") == 0 &&
		  r[0].prop_count == 2 && strcmp(r[0].props[1].name, "header.s") == 0 &&
		  strcmp(r[0].props[1].value, "sel") == 0,
	      "method, result, reason and properties of the first");
	CHECK(n == 2 && strcmp(r[1].method, "spf") == 0 && r[1].reason == NULL &&
		  strcmp(r[1].props[0].value, "a;b@b.example") == 0,
	      "the method's version dropped; a ';' inside quotes does not split");
	CHECK(authres_read("mx; none", a, r, 4, &n, &error) == 0 && n == 0, "none: no resinfo");
	CHECK(authres_read("mx; dkim=pass; spf=pass", a, r, 1, &n, &error) < 0 &&
		  strcmp(error, "too many results") == 0,
	      "more resinfos than room: refused");
	arena_free(&a);
}

/* The worst versions: each returns, without crashing (the sanitizer build
 * watches), in bounded time. */
static void test_read_hostile(void)
{
	double t0 = now();
	size_t n = 0;
	const char *error = NULL;
	char *v, *w, deep[2100];

	v = made("", "(", 1000);
	w = made("", ")", 1000);
	snprintf(deep, sizeof(deep), "mx; dkim=pass %sx%s", v, w);
	CHECK(read_value(deep, 8, &n, &error) < 0, "comments nested 1000 deep refused");
	snprintf(deep, sizeof(deep), "%sx%s mx; dkim=pass", v, w);
	CHECK(read_value(deep, 8, &n, &error) < 0,
	      "comments nested 1000 deep before the authserv-id refused");
	snprintf(deep, sizeof(deep), "%sx%s mx.authscore.test; spf=pass", v, w);
	CHECK(authres_is_ours(deep, "mx.authscore.test"),
	      "our id behind comments nested 1000 deep is still ours (the forgery is removed)");
	free(v);
	free(w);
	CHECK(read_value("mx; dkim=pass (never ends", 8, &n, &error) < 0,
	      "an unterminated comment refused");
	CHECK(read_value("mx; dkim=pass header.d=\"never ends", 8, &n, &error) < 0,
	      "an unterminated quoted string refused");
	CHECK(read_value("\"mx; dkim=pass", 8, &n, &error) < 0,
	      "an unterminated quoted authserv-id refused");
	v = made("mx", "; a=b", 2 + 5 * 10000);
	CHECK(read_value(v, 10000, &n, &error) == 0 && n == 10000, "10,000 resinfos read");
	CHECK(read_value(v, 32, &n, &error) < 0 && strcmp(error, "too many results") == 0,
	      "10,000 resinfos and room for 32: refused");
	free(v);
	v = made("mx; dkim=pass header.d=", "\"x\"",
		 AUTHRES_READ_MAX - (AUTHRES_READ_MAX - 23) % 3);
	CHECK(read_value(v, 8, &n, &error) == 0 && n == 1,
	      "a value at the cap of quoted pieces side by side is read");
	free(v);
	v = made("mx; dkim=pass header.d=", "a", 300 * 1024);
	CHECK(read_value(v, 8, &n, &error) < 0 && strcmp(error, "too long") == 0,
	      "a value of 300 KiB refused");
	free(v);
	srand(8601);
	v = malloc(AUTHRES_READ_MAX + 1);
	for (int round = 0; round < 300; round++) {
		size_t len = (size_t)rand() % (round < 200 ? 200 : AUTHRES_READ_MAX);
		static const char alpha[] = "();=\"\\ \t\r\n./@aZ09";

		for (size_t i = 0; i < len; i++) /* NUL-free: 1..255, mostly A-R syntax */
			v[i] = (char)(rand() % 2 ? alpha[rand() % (int)(sizeof(alpha) - 1)]
						 : 1 + rand() % 255);
		v[len] = '\0';
		read_value(v, 64, &n, &error);
		authres_is_ours(v, "mx");
	}
	free(v);
	CHECK(1, "300 values of NUL-free garbage return");
	CHECK(now() - t0 < 10.0, "the hostile values took %.2f s (bounded: under 10)", now() - t0);
}

int main(void)
{
	struct arena *a = arena_new(1024);
	struct facts f = base();
	struct verdict v = {.action = VERDICT_ACCEPT, .dmarc_disposition = DMARC_POLICY_NONE};

	CHECK_STR(authres_render(a, "mx.authscore.test", &f, &v),
		  "mx.authscore.test;\n\tspf=pass smtp.mailfrom=example.test;\n\tspf=none "
		  "smtp.helo=mx.example.test" TAIL,
		  "both identities, one resinfo each");

	f.spf_mfrom.result = SPF_FAIL;
	f.spf_mfrom.reason = "client (not) allowed \\ by -all";
	CHECK_STR(authres_render(a, "mx", &f, &v),
		  "mx;\n\tspf=fail (client \\(not\\) allowed \\\\ by -all) smtp.mailfrom=example.test;"
		  "\n\tspf=none smtp.helo=mx.example.test" TAIL,
		  "comment parentheses and backslashes escaped");

	f = base();
	f.mail_from = "";
	f.mail_from_domain = NULL;
	f.spf_helo.result = SPF_PASS;
	CHECK_STR(authres_render(a, "mx", &f, &v), "mx;\n\tspf=pass smtp.helo=mx.example.test" TAIL,
		  "null sender: the HELO identity only (RFC 7208 §2.4)");

	f = base();
	f.helo = "evil; dkim=pass header.d=bank.test";
	CHECK_STR(authres_render(a, "mx", &f, &v),
		  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tspf=none "
		  "smtp.helo=\"evil; dkim=pass header.d=bank.test\"" TAIL,
		  "hostile HELO is quoted, cannot inject a resinfo");

	f = base();
	f.mail_from_domain = "ex\"am\tple";
	f.helo = NULL;
	CHECK_STR(authres_render(a, "mx", &f, &v), "mx;\n\tspf=pass smtp.mailfrom=\"ex\\\"am?ple\"" TAIL,
		  "quotes escaped, controls replaced");

	f = base();
	f.mail_from_domain = NULL;
	f.helo = NULL;
	CHECK_STR(authres_render(a, "mx", &f, &v), "mx" TAIL, "no SPF identity: DKIM and DMARC only");

	/* DKIM: one resinfo per signature, RFC 8601 §2.7.1 properties */
	{
		struct dkim_sig sigs[2] = {
			{.result = DKIM_PASS, .domain = "example.test", .selector = "sel1",
			 .algorithm = "rsa-sha256", .b8 = "abcdEFGH", .key_bits = 2048},
			{.result = DKIM_POLICY, .domain = "old.test", .selector = "s", .algorithm = "rsa-sha1",
			 .b8 = "12345678", .reason = "rsa-sha1 (RFC 8301)"},
		};
		f = base();
		f.helo = NULL;
		f.dkim.count = 2;
		f.dkim.sig = sigs;
		f.dkim.skipped = 3;
		f.from_domain = "example.test";
		f.dmarc.result = DMARC_PASS;
		f.dmarc.header_from = "example.test";
		f.dmarc_record.found = 1;
		f.dmarc_record.p = DMARC_POLICY_REJECT;
		f.dmarc_record.sp = DMARC_POLICY_QUARANTINE;
		f.dmarc_record.testing = 1;
		CHECK_STR(authres_render(a, "mx", &f, &v),
			  "mx;\n\tspf=pass smtp.mailfrom=example.test;"
			  "\n\tdkim=pass header.d=example.test header.s=sel1 header.a=rsa-sha256 "
			  "header.b=abcdEFGH;"
			  "\n\tdkim=policy (rsa-sha1 \\(RFC 8301\\)) (3 more signatures not verified) "
			  "header.d=old.test header.s=s header.a=rsa-sha1 header.b=12345678;"
			  "\n\tarc=none;\n\tdmarc=pass (p=reject sp=quarantine t=y) header.from=example.test "
			  "policy.dmarc=none",
			  "DKIM signatures, skipped count, DMARC with published policy");
	}
	f = base();
	f.helo = NULL;
	f.from_domain = "bank.test";
	f.dmarc.result = DMARC_FAIL;
	f.dmarc.header_from = "bank.test";
	f.dmarc_record.found = 1;
	f.dmarc_record.p = DMARC_POLICY_REJECT;
	v.dmarc_disposition = DMARC_POLICY_QUARANTINE;
	CHECK_STR(authres_render(a, "mx", &f, &v),
		  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tdkim=none;"
		  "\n\tarc=none;\n\tdmarc=fail (p=reject) header.from=bank.test policy.dmarc=quarantine",
		  "policy.dmarc names the disposition applied");
	f.dmarc_override = "trusted_forwarder";
	v.dmarc_disposition = DMARC_POLICY_NONE;
	CHECK_STR(authres_render(a, "mx", &f, &v),
		  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tdkim=none;"
		  "\n\tarc=none;\n\tdmarc=fail (p=reject; not enforced: trusted_forwarder) header.from=bank.test "
		  "policy.dmarc=none",
		  "an override is said, and the disposition is none");
	f = base();
	f.helo = NULL;
	f.from_error = "2 From header fields";
	f.dmarc.result = DMARC_PERMERROR;
	CHECK_STR(authres_render(a, "mx", &f, &v),
		  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tdkim=none;"
		  "\n\tarc=none;\n\tdmarc=permerror (2 From header fields)",
		  "a From error: permerror with the reason, no header.from");

	/* ARC (RFC 8617 §6): remote-ip, oldest-pass, and the override's reason */
	{
		struct arc_set sets[2] = {
			{.instance = 1, .seal_domain = "list.test", .cv = "none", .ams_valid = 0},
			{.instance = 2, .seal_domain = "fwd.test", .cv = "pass", .ams_valid = 1},
		};
		f = base();
		f.helo = NULL;
		memcpy(f.client_ip, "203.0.113.10", sizeof("203.0.113.10"));
		f.arc.result = ARC_PASS;
		f.arc.sets = sets;
		f.arc.set_count = 2;
		f.arc.oldest_pass = 2;
		CHECK_STR(authres_render(a, "mx", &f, &v),
			  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tdkim=none;"
			  "\n\tarc=pass (i=2 d=fwd.test) smtp.remote-ip=203.0.113.10 "
			  "header.oldest-pass=2;\n\tdmarc=none",
			  "arc=pass: the newest sealer, the client, the oldest AMS that verifies");
		f.arc.oldest_pass = 1;
		CHECK(strstr(authres_render(a, "mx", &f, &v), "header.oldest-pass=0;") != NULL,
		      "every AMS verifies: header.oldest-pass=0 (the registry's meaning)");
		f.arc.oldest_pass = 0;
		CHECK(strstr(authres_render(a, "mx", &f, &v), "oldest-pass") == NULL,
		      "oldest pass unknown: not written");
		f.arc.result = ARC_FAIL;
		f.arc.reason = "ARC-Seal i=2 (signature) does not verify";
		CHECK_STR(authres_render(a, "mx", &f, &v),
			  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tdkim=none;"
			  "\n\tarc=fail (ARC-Seal i=2 \\(signature\\) does not verify) "
			  "smtp.remote-ip=203.0.113.10;\n\tdmarc=none",
			  "arc=fail: the reason in a comment, no oldest-pass");
		f.arc.result = ARC_TEMPERROR;
		f.arc.reason = "key lookup timed out";
		CHECK(strstr(authres_render(a, "mx", &f, &v),
			     "\n\tarc=temperror (key lookup timed out)") != NULL,
		      "arc=temperror");

		f.arc.result = ARC_PASS;
		f.arc.reason = NULL;
		f.from_domain = "bank.test";
		f.dmarc.result = DMARC_FAIL;
		f.dmarc.header_from = "bank.test";
		f.dmarc_record.found = 1;
		f.dmarc_record.p = DMARC_POLICY_REJECT;
		f.dmarc_override = "trusted_forwarder";
		f.arc_override_by = "fwd.test";
		f.arc_override_why = "dmarc=pass";
		v.dmarc_disposition = DMARC_POLICY_NONE;
		CHECK(strstr(authres_render(a, "mx", &f, &v),
			     "\n\tdmarc=fail (p=reject; not enforced: trusted_forwarder) "
			     "reason=\"ARC sealer fwd.test saw dmarc=pass\" header.from=bank.test "
			     "policy.dmarc=none") != NULL,
		      "an ARC override: the RFC 8601 reason names the sealer, before the properties");
		f.arc_override_by = "evil\"; dmarc=pass";
		CHECK(strstr(authres_render(a, "mx", &f, &v),
			     "reason=\"ARC sealer evil\\\"; dmarc=pass saw dmarc=pass\"") != NULL,
		      "a hostile sealer name stays inside the quoted reason");
	}

	CHECK(authres_is_ours("mx.authscore.test; spf=pass", "mx.authscore.test"), "exact id");
	CHECK(authres_is_ours(" MX.AuthScore.TEST ; spf=pass", "mx.authscore.test"),
	      "any case, any spacing");
	CHECK(authres_is_ours("(forged) mx.authscore.test 1; spf=pass", "mx.authscore.test"),
	      "comment before, version after");
	CHECK(authres_is_ours("\"mx.authscore.test\"; spf=pass", "mx.authscore.test"),
	      "quoted-string authserv-id");
	CHECK(authres_is_ours("mx.authscore.test", "mx.authscore.test"), "no resinfo at all");
	CHECK(authres_is_ours("\n\tmx.authscore.test;\n\tspf=pass", "mx.authscore.test"),
	      "folded before the id");
	CHECK(!authres_is_ours("mx.authscore.test.evil; spf=pass", "mx.authscore.test"),
	      "longer id is someone else's");
	CHECK(!authres_is_ours("gmail.com; spf=pass smtp.mailfrom=mx.authscore.test",
			       "mx.authscore.test"),
	      "our name inside a resinfo is not our id");
	CHECK(!authres_is_ours("(unterminated mx.authscore.test", "mx.authscore.test"),
	      "unterminated comment is not ours");
	CHECK(!authres_is_ours("", "mx.authscore.test"), "empty value");
	test_read();
	test_read_hostile();
	arena_free(&a);
	return check_done();
}

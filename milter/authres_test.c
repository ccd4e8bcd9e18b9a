/*
 * authres_test - Authentication-Results rendering and forged-header detection.
 */
#include "config.h"

#include <string.h>

#include "authres.h"
#include "check.h"

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

int main(void)
{
	struct arena *a = arena_new(1024);
	struct facts f = base();

	CHECK_STR(authres_render(a, "mx.authscore.test", &f),
		  "mx.authscore.test;\n\tspf=pass smtp.mailfrom=example.test;\n\tspf=none "
		  "smtp.helo=mx.example.test",
		  "both identities, one resinfo each");

	f.spf_mfrom.result = SPF_FAIL;
	f.spf_mfrom.reason = "client (not) allowed \\ by -all";
	CHECK_STR(authres_render(a, "mx", &f),
		  "mx;\n\tspf=fail (client \\(not\\) allowed \\\\ by -all) smtp.mailfrom=example.test;"
		  "\n\tspf=none smtp.helo=mx.example.test",
		  "comment parentheses and backslashes escaped");

	f = base();
	f.mail_from = "";
	f.mail_from_domain = NULL;
	f.spf_helo.result = SPF_PASS;
	CHECK_STR(authres_render(a, "mx", &f), "mx;\n\tspf=pass smtp.helo=mx.example.test",
		  "null sender: the HELO identity only (RFC 7208 §2.4)");

	f = base();
	f.helo = "evil; dkim=pass header.d=bank.test";
	CHECK_STR(authres_render(a, "mx", &f),
		  "mx;\n\tspf=pass smtp.mailfrom=example.test;\n\tspf=none "
		  "smtp.helo=\"evil; dkim=pass header.d=bank.test\"",
		  "hostile HELO is quoted, cannot inject a resinfo");

	f = base();
	f.mail_from_domain = "ex\"am\tple";
	f.helo = NULL;
	CHECK_STR(authres_render(a, "mx", &f), "mx;\n\tspf=pass smtp.mailfrom=\"ex\\\"am?ple\"",
		  "quotes escaped, controls replaced");

	f = base();
	f.mail_from_domain = NULL;
	f.helo = NULL;
	CHECK_STR(authres_render(a, "mx", &f), "mx; none", "nothing to report: none");

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
	arena_free(&a);
	return check_done();
}

/*
 * rfc5322_test - Author Domains out of From values, and every refusal.
 */
#include "config.h"

#include "check.h"
#include "rfc5322.h"

static void one(const char *value, const char *want)
{
	struct arena *a = arena_new(512);
	const char *d[4] = {0}, *error = NULL;
	int n = rfc5322_mailbox_domains(value, a, d, 4, &error);

	if (!CHECK(n == 1 && d[0] != NULL && strcmp(d[0], want) == 0, "%s -> %s", value, want))
		printf("#   got n=%d domain=%s error=%s\n", n, n > 0 ? d[0] : "-", error ? error : "-");
	arena_free(&a);
}

static void count(const char *value, int want)
{
	struct arena *a = arena_new(512);
	const char *d[4] = {0}, *error = NULL;
	int n = rfc5322_mailbox_domains(value, a, d, 4, &error);

	if (!CHECK(n == want, "%s: %d addresses", value, want))
		printf("#   got %d (%s)\n", n, error ? error : "-");
	arena_free(&a);
}

static void refused(const char *value, const char *why)
{
	struct arena *a = arena_new(512);
	const char *d[4] = {0}, *error = NULL;
	int n = rfc5322_mailbox_domains(value, a, d, 4, &error);

	if (!CHECK(n == -1 && error != NULL && strcmp(error, why) == 0, "%s refused: %s", value, why))
		printf("#   got n=%d error=%s\n", n, error ? error : "-");
	arena_free(&a);
}

int main(void)
{
	one("user@example.test", "example.test");
	one(" User Name <user@Example.TEST>", "example.test");
	one("\"Doe, John\" <john@example.test>", "example.test");
	one("\"a@evil.test\" <real@example.test>", "example.test");
	one("(comment, with comma) user@example.test (trailing)", "example.test");
	one("user@example.test.", "example.test");
	one("user@example . test", "example.test");
	one("\"quoted@local\"@example.test", "example.test");
	one("Name <user@example.test>\r\n\t(folded comment)", "example.test");
	one("user@(comment)example.test", "example.test");
	one("=?utf-8?q?J=C3=B6rg?= <j@sub.example.test>", "sub.example.test");
	one("user@xn--bcher-kva.example", "xn--bcher-kva.example");
	one(",user@example.test,", "example.test"); /* RFC 5322 §4.4 obs-mbox-list */

	count("a@one.test, b@two.test", 2);
	count("\"x,y\" <a@one.test>, (c,d) b@two.test, c@three.test", 3);
	count("a@one.test,b@two.test,c@three.test,d@four.test,e@five.test", 5);

	refused("", "no address");
	refused("   (only a comment)  ", "no address");
	refused("undisclosed-recipients:;", "group syntax");
	refused("Friends: a@one.test, b@two.test;", "group syntax");
	refused("user@[192.0.2.1]", "domain literal");
	refused("user", "no domain");
	refused("user@", "no domain");
	refused("<user@example.test", "unparsable address");
	refused("\"unterminated <user@example.test>", "unparsable address");
	refused("(unterminated user@example.test", "unparsable address");
	refused("user@exa mple.test", "invalid domain");
	refused("user@example..test", "invalid domain");
	refused("user@-example.test", "invalid domain");
	refused("user@localhost", "invalid domain");
	refused("user@ex\xc3\xa4mple.test", "invalid domain");
	refused("user@example.test<x>", "unparsable address");
	refused("<a@one.test> <b@two.test>", "unparsable address");
	refused("user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
		"invalid domain");
	{
		char big[RFC5322_MAX_VALUE + 10];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		refused(big, "too long");
	}
	return check_done();
}

/*
 * iprev_test - iprev.c over the fake resolver (tests/fake_dns.c), one table
 * row per case: zone text, client, the result, name and reason expected,
 * and the queries asked.  The forward lookups must all start before the
 * first is waited for (the fake resolver's call trace shows the order).
 * Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "arena.h"
#include "check.h"
#include "dns.h"
#include "fake_dns.h"
#include "iprev.h"
#include "log.h"



#define PTR4 "99.2.0.192.in-addr.arpa PTR "
#define PTR6 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR "

/* Twelve PTR names; only the eleventh maps back, and is never asked. */
#define PTR_TWELVE                                                                                 \
	PTR4 "n1.test\n" PTR4 "n2.test\n" PTR4 "n3.test\n" PTR4 "n4.test\n" PTR4 "n5.test\n" PTR4  \
	     "n6.test\n" PTR4 "n7.test\n" PTR4 "n8.test\n" PTR4 "n9.test\n" PTR4 "n10.test\n" PTR4 \
	     "n11.test\n" PTR4 "n12.test\nn11.test A 192.0.2.99\n"

static const struct iprev_case {
	const char *what;
	const char *zone;
	const char *client;
	enum iprev_result want;
	const char *name;   /* expected name, NULL: none */
	const char *reason; /* a substring of the reason, NULL: no reason */
	unsigned queries;
	const char *log; /* the order of starts and waits, or NULL */
} cases[] = {
    {"IPv4 pass", PTR4 "mail.example.test\nmail.example.test A 192.0.2.99\n", "192.0.2.99",
     IPREV_PASS, "mail.example.test", NULL, 2, "SWSW"},
    {"the second name confirms; forward lookups in one round",
     PTR4 "a.test\n" PTR4 "b.test\n" PTR4 "c.test\na.test A 192.0.2.1\nb.test A 192.0.2.7\n"
	  "b.test A 192.0.2.99\nc.test A 192.0.2.99\n",
     "192.0.2.99", IPREV_PASS, "b.test", NULL, 4, "SWSSSWWW"},
    {"no PTR record (NXDOMAIN): permerror, RFC 8601 §2.7.3", "", "192.0.2.99", IPREV_PERMERROR,
     NULL, "NXDOMAIN", 1, NULL},
    {"PTR NODATA: permerror", "99.2.0.192.in-addr.arpa TXT \"x\"\n", "192.0.2.99", IPREV_PERMERROR,
     NULL, "no PTR", 1, NULL},
    {"PTR SERVFAIL: temperror", "99.2.0.192.in-addr.arpa SERVFAIL\n", "192.0.2.99", IPREV_TEMPERROR,
     NULL, "SERVFAIL", 1, NULL},
    {"PTR timeout: temperror", "99.2.0.192.in-addr.arpa TIMEOUT\n", "192.0.2.99", IPREV_TEMPERROR,
     NULL, "timeout", 1, NULL},
    {"forward answer with another address: fail",
     PTR4 "mail.example.test\nmail.example.test A 192.0.2.100\n", "192.0.2.99", IPREV_FAIL,
     "mail.example.test", "does not map back", 2, NULL},
    {"forward NXDOMAIN: fail", PTR4 "gone.example.test\n", "192.0.2.99", IPREV_FAIL,
     "gone.example.test", "does not map back", 2, NULL},
    {"forward NODATA (only AAAA for an IPv4 client): fail",
     PTR4 "v6only.test\nv6only.test AAAA 2001:db8::99\n", "192.0.2.99", IPREV_FAIL, "v6only.test",
     "does not map back", 2, NULL},
    {"one forward SERVFAIL, no match: temperror",
     PTR4 "a.test\n" PTR4 "b.test\na.test SERVFAIL\nb.test A 192.0.2.1\n", "192.0.2.99",
     IPREV_TEMPERROR, "a.test", "1 of 2", 3, NULL},
    {"one forward timeout, another confirms: pass",
     PTR4 "a.test\n" PTR4 "b.test\na.test TIMEOUT\nb.test A 192.0.2.99\n", "192.0.2.99", IPREV_PASS,
     "b.test", NULL, 3, NULL},
    {"forward through a CNAME",
     PTR4 "alias.test\nalias.test CNAME host.test\n"
	  "host.test A 192.0.2.99\n",
     "192.0.2.99", IPREV_PASS, "alias.test", NULL, 2, NULL},
    {"twelve PTR names: ten asked, the eleventh never", PTR_TWELVE, "192.0.2.99", IPREV_FAIL,
     "n1.test", "no PTR name", 11, NULL},
    {"a name given twice is asked once", PTR4 "dup.test\n" PTR4 "DUP.test\ndup.test A 192.0.2.99\n",
     "192.0.2.99", IPREV_PASS, "dup.test", NULL, 2, NULL},
    {"PTR names that are not host names: permerror",
     PTR4 "bad/name.test\n" PTR4 "under_.ok..test\n", "192.0.2.99", IPREV_PERMERROR, NULL,
     "not host names", 1, NULL},
    {"a bad name is skipped, a good one still confirms",
     PTR4 "bad!name.test\n" PTR4 "good.test\ngood.test A 192.0.2.99\n", "192.0.2.99", IPREV_PASS,
     "good.test", NULL, 2, NULL},
    {"IPv6 pass (nibble PTR, AAAA forward)",
     PTR6 "v6.example.test\n"
	  "v6.example.test AAAA 2001:db8::1\n",
     "2001:db8::1", IPREV_PASS, "v6.example.test", NULL, 2, NULL},
    {"IPv6 client whose name has only an A record: fail",
     PTR6 "v4.example.test\nv4.example.test A 192.0.2.1\n", "2001:db8::1", IPREV_FAIL,
     "v4.example.test", "does not map back", 2, NULL},
    {"IPv6 no PTR: permerror", "", "2001:db8::1", IPREV_PERMERROR, NULL, "no PTR", 1, NULL},
    {"IPv4-mapped client: in-addr.arpa and A",
     PTR4 "mapped.test\nmapped.test A 192.0.2.99\nmapped.test AAAA ::ffff:192.0.2.99\n",
     "::ffff:192.0.2.99", IPREV_PASS, "mapped.test", NULL, 2, NULL},
};

static void run_case(const struct iprev_case *tc, struct dns *dns)
{
	struct arena *a = arena_new(1024);
	struct iprev_outcome out;
	struct iprev_check *c;
	struct addr client;
	int ok;

	fake_dns_reset();
	fake_dns_load(tc->zone);
	fake_dns_trace_reset();
	if (addr_parse(tc->client, &client) < 0) {
		printf("Bail out! bad client %s\n", tc->client);
		exit(1);
	}
	c = iprev_start(dns, &client, NULL, 500);
	iprev_finish(&c, a, &out);
	ok = c == NULL && out.result == tc->want;
	ok = ok && (tc->name == NULL ? out.name == NULL
				     : out.name != NULL && strcmp(out.name, tc->name) == 0);
	ok = ok &&
	     (tc->reason == NULL ? out.reason == NULL
				 : out.reason != NULL && strstr(out.reason, tc->reason) != NULL);
	ok = ok && fake_dns_queries() == tc->queries;
	ok = ok && (tc->log == NULL || strcmp(fake_dns_trace(), tc->log) == 0);
	if (!CHECK(ok, "%s", tc->what))
		printf("#   got %s name=%s reason=%s queries=%u log=%s\n",
		       iprev_result_name(out.result), out.name ? out.name : "(null)",
		       out.reason ? out.reason : "(null)", fake_dns_queries(), fake_dns_trace());
	arena_free(&a);
}

int main(void)
{
	struct dns *dns;
	char *error = NULL;
	struct iprev_check *c;
	struct iprev_outcome out;
	struct addr client;
	struct arena *a;

	log_init("iprev_test", 1);
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL) {
		printf("Bail out! %s\n", error ? error : "dns_new");
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], dns);

	a = arena_new(256);
	fake_dns_reset();
	addr_parse("192.0.2.99", &client);
	c = iprev_start(dns, &client, NULL, 500);
	iprev_cancel(&c);
	CHECK(c == NULL, "iprev_cancel frees and clears");
	iprev_cancel(&c);
	iprev_finish(&c, a, &out);
	CHECK(out.result == IPREV_NONE, "iprev_finish of NULL: none");
	client.family = 0;
	c = iprev_start(dns, &client, NULL, 500);
	iprev_finish(&c, a, &out);
	CHECK(out.result == IPREV_PERMERROR && c == NULL, "no client address: permerror");

	/* The MTA's confirmed name: pass, no query; "[addr]" and "unknown"
	 * are not names, so our own lookups run. */
	fake_dns_reset();
	fake_dns_load("99.2.0.192.in-addr.arpa PTR other.test\nother.test A 192.0.2.1\n");
	addr_parse("192.0.2.99", &client);
	c = iprev_start(dns, &client, "mx.example.test", 500);
	iprev_finish(&c, a, &out);
	CHECK(out.result == IPREV_PASS && out.name != NULL &&
		  strcmp(out.name, "mx.example.test") == 0 && fake_dns_queries() == 0,
	      "the MTA's confirmed name passes without a query (%s, %u queries)",
	      iprev_result_name(out.result), fake_dns_queries());
	for (size_t i = 0; i < 3; i++) {
		static const char *const unconfirmed[] = {"[192.0.2.99]", "unknown", "bad name!"};

		fake_dns_reset();
		fake_dns_load("99.2.0.192.in-addr.arpa PTR other.test\nother.test A 192.0.2.1\n");
		c = iprev_start(dns, &client, unconfirmed[i], 500);
		iprev_finish(&c, a, &out);
		CHECK(out.result == IPREV_FAIL && fake_dns_queries() == 2,
		      "MTA name \"%s\" is not confirmed: our lookups decide (%s, %u queries)",
		      unconfirmed[i], iprev_result_name(out.result), fake_dns_queries());
	}
	CHECK(strcmp(iprev_result_name(IPREV_TEMPERROR), "temperror") == 0 &&
		  strcmp(iprev_result_name((enum iprev_result)42), "permerror") == 0,
	      "result names");
	arena_free(&a);
	fake_dns_reset();
	dns_free(&dns);
	return check_done();
}

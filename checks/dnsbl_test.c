/*
 * dnsbl_test - dnsbl.c over the fake resolver (tests/fake_dns.c): query
 * names against RFC 5782's examples, listed / not listed / blocked /
 * out-of-range / SERVFAIL / timeout answers, several codes, domain lists,
 * the warning limiter (stderr captured) and the one-round promise (every
 * query started before the first wait, read from the fake resolver's call
 * trace).  Prints TAP.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "arena.h"
#include "check.h"
#include "dns.h"
#include "dnsbl.h"
#include "fake_dns.h"
#include "log.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static struct dns *dns;


static struct addr ip(const char *text)
{
	struct addr a;

	if (addr_parse(text, &a) < 0) {
		printf("Bail out! bad address %s\n", text);
		exit(1);
	}
	return a;
}

static void test_names(void)
{
	struct addr a;
	char name[300], tiny[8];
	char zone[260];

	/* RFC 5782 §2.1: 192.168.42.23 is asked as 23.42.168.192.<zone>. */
	a = ip("192.168.42.23");
	CHECK(dnsbl_ip_name(&a, "dnsxl.example.com", name, sizeof(name)) == 0, "IPv4 name");
	CHECK_STR(name, "23.42.168.192.dnsxl.example.com", "IPv4: octets reversed (RFC 5782 §2.1)");
	/* RFC 5782 §2.4's example. */
	a = ip("2001:db8:1:2:3:4:567:89ab");
	CHECK(dnsbl_ip_name(&a, "ugly.example.com.", name, sizeof(name)) == 0, "IPv6 name");
	CHECK_STR(
	    name,
	    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com",
	    "IPv6: 32 nibbles reversed, zone's final dot dropped (RFC 5782 §2.4)");
	a = ip("::ffff:192.0.2.99");
	CHECK(dnsbl_ip_name(&a, "zen.test", name, sizeof(name)) == 0 &&
		  strcmp(name, "99.2.0.192.zen.test") == 0,
	      "IPv4-mapped IPv6 is asked in IPv4 form: %s", name);
	a = ip("192.0.2.99");
	CHECK(dnsbl_ip_name(&a, "zen.test", tiny, sizeof(tiny)) == -1 && tiny[0] == '\0',
	      "a buffer too small is an error, not a cut name");
	memset(zone, 'a', 250);
	zone[250] = '\0';
	CHECK(dnsbl_ip_name(&a, zone, name, sizeof(name)) == -1, "a name over 253 characters");
	CHECK(dnsbl_ip_name(&a, "", name, sizeof(name)) == -1, "an empty zone");
	a.family = 0;
	CHECK(dnsbl_ip_name(&a, "zen.test", name, sizeof(name)) == -1, "an unknown address");
	CHECK_STR(dnsbl_status_name(DNSBL_BLOCKED), "blocked", "status names");
}

static const char ip_zone[] = "99.2.0.192.zen.test A 127.0.0.2\n"
			      "99.2.0.192.zen.test A 127.0.0.4\n"
			      "99.2.0.192.zen.test A 127.0.0.10\n"
			      "99.2.0.192.wl.test A 127.0.10.3\n"
			      "99.2.0.192.spamhaus.test A 127.255.255.254\n"
			      "99.2.0.192.custom.test A 127.0.0.250\n"
			      "99.2.0.192.custom.test A 127.0.0.2\n"
			      "99.2.0.192.dead.test A 192.0.2.1\n"
			      "99.2.0.192.broken.test SERVFAIL\n"
			      "99.2.0.192.slow.test TIMEOUT\n"
			      "99.2.0.192.late.test DELAY 2000\n"
			      "99.2.0.192.late.test A 127.0.0.2\n"
			      "99.2.0.192.lag.test DELAY 30\n"
			      "99.2.0.192.lag.test A 127.0.0.3\n"
			      "99.2.0.192.list.dnswl.org A 127.0.0.255\n"
			      "other.nolist.test A 127.0.0.2\n";

enum {
	L_ZEN,
	L_WL,
	L_SPAMHAUS,
	L_CUSTOM,
	L_DEAD,
	L_BROKEN,
	L_SLOW,
	L_LATE,
	L_LAG,
	L_NOLIST,
	L_DNSWL,
	L_DOMAIN,
	L_COUNT
};

static void test_ip_lists(void)
{
	struct dnsbl_list lists[L_COUNT] = {
	    [L_ZEN] = {.zone = "zen.test"},
	    [L_WL] = {.zone = "wl.test", .allow = 1},
	    [L_SPAMHAUS] = {.zone = "spamhaus.test"},
	    [L_CUSTOM] = {.zone = "custom.test",
			  .blocked = {IP4(127, 0, 0, 250)},
			  .blocked_count = 1},
	    [L_DEAD] = {.zone = "dead.test"},
	    [L_BROKEN] = {.zone = "broken.test"},
	    [L_SLOW] = {.zone = "slow.test"},
	    [L_LATE] = {.zone = "late.test"},
	    [L_LAG] = {.zone = "lag.test"},
	    [L_NOLIST] = {.zone = "nolist.test"},
	    [L_DNSWL] = {.zone = "list.dnswl.org", .allow = 1},
	    [L_DOMAIN] = {.zone = "dbl.test", .kind = DNSBL_KIND_DOMAIN},
	};
	struct dnsbl_result r[L_COUNT];
	struct arena *a = arena_new(4096);
	struct addr client = ip("192.0.2.99");
	struct dnsbl_query *q;
	size_t n;

	fake_dns_reset();
	fake_dns_load(ip_zone);
	fake_dns_trace_reset();
	q = dnsbl_ip_start(dns, &client, lists, L_COUNT, 200);
	n = dnsbl_finish(&q, a, r, L_COUNT);
	CHECK(q == NULL, "dnsbl_finish frees the query");
	CHECK(n == L_COUNT - 1, "one result per IP list, the domain list left out (%zu)", n);
	CHECK(fake_dns_queries() == L_COUNT - 1, "one query per IP list");
	CHECK(strspn(fake_dns_trace(), "S") == L_COUNT - 1, "every query started before the first wait (%s)",
	      fake_dns_trace());

	CHECK(r[L_ZEN].status == DNSBL_LISTED && r[L_ZEN].code_count == 3 &&
		  r[L_ZEN].codes[0] == IP4(127, 0, 0, 2) &&
		  r[L_ZEN].codes[1] == IP4(127, 0, 0, 4) && r[L_ZEN].codes[2] == IP4(127, 0, 0, 10),
	      "listed, with all three return codes in order");
	CHECK(r[L_ZEN].list == &lists[L_ZEN] && strcmp(r[L_ZEN].zone, "zen.test") == 0 &&
		  strcmp(r[L_ZEN].subject, "192.0.2.99") == 0 && r[L_ZEN].reason == NULL,
	      "the result names its list, zone and subject");
	CHECK(r[L_WL].status == DNSBL_LISTED && r[L_WL].list->allow &&
		  r[L_WL].codes[0] == IP4(127, 0, 10, 3),
	      "an allow-list listing: 127.0.10.3");
	CHECK(r[L_SPAMHAUS].status == DNSBL_BLOCKED &&
		  r[L_SPAMHAUS].codes[0] == IP4(127, 255, 255, 254) && r[L_SPAMHAUS].reason != NULL,
	      "127.255.255.254 is a refusal by default, not a listing");
	CHECK(r[L_CUSTOM].status == DNSBL_BLOCKED && r[L_CUSTOM].code_count == 2,
	      "a configured refusal code wins over a listing code in the same answer");
	CHECK(r[L_DEAD].status == DNSBL_ERROR && r[L_DEAD].reason != NULL &&
		  strstr(r[L_DEAD].reason, "127.0.0.0/8") != NULL,
	      "an answer outside 127/8 is an error (RFC 5782 §2.1)");
	CHECK(r[L_BROKEN].status == DNSBL_ERROR && r[L_BROKEN].reason != NULL &&
		  strcmp(r[L_BROKEN].reason, "SERVFAIL") == 0,
	      "SERVFAIL is an error: %s", r[L_BROKEN].reason);
	CHECK(r[L_SLOW].status == DNSBL_ERROR && r[L_SLOW].reason != NULL &&
		  strcmp(r[L_SLOW].reason, "timeout") == 0,
	      "a timeout is an error");
	CHECK(r[L_LATE].status == DNSBL_ERROR && r[L_LATE].reason != NULL &&
		  strcmp(r[L_LATE].reason, "timeout") == 0 && r[L_LATE].ms >= 190,
	      "an answer later than the deadline is a timeout, after the deadline (%u ms)",
	      r[L_LATE].ms);
	CHECK(r[L_LAG].status == DNSBL_LISTED && r[L_LAG].ms >= 30 && r[L_LAG].ms < 10000,
	      "latency recorded: %u ms for a 30 ms answer", r[L_LAG].ms);
	CHECK(r[L_NOLIST].status == DNSBL_NOT_LISTED && r[L_NOLIST].code_count == 0,
	      "NXDOMAIN: not listed");
	CHECK(r[L_DNSWL].status == DNSBL_BLOCKED,
	      "list.dnswl.org's 127.0.0.255 is a refusal without configuration");

	/* IPv6 and IPv4-mapped clients. */
	fake_dns_reset();
	fake_dns_load("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test "
		      "A 127.0.0.3\n"
		      "99.2.0.192.zen.test A 127.0.0.2\n");
	client = ip("2001:db8::1");
	q = dnsbl_ip_start(dns, &client, lists, 1, 200);
	n = dnsbl_finish(&q, a, r, 1);
	CHECK(n == 1 && r[0].status == DNSBL_LISTED && r[0].codes[0] == IP4(127, 0, 0, 3) &&
		  strcmp(r[0].subject, "2001:db8::1") == 0,
	      "IPv6 client listed through its nibble name");
	client = ip("::ffff:192.0.2.99");
	q = dnsbl_ip_start(dns, &client, lists, 1, 200);
	n = dnsbl_finish(&q, a, r, 1);
	CHECK(n == 1 && r[0].status == DNSBL_LISTED && r[0].codes[0] == IP4(127, 0, 0, 2),
	      "IPv4-mapped client listed under its IPv4 name");
	client = ip("2001:db8::2");
	q = dnsbl_ip_start(dns, &client, lists, 1, 200);
	n = dnsbl_finish(&q, a, r, 1);
	CHECK(n == 1 && r[0].status == DNSBL_NOT_LISTED, "IPv6 client not listed");

	arena_free(&a);
}

static void test_many_codes(void)
{
	struct dnsbl_list list = {.zone = "many.test"};
	struct dnsbl_result r[2];
	struct arena *a = arena_new(1024);
	struct addr client = ip("192.0.2.99");
	struct dnsbl_query *q;
	char zone[1024] = "";

	for (int i = 1; i <= 12; i++) {
		size_t len = strlen(zone);

		snprintf(zone + len, sizeof(zone) - len, "99.2.0.192.many.test A 127.0.0.%d\n", i);
	}
	fake_dns_reset();
	fake_dns_load(zone);
	q = dnsbl_ip_start(dns, &client, &list, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 2) == 1 && r[0].status == DNSBL_LISTED &&
		  r[0].code_count == DNSBL_MAX_CODES && r[0].codes[7] == IP4(127, 0, 0, 8),
	      "twelve codes: listed, the first %d kept", DNSBL_MAX_CODES);

	/* An answer holding 127.0.0.1 from a list that calls it a refusal. */
	fake_dns_reset();
	fake_dns_load("99.2.0.192.multi.uribl.com A 127.0.0.1\n");
	list.zone = "multi.uribl.com";
	q = dnsbl_ip_start(dns, &client, &list, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 2) == 1 && r[0].status == DNSBL_BLOCKED,
	      "URIBL's 127.0.0.1 is a refusal by default");

	/* Fewer result slots than lists. */
	{
		struct dnsbl_list two[2] = {{.zone = "a.test"}, {.zone = "b.test"}};

		q = dnsbl_ip_start(dns, &client, two, 2, 200);
		CHECK(dnsbl_finish(&q, a, r, 1) == 1 && q == NULL,
		      "out[] of one for two lists: one result, query freed");
		q = dnsbl_ip_start(dns, &client, two, 2, 200);
		dnsbl_cancel(&q);
		CHECK(q == NULL, "dnsbl_cancel frees and clears");
		dnsbl_cancel(&q);
		CHECK(dnsbl_finish(&q, a, r, 1) == 0, "finish of NULL: no results");
	}
	arena_free(&a);
}

static void test_defaults(void)
{
	uint32_t codes[DNSBL_MAX_BLOCKED];
	size_t n;

	n = dnsbl_default_blocked("zen.spamhaus.org", codes, DNSBL_MAX_BLOCKED);
	CHECK(n == 4 && codes[0] == IP4(127, 255, 255, 252) && codes[3] == IP4(127, 255, 255, 255),
	      "Spamhaus: 127.255.255.252-255");
	n = dnsbl_default_blocked("list.dnswl.org.", codes, DNSBL_MAX_BLOCKED);
	CHECK(n == 5 && codes[0] == IP4(127, 0, 0, 255), "dnswl.org adds 127.0.0.255");
	n = dnsbl_default_blocked("notdnswl.org", codes, DNSBL_MAX_BLOCKED);
	CHECK(n == 4, "a zone merely ending in the same letters gets only the generic codes");
	n = dnsbl_default_blocked("multi.surbl.org", codes, 2);
	CHECK(n == 2 && codes[0] == IP4(127, 0, 0, 1), "max is respected");
}

static void test_domain_lists(void)
{
	struct dnsbl_list lists[3] = {
	    {.zone = "dbl.test", .kind = DNSBL_KIND_DOMAIN},
	    {.zone = "zen.test", .kind = DNSBL_KIND_IP},
	    {.zone = "multi.uribl.com", .kind = DNSBL_KIND_DOMAIN},
	};
	struct dnsbl_result r[3];
	struct arena *a = arena_new(4096);
	struct dnsbl_query *q;
	char longname[260];
	size_t n;

	fake_dns_reset();
	fake_dns_load("spam.example.dbl.test A 127.0.1.2\n"
		      "spam.example.multi.uribl.com A 127.0.0.1\n");
	q = dnsbl_domain_start(dns, "Spam.Example.", lists, 3, 200);
	n = dnsbl_finish(&q, a, r, 3);
	CHECK(n == 2 && fake_dns_queries() == 2, "two domain lists, two queries");
	CHECK(r[0].status == DNSBL_LISTED && r[0].codes[0] == IP4(127, 0, 1, 2) &&
		  strcmp(r[0].subject, "Spam.Example.") == 0,
	      "domain listed (asked in lower case, without the final dot)");
	CHECK(r[1].status == DNSBL_BLOCKED && strcmp(r[1].zone, "multi.uribl.com") == 0,
	      "URIBL refusal on a domain list");

	q = dnsbl_domain_start(dns, "clean.example", lists, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 3) == 1 && r[0].status == DNSBL_NOT_LISTED,
	      "domain not listed");

	/* 240 + ".dbl.test" is 249: asked; 246 + 9 = 255: not. */
	fake_dns_reset();
	memset(longname, 'a', sizeof(longname));
	for (int i = 63; i < 240; i += 64)
		longname[i] = '.';
	longname[240] = '\0';
	q = dnsbl_domain_start(dns, longname, lists, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 1) == 1 && r[0].status == DNSBL_NOT_LISTED &&
		  r[0].reason == NULL && fake_dns_queries() == 1,
	      "a 249-character name is asked");
	longname[240] = 'a';
	longname[246] = '\0';
	q = dnsbl_domain_start(dns, longname, lists, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 1) == 1 && r[0].status == DNSBL_NOT_LISTED &&
		  r[0].reason != NULL && fake_dns_queries() == 1,
	      "a name over 253 characters is not asked");
	q = dnsbl_domain_start(dns, "bad..example", lists, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 1) == 1 && r[0].status == DNSBL_NOT_LISTED &&
		  r[0].reason != NULL && fake_dns_queries() == 1,
	      "an empty label is not asked");
	q = dnsbl_domain_start(dns, "", lists, 1, 200);
	CHECK(dnsbl_finish(&q, a, r, 1) == 1 && r[0].status == DNSBL_NOT_LISTED &&
		  fake_dns_queries() == 1,
	      "an empty domain is not asked");
	arena_free(&a);
}

/* Run one blocked query; count the warnings it logged. */
static int blocked_warnings(const struct dnsbl_list *list)
{
	struct dnsbl_result r;
	struct arena *a = arena_new(512);
	struct addr client = ip("192.0.2.99");
	struct dnsbl_query *q;
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO), count = 0;
	char line[1024];

	fflush(stderr);
	dup2(fileno(capture), STDERR_FILENO);
	q = dnsbl_ip_start(dns, &client, list, 1, 200);
	dnsbl_finish(&q, a, &r, 1);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(capture);
	while (fgets(line, sizeof(line), capture) != NULL)
		if (strstr(line, "refuses our queries") != NULL && strstr(line, list->zone) != NULL)
			count++;
	fclose(capture);
	arena_free(&a);
	return count;
}

static void test_warning_limiter(void)
{
	struct dnsbl_list one = {.zone = "once.test"}, two = {.zone = "twice.test"};

	fake_dns_reset();
	fake_dns_load("99.2.0.192.once.test A 127.255.255.254\n"
		      "99.2.0.192.twice.test A 127.255.255.255\n");
	CHECK(blocked_warnings(&one) == 1, "first refusal: one warning");
	CHECK(blocked_warnings(&one) == 0, "second refusal within the interval: none");
	CHECK(blocked_warnings(&two) == 1, "another list has its own interval");
	dnsbl_set_warn_interval(0);
	CHECK(blocked_warnings(&one) == 1, "after the interval: warned again");
	dnsbl_set_warn_interval(600);
}

int main(void)
{
	char *error = NULL;

	log_init("dnsbl_test", 1);
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL) {
		printf("Bail out! %s\n", error ? error : "dns_new");
		return 1;
	}
	test_names();
	test_ip_lists();
	test_many_codes();
	test_defaults();
	test_domain_lists();
	test_warning_limiter();
	fake_dns_reset();
	dns_free(&dns);
	return check_done();
}

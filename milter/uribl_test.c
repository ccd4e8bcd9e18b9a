/*
 * uribl_test - the links' domains asked of the domain lists (uribl.c) over
 * the fake resolver: one parallel round (the call trace), the per-message
 * cap, IP literals never asked, listed / refused ("blocked") / timed-out
 * answers recorded as IDENT_URI listings, a refusal never a listing for
 * the rules, dbl(zone) of the sender's identities not asking links, and
 * the counts the metrics read.  struct content_facts is filled by hand,
 * as the content check would.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "dnsbl.h"
#include "fake_dns.h"
#include "metrics_uribl.h"
#include "rules.h"
#include "runtime.h"
#include "uribl.h"

static const char zone[] =
    "evil.example.dbl.test A 127.0.1.4\n"
    "abused.example.dbl.test A 127.0.1.104\n"
    "evil.example.multi.uribl.com A 127.0.0.1\n" /* URIBL: query refused */
    "refused.example.dbl.test A 127.0.1.255\n"	 /* no DBL listing: a refusal code */
    "slow.example.dbl.test TIMEOUT\n";

static const char rules_text[] =
    "rule URI_DBL uribl(dbl.test) in 127.0.1.2-127.0.1.99 score 5\n"
    "rule URI_DBL_ABUSED dbl(dbl.test, uri) in 127.0.1.102-127.0.1.106 score 1\n"
    "rule URI_BLOCKED uribl(dbl.test) == blocked score 0.1\n"
    "rule URI_URIBL uribl(multi.uribl.com) score 4\n"
    "rule URI_URIBL_REFUSED uribl(multi.uribl.com) == blocked score 0.01\n";

static struct runtime *load(const char *rules, unsigned max_domains, struct dns **dns_r)
{
	char path[] = "/tmp/uribl_test.XXXXXX", text[512], *error = NULL;
	int fd = mkstemp(path);
	struct conf *conf;
	struct runtime *rt;

	if (fd < 0 || write(fd, rules, strlen(rules)) != (ssize_t)strlen(rules)) {
		printf("Bail out! temporary rules file\n");
		exit(1);
	}
	close(fd);
	snprintf(text, sizeof(text),
		 "authserv-id mx.example.test\nrules %s\ndns-timeout 2s\nuribl-max-domains %u\n",
		 path, max_domains);
	conf = conf_parse("test.conf", text, &error);
	if (conf == NULL || (*dns_r = runtime_dns_new(conf, &error)) == NULL ||
	    (rt = runtime_load(conf, *dns_r, NULL, &error)) == NULL) {
		printf("Bail out! %s\n", error ? error : "set-up");
		exit(1);
	}
	unlink(path);
	return rt;
}

static struct content_facts content(const char *const *domains, size_t n)
{
	struct content_facts c = {.scanned = 1, .domains = domains, .domain_count = n};

	return c;
}

static const struct dnsbl_result *listing(const struct facts *f, const char *zone_name,
					  const char *domain)
{
	for (size_t i = 0; i < f->domain_list_count; i++)
		if (f->domain_lists[i].identity == IDENT_URI &&
		    strcmp(f->domain_lists[i].r.zone, zone_name) == 0 &&
		    strcmp(f->domain_lists[i].r.subject, domain) == 0)
			return &f->domain_lists[i].r;
	return NULL;
}

static int hit(const struct rules_verdict *v, const char *name)
{
	for (size_t i = 0; i < v->hit_count; i++)
		if (strcmp(v->hits[i], name) == 0)
			return 1;
	return 0;
}

static void test_round(void)
{
	static const char *const domains[] = {"evil.example", "abused.example", "clean.example",
					      "refused.example", "slow.example"};
	struct dns *dns;
	struct runtime *rt = load(rules_text, 20, &dns);
	struct arena *a = arena_new(4096);
	struct facts f;
	struct content_facts c = content(domains, 5);
	struct uribl_lookup *u;
	const struct dnsbl_result *r;
	struct rules_verdict v;
	size_t asked, over;

	memset(&f, 0, sizeof(f));
	f.content = c;
	fake_dns_reset();
	fake_dns_load(zone);
	fake_dns_trace_reset();
	u = uribl_start(rt, a, &f.content, rt->conf->uribl_max_domains);
	CHECK(u != NULL, "lookups started");
	CHECK(uribl_collect(u, a, &f) == 5, "five domains asked");
	CHECK(fake_dns_queries() == 10, "each of two lists asked about each domain (got %u)",
	      fake_dns_queries());
	CHECK_STR(fake_dns_trace(), "SSSSSSSSSSWWWWWWWWWW",
		  "every query started before the first wait: one round");
	CHECK(f.domain_list_count == 10, "ten IDENT_URI listings");
	r = listing(&f, "dbl.test", "evil.example");
	CHECK(r != NULL && r->status == DNSBL_LISTED && r->codes[0] == 0x7f000104,
	      "evil.example listed 127.0.1.4");
	r = listing(&f, "dbl.test", "clean.example");
	CHECK(r != NULL && r->status == DNSBL_NOT_LISTED, "clean.example not listed");
	r = listing(&f, "multi.uribl.com", "evil.example");
	CHECK(r != NULL && r->status == DNSBL_BLOCKED,
	      "URIBL's 127.0.0.1 (query refused) is blocked, not a listing");
	r = listing(&f, "dbl.test", "slow.example");
	CHECK(r != NULL && r->status == DNSBL_ERROR && r->reason != NULL &&
		  strcmp(r->reason, "timeout") == 0,
	      "a timed-out answer is an error (timeout)");
	rules_evaluate(rt->rules, &f, a, &v);
	CHECK(hit(&v, "URI_DBL") && hit(&v, "URI_DBL_ABUSED"),
	      "uribl(zone) and dbl(zone, uri) read the links' listings");
	CHECK(!hit(&v, "URI_URIBL") && hit(&v, "URI_URIBL_REFUSED"),
	      "a refused URIBL answer never scores as a listing, only == blocked");
	metrics_uribl_counts(&f, &asked, &over);
	CHECK(asked == 5 && over == 0, "metrics: 5 asked, none over the cap");
	uribl_cancel(&u);
	CHECK(u == NULL, "uribl_cancel clears the pointer");
	uribl_cancel(&u);
	arena_free(&a);
	runtime_unref(&rt);
	dns_free(&dns);
}

/* A DBL's "IP queries prohibited" (127.0.1.255) is a refusal by default. */
static void test_dbl_refusal(void)
{
	static const char *const domains[] = {"refused.example"};
	static const char rules[] = "rule URI_DBL uribl(dbl.spamhaus.org) score 5\n"
				    "rule URI_DBL_BLOCKED uribl(dbl.spamhaus.org) == blocked\n";
	struct dns *dns;
	struct runtime *rt = load(rules, 20, &dns);
	struct arena *a = arena_new(4096);
	struct facts f;
	struct uribl_lookup *u;
	const struct dnsbl_result *r;
	struct rules_verdict v;
	uint32_t codes[DNSBL_MAX_BLOCKED];
	size_t n = dnsbl_default_blocked("dbl.spamhaus.org", codes, DNSBL_MAX_BLOCKED);
	int has = 0;

	for (size_t i = 0; i < n; i++)
		has |= codes[i] == 0x7f0001ff;
	CHECK(has, "dbl.spamhaus.org refuses with 127.0.1.255 by default");
	memset(&f, 0, sizeof(f));
	f.content = content(domains, 1);
	fake_dns_reset();
	fake_dns_load("refused.example.dbl.spamhaus.org A 127.0.1.255\n");
	u = uribl_start(rt, a, &f.content, rt->conf->uribl_max_domains);
	uribl_collect(u, a, &f);
	r = listing(&f, "dbl.spamhaus.org", "refused.example");
	CHECK(r != NULL && r->status == DNSBL_BLOCKED, "DBL 127.0.1.255: blocked");
	rules_evaluate(rt->rules, &f, a, &v);
	CHECK(v.hit_count == 1 && strcmp(v.hits[0], "URI_DBL_BLOCKED") == 0,
	      "only == blocked matches a refused DBL answer");
	uribl_cancel(&u);
	arena_free(&a);
	runtime_unref(&rt);
	dns_free(&dns);
}

/* The cap: the first max domains, in the order found; the rest counted. */
static void test_cap(void)
{
	static char names[200][32];
	static const char *domains[200];
	struct dns *dns;
	struct runtime *rt = load(rules_text, 20, &dns);
	struct arena *a = arena_new(4096);
	struct facts f;
	struct uribl_lookup *u;
	size_t asked, over;

	for (size_t i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "news%zu.example", i);
		domains[i] = names[i];
	}
	memset(&f, 0, sizeof(f));
	f.content = content(domains, 200);
	fake_dns_reset();
	u = uribl_start(rt, a, &f.content, rt->conf->uribl_max_domains);
	CHECK(uribl_collect(u, a, &f) == 20, "200 domains: the first 20 asked");
	CHECK(fake_dns_queries() == 40, "40 queries (20 domains, 2 lists)");
	CHECK(listing(&f, "dbl.test", "news19.example") != NULL &&
		  listing(&f, "dbl.test", "news20.example") == NULL,
	      "in the order found");
	metrics_uribl_counts(&f, &asked, &over);
	CHECK(asked == 20 && over == 180, "metrics: 20 asked, 180 over the cap");
	{
		struct buf b;

		metrics_uribl_message(&f);
		buf_init(&b, 8192);
		metrics_uribl_render(&b);
		CHECK(strstr(buf_str(&b), "authscore_uribl_domains_bucket{le=\"10\"} 0\n") &&
			  strstr(buf_str(&b), "authscore_uribl_domains_bucket{le=\"20\"} 1\n") &&
			  strstr(buf_str(&b), "authscore_uribl_domains_sum 20\n") &&
			  strstr(buf_str(&b), "authscore_uribl_domains_over_cap_total 180\n"),
		      "metrics: the message in the le=20 bucket, 180 over the cap");
		buf_release(&b);
	}
	uribl_cancel(&u);

	/* not scanned, no domains, a cap of 0: nothing asked */
	memset(&f, 0, sizeof(f));
	fake_dns_reset();
	CHECK(uribl_start(rt, a, &f.content, 20) == NULL, "body not scanned: nothing asked");
	f.content = content(domains, 0);
	CHECK(uribl_start(rt, a, &f.content, 20) == NULL, "no domains: nothing asked");
	f.content = content(domains, 200);
	CHECK(uribl_start(rt, a, &f.content, 0) == NULL, "uribl-max-domains 0: nothing asked");
	CHECK(fake_dns_queries() == 0, "no query");
	arena_free(&a);
	runtime_unref(&rt);
	dns_free(&dns);

	/* rules that name no uri list: the links are never asked about */
	rt = load("rule SENDER_DBL dbl(dbl.test) score 1\n", 20, &dns);
	a = arena_new(4096);
	f.content = content(domains, 200);
	fake_dns_reset();
	CHECK(uribl_start(rt, a, &f.content, 20) == NULL && fake_dns_queries() == 0,
	      "dbl(zone) without uri: no link asked");
	arena_free(&a);
	runtime_unref(&rt);
	dns_free(&dns);
}

int main(void)
{
	dnsbl_set_warn_interval(0);
	test_round();
	test_dbl_refusal();
	test_cap();
	return check_done();
}

/*
 * rules_bench - what the rules cost per message.
 *
 * Evaluates, for a fixed busy struct facts and a fresh arena per message
 * (as the daemon does): an empty ruleset (the baseline: arena and call
 * overhead), the shipped default.rules (argv[1], if given), and 1,000
 * generated rules mixing every kind of test (enum results, DNS list codes,
 * header regexes, strings, numbers, networks, meta rules, monitors).
 * Prints ns per message for each, and for the generated set ns per rule
 * above the baseline.  Each measurement runs for about a second.  Never
 * part of `make check`: `make bench` runs it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "rules.h"

#define GENERATED_RULES 1000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void busy_facts(struct facts *f)
{
	static struct dnsbl_result ip[3] = {
	    {.zone = "zen.spamhaus.org",
	     .status = DNSBL_LISTED,
	     .codes = {0x7f00000a},
	     .code_count = 1},
	    {.zone = "list.dnswl.org", .status = DNSBL_NOT_LISTED},
	    {.zone = "bl.spamcop.net", .status = DNSBL_NOT_LISTED},
	};
	static struct domain_listing dl[2] = {
	    {IDENT_FROM, {.zone = "dbl.spamhaus.org", .status = DNSBL_NOT_LISTED}},
	    {IDENT_MAIL_FROM, {.zone = "dbl.spamhaus.org", .status = DNSBL_NOT_LISTED}},
	};
	static struct dkim_sig sigs[2] = {{.result = DKIM_PASS, .domain = "example.com"},
					  {.result = DKIM_FAIL, .domain = "esp.example"}};
	static struct header_field hdr[12] = {
	    {"Received",
	     "from mail.example.com (mail.example.com [203.0.113.10]) by mx.example.net"},
	    {"From", "Alice Example <alice@example.com>"},
	    {"To", "bob@example.net"},
	    {"Subject", "Quarterly report: figures for the third quarter, as discussed"},
	    {"Date", "Sat, 28 Nov 2026 12:00:00 +0000"},
	    {"Message-ID", "<20261128120000.12345@mail.example.com>"},
	    {"MIME-Version", "1.0"},
	    {"Content-Type", "multipart/alternative; boundary=\"b1\""},
	    {"DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=s1; h=from:to:subject"},
	    {"List-Unsubscribe", "<mailto:unsub@example.com>"},
	    {"X-Mailer", "Example Mailer 1.0"},
	    {"Reply-To", "alice@example.com"},
	};
	static const char *rcpts[2] = {"bob@example.net", "carol@example.net"};

	memset(f, 0, sizeof(*f));
	addr_parse("203.0.113.10", &f->client);
	f->helo = "mail.example.com";
	f->client_host = "mail.example.com";
	f->mail_from = "alice@example.com";
	f->mail_from_domain = "example.com";
	f->from_domain = "example.com";
	f->tls_version = "TLSv1.3";
	f->ip_lists = ip;
	f->ip_list_count = 3;
	f->domain_lists = dl;
	f->domain_list_count = 2;
	f->spf_mfrom.result = SPF_PASS;
	f->spf_helo.result = SPF_PASS;
	f->dkim.sig = sigs;
	f->dkim.count = 2;
	f->dmarc.result = DMARC_PASS;
	f->dmarc.policy = DMARC_POLICY_REJECT;
	f->iprev.result = IPREV_PASS;
	memcpy(f->geoip.country, "NL", 3);
	f->geoip.asn = 64500;
	f->headers = hdr;
	f->header_count = 12;
	f->rcpts = rcpts;
	f->rcpt_count = 2;
	f->header_bytes = 900;
	f->body_bytes = 48000;
}

/* 1,000 rules, cycling through the kinds of test a real file has. */
static char *generate(void)
{
	static const char *const kinds[] = {
	    "spf == fail",
	    "spf.helo in (fail, softfail)",
	    "dkim(example.com) == pass and dmarc == pass",
	    "dmarc == fail and dmarc.policy == reject",
	    "iprev != pass",
	    "dnsbl(zen.spamhaus.org) in 127.0.0.2-127.0.0.%d",
	    "dnswl(list.dnswl.org) == 127.0.*.%d",
	    "dbl(dbl.spamhaus.org, from) & 0x%x",
	    "geoip.country in (KP, IR, X%c)",
	    "geoip.asn in (64496-64511, %d)",
	    "header(Subject) =~ /\\b(viagra|lottery|winner%d)\\b/i",
	    "header(X-Mailer) =~ /^Mailer%d/",
	    "helo =~ /^\\[?[0-9.]+\\]?$/ or helo == h%d.example",
	    "mail_from.domain == d%d.example",
	    "rcpt =~ /^r%d@/",
	    "size > %dk and rcpt.count > 10",
	    "client in (198.51.100.0/24, 10.%d.0.0/16)",
	    "tls < TLSv1.2 and not authenticated",
	    "R%d and not R%d",
	    "from.error or header(Reply-To) == x%d@example.com",
	};
	struct buf b;
	size_t n = sizeof(kinds) / sizeof(kinds[0]);

	buf_init(&b, 1024 * 1024);
	buf_puts(&b, "actions { tag 5; quarantine 10; reject 15 }\n");
	for (int i = 0; i < GENERATED_RULES; i++) {
		const char *k = kinds[(size_t)i % n];

		buf_printf(&b, "%srule R%d ", i % 10 == 9 ? "monitor " : "", i);
		if (strstr(k, "R%d") != NULL && i >= 2)
			buf_printf(&b, k, i - 1, i - 2);
		else if (strstr(k, "R%d") != NULL)
			buf_puts(&b, "true");
		else if (strstr(k, "%c") != NULL)
			buf_printf(&b, k, 'A' + i % 26);
		else
			buf_printf(&b, k, 3 + i % 8);
		buf_printf(&b, " score %d.%d\n", i % 3, i % 10);
	}
	if (b.overflow) {
		fprintf(stderr, "rules_bench: generated rules too long\n");
		exit(1);
	}
	{
		char *s = strdup(buf_str(&b));

		buf_release(&b);
		return s;
	}
}

/* ns per message, measured for about a second */
static double measure(const struct ruleset *rs, const struct facts *f, double *score_r)
{
	struct rules_verdict v;
	double start = now_ns(), elapsed;
	long n = 0, batch = 64;

	do {
		for (long i = 0; i < batch; i++) {
			struct arena *a = arena_new(8192);

			rules_evaluate(rs, f, a, &v);
			*score_r = v.score;
			arena_free(&a);
		}
		n += batch;
		elapsed = now_ns() - start;
	} while (elapsed < 1e9);
	return elapsed / (double)n;
}

int main(int argc, char **argv)
{
	struct facts f;
	char *error = NULL, *text = generate();
	struct ruleset *empty = rules_parse("empty", "", &error);
	struct ruleset *gen = rules_parse("generated", text, &error);
	double base, ns, score;
	size_t regexes = 0;

	if (empty == NULL || gen == NULL) {
		fprintf(stderr, "rules_bench: %s\n", error);
		return 1;
	}
	busy_facts(&f);
	base = measure(empty, &f, &score);
	printf("baseline (empty ruleset, arena per message): %8.0f ns/message\n", base);
	if (argc > 1) {
		struct ruleset *def = rules_load(argv[1], &error);

		if (def == NULL) {
			fprintf(stderr, "rules_bench: %s\n", error);
			return 1;
		}
		ns = measure(def, &f, &score);
		printf("default.rules (%zu rules):                  %8.0f ns/message\n",
		       rules_count(def), ns);
		rules_free(&def);
	}
	for (const char *s = text; (s = strstr(s, "=~")) != NULL; s += 2)
		regexes++;
	ns = measure(gen, &f, &score);
	printf("generated (%zu rules, %zu regexes):         %8.0f ns/message, %.1f ns/rule above "
	       "baseline (score %.1f)\n",
	       rules_count(gen), regexes, ns, (ns - base) / (double)rules_count(gen), score);
	rules_free(&empty);
	rules_free(&gen);
	free(text);
	return 0;
}

/*
 * fuzz_rules - libFuzzer target for the rules parser and evaluator.
 *
 * The input is a rules file; when it parses, it is evaluated against a few
 * fixed, busy struct facts (lists listed and blocked, DKIM signatures,
 * headers, a scanned body with a listed link), so the evaluator sees whatever the parser accepts.
 * Includes are resolved against the working directory (run-fuzz.sh runs it in an empty one).  Built
 * by tests/fuzz/run-fuzz.sh with clang -fsanitize=fuzzer,address,undefined.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static void facts_busy(struct facts *f)
{
	static struct dnsbl_result ip[2] = {
	    {.zone = "zen.spamhaus.org",
	     .status = DNSBL_LISTED,
	     .codes = {0x7f000002, 0x7f00000a},
	     .code_count = 2},
	    {.zone = "bl.spamcop.net", .status = DNSBL_BLOCKED},
	};
	static struct domain_listing dl[2] = {
	    {IDENT_FROM,
	     {.zone = "dbl.spamhaus.org",
	      .status = DNSBL_LISTED,
	      .codes = {0x7f000102},
	      .code_count = 1}},
	    {IDENT_URI,
	     {.zone = "dbl.spamhaus.org",
	      .status = DNSBL_LISTED,
	      .codes = {0x7f000104},
	      .code_count = 1}},
	};
	/* the body (issue 19): text with a NUL, a link, an attachment */
	static const char text[] = "your account is suspended\0hidden";
	static const struct content_part parts[2] = {
	    {.type = "text/html"},
	    {.type = "application/zip",
	     .sniffed = "application/zip",
	     .filename = "a.pdf.exe",
	     .attachment = 1},
	};
	static const struct content_url urls[1] = {{.url = "https://login-verify.evil.example/",
						    .host = "login-verify.evil.example",
						    .domain = "evil.example",
						    .mismatch = 1}};
	static const char *const hosts[1] = {"login-verify.evil.example"};
	static const char *const domains[1] = {"evil.example"};
	static struct dkim_sig sigs[2] = {{.result = DKIM_PASS, .domain = "example.com"},
					  {.result = DKIM_FAIL, .domain = "example.org"}};
	static struct header_field hdr[2] = {{"Subject", "hello aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"},
					     {"From", "a@example.com"}};
	static const char *rcpts[1] = {"b@example.net"};

	memset(f, 0, sizeof(*f));
	addr_parse("203.0.113.10", &f->client);
	f->helo = "[203.0.113.10]";
	f->mail_from = "a@example.com";
	f->mail_from_domain = "example.com";
	f->from_domain = "example.com";
	f->tls_version = "TLSv1.2";
	f->ip_lists = ip;
	f->ip_list_count = 2;
	f->domain_lists = dl;
	f->domain_list_count = 2;
	f->content = (struct content_facts){.scanned = 1,
					    .text = text,
					    .text_len = sizeof(text) - 1,
					    .raw = text,
					    .raw_len = sizeof(text) - 1,
					    .parts = parts,
					    .part_count = 2,
					    .urls = urls,
					    .url_count = 1,
					    .hosts = hosts,
					    .host_count = 1,
					    .domains = domains,
					    .domain_count = 1,
					    .html_only = 1,
					    .link_text_mismatch = 1,
					    .double_extension = 1,
					    .archive_executable = 1};
	f->spf_mfrom.result = SPF_FAIL;
	f->dkim.sig = sigs;
	f->dkim.count = 2;
	f->dmarc.result = DMARC_FAIL;
	f->dmarc.policy = DMARC_POLICY_REJECT;
	f->iprev.result = IPREV_FAIL;
	memcpy(f->geoip.country, "KP", 3);
	f->geoip.asn = 64496;
	f->headers = hdr;
	f->header_count = 2;
	f->rcpts = rcpts;
	f->rcpt_count = 1;
	f->body_bytes = 12345;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *error = NULL;
	struct ruleset *rs = rules_parse_buf("fuzz.rules", (const char *)data, size, &error);

	if (rs != NULL) {
		struct facts f;
		struct arena *a = arena_new(4096);
		struct rules_verdict v;

		facts_busy(&f);
		rules_evaluate(rs, &f, a, &v);
		memset(&f, 0, sizeof(f));
		rules_evaluate(rs, &f, a, &v);
		arena_free(&a);
	} else if (error == NULL || strchr(error, ':') == NULL) {
		abort(); /* every failure says where */
	}
	free(error);
	rules_free(&rs);
	return 0;
}

/*
 * record_test - history records: from the facts, the JSON round trip with
 * hostile strings, and a decoder that refuses malformed lines.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "record.h"
#include "record_int.h"

static const char hostile[] = "q\"uo\"te \\back\\slash\\ \x01\x02\x1f\x7f tab\t nl\n cr\r"
			      " <xml attr='x'>&amp;</xml> ]]> \xff\xfe \xc0\x80 \x80 \xe2\x82"
			      " \xed\xa0\x80 \xf4\x90\x80\x80 caf\xc3\xa9 \xf0\x9d\x84\x9e end\\";

static int streq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int records_equal(const struct history_record *a, const struct history_record *b,
			 const char **which)
{
	for (size_t i = 0; i < record_field_count; i++) {
		const struct record_field *f = &record_fields[i];
		const char *pa = (const char *)a + f->offset, *pb = (const char *)b + f->offset;
		int same = 0;

		switch (f->kind) {
		case FK_STR:
			same = streq(*(const char *const *)pa, *(const char *const *)pb);
			break;
		case FK_I64:
			same = *(const int64_t *)pa == *(const int64_t *)pb;
			break;
		case FK_INT:
			same = *(const int *)pa == *(const int *)pb;
			break;
		case FK_DBL:
			same = *(const double *)pa == *(const double *)pb;
			break;
		}
		if (!same) {
			*which = f->name;
			return 0;
		}
	}
	*which = "dkim";
	if (a->dkim_count != b->dkim_count)
		return 0;
	for (size_t i = 0; i < a->dkim_count; i++)
		if (!streq(a->dkim[i].domain, b->dkim[i].domain) ||
		    !streq(a->dkim[i].selector, b->dkim[i].selector) ||
		    !streq(a->dkim[i].result, b->dkim[i].result))
			return 0;
	*which = "facts_json";
	return streq(a->facts_json, b->facts_json);
}

/* Valid UTF-8 without raw control characters: what every line must be. */
static int clean_json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80)
			p++;
		else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2 && (p[1] & 0xc0) == 0x80)
			p += 2;
		else if ((*p & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
			 !(*p == 0xed && p[1] >= 0xa0) && !(*p == 0xe0 && p[1] < 0xa0))
			p += 3;
		else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 &&
			 (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 &&
			 !(*p == 0xf4 && p[1] >= 0x90) && !(*p == 0xf0 && p[1] < 0x90))
			p += 4;
		else
			return 0;
	}
	return 1;
}

static struct dnsbl_list zen = {.zone = "zen.spamhaus.org"};
static struct dnsbl_list wl = {.zone = "list.dnswl.org", .allow = 1};

static void sample_facts(struct facts *f, struct verdict *v, const char *odd)
{
	static struct dnsbl_result ip_lists[2];
	static struct domain_listing domain_lists[1];
	static struct dkim_sig sigs[2];
	static const char *rcpts[] = {"a@example.net", "b@example.net", NULL};
	static const char *hits[] = {"SPF_FAIL", "ZEN"};
	static const char *monitors[] = {"TRY"};

	memset(f, 0, sizeof(*f));
	memset(v, 0, sizeof(*v));
	addr_parse("203.0.113.10", &f->client);
	snprintf(f->client_ip, sizeof(f->client_ip), "203.0.113.10");
	f->client_host = "mx.example.com";
	f->helo = odd;
	f->tls_version = "TLSv1.3";
	ip_lists[0] = (struct dnsbl_result){.list = &zen,
					    .zone = "zen.spamhaus.org",
					    .subject = "203.0.113.10",
					    .status = DNSBL_LISTED,
					    .codes = {0x7f000002, 0x7f00000a},
					    .code_count = 2,
					    .ms = 12};
	ip_lists[1] = (struct dnsbl_result){.list = &wl,
					    .zone = "list.dnswl.org",
					    .subject = "203.0.113.10",
					    .status = DNSBL_ERROR,
					    .reason = "timeout"};
	f->ip_lists = ip_lists;
	f->ip_list_count = 2;
	domain_lists[0] = (struct domain_listing){.identity = IDENT_FROM,
						  .r = {.zone = "dbl.spamhaus.org",
							.subject = "example.com",
							.status = DNSBL_NOT_LISTED}};
	f->domain_lists = domain_lists;
	f->domain_list_count = 1;
	f->iprev = (struct iprev_outcome){.result = IPREV_FAIL, .name = "host.example.com"};
	memcpy(f->geoip.country, "DE", 3);
	f->geoip.asn = 64496;
	f->geoip.asn_org = odd;
	f->queue_id = "4XyZ1";
	f->mail_from = odd;
	f->mail_from_domain = "example.com";
	f->rcpt_count = 2;
	f->rcpts = rcpts;
	f->message_id = "<id@example.com>";
	f->header_bytes = 1234;
	f->body_bytes = 56789;
	f->header_count = 17;
	f->spf_mfrom = (struct spf_outcome){.result = SPF_FAIL,
					    .scope = SPF_SCOPE_MFROM,
					    .domain = "example.com",
					    .dns_queries = 3};
	f->spf_helo = (struct spf_outcome){.result = SPF_NONE, .scope = SPF_SCOPE_HELO};
	f->from_fields = 1;
	f->from_domain = "example.com";
	sigs[0] = (struct dkim_sig){.result = DKIM_PASS,
				    .domain = "example.com",
				    .selector = "s1",
				    .algorithm = "rsa-sha256",
				    .key_bits = 2048};
	sigs[1] = (struct dkim_sig){
	    .result = DKIM_FAIL, .domain = odd, .selector = odd, .reason = "body hash"};
	f->dkim.sig = sigs;
	f->dkim.count = 2;
	f->dmarc_record = (struct dmarc_record){.found = 1,
						.record_domain = "example.com",
						.org_domain = "example.com",
						.p = DMARC_POLICY_REJECT,
						.np = DMARC_POLICY_QUARANTINE,
						.aspf_strict = 1,
						.testing = 0,
						.psd = -1,
						.rua = "mailto:d@example.com",
						.raw = "v=DMARC1; p=reject",
						.domain_exists = 1};
	f->dmarc = (struct dmarc_outcome){.result = DMARC_PASS,
					  .header_from = "example.com",
					  .policy = DMARC_POLICY_REJECT,
					  .published = DMARC_POLICY_REJECT,
					  .dkim_aligned = 1};
	f->dmarc_override = "trusted_forwarder";
	f->ratelimit = RATELIMIT_BIT(RATELIMIT_IP) | RATELIMIT_BIT(RATELIMIT_USER);
	f->score = 9.5;
	f->rules_hit = hits;
	f->rules_hit_count = 2;
	f->monitors_hit = monitors;
	f->monitors_hit_count = 1;
	v->action = VERDICT_TAG;
	v->dmarc_disposition = DMARC_POLICY_NONE;
}

static void test_from_facts(void)
{
	struct arena *a = arena_new(4096);
	struct facts f;
	struct verdict v;
	struct history_record r;

	sample_facts(&f, &v, "odd.example");
	record_from_facts(&f, &v, 1767225600, a, &r);
	CHECK(r.time == 1767225600, "time");
	CHECK_STR(r.client_ip, "203.0.113.10", "client ip copied");
	CHECK_STR(r.header_from, "example.com", "header_from is the Author Domain");
	CHECK_STR(r.spf_domain, "example.com", "spf domain");
	CHECK_STR(r.spf_scope, "mfrom", "spf scope");
	CHECK_STR(r.spf_result, "fail", "spf result");
	CHECK_STR(r.spf_helo_result, "none", "spf helo result");
	CHECK(r.dkim_count == 2, "two signatures");
	CHECK_STR(r.dkim[0].selector, "s1", "selector");
	CHECK_STR(r.dkim[1].result, "fail", "second signature failed");
	CHECK_STR(r.dmarc_result, "pass", "dmarc result");
	CHECK_STR(r.policy_domain, "example.com", "policy domain");
	CHECK_STR(r.p, "reject", "p");
	CHECK(r.sp == NULL, "sp absent stays NULL");
	CHECK_STR(r.np, "quarantine", "np");
	CHECK(r.aspf_strict == 1 && r.adkim_strict == 0 && r.psd == -1, "flags");
	CHECK_STR(r.discovery, "treewalk", "discovery");
	CHECK_STR(r.disposition, "none", "disposition applied");
	CHECK_STR(r.override, "trusted_forwarder", "override");
	CHECK_STR(r.rules, "SPF_FAIL,ZEN", "rules joined");
	CHECK_STR(r.action, "tag", "action");
	CHECK(r.dkim_aligned == 1 && r.spf_aligned == 0, "alignment");
	CHECK(r.facts_json != NULL &&
		  strstr(r.facts_json, "\"codes\":[\"127.0.0.2\",\"127.0.0.10\"]"),
	      "facts: DNS list codes");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"iprev\":{\"result\":\"fail\""),
	      "facts: iprev");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"asn\":64496"), "facts: geoip");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"rcpt_count\":2"),
	      "facts: recipients");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"body_bytes\":56789"), "facts: sizes");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"identity\":\"from\""),
	      "facts: domain list identity");
	CHECK(r.facts_json != NULL && strstr(r.facts_json, "\"ratelimit\":[\"ip\",\"user\"]"),
	      "facts: the rate limits exceeded");

	/* no policy found: no policy fields, psd absent */
	f.dmarc_record.found = 0;
	v.dmarc_disposition = DMARC_POLICY_UNSET;
	record_from_facts(&f, &v, 1, a, &r);
	CHECK(r.policy_domain == NULL && r.p == NULL && r.discovery == NULL && r.psd == -1,
	      "no policy record: policy fields NULL");
	CHECK_STR(r.disposition, "none", "UNSET disposition is none");
	arena_free(&a);
}

static void test_round_trip(void)
{
	struct arena *a = arena_new(4096);
	struct facts f;
	struct verdict v;
	struct history_record r, d, *dup;
	const char *line, *line2, *why, *which = "";
	int rc;

	sample_facts(&f, &v, hostile);
	record_from_facts(&f, &v, 1767225600, a, &r);
	r.uid = "0123456789abcdef-1";
	r.score = 0.1 + 0.2; /* needs 17 digits */
	line = record_encode(&r, a);
	CHECK(line != NULL, "hostile record encodes");
	if (line == NULL)
		return;
	CHECK(clean_json_text(line), "the line is valid UTF-8 with no raw control characters");
	CHECK(strchr(line, '\n') == NULL, "one line");
	CHECK(strstr(line, "\\udcff\\udcfe") != NULL, "invalid bytes escaped as \\udcXX");
	CHECK(strstr(line, "caf\xc3\xa9") != NULL && strstr(line, "\xf0\x9d\x84\x9e") != NULL,
	      "valid UTF-8 kept as is");
	CHECK(strstr(line, "\\u007f") != NULL && strstr(line, "\\u0001") != NULL,
	      "control characters escaped");
	why = NULL;
	rc = record_decode(line, strlen(line), a, &d, &why);
	CHECK(rc == 0, "decodes: %s", why ? why : "ok");
	CHECK(records_equal(&r, &d, &which), "round trip identical (%s)", which);
	CHECK_STR(d.helo, hostile, "hostile string byte for byte");
	line2 = record_encode(&d, a);
	CHECK(line2 != NULL && strcmp(line, line2) == 0, "re-encoding gives the same line");
	CHECK(d.score == 0.1 + 0.2, "score exact");
	/* a trailing newline (as in the spool) is accepted */
	{
		char *nl = arena_printf(a, "%s\n", line);

		CHECK(record_decode(nl, strlen(nl), a, &d, &why) == 0,
		      "a trailing newline is fine");
	}
	dup = record_dup(&r);
	CHECK(records_equal(&r, dup, &which), "record_dup copies everything (%s)", which);
	CHECK(dup->helo != r.helo && dup->facts_json != r.facts_json,
	      "record_dup owns its strings");
	free(dup);

	/* the minimum: time and version */
	memset(&r, 0, sizeof(r));
	r.time = -5;
	r.psd = -1;
	line = record_encode(&r, a);
	CHECK(line != NULL && record_decode(line, strlen(line), a, &d, &why) == 0 &&
		  records_equal(&r, &d, &which),
	      "empty record round trip");
	/* the numbers at their ends, written without printf */
	r.time = INT64_MIN;
	line = record_encode(&r, a);
	CHECK(line != NULL && strstr(line, "\"time\":-9223372036854775808") != NULL &&
		  record_decode(line, strlen(line), a, &d, &why) == 0 && d.time == INT64_MIN,
	      "the least time round trip");
	r.time = INT64_MAX;
	line = record_encode(&r, a);
	CHECK(line != NULL && strstr(line, "\"time\":9223372036854775807") != NULL &&
		  record_decode(line, strlen(line), a, &d, &why) == 0 && d.time == INT64_MAX,
	      "the greatest time round trip");
	r.time = 0;
	line = record_encode(&r, a);
	CHECK(line != NULL && strstr(line, "\"time\":0,") != NULL, "time 0 written as 0");
	arena_free(&a);
}

static void test_caps(void)
{
	struct arena *a = arena_new(4096);
	struct facts f;
	struct verdict v;
	struct history_record r, d;
	char *huge = malloc(100000);
	const char **rcpts = malloc(5000 * sizeof(*rcpts));
	const char *line, *why;

	/* every string at its worst (each byte escaped as \u00XX), hundreds of recipients */
	memset(huge, 0x01, 99999);
	huge[99999] = '\0';
	for (int i = 0; i < 5000; i++)
		rcpts[i] = huge;
	sample_facts(&f, &v, huge);
	f.rcpts = rcpts;
	f.rcpt_count = 5000;
	f.queue_id = f.message_id = f.client_host = f.auth_user = huge;
	record_from_facts(&f, &v, 1, a, &r);
	line = record_encode(&r, a);
	CHECK(line != NULL && strlen(line) < RECORD_MAX_LINE,
	      "a record from hostile facts always encodes under the cap (%zu)",
	      line ? strlen(line) : 0);
	CHECK(line != NULL && record_decode(line, strlen(line), a, &d, &why) == 0, "and decodes");
	CHECK(d.helo != NULL && strlen(d.helo) == 255, "record strings truncated at 255");
	CHECK(d.facts_json != NULL, "facts kept (possibly marked truncated)");
	/* a record built by hand over the cap is refused by the encoder */
	memset(&r, 0, sizeof(r));
	r.helo = huge;
	r.mail_from = huge;
	r.header_from = huge;
	CHECK(record_encode(&r, a) == NULL, "over RECORD_MAX_LINE: NULL");
	free(rcpts);
	free(huge);
	arena_free(&a);
}

static void test_malformed(void)
{
	static const struct {
		const char *line;
		const char *what;
	} bad[] = {
	    {"", "empty"},
	    {"{", "unterminated object"},
	    {"[]", "not an object"},
	    {"\"s\"", "a string"},
	    {"{\"v\":1}", "no time"},
	    {"{\"time\":1}", "no version"},
	    {"{\"v\":2,\"time\":1}", "unknown version"},
	    {"{\"v\":1,\"time\":1} x", "trailing garbage"},
	    {"{\"v\":1,\"time\":1,}", "trailing comma"},
	    {"{\"v\":1,\"time\":01}", "leading zero"},
	    {"{\"v\":1,\"time\":1.5}", "fractional time"},
	    {"{\"v\":1,\"time\":99999999999999999999}", "time out of range"},
	    {"{\"v\":1,\"time\":1,\"helo\":5}", "string member a number"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"a\\u0000b\"}", "escaped NUL"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\\ud800\"}", "lone high surrogate"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\\udc10\"}", "lone low surrogate outside dc80-dcff"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\\ud800\\u0041\"}", "high surrogate then not low"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\\x41\"}", "bad escape"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\\u12\"}", "short \\u"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"a\tb\"}", "raw tab"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\xff\"}", "raw invalid UTF-8"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\xc0\xaf\"}", "overlong UTF-8"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"\xed\xa0\x80\"}", "UTF-8 surrogate"},
	    {"{\"v\":1,\"time\":1,\"helo\":\"abc}", "unterminated string"},
	    {"{\"v\":1,\"time\":1,\"time\":2}", "duplicate member"},
	    {"{\"v\":1,\"time\":1,\"psd\":2}", "flag out of range"},
	    {"{\"v\":1,\"time\":1,\"score\":\"1\"}", "score a string"},
	    {"{\"v\":1,\"time\":1,\"score\":1e999}", "score infinite"},
	    {"{\"v\":1,\"time\":1,\"dkim\":{}}", "dkim an object"},
	    {"{\"v\":1,\"time\":1,\"dkim\":[1]}", "dkim element a number"},
	    {"{\"v\":1,\"time\":1,\"dkim\":[{},{},{},{},{},{},{},{},{}]}", "nine signatures"},
	    {"{\"v\":1,\"time\":1,\"dkim\":[{\"domain\":[]}]}", "dkim domain an array"},
	    {"{\"v\":1,\"time\":1,\"facts\":[]}", "facts an array"},
	    {"{\"v\":1,\"time\":1,\"facts\":{\"a\":[[[[[[[[[[1]]]]]]]]]]}}", "nested too deep"},
	    {"{\"v\":1,\"time\":1,\"facts\":{\"a\":tru}}", "bad literal"},
	    {"{\"v\":1,\"time\":1,\"facts\":{\"a\":-}}", "bad number"},
	    {"{\"v\":1,\"time\":1,\"facts\":{\"a\":1.}}", "bad fraction"},
	    {"{\"v\":1,\"time\":1,\"facts\":{\"a\" 1}}", "no colon"},
	    {"{\"v\":1,\"time\":1,\"facts\":{1:1}}", "number as a key"},
	};
	struct arena *a = arena_new(4096);
	struct history_record r;
	const char *why;
	char *big;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		int rc = record_decode(bad[i].line, strlen(bad[i].line), a, &r, &why);

		CHECK(rc < 0 && why != NULL, "refused: %s (%s)", bad[i].what,
		      why ? why : "accepted");
	}
	/* an embedded NUL */
	CHECK(record_decode("{\"v\":1,\"time\":1}\0", 17, a, &r, &why) < 0, "NUL in the line");
	/* over the cap */
	big = malloc(RECORD_MAX_LINE + 10);
	memset(big, ' ', RECORD_MAX_LINE + 10);
	memcpy(big, "{\"v\":1,\"time\":1}", 16);
	CHECK(record_decode(big, RECORD_MAX_LINE + 10, a, &r, &why) < 0, "over the cap");
	/* too many values */
	{
		size_t n = 0;

		n += (size_t)sprintf(big, "{\"v\":1,\"time\":1,\"facts\":{\"a\":[");
		for (int i = 0; i < 10000; i++)
			n += (size_t)sprintf(big + n, "%s0", i ? "," : "");
		n += (size_t)sprintf(big + n, "]}}");
		int rc = record_decode(big, n, a, &r, &why);

		CHECK(rc < 0, "too many values: %s", why ? why : "accepted");
	}
	free(big);
	/* accepted: unknown members (a newer writer), nulls, whitespace, escapes */
	{
		const char *ok =
		    " { \"v\" : 1 , \"time\" : 7 , \"new_member\" : {\"x\":[true,false,null]},"
		    " \"helo\" : null, \"mail_from\" : \"a\\/b\\u00e9\\ud834\\udd1e\\b\\f\" } ";

		int rc = record_decode(ok, strlen(ok), a, &r, &why);

		CHECK(rc == 0, "lenient where it may be: %s", why ? why : "ok");
		CHECK(r.time == 7 && r.helo == NULL && r.psd == -1, "null and absent are NULL");
		CHECK_STR(r.mail_from, "a/b\xc3\xa9\xf0\x9d\x84\x9e\b\f", "escapes decoded");
	}
	{
		const char *ok = "{\"v\":1,\"time\":7,\"facts\":{ \"a\" :\n[1,\t\"x y\\\" \"] }}";
		int rc = record_decode(ok, strlen(ok), a, &r, &why);

		CHECK(rc == 0, "blanks in facts: %s", why ? why : "ok");
		CHECK_STR(r.facts_json, "{\"a\":[1,\"x y\\\" \"]}",
			  "facts compacted, strings intact");
	}
	arena_free(&a);
}

/* Random damage to a valid line: never a crash, never an invalid string. */
static void test_mutations(void)
{
	struct arena *a = arena_new(4096);
	struct facts f;
	struct verdict v;
	struct history_record r, d;
	const char *line, *line2, *why;
	unsigned seed = 12345, accepted = 0, dirty = 0;
	size_t len;
	char *buf;

	sample_facts(&f, &v, hostile);
	record_from_facts(&f, &v, 1, a, &r);
	line = record_encode(&r, a);
	len = strlen(line);
	buf = malloc(len + 1);
	for (int i = 0; i < 20000; i++) {
		struct arena *t = arena_new(4096);
		size_t cut = len;

		memcpy(buf, line, len + 1);
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		if (i % 7 == 0)
			cut = (seed >> 4) % len;
		if (record_decode(buf, cut, t, &d, &why) == 0) {
			accepted++;
			line2 = record_encode(&d, t);
			if (line2 != NULL && !clean_json_text(line2) && dirty++ == 0)
				printf("# dirty: %s\n", line2);
		}
		arena_free(&t);
	}
	CHECK(dirty == 0, "20000 damaged lines decoded or refused, no crash (%u accepted)",
	      accepted);
	free(buf);
	arena_free(&a);
}

int main(void)
{
	test_from_facts();
	test_round_trip();
	test_caps();
	test_malformed();
	test_mutations();
	return check_done();
}

/*
 * summary_test - the JSON summary line: the exact line for a plain
 * message and a skipped one, hostile bytes from the client (quotes,
 * backslashes, control characters, invalid UTF-8) escaped into valid
 * UTF-8 JSON, and a line that would pass the log's 2047-byte limit written
 * again shorter, still whole.
 */
#include "config.h"

#include <string.h>

#include "check.h"
#include "json.h"
#include "ratelimit.h"
#include "summary.h"

/* Valid UTF-8, no raw control character, braces and quotes balanced
 * outside strings: what a JSON parser needs from the bytes. */
static int plausible_json(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < n;) {
		size_t len = json_utf8_len(p + i, n - i);

		if (len == 0 || p[i] < 0x20)
			return 0;
		if (in_str && p[i] == '\\')
			i++;
		else if (p[i] == '"')
			in_str = !in_str;
		else if (!in_str && (p[i] == '{' || p[i] == '['))
			depth++;
		else if (!in_str && (p[i] == '}' || p[i] == ']'))
			depth--;
		i += len;
	}
	return depth == 0 && !in_str && s[0] == '{' && s[n - 1] == '}';
}

static struct facts plain(void)
{
	struct facts f;

	memset(&f, 0, sizeof(f));
	f.queue_id = "4XyZ1";
	f.client_host = "mx.example.test";
	strcpy(f.client_ip, "203.0.113.10");
	f.helo = "mx.example.test";
	f.mail_from = "a@example.test";
	f.from_domain = "example.test";
	f.spf_mfrom.result = SPF_PASS;
	f.spf_helo.result = SPF_NONE;
	f.dmarc.result = DMARC_PASS;
	f.dmarc_record.found = 1;
	f.dmarc.policy = DMARC_POLICY_REJECT;
	f.iprev.result = IPREV_PASS;
	f.score = -1.5;
	return f;
}

int main(void)
{
	struct buf b;
	struct facts f = plain();
	struct verdict v = {.action = VERDICT_ACCEPT};
	struct dkim_sig sig = {.result = DKIM_PASS, .domain = "example.test"};
	char hostile[1200];

	buf_init(&b, SUMMARY_MAX_BYTES);
	f.dkim.count = 1;
	f.dkim.sig = &sig;
	summary_json(&b, &f, &v, 0, 42);
	CHECK_STR(
	    buf_str(&b),
	    "{\"queue_id\":\"4XyZ1\",\"client\":\"mx.example.test\",\"client_ip\":\"203.0.113.10\","
	    "\"helo\":\"mx.example.test\",\"from\":\"a@example.test\",\"header_from\":"
	    "\"example.test\",\"spf\":\"pass\",\"spf_helo\":\"none\",\"dkim\":[{\"result\":"
	    "\"pass\",\"domain\":\"example.test\"}],\"dmarc\":\"pass\",\"policy\":\"reject\","
	    "\"iprev\":\"pass\",\"country\":null,\"asn\":0,\"score\":-1.5,\"forged_ar\":0,"
	    "\"ratelimit\":[],\"action\":\"accept\",\"reason\":null,\"ms\":42}",
	    "a checked message: every field of the text line");

	f = plain();
	f.queue_id = NULL;
	f.client_host = NULL;
	f.skipped = "authenticated";
	f.ratelimit = 1u << RATELIMIT_USER;
	v.action = VERDICT_TEMPFAIL;
	summary_json(&b, &f, &v, 0, 0);
	CHECK_STR(buf_str(&b),
		  "{\"queue_id\":null,\"client\":null,\"client_ip\":\"203.0.113.10\",\"from\":"
		  "\"a@example.test\",\"skipped\":\"authenticated\",\"ratelimit\":[\"user\"],"
		  "\"action\":\"tempfail\"}",
		  "a skipped message over its user limit: the short form, the limit named");
	v.action = VERDICT_ACCEPT;

	f = plain();
	f.helo = "evil\"helo\\\r\n\x01\x7f";
	f.mail_from = "\xff\xfe\xc3(x@\xe2\x82\xac.test"; /* bad bytes, then a valid euro sign */
	v.action = VERDICT_REJECT;
	v.why = "DMARC \"reject\"";
	summary_json(&b, &f, &v, 2, 1);
	CHECK(strstr(buf_str(&b), "\"helo\":\"evil\\\"helo\\\\\\r\\n\\u0001\\u007f\"") != NULL,
	      "quote, backslash and control characters escaped");
	CHECK(strstr(buf_str(&b), "\"from\":\"\\udcff\\udcfe\\udcc3(x@\xe2\x82\xac.test\"") != NULL,
	      "bytes that are not UTF-8 as \\udcXX, valid UTF-8 kept");
	CHECK(strstr(buf_str(&b), "\"reason\":\"DMARC \\\"reject\\\"\"") != NULL &&
		  strstr(buf_str(&b), "\"forged_ar\":2") != NULL,
	      "reason and forged_ar");
	CHECK(plausible_json(buf_str(&b)), "the hostile line is valid UTF-8 JSON");

	/* 998 bytes of 0x01 in the address: 6 bytes each escaped, far past
	 * the log's line; written again shorter, and still whole. */
	memset(hostile, 0x01, 998);
	hostile[998] = '\0';
	f = plain();
	f.mail_from = hostile;
	f.helo = hostile + 700;
	summary_json(&b, &f, &v, 0, 1);
	CHECK(b.len <= SUMMARY_MAX_LINE && !b.overflow, "the line fits the log (%zu bytes)", b.len);
	CHECK(strstr(buf_str(&b), "\"truncated\":true}") != NULL, "and says it was truncated");
	CHECK(plausible_json(buf_str(&b)), "the truncated line is valid JSON");
	{
		struct dkim_sig many[40];

		for (int i = 0; i < 40; i++)
			many[i] = (struct dkim_sig){.result = DKIM_FAIL, .domain = hostile + 745};
		f.dkim.count = 40;
		f.dkim.sig = many;
		f.from_domain = hostile + 500;
		v.why = hostile;
		f.client_host = hostile + 600;
		f.queue_id = hostile + 900;
		summary_json(&b, &f, &v, 0, 1);
		CHECK(b.len <= SUMMARY_MAX_LINE && plausible_json(buf_str(&b)),
		      "every string hostile and 40 signatures: still fits (%zu bytes)", b.len);
	}
	buf_release(&b);
	return check_done();
}

/*
 * summary_test - the summary line in both forms.  JSON: the exact line for
 * a plain message and a skipped one, hostile bytes from the client
 * (quotes, backslashes, control characters, invalid UTF-8) escaped into
 * valid UTF-8 JSON, and a line that would pass the log's 2047-byte limit
 * written again shorter, still whole.  kv: the exact lines, the quoting of
 * the worst values, and every line parsed back by the small parser below
 * (what a log reader would write from authscore-milter(8)), its fields
 * compared byte for byte with what went in.
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

/* Valid UTF-8 and no control byte: what syslog and journald keep as text. */
static int plausible_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0, len; i < n; i += len) {
		len = json_utf8_len(p + i, n - i);
		if (len == 0 || p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	}
	return 1;
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

static void json_tests(void)
{
	struct buf b;
	struct facts f = plain();
	struct verdict v = {.action = VERDICT_ACCEPT};
	struct dkim_sig sig = {.result = DKIM_PASS, .domain = "example.test"};
	char hostile[1200];

	buf_init(&b, SUMMARY_MAX_BYTES);
	f.dkim.count = 1;
	f.dkim.sig = &sig;
	summary_line(&b, SUMMARY_JSON, &f, &v, 0, 42);
	CHECK_STR(
	    buf_str(&b),
	    "{\"queue_id\":\"4XyZ1\",\"client\":\"mx.example.test\",\"client_ip\":\"203.0.113.10\","
	    "\"helo\":\"mx.example.test\",\"from\":\"a@example.test\",\"header_from\":"
	    "\"example.test\",\"spf\":\"pass\",\"spf_helo\":\"none\",\"dkim\":[{\"result\":"
	    "\"pass\",\"domain\":\"example.test\"}],\"dmarc\":\"pass\",\"policy\":\"reject\","
	    "\"iprev\":\"pass\",\"country\":null,\"asn\":0,\"score\":-1.5,\"rules\":[],"
	    "\"monitors\":[],\"forged_ar\":0,"
	    "\"ratelimit\":[],\"action\":\"accept\",\"reason\":null,\"ms\":42}",
	    "a checked message: every field of the text line");

	f = plain();
	f.queue_id = NULL;
	f.client_host = NULL;
	f.skipped = "authenticated";
	f.ratelimit = 1u << RATELIMIT_USER;
	v.action = VERDICT_TEMPFAIL;
	summary_line(&b, SUMMARY_JSON, &f, &v, 0, 0);
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
	summary_line(&b, SUMMARY_JSON, &f, &v, 2, 1);
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
	summary_line(&b, SUMMARY_JSON, &f, &v, 0, 1);
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
		summary_line(&b, SUMMARY_JSON, &f, &v, 0, 1);
		CHECK(b.len <= SUMMARY_MAX_LINE && plausible_json(buf_str(&b)),
		      "every string hostile and 40 signatures: still fits (%zu bytes)", b.len);
	}
	{
		static const char *names[] = {"DMARC_FAIL", "SPF_FAIL"};
		static const double scores[] = {5.0, 0.25};
		static const char *mons[] = {"TRY"};

		f = plain();
		f.rules_hit = names;
		f.rules_hit_scores = scores;
		f.rules_hit_count = 2;
		f.monitors_hit = mons;
		f.monitors_hit_count = 1;
		summary_line(&b, SUMMARY_JSON, &f, &v, 0, 1);
		CHECK(strstr(buf_str(&b), "\"rules\":[{\"name\":\"DMARC_FAIL\",\"score\":5.0},"
					  "{\"name\":\"SPF_FAIL\",\"score\":0.25}],"
					  "\"monitors\":[\"TRY\"]") != NULL,
		      "json: fired rules as {name, score}, monitors by name");
	}
	buf_release(&b);
}

/* ------------------------------------------------------------------ kv */

#define KV_MAX_FIELDS 40

struct kv_field {
	char key[32];
	char value[4096];
	size_t len;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "QUEUEID: key=value ..." into fields; -1 on anything authscore-milter(8)
 * does not allow: a raw control byte, an unknown escape, a bare value with
 * a quote, backslash or '=', an unterminated quote, two blanks. */
static int kv_parse(const char *line, char *qid, size_t qsize, struct kv_field *out, size_t max)
{
	const char *p = strstr(line, ": ");
	size_t n = 0;

	if (p == NULL || (size_t)(p - line) >= qsize || memchr(line, ' ', (size_t)(p - line)))
		return -1;
	memcpy(qid, line, (size_t)(p - line));
	qid[p - line] = '\0';
	p++;
	while (*p == ' ') {
		struct kv_field *fl = &out[n];
		size_t k = 0;

		if (n == max)
			return -1;
		p++;
		while (*p != '=' && *p != ' ' && *p != '\0' && k < sizeof(fl->key) - 1)
			fl->key[k++] = *p++;
		fl->key[k] = '\0';
		if (*p++ != '=' || k == 0)
			return -1;
		fl->len = 0;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				int c = (unsigned char)*p;

				if (c == '\0' || c < 0x20 || c == 0x7f)
					return -1;
				if (c == '\\') {
					p++;
					if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
						c = hexval(p[1]) * 16 + hexval(p[2]);
						p += 2;
					} else if (*p == '"' || *p == '\\') {
						c = (unsigned char)*p;
					} else {
						return -1;
					}
				}
				if (fl->len == sizeof(fl->value) - 1)
					return -1;
				fl->value[fl->len++] = (char)c;
			}
			p++;
		} else {
			for (; *p != ' ' && *p != '\0'; p++) {
				if (*p == '"' || *p == '\\' || *p == '=' ||
				    (unsigned char)*p < 0x20 || fl->len == sizeof(fl->value) - 1)
					return -1;
				fl->value[fl->len++] = *p;
			}
			if (fl->len == 0)
				return -1;
		}
		fl->value[fl->len] = '\0';
		n++;
		if (*p != ' ' && *p != '\0')
			return -1;
	}
	return *p == '\0' ? (int)n : -1;
}

/* The value of the only field named key, or NULL when none or several. */
static const struct kv_field *kv_get(const struct kv_field *fl, int n, const char *key)
{
	const struct kv_field *found = NULL;

	for (int i = 0; i < n; i++) {
		if (strcmp(fl[i].key, key) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = &fl[i];
	}
	return found;
}

static int kv_is(const struct kv_field *fl, int n, const char *key, const char *want,
		 size_t want_len)
{
	const struct kv_field *x = kv_get(fl, n, key);

	return x != NULL && x->len == want_len && memcmp(x->value, want, want_len) == 0;
}

/* summary_kv_value() alone, then parsed back as the value of "k=" */
static void quoting(const char *in, size_t len, const char *want, const char *what)
{
	struct buf b, line;
	struct kv_field fl[1];
	char qid[8];
	int n;

	buf_init(&b, SUMMARY_MAX_BYTES);
	buf_init(&line, SUMMARY_MAX_BYTES);
	summary_kv_value(&b, in, len);
	if (want != NULL)
		CHECK_STR(buf_str(&b), want, "quoting %s", what);
	buf_printf(&line, "Q: k=%s", buf_str(&b));
	n = kv_parse(buf_str(&line), qid, sizeof(qid), fl, 1);
	CHECK(n == 1 && fl[0].len == strnlen(in, len) && memcmp(fl[0].value, in, fl[0].len) == 0,
	      "quoting %s: parsed back, the same bytes", what);
	CHECK(plausible_text(buf_str(&b)), "quoting %s: valid UTF-8 without control bytes", what);
	buf_release(&b);
	buf_release(&line);
}

/* ARC (issue 18): the chain's result, the override and its sealer, only
 * when there are some. */
static void arc_tests(void)
{
	struct buf b;
	struct facts f = plain();
	struct verdict v = {.action = VERDICT_ACCEPT};

	buf_init(&b, SUMMARY_MAX_BYTES);
	f.dmarc.result = DMARC_FAIL;
	f.arc.result = ARC_PASS;
	f.dmarc_override = "trusted_forwarder";
	f.arc_override_by = "fwd.test";
	summary_line(&b, SUMMARY_KV, &f, &v, 0, 1);
	CHECK(strstr(buf_str(&b), " dmarc=fail policy=reject arc=pass override=trusted_forwarder "
				  "arc.sealer=fwd.test iprev=pass ") != NULL,
	      "kv: arc, override and the sealer after the DMARC policy");
	summary_line(&b, SUMMARY_JSON, &f, &v, 0, 1);
	CHECK(strstr(buf_str(&b), "\"arc\":\"pass\",\"override\":\"trusted_forwarder\","
				  "\"arc_sealer\":\"fwd.test\"") != NULL &&
		  plausible_json(buf_str(&b)),
	      "json: arc, override, arc_sealer");
	f = plain();
	summary_line(&b, SUMMARY_KV, &f, &v, 0, 1);
	CHECK(strstr(buf_str(&b), " arc=") == NULL && strstr(buf_str(&b), " override=") == NULL,
	      "no chain, no override: the line is as it was");
	buf_release(&b);
}

static void kv_tests(void)
{
	struct buf b;
	struct facts f = plain();
	struct verdict v = {.action = VERDICT_ACCEPT};
	struct dkim_sig sig[2] = {{.result = DKIM_PASS, .domain = "example.test"},
				  {.result = DKIM_FAIL, .domain = "x.test,pass:bank.test"}};
	static const char *names[] = {"DMARC_FAIL", "SPF_FAIL", "LOW"};
	static const double scores[] = {5.0, 2.0, -0.25};
	struct kv_field fl[KV_MAX_FIELDS];
	char qid[80], big[1001];
	int n;

	quoting("plain.example", 64, "plain.example", "a plain word: bare");
	quoting("", 64, "\"\"", "the empty value");
	quoting("two words", 64, "\"two words\"", "a blank");
	quoting("say \"hi\"", 64, "\"say \\\"hi\\\"\"", "quotes");
	quoting("a\\b", 64, "\"a\\\\b\"", "a backslash");
	quoting("x action=accept", 64, "\"x action=accept\"", "key=value inside a value");
	quoting("a=b", 64, "\"a=b\"", "an '='");
	quoting("cr\r\nlf\ttab\x01\x1f\x7f", 64, "\"cr\\x0D\\x0Alf\\x09tab\\x01\\x1F\\x7F\"",
		"control bytes and DEL");
	quoting("caf\xc3\xa9", 64, "caf\xc3\xa9", "valid UTF-8: bare, as is");
	quoting("\xff\xc3(\xe2\x82", 64, "\"\\xFF\\xC3(\\xE2\\x82\"", "bytes that are not UTF-8");
	quoting("\\\"", 64, "\"\\\\\\\"\"", "a backslash before a quote");
	quoting("abcdef", 3, "abc", "a cap");
	memset(big, '"', 1000);
	big[1000] = '\0';
	quoting(big, 1000, NULL, "1000 quotes");
	for (int i = 0; i < 1000; i++)
		big[i] = (char)(1 + i % 255);
	quoting(big, 1000, NULL, "1000 bytes of every value but NUL");

	buf_init(&b, SUMMARY_MAX_BYTES);
	f.dkim.count = 1;
	f.dkim.sig = sig;
	f.rules_hit = names;
	f.rules_hit_scores = scores;
	f.rules_hit_count = 3;
	summary_line(&b, SUMMARY_KV, &f, &v, 0, 42);
	CHECK_STR(buf_str(&b),
		  "4XyZ1: client=mx.example.test[203.0.113.10] helo=mx.example.test "
		  "from=<a@example.test> header.from=example.test spf=pass spf.helo=none "
		  "dkim=pass:example.test dmarc=pass policy=reject iprev=pass country=- asn=0 "
		  "score=-1.5 rules=DMARC_FAIL:5.0,SPF_FAIL:2.0,LOW:-0.25 forged_ar=0 "
		  "action=accept ms=42",
		  "kv: a checked message, every field, the rules with their scores");

	f = plain();
	f.queue_id = NULL;
	f.client_host = NULL;
	f.skipped = "trusted network";
	f.mail_from = "";
	f.ratelimit = 1u << RATELIMIT_USER;
	v.action = VERDICT_TEMPFAIL;
	summary_line(&b, SUMMARY_KV, &f, &v, 0, 0);
	CHECK_STR(buf_str(&b),
		  "NOQUEUE: client=unknown[203.0.113.10] from=<> skipped=\"trusted network\" "
		  "ratelimit=user action=tempfail",
		  "kv: a skipped message: the short form");

	/* The worst a client can send, in every field it controls. */
	f = plain();
	f.helo = "evil helo\" action=accept x=\\\r\n\x01\x7f\xff caf\xc3\xa9";
	f.mail_from = "a b\"@x.test ms=0";
	f.from_domain = "";
	f.client_host = "host name";
	f.dkim.count = 2;
	f.dkim.sig = sig;
	f.rules_hit = names;
	f.rules_hit_scores = scores;
	f.rules_hit_count = 1;
	f.queue_id = "Q1: forged=1";
	v.action = VERDICT_REJECT;
	v.why = "DMARC \"reject\" from=<x>";
	summary_line(&b, SUMMARY_KV, &f, &v, 2, 7);
	n = kv_parse(buf_str(&b), qid, sizeof(qid), fl, KV_MAX_FIELDS);
	CHECK(n > 0, "kv: the hostile line parses (%s)", buf_str(&b));
	CHECK(plausible_text(buf_str(&b)), "kv: the hostile line is valid UTF-8, no control byte");
	CHECK_STR(qid, "Q1??forged?1", "kv: a queue id cannot end the prefix early");
	CHECK(kv_is(fl, n, "helo", f.helo, strlen(f.helo)), "kv: helo round-trips");
	CHECK(kv_is(fl, n, "from", "<a b\"@x.test ms=0>", strlen(f.mail_from) + 2),
	      "kv: from round-trips");
	CHECK(kv_is(fl, n, "client", "host name[203.0.113.10]", 23), "kv: client round-trips");
	CHECK(kv_is(fl, n, "header.from", "", 0), "kv: an empty value, quoted");
	CHECK(kv_is(fl, n, "reason", v.why, strlen(v.why)), "kv: reason round-trips");
	CHECK(kv_is(fl, n, "action", "reject", 6) && kv_is(fl, n, "ms", "7", 1) &&
		  kv_is(fl, n, "forged_ar", "2", 1),
	      "kv: action, ms and forged_ar once each, not forged by the values");
	CHECK(kv_is(fl, n, "dkim", "pass:example.test,fail:x.test?pass?bank.test", 44),
	      "kv: a d= domain cannot forge a DKIM result");
	CHECK(kv_is(fl, n, "rules", "DMARC_FAIL:5.0", 14), "kv: one rule");
	CHECK(kv_get(fl, n, "x") == NULL && kv_get(fl, n, "truncated") == NULL,
	      "kv: no field from inside a value; not truncated");

	/* Past the log's line: written again shorter, still parses. */
	memset(big, '"', 1000);
	big[1000] = '\0';
	f.mail_from = big + 2;
	f.helo = big;
	f.client_host = big + 500;
	v.why = big;
	summary_line(&b, SUMMARY_KV, &f, &v, 0, 1);
	n = kv_parse(buf_str(&b), qid, sizeof(qid), fl, KV_MAX_FIELDS);
	CHECK(b.len <= SUMMARY_MAX_LINE && !b.overflow && n > 0,
	      "kv: 1000-byte hostile values: the line fits the log (%zu bytes) and parses", b.len);
	CHECK(kv_is(fl, n, "truncated", "yes", 3) && kv_is(fl, n, "action", "reject", 6),
	      "kv: and says truncated=yes, its action intact");
	{
		const struct kv_field *h = kv_get(fl, n, "helo");

		CHECK(h != NULL && h->len > 0 && memcmp(h->value, big, h->len) == 0,
		      "kv: the cut helo is a prefix of the real one");
	}
	buf_release(&b);
}

int main(void)
{
	json_tests();
	kv_tests();
	arc_tests();
	return check_done();
}

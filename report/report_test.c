/*
 * report_test - the DMARC aggregate-report modules over arrays of history
 * records, the fake resolver (tests/fake_dns.c), a fake ledger and a fake
 * sender: grouping and the enumeration mappings, XML escaping, schema
 * validation (ours and the real RFC 9990 samples in tests/data/dmarc),
 * report ids and file names, rua parsing and verification, gzip and the
 * MIME message, and the run's idempotency and failure paths.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zlib.h>

#include "arena.h"
#include "check.h"
#include "fake_dns.h"
#include "log.h"
#include "mem.h"
#include "report_agg.h"
#include "report_mail.h"
#include "report_rua.h"
#include "report_run.h"
#include "report_xml.h"

static const char *top;
static struct report_schema *schema;

static struct history_record rec(const char *ip, const char *domain, const char *dkim_result)
{
	struct history_record r = {0};

	r.time = 1700000100;
	r.client_ip = ip;
	r.helo = "mx.sender.example";
	r.mail_from = "bounce@sender.example";
	r.header_from = domain;
	r.spf_domain = "sender.example";
	r.spf_scope = "mfrom";
	r.spf_result = "pass";
	r.dkim[0] = (struct record_dkim){domain, "s1", dkim_result};
	r.dkim_count = 1;
	r.dmarc_result = "pass";
	r.policy_domain = domain;
	r.p = "reject";
	r.discovery = "treewalk";
	r.rua = "mailto:dmarc@example.com";
	r.dkim_aligned = strcasecmp(dkim_result, "pass") == 0;
	r.disposition = "none";
	return r;
}

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b, 64u * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len_r = b.len;
	return b.data != NULL ? b.data : xstrdup("");
}

static int gunzip(const void *gz, size_t len, struct buf *out)
{
	z_stream z = {0};
	unsigned char chunk[65536];
	int rc;

	buf_init(out, 256u * 1024 * 1024);
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			inflateEnd(&z);
			return -1;
		}
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END);
	rc = z.avail_in == 0 ? 0 : -1; /* exactly one member, nothing after */
	inflateEnd(&z);
	return rc;
}

static int b64val(int c)
{
	const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(abc, c) : NULL;

	return p ? (int)(p - abc) : -1;
}

static void unbase64(const char *s, size_t len, struct buf *out)
{
	unsigned v = 0;
	int bits = 0;

	buf_init(out, 256u * 1024 * 1024);
	for (size_t i = 0; i < len; i++) {
		int d = b64val(s[i]);
		unsigned char c;

		if (d < 0)
			continue; /* line ends, padding */
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (unsigned char)(v >> bits);
			buf_append(out, &c, 1);
		}
	}
}

/* The text of the first element `name` (any namespace) in the document. */
static char *xml_first(const char *xml, size_t len, const char *name)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, "t.xml", NULL, XML_PARSE_NONET);
	xmlNodePtr n = doc ? xmlDocGetRootElement(doc) : NULL;
	char *found = NULL;

	while (n != NULL && found == NULL) {
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0) {
			xmlChar *c = xmlNodeGetContent(n);

			found = xstrdup((const char *)c);
			xmlFree(c);
		} else if (n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != NULL && n->next == NULL)
			n = n->parent;
		if (n != NULL)
			n = n->next;
	}
	xmlFreeDoc(doc);
	return found;
}

static const struct report_domain *only_domain(struct report_agg *agg, const char *name)
{
	for (size_t i = 0; i < report_agg_domain_count(agg); i++)
		if (strcmp(report_agg_domain(agg, i)->policy.domain, name) == 0)
			return report_agg_domain(agg, i);
	return NULL;
}

static void test_grouping(void)
{
	struct report_agg *agg = report_agg_new();
	struct history_record r[7];
	const struct report_domain *d;

	r[0] = rec("192.0.2.1", "example.com", "pass");
	r[1] = rec("192.0.2.1", "example.com", "pass");
	r[2] = rec("192.0.2.1", "example.com", "PASS"); /* spelling: the same row */
	r[3] = rec("192.0.2.2", "example.com", "pass");
	r[4] = rec("192.0.2.1", "example.com", "fail");
	r[5] = rec("198.51.100.7", "Example.ORG", "pass");
	r[6] = rec("192.0.2.1", "example.com", "pass");
	r[6].policy_domain = NULL; /* no DMARC record: nobody to report to */
	for (size_t i = 0; i < 7; i++)
		report_agg_add(agg, &r[i]);
	CHECK(report_agg_domain_count(agg) == 2, "grouping: two policy domains");
	CHECK_STR(report_agg_domain(agg, 0)->policy.domain, "example.com",
		  "grouping: domains sorted");
	CHECK_STR(report_agg_domain(agg, 1)->policy.domain, "example.org",
		  "grouping: domain lower-cased");
	CHECK(report_agg_skipped(agg) == 1, "grouping: record without a policy skipped");
	d = only_domain(agg, "example.com");
	CHECK(d != NULL && d->row_count == 3 && d->messages == 5,
	      "grouping: 5 records, 3 rows (%zu)", d ? d->row_count : 0);
	CHECK(d != NULL && d->rows[0]->count == 3 &&
		  strcmp(d->rows[0]->source_ip, "192.0.2.1") == 0,
	      "grouping: same IP and results collapse, count 3");
	CHECK(d != NULL && d->rows[1]->count == 1 && d->rows[2]->count == 1,
	      "grouping: other IP, other result: their own rows");
	CHECK(d != NULL && strcmp(d->rows[0]->disposition, "pass") == 0,
	      "grouping: DMARC pass under p=reject is disposition pass");
	CHECK(d != NULL && strcmp(d->rows[2]->dkim_eval, "fail") == 0 &&
		  strcmp(d->rows[2]->dkim[0].result, "fail") == 0,
	      "grouping: failing row evaluated fail");
	CHECK_STR(d ? d->rows[0]->envelope_from : NULL, "sender.example",
		  "grouping: envelope_from is the MAIL FROM domain");
	report_agg_free(&agg);
	CHECK(agg == NULL, "report_agg_free clears the pointer");
}

static void test_mappings(void)
{
	struct report_agg *agg = report_agg_new();
	struct history_record r = rec("192.0.2.9", "example.net", "pass");
	const struct report_domain *d;

	CHECK_STR(report_agg_spf_result("hardfail"), "fail", "spf hardfail -> fail");
	CHECK_STR(report_agg_spf_result("TempError"), "temperror", "spf case folded");
	CHECK_STR(report_agg_spf_result("error"), "temperror", "spf error -> temperror");
	CHECK_STR(report_agg_spf_result("bogus"), "permerror", "spf unknown -> permerror");
	CHECK_STR(report_agg_spf_result(NULL), "none", "spf missing -> none");
	CHECK_STR(report_agg_spf_result("softfail"), "softfail", "spf softfail kept");
	CHECK_STR(report_agg_dkim_result("softfail"), "fail", "dkim softfail -> fail");
	CHECK_STR(report_agg_dkim_result("invalid"), "permerror", "dkim invalid -> permerror");
	CHECK_STR(report_agg_dkim_result("policy"), "policy", "dkim policy kept");
	CHECK(report_agg_policy("bogus") == NULL, "policy: unknown is not a DispositionType");

	r.mail_from = "";
	r.spf_domain = "mx.sender.example";
	r.spf_scope = "helo";
	r.override = "forwarded";
	r.p = "weird";
	r.dmarc_result = "fail";
	report_agg_add(agg, &r);
	d = only_domain(agg, "example.net");
	CHECK(d != NULL && d->rows[0]->spf_scope == NULL, "spf scope helo omitted");
	CHECK_STR(d ? d->rows[0]->envelope_from : NULL, "mx.sender.example",
		  "null sender: envelope_from is the HELO name");
	CHECK_STR(d ? d->rows[0]->override : NULL, "trusted_forwarder",
		  "override forwarded -> trusted_forwarder");
	CHECK_STR(d ? d->policy.p : NULL, "none", "invalid p published as none");
	CHECK_STR(d ? d->rows[0]->disposition : NULL, "none", "failing, nothing applied: none");
	report_agg_free(&agg);
}

static const struct report_meta meta = {
    .org_name = "Receiver Org",
    .email = "dmarc-reports@mx.example.net",
    .report_id = "0123456789abcdef0123456789abcdef",
    .begin = 1700000000,
    .end = 1700086399,
    .generator = "authscore test",
};

static void test_xml_clean(void)
{
	char *copy;

	CHECK_STR(report_xml_clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", &copy),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", "clean: valid UTF-8 unchanged");
	CHECK(copy == NULL, "clean: no copy when clean");
	CHECK_STR(report_xml_clean("a\xff"
				   "b",
				   &copy),
		  "a\xef\xbf\xbd"
		  "b",
		  "clean: bad byte");
	free(copy);
	CHECK_STR(report_xml_clean("\xc0\xaf", &copy), "\xef\xbf\xbd\xef\xbf\xbd",
		  "clean: overlong /");
	free(copy);
	CHECK_STR(report_xml_clean("\xed\xa0\x80", &copy), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		  "clean: surrogate");
	free(copy);
	CHECK_STR(report_xml_clean("x\x01y\x1b", &copy), "x\xef\xbf\xbdy\xef\xbf\xbd",
		  "clean: control characters");
	free(copy);
	CHECK_STR(report_xml_clean("\xe2\x82", &copy), "\xef\xbf\xbd\xef\xbf\xbd",
		  "clean: truncated sequence");
	free(copy);
}

static void test_xml_escaping(void)
{
	struct report_agg *agg = report_agg_new();
	struct history_record r = rec("2001:db8::1", "example.com", "pass");
	struct buf xml;
	char *error = NULL, *sel, *dom, *hf;
	int rc;

	r.dkim[0].selector = "a<b&\"c'>";
	r.dkim[0].domain = "x]]>y.example";
	r.header_from = "evil\xff\x01</header_from>.example";
	report_agg_add(agg, &r);
	CHECK(report_xml_build(&meta, report_agg_domain(agg, 0), &xml, &error) == 0,
	      "escaping: builds");
	rc = report_xml_validate(schema, xml.data, xml.len, &error);
	CHECK(rc == 0, "escaping: parses and validates (%s)", error ? error : "ok");
	free(error);
	error = NULL;
	sel = xml_first(xml.data, xml.len, "selector");
	CHECK_STR(sel, "a<b&\"c'>", "escaping: the selector reads back exactly");
	dom = xml_first(xml.data, xml.len, "domain"); /* policy_published first */
	CHECK_STR(dom, "example.com", "escaping: policy domain");
	hf = xml_first(xml.data, xml.len, "header_from");
	CHECK_STR(hf, "evil\xef\xbf\xbd\xef\xbf\xbd</header_from>.example",
		  "escaping: bad bytes replaced, markup kept as text");
	CHECK(strstr(xml.data, "x]]&gt;y.example") != NULL, "escaping: ]]> written as ]]&gt;");
	CHECK(strstr(xml.data, "xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"") != NULL,
	      "xml: the dmarc-2.0 namespace");
	CHECK(strstr(xml.data, "<discovery_method>treewalk</discovery_method>") != NULL &&
		  strstr(xml.data, "<testing>n</testing>") != NULL &&
		  strstr(xml.data, "<version>1.0</version>") != NULL,
	      "xml: version, discovery_method, testing");
	CHECK(strstr(xml.data, "<source_ip>2001:db8::1</source_ip>") != NULL, "xml: IPv6 source");
	free(sel);
	free(dom);
	free(hf);
	buf_release(&xml);
	report_agg_free(&agg);
}

static void test_validation_rejects(void)
{
	struct report_agg *agg = report_agg_new();
	struct history_record r = rec("192.0.2.1", "example.com", "pass");
	struct buf xml;
	char *error = NULL, *bad, *p;
	int rc;

	r.dkim[1] = (struct record_dkim){"other.example", "s2", "temperror"};
	r.dkim_count = 2;
	r.override = "mailing_list";
	r.sp = "quarantine";
	r.np = "reject";
	r.testing = 1;
	r.adkim_strict = 1;
	report_agg_add(agg, &r);
	report_xml_build(&meta, report_agg_domain(agg, 0), &xml, &error);
	rc = report_xml_validate(schema, xml.data, xml.len, &error);
	CHECK(rc == 0, "validate: full report (sp, np, testing, reason, two dkim) valid (%s)",
	      error ? error : "ok");
	free(error);

	rc = report_xml_validate(schema, "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">",
				 52, &error);
	CHECK(rc < 0 && strstr(error, "not well-formed") != NULL,
	      "validate: truncated document rejected (%s)", error);
	free(error);

	bad = xstrdup(xml.data);
	p = strstr(bad, "<disposition>pass</disposition>");
	memcpy(p, "<disposition>soft</disposition>", 31);
	rc = report_xml_validate(schema, bad, strlen(bad), &error);
	CHECK(rc < 0, "validate: disposition outside the enumeration rejected (%s)", error);
	free(error);
	free(bad);

	bad = xstrdup(xml.data);
	p = strstr(bad, "<report_id>");
	memcpy(p, "<report_ix>", 11);
	p = strstr(p, "</report_id>");
	memcpy(p, "</report_ix>", 12);
	rc = report_xml_validate(schema, bad, strlen(bad), &error);
	CHECK(rc < 0, "validate: unknown element / missing report_id rejected (%s)", error);
	free(error);
	free(bad);

	/* auth_results is a sequence: spf after dkim */
	{
		struct buf b;
		const char *s = strstr(xml.data, "<auth_results>"),
			   *e = strstr(s, "</auth_results>");

		buf_init(&b, 1 << 20);
		buf_append(&b, xml.data, (size_t)(s - xml.data));
		buf_puts(&b, "<auth_results><spf><domain>a.example</domain><result>pass</result>"
			     "</spf><dkim><domain>a.example</domain><selector>s</selector>"
			     "<result>pass</result></dkim>");
		buf_puts(&b, e);
		rc = report_xml_validate(schema, b.data, b.len, &error);
		CHECK(rc < 0, "validate: spf before dkim rejected (%s)", error);
		free(error);
		buf_release(&b);
	}
	{
		const char *noname = "<feedback><version>1.0</version></feedback>";

		rc = report_xml_validate(schema, noname, strlen(noname), &error);
		CHECK(rc < 0, "validate: no namespace rejected (%s)", error);
		free(error);
	}
	buf_release(&xml);
	report_agg_free(&agg);
}

static void test_samples(void)
{
	static const struct {
		const char *file;
		int valid;
	} samples[] = {
	    {"gmx.net!myserver.com!1733184000!1733270399.xml", 1},
	    {"web.de!foobar.com!1722816000!1722902399.xml", 1},
	    {"rfc9990-sample.xml", 1},
	    {"draft-aggregate-reporting-example.xml", 1},
	    /* 2.0 elements without the namespace: not a 2.0 document */
	    {"rfc9990-example.net!example.com!1700000000!1700086399.xml", 0},
	    /* the draft's older http://dmarc.org/dmarc-xml/0.2 namespace */
	    {"draft-aggregate-reporting-example-alt-ns.xml", 0},
	};
	struct report_schema *file_schema;
	char path[1024], *error = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/tests/data/dmarc/dmarc-aggregate-2.0.xsd", top);
	file_schema = report_xml_schema_new(path, &error);
	CHECK(file_schema != NULL, "schema: the tests/data copy compiles (%s)",
	      error ? error : "ok");
	free(error);
	error = NULL;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		size_t len;
		char *xml;

		snprintf(path, sizeof(path), "%s/tests/data/dmarc/samples/%s", top,
			 samples[i].file);
		xml = slurp(path, &len);
		if (xml == NULL) {
			CHECK(0, "sample %s: readable", samples[i].file);
			continue;
		}
		rc = report_xml_validate(schema, xml, len, &error);
		CHECK((rc == 0) == samples[i].valid, "sample %s: %s (%s)", samples[i].file,
		      samples[i].valid ? "validates" : "rejected as expected",
		      error ? error : "ok");
		free(error);
		error = NULL;
		if (file_schema != NULL) {
			rc = report_xml_validate(file_schema, xml, len, &error);
			CHECK((rc == 0) == samples[i].valid,
			      "sample %s: the same with the schema file", samples[i].file);
			free(error);
			error = NULL;
		}
		free(xml);
	}
	report_xml_schema_free(&file_schema);
	CHECK(file_schema == NULL, "report_xml_schema_free clears the pointer");
}

static void test_ids_and_names(void)
{
	char *a = report_mail_id("mx.example.net", "example.com", 1700000000, 1700086399);
	char *b = report_mail_id("mx.example.net", "example.com", 1700000000, 1700086399);
	char *c = report_mail_id("mx.example.net", "example.org", 1700000000, 1700086399);
	char *d = report_mail_id("mx.example.net", "example.com", 1700086400, 1700172799);
	char *name;

	CHECK_STR(a, b, "report_id: stable across runs");
	CHECK(strcmp(a, c) != 0 && strcmp(a, d) != 0, "report_id: differs by domain and period");
	CHECK(strlen(a) == 32 && strspn(a, "0123456789abcdef") == 32, "report_id: 32 hex digits");
	name = report_mail_filename("mx.example.net", "example.com", 1700000000, 1700086399, a);
	{
		char *want =
		    xasprintf("mx.example.net!example.com!1700000000!1700086399!%s.xml.gz", a);

		CHECK_STR(name, want, "filename: receiver!domain!begin!end!id.xml.gz");
		free(want);
	}
	free(name);
	name = report_mail_filename("mx/x", "a!b/../c", 1, 2, "i d");
	CHECK_STR(name, "mx_x!a_b_.._c!1!2!i_d.xml.gz", "filename: no / or ! from the data");
	free(name);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void test_rua(void)
{
	struct arena *a = arena_new(4096);
	struct report_rua r[REPORT_RUA_MAX];
	size_t n;

	n = report_rua_parse("mailto:dmarc@example.com", a, r, REPORT_RUA_MAX);
	CHECK(n == 1 && r[0].error == NULL && strcmp(r[0].address, "dmarc@example.com") == 0 &&
		  r[0].max_size == 0,
	      "rua: one mailto");
	n = report_rua_parse(
	    " mailto:a@Example.COM!10m , MAILTO:b@x.example!50k,mailto:c@y.example!7,", a, r,
	    REPORT_RUA_MAX);
	CHECK(n == 3, "rua: three URIs, blanks and a trailing comma");
	CHECK(n == 3 && r[0].max_size == 10u * 1024 * 1024 &&
		  strcmp(r[0].domain, "example.com") == 0,
	      "rua: !10m and the domain lower-cased");
	CHECK(n == 3 && r[1].max_size == 50 * 1024 && r[1].error == NULL,
	      "rua: !50k, scheme case-insensitive");
	CHECK(n == 3 && r[2].max_size == 7, "rua: !7 bytes");
	n = report_rua_parse("https://example.com/r,junk,mailto:noat,mailto:a@b.example!xx,"
			     "mailto:a@b.example!10q,mailto:a%00b@c.example,mailto:a b@c.example,"
			     "mailto:a@-bad..example,mailto:%zz@c.example",
			     a, r, REPORT_RUA_MAX);
	CHECK(n == 9, "rua: nine junk URIs seen");
	{
		int all_bad = 1;

		for (size_t i = 0; i < n; i++)
			all_bad &= r[i].error != NULL && r[i].address == NULL;
		CHECK(all_bad, "rua: each junk URI has an error and no address");
	}
	n = report_rua_parse("mailto:dmarc%2Brua@example.com?subject=hi,mailto:x@y.example.", a, r,
			     REPORT_RUA_MAX);
	CHECK(n == 2 && r[0].error == NULL && strcmp(r[0].address, "dmarc+rua@example.com") == 0,
	      "rua: %%-escape decoded, ?hfields dropped");
	CHECK(n == 2 && r[1].error == NULL && strcmp(r[1].domain, "y.example") == 0,
	      "rua: trailing dot of the domain dropped");
	CHECK(report_rua_parse(NULL, a, r, REPORT_RUA_MAX) == 0 &&
		  report_rua_parse("", a, r, REPORT_RUA_MAX) == 0,
	      "rua: none");
	{
		char big[4000];

		memset(big, 0, sizeof(big));
		for (size_t i = 0; i + 25 < sizeof(big); i += 25)
			memcpy(big + i, "mailto:abcdefg@h.example,", 25);
		n = report_rua_parse(big, a, r, REPORT_RUA_MAX);
		CHECK(n == REPORT_RUA_MAX, "rua: at most %d URIs", REPORT_RUA_MAX);
	}

	CHECK(!report_rua_external("example.com", "example.com"), "external: same domain");
	CHECK(!report_rua_external("example.com", "reports.example.com"), "external: child");
	CHECK(!report_rua_external("mail.example.com", "example.com"), "external: parent");
	CHECK(report_rua_external("example.com", "notexample.com"), "external: lookalike suffix");
	CHECK(report_rua_external("example.com", "thirdparty.example"), "external: other org");

	{
		char *list[] = {"Abuse@Example.org", "quiet.example", ".dead.example", NULL};

		CHECK(report_rua_suppressed(list, "abuse@example.org"), "suppress: address");
		CHECK(!report_rua_suppressed(list, "dmarc@example.org"), "suppress: other address");
		CHECK(report_rua_suppressed(list, "x@quiet.example"), "suppress: domain");
		CHECK(report_rua_suppressed(list, "x@sub.dead.example"), "suppress: subdomain");
		CHECK(!report_rua_suppressed(list, "x@notquiet.example"), "suppress: lookalike");
		CHECK(!report_rua_suppressed(NULL, "x@quiet.example"), "suppress: no list");
	}
	arena_free(&a);
}

static void test_authorized(void)
{
	char *error = NULL;
	struct dns *dns = dns_new(&(struct dns_config){0}, &error);

	fake_dns_load("example.com._report._dmarc.thirdparty.example TXT \"v=DMARC1;\"\n"
		      "*._report._dmarc.wild.example TXT \"v=DMARC1\"\n"
		      "example.com._report._dmarc.spf.example TXT \"v=spf1 -all\"\n"
		      "example.com._report._dmarc.broken.example SERVFAIL\n"
		      "example.com._report._dmarc.lower.example TXT \"v=dmarc1\"\n");
	CHECK(report_rua_authorized(dns, "example.com", "thirdparty.example", 0) == REPORT_AUTH_YES,
	      "verify: v=DMARC1 authorises");
	CHECK(report_rua_authorized(dns, "example.com", "nobody.example", 0) == REPORT_AUTH_NO,
	      "verify: NXDOMAIN refuses");
	CHECK(report_rua_authorized(dns, "example.com", "spf.example", 0) == REPORT_AUTH_NO,
	      "verify: another TXT refuses");
	CHECK(report_rua_authorized(dns, "example.com", "broken.example", 0) ==
		  REPORT_AUTH_TEMPFAIL,
	      "verify: SERVFAIL is temporary");
	CHECK(report_rua_authorized(dns, "example.com", "lower.example", 0) == REPORT_AUTH_NO,
	      "verify: v=DMARC1 is case-sensitive");
	dns_free(&dns);
}

static void test_gzip_and_mime(void)
{
	static const char xml[] = "<feedback>report ]]&gt; text</feedback>\n";
	const char *to[] = {"a@example.com", "b@example.org"};
	struct buf gz, gz2, plain, msg, att;
	struct report_mail m = {
	    .from = "dmarc-reports@mx.example.net",
	    .org_name = "Receiver \"Org\"",
	    .to = to,
	    .to_count = 2,
	    .receiver = "mx.example.net",
	    .domain = "example.com",
	    .report_id = "0123abcd",
	    .filename = "mx.example.net!example.com!1!2!0123abcd.xml.gz",
	    .begin = 1700000000,
	    .end = 1700086399,
	    .date = 1700090000,
	};
	const char *boundary, *part, *body, *end;
	char *bnd;

	CHECK(report_mail_gzip(xml, strlen(xml), &gz) == 0, "gzip: compresses");
	CHECK(gz.len > 18 && (unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b,
	      "gzip: a gzip member (1f 8b)");
	CHECK(gunzip(gz.data, gz.len, &plain) == 0 && plain.len == strlen(xml) &&
		  memcmp(plain.data, xml, plain.len) == 0,
	      "gzip: one member, gunzips to the input");
	buf_release(&plain);
	report_mail_gzip(xml, strlen(xml), &gz2);
	CHECK(gz2.len == gz.len && memcmp(gz.data, gz2.data, gz.len) == 0,
	      "gzip: same input, same bytes");
	buf_release(&gz2);

	m.gz = gz.data;
	m.gz_len = gz.len;
	CHECK(report_mail_compose(&m, &msg) == 0, "mime: composed");
	CHECK(strstr(msg.data, "\nSubject: Report Domain: example.com Submitter: mx.example.net "
			       "Report-ID: <0123abcd>\n") != NULL,
	      "mime: RFC 9990 subject");
	CHECK(strncmp(msg.data, "From: \"Receiver \\\"Org\\\"\" <dmarc-reports@mx.example.net>\n",
		      56) == 0,
	      "mime: From with a quoted display name");
	CHECK(strstr(msg.data, "\nTo: a@example.com,\n b@example.org\n") != NULL, "mime: To");
	CHECK(strstr(msg.data, "\nAuto-Submitted: auto-generated\n") != NULL,
	      "mime: Auto-Submitted");
	CHECK(strstr(msg.data, "\nDate: Wed, 15 Nov 2023 23:13:20 +0000\n") != NULL, "mime: Date");
	CHECK(strstr(msg.data, "\nMIME-Version: 1.0\n") != NULL, "mime: MIME-Version");
	boundary = strstr(msg.data, "multipart/mixed; boundary=\"");
	CHECK(boundary != NULL, "mime: multipart/mixed with a boundary");
	if (boundary == NULL)
		goto out;
	boundary += strlen("multipart/mixed; boundary=\"");
	bnd = xasprintf("\n--%.*s", (int)strcspn(boundary, "\""), boundary);
	part = strstr(boundary, bnd);
	CHECK(part != NULL && strstr(part, "Content-Type: text/plain") < strstr(part + 1, bnd),
	      "mime: first part text/plain");
	part = part ? strstr(part + 1, bnd) : NULL;
	CHECK(part != NULL && strstr(part, "\nContent-Type: application/gzip; name=\"") != NULL &&
		  strstr(part, "\nContent-Transfer-Encoding: base64\n") != NULL &&
		  strstr(part, "filename=\"mx.example.net!example.com!1!2!0123abcd.xml.gz\"") !=
		      NULL,
	      "mime: second part application/gzip, base64, file name");
	body = part ? strstr(part, "\n\n") : NULL;
	end = body ? strstr(body, bnd) : NULL;
	CHECK(end != NULL && strncmp(end + strlen(bnd), "--\n", 3) == 0, "mime: closing boundary");
	if (end != NULL) {
		unbase64(body + 2, (size_t)(end - body - 2), &att);
		CHECK(att.len == gz.len && memcmp(att.data, gz.data, gz.len) == 0,
		      "mime: base64 round-trip of the gzip");
		CHECK(gunzip(att.data, att.len, &plain) == 0 && plain.len == strlen(xml) &&
			  memcmp(plain.data, xml, plain.len) == 0,
		      "mime: the attachment gunzips to the XML");
		buf_release(&plain);
		buf_release(&att);
		{
			int short_lines = 1;

			for (const char *l = body + 2; l < end;) {
				const char *nl = memchr(l, '\n', (size_t)(end - l));

				if (nl == NULL || nl - l > 76)
					short_lines = 0;
				l = nl ? nl + 1 : end;
			}
			CHECK(short_lines, "mime: base64 lines of at most 76 characters");
		}
	}
	free(bnd);
	{
		struct report_mail evil = m;
		struct buf em;

		evil.domain = "example.com\nBcc: victim@example.org";
		report_mail_compose(&evil, &em);
		CHECK(strstr(em.data, "\nBcc:") == NULL, "mime: no header injection from data");
		buf_release(&em);
	}
out:
	buf_release(&msg);
	buf_release(&gz);
}

/* A ledger in memory and a sender that records what it was given. */
struct fake {
	char sent_key[16][256];
	size_t sent_count;
	unsigned calls;
	int fail;
	char rcpts[512];
	struct buf last;
};

static int fake_sent(void *arg, const char *domain, int64_t begin, int64_t end)
{
	struct fake *f = arg;
	char key[256];

	snprintf(key, sizeof(key), "%s/%lld/%lld", domain, (long long)begin, (long long)end);
	for (size_t i = 0; i < f->sent_count; i++)
		if (strcmp(f->sent_key[i], key) == 0)
			return 1;
	return 0;
}

static int fake_mark(void *arg, const char *domain, int64_t begin, int64_t end, const char *id,
		     char **error_r)
{
	struct fake *f = arg;

	snprintf(f->sent_key[f->sent_count++], sizeof(f->sent_key[0]), "%s/%lld/%lld", domain,
		 (long long)begin, (long long)end);
	return 0;
}

static int fake_send(void *arg, const char *from, const char *const *rcpts, size_t count,
		     const char *msg, size_t len, char **error_r)
{
	struct fake *f = arg;

	f->calls++;
	if (f->fail) {
		*error_r = xstrdup("relay said no");
		return -1;
	}
	f->rcpts[0] = '\0';
	for (size_t i = 0; i < count; i++)
		snprintf(f->rcpts + strlen(f->rcpts), sizeof(f->rcpts) - strlen(f->rcpts), "%s%s",
			 i ? "," : "", rcpts[i]);
	buf_release(&f->last);
	buf_init(&f->last, 1u << 26);
	buf_append(&f->last, msg, len);
	return 0;
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);

		if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
	free(cmd);
}

static void test_run(void)
{
	struct fake f = {0};
	struct report_ledger ledger = {fake_sent, fake_mark, &f};
	struct report_sender sender = {fake_send, &f};
	struct report_agg *agg = report_agg_new();
	struct history_record r[4];
	struct report_run_stats st;
	char tmpl[] = "/tmp/report_test.XXXXXX", *dir = mkdtemp(tmpl), *failed, *dry;
	char *error = NULL;
	struct dns *dns = dns_new(&(struct dns_config){0}, &error);
	char *suppress[] = {"quiet.example", NULL};
	struct report_run_options o = {
	    .org_name = "Receiver Org",
	    .email = "dmarc-reports@mx.example.net",
	    .receiver = "mx.example.net",
	    .generator = "authscore test",
	    .begin = 1700000000,
	    .end = 1700086400,
	    .now = 1700090000,
	    .suppress = suppress,
	    .dns = dns,
	    .schema = schema,
	    .ledger = &ledger,
	    .sender = &sender,
	};

	fake_dns_reset();
	fake_dns_load("example.com._report._dmarc.thirdparty.example TXT \"v=DMARC1\"\n");
	failed = xasprintf("%s/failed", dir);
	dry = xasprintf("%s/dry", dir);
	o.failed_dir = failed;
	r[0] = rec("192.0.2.1", "example.com", "pass");
	r[0].rua = "mailto:dmarc@example.com, mailto:x@thirdparty.example,"
		   "mailto:y@unauthorised.example, mailto:z@quiet.example, https://r.example/,"
		   "mailto:small@example.com!1";
	r[1] = rec("192.0.2.2", "example.com", "fail");
	r[1].rua = r[0].rua;
	r[2] = rec("192.0.2.3", "norua.example", "pass");
	r[2].rua = NULL;
	r[3] = rec("192.0.2.3", "example.org", "pass");
	r[3].rua = "mailto:reports@example.org";
	for (size_t i = 0; i < 4; i++)
		report_agg_add(agg, &r[i]);

	CHECK(report_run(&o, agg, &st) == 0, "run: first run succeeds");
	CHECK(f.calls == 2 && st.sent == 2 && st.no_destination == 1,
	      "run: two reports sent, the domain without rua= skipped (calls %u)", f.calls);
	CHECK(f.sent_count == 2, "run: both recorded in the ledger");
	o.only_domain = "example.com";
	f.calls = 0;
	f.sent_count = 0;
	report_run(&o, agg, &st);
	CHECK_STR(f.rcpts, "dmarc@example.com,x@thirdparty.example",
		  "run: authorised external kept; unauthorised, suppressed, https and !size "
		  "dropped");
	CHECK(f.last.data != NULL && strstr(f.last.data, "Report Domain: example.com") != NULL,
	      "run: the message is the report for example.com");

	f.calls = 0;
	CHECK(report_run(&o, agg, &st) == 0 && f.calls == 0 && st.already_sent == 1,
	      "run: a report already sent is never sent twice");

	f.sent_count = 0;
	f.fail = 1;
	CHECK(report_run(&o, agg, &st) == 1 && st.failed == 1 && f.sent_count == 0,
	      "run: a failed send is not recorded");
	f.fail = 0;
	f.calls = 0;
	CHECK(report_run(&o, agg, &st) == 0 && f.calls == 1 && f.sent_count == 1,
	      "run: and is retried by the next run");

	/* dry run: files, no sending, no ledger */
	o.dry_run_dir = dry;
	o.only_domain = NULL;
	f.calls = 0;
	f.sent_count = 0;
	CHECK(report_run(&o, agg, &st) == 0 && st.written == 2 && f.calls == 0 && f.sent_count == 0,
	      "dry run: two reports written, nothing sent or recorded");
	CHECK(count_files(dry, ".xml.gz") == 2 && count_files(dry, ".eml") == 2,
	      "dry run: a .xml.gz and an .eml per report");
	{
		char *id = report_mail_id("mx.example.net", "example.com", 1700000000, 1700086399);
		char *name = report_mail_filename("mx.example.net", "example.com", 1700000000,
						  1700086399, id);
		char *path = xasprintf("%s/%s", dry, name);
		size_t len;
		char *gz = slurp(path, &len);
		struct buf x = {0};

		CHECK(gz != NULL && gunzip(gz, len, &x) == 0 &&
			  report_xml_validate(schema, x.data, x.len, &error) == 0,
		      "dry run: the file gunzips to a valid report");
		CHECK(gz != NULL && strstr(x.data, id) != NULL, "dry run: report_id inside");
		free(error);
		error = NULL;
		buf_release(&x);
		free(gz);
		free(path);
		free(name);
		free(id);
	}

	/* a schema that refuses our reports: not sent, kept in failed/ */
	{
		char *xsd_path = xasprintf("%s/tests/data/dmarc/dmarc-aggregate-2.0.xsd", top),
		     *xsd;
		char *strict = xasprintf("%s/strict.xsd", dir), *p;
		struct report_schema *refusing;
		size_t len;
		FILE *out;

		xsd = slurp(xsd_path, &len);
		p = xsd ? strstr(xsd, "name=\"generator\" type=\"xs:string\"") : NULL;
		if (p != NULL)
			memcpy(strstr(p, "xs:string"), "xs:double", 9);
		out = fopen(strict, "w");
		fwrite(xsd ? xsd : "", 1, xsd ? len : 0, out);
		fclose(out);
		refusing = report_xml_schema_new(strict, &error);
		CHECK(refusing != NULL, "run: a stricter schema compiles (%s)",
		      error ? error : "ok");
		o.schema = refusing;
		o.dry_run_dir = NULL;
		f.calls = 0;
		f.sent_count = 0;
		CHECK(refusing != NULL && report_run(&o, agg, &st) == 1 && st.invalid == 2 &&
			  f.calls == 0 && f.sent_count == 0,
		      "run: reports that do not validate are not sent");
		CHECK(count_files(failed, ".xml") == 2, "run: and are kept in failed/");
		report_xml_schema_free(&refusing);
		free(xsd);
		free(xsd_path);
		free(strict);
		free(error);
	}
	buf_release(&f.last);
	report_agg_free(&agg);
	dns_free(&dns);
	rm_rf(dir);
	free(failed);
	free(dry);
}

int main(void)
{
	char *error = NULL;

	top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	log_init("report_test", 1);
	log_set_level(LOG_LEVEL_ERR);
	schema = report_xml_schema_new(NULL, &error);
	if (schema == NULL) {
		printf("Bail out! built-in schema: %s\n", error);
		return 1;
	}
	test_grouping();
	test_mappings();
	test_xml_clean();
	test_xml_escaping();
	test_validation_rejects();
	test_samples();
	test_ids_and_names();
	test_rua();
	test_authorized();
	test_gzip_and_mime();
	test_run();
	report_xml_schema_free(&schema);
	xmlCleanupParser();
	return check_done();
}

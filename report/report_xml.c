/*
 * report_xml - build and validate RFC 9990 aggregate reports (see
 * report_xml.h).  The element order follows dmarc-aggregate-2.0.xsd:
 * feedback is a sequence (version, report_metadata, policy_published,
 * record+), record a sequence (row, identifiers, auth_results), and
 * auth_results a sequence (dkim*, spf?); the other types are xs:all, where
 * we still keep the schema's order for readers that expect it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "mem.h"
#include "report_xml.h"

/* generated from tests/data/dmarc/dmarc-aggregate-2.0.xsd by Makefile.am */
extern const char report_xsd_text[];

struct report_schema {
	xmlSchemaPtr schema;
};

/* Length of the valid XML 1.0 character (UTF-8) at s, or 0. */
static size_t xml_char_len(const unsigned char *s)
{
	unsigned c = s[0], cp;
	size_t n;

	if (c < 0x80)
		return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong or out of range */
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0; /* surrogates and non-characters are not XML Chars */
	return n;
}

const char *report_xml_clean(const char *s, char **copy_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len = 0;
	char *out;

	*copy_r = NULL;
	for (p = (const unsigned char *)s; *p != '\0'; p += n)
		if ((n = xml_char_len(p)) == 0)
			break;
	if (*p == '\0')
		return s;
	out = xmalloc(strlen(s) * 3 + 1); /* each bad byte becomes 3 bytes */
	for (p = (const unsigned char *)s; *p != '\0';) {
		if ((n = xml_char_len(p)) == 0) {
			memcpy(out + len, "\xef\xbf\xbd", 3); /* U+FFFD */
			len += 3;
			p++;
		} else {
			memcpy(out + len, p, n);
			len += n;
			p += n;
		}
	}
	out[len] = '\0';
	*copy_r = out;
	return out;
}

static xmlNodePtr add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
	char *copy;
	xmlNodePtr node;

	if (text == NULL)
		return xmlNewChild(parent, ns, BAD_CAST name, NULL);
	/* xmlNewTextChild escapes & < > (so "]]>" is harmless); clean first */
	node = xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST report_xml_clean(text, &copy));
	free(copy);
	return node;
}

static void add_int(xmlNodePtr parent, xmlNsPtr ns, const char *name, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	add(parent, ns, name, num);
}

static void add_record(xmlNodePtr feedback, xmlNsPtr ns, const struct report_row *r)
{
	xmlNodePtr rec = add(feedback, ns, "record", NULL);
	xmlNodePtr row = add(rec, ns, "row", NULL), pe, ids, auth;

	add(row, ns, "source_ip", r->source_ip);
	add_int(row, ns, "count", (int64_t)r->count);
	pe = add(row, ns, "policy_evaluated", NULL);
	add(pe, ns, "disposition", r->disposition);
	add(pe, ns, "dkim", r->dkim_eval);
	add(pe, ns, "spf", r->spf_eval);
	if (r->override != NULL)
		add(add(pe, ns, "reason", NULL), ns, "type", r->override);

	ids = add(rec, ns, "identifiers", NULL);
	add(ids, ns, "header_from", r->header_from);
	if (r->envelope_from != NULL)
		add(ids, ns, "envelope_from", r->envelope_from);

	auth = add(rec, ns, "auth_results", NULL);
	for (size_t i = 0; i < r->dkim_count; i++) {
		xmlNodePtr dk = add(auth, ns, "dkim", NULL);

		add(dk, ns, "domain", r->dkim[i].domain);
		add(dk, ns, "selector", r->dkim[i].selector);
		add(dk, ns, "result", r->dkim[i].result);
	}
	if (r->spf_domain != NULL) {
		xmlNodePtr spf = add(auth, ns, "spf", NULL);

		add(spf, ns, "domain", r->spf_domain);
		if (r->spf_scope != NULL)
			add(spf, ns, "scope", r->spf_scope);
		add(spf, ns, "result", r->spf_result);
	}
}

int report_xml_build(const struct report_meta *m, const struct report_domain *d, struct buf *out,
		     char **error_r)
{
	const struct report_policy *p = &d->policy;
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "feedback"), md, range, pp;
	xmlNsPtr ns = xmlNewNs(root, BAD_CAST REPORT_XML_NS, NULL);
	xmlChar *mem = NULL;
	int size = 0, ret = 0;

	xmlSetNs(root, ns);
	xmlDocSetRootElement(doc, root);
	add(root, ns, "version", "1.0");

	md = add(root, ns, "report_metadata", NULL);
	add(md, ns, "org_name", m->org_name);
	add(md, ns, "email", m->email);
	if (m->extra_contact_info != NULL)
		add(md, ns, "extra_contact_info", m->extra_contact_info);
	add(md, ns, "report_id", m->report_id);
	range = add(md, ns, "date_range", NULL);
	add_int(range, ns, "begin", m->begin);
	add_int(range, ns, "end", m->end);
	if (m->generator != NULL)
		add(md, ns, "generator", m->generator);

	pp = add(root, ns, "policy_published", NULL);
	add(pp, ns, "domain", p->domain);
	add(pp, ns, "p", p->p);
	if (p->sp != NULL)
		add(pp, ns, "sp", p->sp);
	if (p->np != NULL)
		add(pp, ns, "np", p->np);
	add(pp, ns, "adkim", p->adkim_strict ? "s" : "r");
	add(pp, ns, "aspf", p->aspf_strict ? "s" : "r");
	add(pp, ns, "discovery_method", p->discovery);
	add(pp, ns, "testing", p->testing ? "y" : "n");

	for (size_t i = 0; i < d->row_count; i++)
		add_record(root, ns, d->rows[i]);

	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
	xmlFreeDoc(doc);
	buf_init(out, REPORT_XML_MAX);
	if (mem == NULL || buf_append(out, mem, (size_t)size) < 0) {
		*error_r =
		    xasprintf("cannot serialise the report for %s (%d bytes)", p->domain, size);
		buf_release(out);
		ret = -1;
	}
	xmlFree(mem);
	return ret;
}

/* The first error libxml2 reports, kept for the caller. */
static void first_error(void *ctx, xmlErrorPtr e)
{
	char **error_r = ctx;
	size_t len;

	if (*error_r != NULL || e == NULL)
		return;
	*error_r = xasprintf("line %d: %s", e->line, e->message ? e->message : "error");
	len = strlen(*error_r);
	if (len > 0 && (*error_r)[len - 1] == '\n')
		(*error_r)[len - 1] = '\0';
}

struct report_schema *report_xml_schema_new(const char *path, char **error_r)
{
	xmlSchemaParserCtxtPtr pc;
	struct report_schema *s;
	char *error = NULL;
	xmlSchemaPtr schema;

	xmlInitParser();
	pc = path != NULL
		 ? xmlSchemaNewParserCtxt(path)
		 : xmlSchemaNewMemParserCtxt(report_xsd_text, (int)strlen(report_xsd_text));
	if (pc == NULL) {
		*error_r = xasprintf("cannot read the schema %s", path ? path : "(built in)");
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pc, first_error, &error);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (schema == NULL) {
		*error_r = xasprintf("schema %s: %s", path ? path : "(built in)",
				     error ? error : "does not compile");
		free(error);
		return NULL;
	}
	free(error);
	s = xmalloc(sizeof(*s));
	s->schema = schema;
	return s;
}

void report_xml_schema_free(struct report_schema **sp)
{
	if (*sp == NULL)
		return;
	xmlSchemaFree((*sp)->schema);
	xfree(sp);
}

int report_xml_validate(struct report_schema *s, const char *xml, size_t len, char **error_r)
{
	xmlParserCtxtPtr pc;
	xmlSchemaValidCtxtPtr vc;
	xmlDocPtr doc;
	char *error = NULL;
	int rc;

	*error_r = NULL;
	if (len > REPORT_XML_MAX) {
		*error_r = xasprintf("document too large (%zu bytes)", len);
		return -1;
	}
	if ((pc = xmlNewParserCtxt()) == NULL) {
		*error_r = xstrdup("out of memory");
		return -1;
	}
	doc = xmlCtxtReadMemory(pc, xml, (int)len, "report.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || !pc->wellFormed) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);

		*error_r = xasprintf("not well-formed: line %d: %s", e ? e->line : 0,
				     e && e->message ? e->message : "parse error");
		if (strchr(*error_r, '\n') != NULL)
			*strchr(*error_r, '\n') = '\0';
		xmlFreeDoc(doc);
		xmlFreeParserCtxt(pc);
		return -1;
	}
	xmlFreeParserCtxt(pc);
	vc = xmlSchemaNewValidCtxt(s->schema);
	xmlSchemaSetValidStructuredErrors(vc, first_error, &error);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(doc);
	if (rc != 0) {
		*error_r = error != NULL ? error : xasprintf("invalid (libxml2 code %d)", rc);
		return -1;
	}
	free(error);
	return 0;
}

/*
 * rules_content - the values the body's rule tests read from
 * facts->content (struct content_facts, facts/content_result.h), which the
 * content check fills at end of message: body, rawbody, uri, uri-domain,
 * attachment-name, attachment-type, mime-parts and the boolean facts.
 *
 * Each multi-valued fact is an iterator over the content facts, so the
 * evaluator's "any value matches" applies unchanged:
 *   body            the decoded text (one value, its length kept: it may
 *                   hold NUL bytes)
 *   rawbody         the body as received (one value)
 *   uri             every normalised URL
 *   uri-domain      every registrable domain, then every host
 *   attachment-name the file name of every attachment and archive member
 *   attachment-type the declared and the sniffed type of each of those
 * A body that was not scanned (checks skipped, content off) has no values
 * and every flag false.  Read-only; thread-safe.
 */
#include "config.h"

#include <string.h>

#include "rules_int.h"

static int is_attachment(const struct content_part *p)
{
	return p->attachment || p->in_archive;
}

/* The i-th attachment's file name or (two per part) declared and sniffed
 * type; *i advances past parts that have none. */
static const char *attachment_next(const struct content_facts *c, int types, size_t *i)
{
	size_t per = types ? 2 : 1;

	while (c->parts != NULL && *i < c->part_count * per) {
		const struct content_part *p = &c->parts[*i / per];
		const char *s;

		if (!is_attachment(p)) {
			*i = (*i / per + 1) * per;
			continue;
		}
		s = !types ? p->filename : *i % 2 == 0 ? p->type : p->sniffed;
		(*i)++;
		if (s != NULL)
			return s;
	}
	return NULL;
}

static const char *content_string(const struct content_facts *c, const struct rule_test *t,
				  size_t *i)
{
	switch (t->fact) {
	case FACT_URI:
		while (c->urls != NULL && *i < c->url_count) {
			const char *u = c->urls[(*i)++].url;

			if (u != NULL)
				return u;
		}
		return NULL;
	case FACT_URI_DOMAIN:
		while (*i < c->domain_count + c->host_count) {
			size_t k = (*i)++;
			const char *d =
			    k < c->domain_count
				? (c->domains != NULL ? c->domains[k] : NULL)
				: (c->hosts != NULL ? c->hosts[k - c->domain_count] : NULL);

			if (d != NULL)
				return d;
		}
		return NULL;
	case FACT_ATTACHMENT_NAME:
		return attachment_next(c, 0, i);
	case FACT_ATTACHMENT_TYPE:
		return attachment_next(c, 1, i);
	default:
		return NULL;
	}
}

const char *rules_content_next(const struct facts *f, const struct rule_test *t, size_t *i,
			       size_t *len_r)
{
	const struct content_facts *c = &f->content;
	const char *s;

	if (!c->scanned)
		return NULL;
	if (t->fact == FACT_BODY || t->fact == FACT_RAWBODY) {
		int raw = t->fact == FACT_RAWBODY;

		if ((*i)++ > 0 || (raw ? c->raw : c->text) == NULL)
			return NULL;
		*len_r = raw ? c->raw_len : c->text_len;
		return raw ? c->raw : c->text;
	}
	s = content_string(c, t, i);
	if (s != NULL)
		*len_r = strlen(s);
	return s;
}

int rules_content_flag(const struct facts *f, enum rule_fact fact)
{
	const struct content_facts *c = &f->content;

	if (!c->scanned)
		return 0;
	switch (fact) {
	case FACT_HTML_ONLY:
		return c->html_only;
	case FACT_LINK_TEXT_MISMATCH:
		return c->link_text_mismatch;
	case FACT_DOUBLE_EXTENSION:
		return c->double_extension;
	case FACT_ARCHIVE_EXECUTABLE:
		return c->archive_executable;
	default:
		return 0;
	}
}

uint64_t rules_content_number(const struct facts *f, enum rule_fact fact)
{
	const struct content_facts *c = &f->content;

	(void)fact; /* FACT_MIME_PARTS: leaf parts, those over the bounds counted too */
	return c->scanned ? (uint64_t)c->part_count + c->skipped_parts : 0;
}

int rules_test_reads_text(const struct rule_test *t)
{
	return t->fact == FACT_HEADER || t->fact == FACT_BODY || t->fact == FACT_RAWBODY ||
	       t->fact == FACT_URI;
}

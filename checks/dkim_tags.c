/*
 * dkim_tags - duplicate tag names in an RFC 6376 §3.2 tag-list (see
 * dkim_tags.h).  One pass: each tag-spec's name is noted (a pointer into
 * the list) and compared with those before it, at most DKIM_TAGS_MAX.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dkim_tags.h"

struct dkim_tags_name {
	const char *p;
	size_t len;
};

/* FWS (RFC 5322 §3.2.2, as RFC 6376 §2.8 uses it): WSP and line breaks. */
static int dkim_tags_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The tag-name of the tag-spec [s, e): its length, 0 when the tag-spec is
 * not "[FWS] tag-name [FWS] =" (a syntax error, libopendkim's to report). */
static size_t dkim_tags_name(const char *s, const char *e, const char **name_r)
{
	const char *name, *name_end;

	while (s < e && dkim_tags_fws((unsigned char)*s))
		s++;
	if (s >= e || !isalpha((unsigned char)*s))
		return 0;
	name = s;
	while (s < e && (isalnum((unsigned char)*s) || *s == '_'))
		s++;
	name_end = s;
	while (s < e && dkim_tags_fws((unsigned char)*s))
		s++;
	if (s >= e || *s != '=')
		return 0;
	*name_r = name;
	return (size_t)(name_end - name);
}

enum dkim_tags_status dkim_tags_check(const char *list, size_t len, const char **name_r,
				      size_t *name_len_r)
{
	struct dkim_tags_name seen[DKIM_TAGS_MAX];
	const char *p = list, *end = list + len;
	size_t nseen = 0, specs = 0;

	while (p < end) {
		/* VALCHAR excludes ';' (§3.2): it always ends a tag-spec. */
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi != NULL ? semi : end;
		const char *name = NULL;
		size_t n = dkim_tags_name(p, e, &name);

		if (e > p && ++specs > DKIM_TAGS_MAX)
			return DKIM_TAGS_TOO_MANY;
		for (size_t i = 0; n > 0 && i < nseen; i++) {
			if (seen[i].len != n || strncasecmp(seen[i].p, name, n) != 0)
				continue;
			if (name_r != NULL)
				*name_r = name;
			if (name_len_r != NULL)
				*name_len_r = n;
			return DKIM_TAGS_DUPLICATE;
		}
		if (n > 0) {
			seen[nseen].p = name;
			seen[nseen++].len = n;
		}
		p = semi != NULL ? semi + 1 : end;
	}
	return DKIM_TAGS_OK;
}

const char *dkim_tags_problem(const char *list, size_t len, char *buf, size_t size)
{
	const char *name = NULL;
	size_t n = 0;

	switch (dkim_tags_check(list, len, &name, &n)) {
	case DKIM_TAGS_OK:
		return NULL;
	case DKIM_TAGS_DUPLICATE:
		snprintf(buf, size, "duplicate tag %.*s=", n > 32 ? 32 : (int)n, name);
		return buf;
	case DKIM_TAGS_TOO_MANY:
	default:
		snprintf(buf, size, "more than %d tags", DKIM_TAGS_MAX);
		return buf;
	}
}

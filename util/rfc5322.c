/*
 * rfc5322 - mailbox-list parsing for Author Domains (see rfc5322.h).
 *
 * One pass splits the list at top-level commas; a second looks at each
 * element.  "Top level" means outside quoted strings, comments and angle
 * brackets, which is where RFC 5322 gives a comma or an @ its meaning.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "rfc5322.h"

#define DOMAIN_MAX 253

struct span {
	const char *p;
	size_t len;
};

/* Skip a quoted string starting at s[i] == '"'; returns the index after it,
 * or 0 when it does not end. */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* Skip a (nested) comment starting at s[i] == '('; 0 when it does not end. */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
	int depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return 0;
}

/* The addr-spec of one list element: the inside of its angle brackets, or
 * the element itself.  Comments are left for the domain pass. */
static int element_addr_spec(struct span e, struct span *spec, const char **error_r)
{
	size_t open = 0, i = 0;
	int have_angle = 0, at_outside = 0;

	while (i < e.len) {
		char c = e.p[i];

		if (c == '"') {
			if ((i = skip_quoted(e.p, e.len, i)) == 0)
				goto bad;
		} else if (c == '(') {
			if ((i = skip_comment(e.p, e.len, i)) == 0)
				goto bad;
		} else if (c == '<') {
			if (have_angle)
				goto bad;
			have_angle = 1;
			open = ++i;
			while (i < e.len && e.p[i] != '>') {
				if (e.p[i] != '"')
					i++;
				else if ((i = skip_quoted(e.p, e.len, i)) == 0)
					goto bad;
			}
			if (i >= e.len)
				goto bad;
			spec->p = e.p + open;
			spec->len = i - open;
			i++;
		} else if (c == ':') {
			*error_r = "group syntax";
			return -1;
		} else if (c == '>' || c == ';') {
			goto bad;
		} else {
			/* name-addr: only CFWS may follow the angle address */
			if (have_angle && c != ' ' && c != '\t' && c != '\r' && c != '\n')
				goto bad;
			at_outside |= c == '@';
			i++;
		}
	}
	if (!have_angle)
		*spec = e;
	else if (at_outside) /* an addr-spec is no display name */
		goto bad;
	return 0;
bad:
	*error_r = "unparsable address";
	return -1;
}

/* The offset of the last @ of an addr-spec outside quoted strings and
 * comments; s.len if there is none, (size_t)-1 if one is unterminated. */
static size_t spec_last_at(struct span s)
{
	size_t at = s.len, i = 0;

	while (i < s.len) {
		if (s.p[i] == '"') {
			if ((i = skip_quoted(s.p, s.len, i)) == 0)
				return (size_t)-1;
		} else if (s.p[i] == '(') {
			if ((i = skip_comment(s.p, s.len, i)) == 0)
				return (size_t)-1;
		} else {
			if (s.p[i] == '@')
				at = i;
			i++;
		}
	}
	return at;
}

/* LDH labels of 1..63 octets that do not start or end with a hyphen. */
static int domain_labels_ok(const char *d)
{
	for (const char *l = d; *l != '\0';) {
		size_t ll = strcspn(l, ".");

		if (ll > 63 || l[0] == '-' || l[ll - 1] == '-')
			return 0;
		l += ll + (l[ll] == '.');
	}
	return 1;
}

/* The domain after the last top-level @ of an addr-spec, CFWS removed. */
static const char *spec_domain(struct span s, struct arena *a, const char **error_r)
{
	size_t at = spec_last_at(s), i, n = 0;
	char out[DOMAIN_MAX + 2];

	if (at == (size_t)-1)
		goto bad;
	if (at == s.len) {
		*error_r = "no domain";
		return NULL;
	}
	int gap = 0;

	for (i = at + 1; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '(') {
			size_t end = skip_comment(s.p, s.len, i);

			if (end == 0)
				goto bad;
			i = end - 1;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			gap = 1;
			continue;
		}
		/* CFWS may stand around the dots (RFC 5322 §4.4 obs-domain), not
		 * inside a label */
		if (gap && n > 0 && out[n - 1] != '.' && c != '.') {
			*error_r = "invalid domain";
			return NULL;
		}
		gap = 0;
		if (c == '[') {
			*error_r = "domain literal";
			return NULL;
		}
		if (!isalnum(c) && c != '-' && c != '.' && c != '_') {
			*error_r = "invalid domain";
			return NULL;
		}
		if (n > DOMAIN_MAX) {
			*error_r = "invalid domain";
			return NULL;
		}
		out[n++] = (char)tolower(c);
	}
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	/* LDH labels of 1..63 octets, at least two of them */
	if (n == 0 || out[0] == '.' || strstr(out, "..") != NULL || strchr(out, '.') == NULL) {
		*error_r = n == 0 ? "no domain" : "invalid domain";
		return NULL;
	}
	if (!domain_labels_ok(out)) {
		*error_r = "invalid domain";
		return NULL;
	}
	return arena_strndup(a, out, n);
bad:
	*error_r = "unparsable address";
	return NULL;
}

static int blank_element(struct span e)
{
	for (size_t i = 0; i < e.len; i++) {
		if (e.p[i] == '(') {
			size_t j = skip_comment(e.p, e.len, i);

			if (j == 0)
				return 0;
			i = j - 1;
		} else if (e.p[i] != ' ' && e.p[i] != '\t' && e.p[i] != '\r' && e.p[i] != '\n') {
			return 0;
		}
	}
	return 1;
}

int rfc5322_mailbox_domains(const char *value, struct arena *a, const char **domains, size_t max,
			    const char **error_r)
{
	size_t len = strnlen(value, RFC5322_MAX_VALUE + 1), start = 0, i = 0;
	int count = 0;

	if (len > RFC5322_MAX_VALUE) {
		*error_r = "too long";
		return -1;
	}
	for (;;) {
		if (i == len || value[i] == ',') {
			struct span e = {value + start, i - start}, spec;
			const char *domain;

			if (!blank_element(e)) { /* RFC 5322 §4.4 obs-mbox-list: empty elements */
				if (element_addr_spec(e, &spec, error_r) < 0)
					return -1;
				if ((domain = spec_domain(spec, a, error_r)) == NULL)
					return -1;
				if ((size_t)count < max)
					domains[count] = domain;
				count++;
			}
			if (i == len)
				break;
			start = ++i;
		} else if (value[i] == '"') {
			if ((i = skip_quoted(value, len, i)) == 0)
				goto bad;
		} else if (value[i] == '(') {
			if ((i = skip_comment(value, len, i)) == 0)
				goto bad;
		} else if (value[i] == '<') {
			while (i < len && value[i] != '>') {
				if (value[i] == '"') {
					if ((i = skip_quoted(value, len, i)) == 0)
						goto bad;
				} else {
					i++;
				}
			}
			if (i == len)
				goto bad;
			i++;
		} else {
			i++;
		}
	}
	if (count == 0) {
		*error_r = "no address";
		return -1;
	}
	return count;
bad:
	*error_r = "unparsable address";
	return -1;
}

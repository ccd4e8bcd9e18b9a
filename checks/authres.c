/*
 * authres - render our Authentication-Results value and recognise forgeries
 * of it (see authres.h).
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "buf.h"

#define AUTHRES_MAX 8192

/* RFC 2045 tspecials, which a `token` may not contain. */
static int is_tspecial(int c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_domain_name(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* A pvalue (RFC 8601 §2.2): a domain name or local-part@domain as is,
 * anything else as a quoted-string. */
static void put_pvalue(struct buf *b, const char *v)
{
	const char *at = strrchr(v, '@');
	int plain = is_domain_name(at ? at + 1 : v);

	for (const char *p = v; plain && at && p < at; p++)
		if ((unsigned char)*p <= ' ' || *p >= 0x7f || is_tspecial(*p))
			plain = 0;
	if (plain) {
		buf_puts(b, v);
		return;
	}
	buf_puts(b, "\"");
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < ' ' || c == 0x7f)
			buf_puts(b, "?");
		else
			buf_append(b, p, 1);
	}
	buf_puts(b, "\"");
}

/* A comment: parentheses and backslashes escaped (RFC 5322 quoted-pair),
 * controls dropped, other bytes outside ASCII replaced. */
static void put_comment(struct buf *b, const char *text)
{
	buf_puts(b, " (");
	for (const char *p = text; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '(' || c == ')' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c >= 0x80) /* header fields are ASCII (RFC 5322 §2.2) */
			buf_puts(b, "?");
		else if (c >= ' ' && c != 0x7f)
			buf_append(b, p, 1);
	}
	buf_puts(b, ")");
}

static void put_spf(struct buf *b, const struct spf_outcome *o, const char *ptype_value)
{
	buf_printf(b, ";\n\tspf=%s", spf_result_name(o->result));
	if (o->reason != NULL)
		put_comment(b, o->reason);
	buf_printf(b, " smtp.%s=", o->scope == SPF_SCOPE_HELO ? "helo" : "mailfrom");
	put_pvalue(b, ptype_value);
}

static void put_dkim(struct buf *b, const struct dkim_results *r)
{
	if (r->count == 0) {
		buf_puts(b, ";\n\tdkim=none");
		if (r->skipped > 0)
			buf_printf(b, " (%u signatures not verified)", r->skipped);
		return;
	}
	for (size_t i = 0; i < r->count; i++) {
		const struct dkim_sig *s = &r->sig[i];

		buf_printf(b, ";\n\tdkim=%s", dkim_result_name(s->result));
		if (s->reason != NULL)
			put_comment(b, s->reason);
		if (i + 1 == r->count && r->skipped > 0)
			buf_printf(b, " (%u more signatures not verified)", r->skipped);
		if (s->domain != NULL) {
			buf_puts(b, " header.d=");
			put_pvalue(b, s->domain);
		}
		if (s->selector != NULL) {
			buf_puts(b, " header.s=");
			put_pvalue(b, s->selector);
		}
		if (s->algorithm != NULL) {
			buf_puts(b, " header.a=");
			put_pvalue(b, s->algorithm);
		}
		if (s->b8 != NULL) {
			buf_puts(b, " header.b=");
			put_pvalue(b, s->b8);
		}
	}
}

/* RFC 8617 §6 (and its IANA registrations): smtp.remote-ip is the client
 * that handed the chain to us; header.oldest-pass, on a pass, the oldest
 * instance whose AMS still verifies, or 0 when all of them do (the check
 * reports 1 then; 0 from it means unknown, and nothing is written). */
static void put_arc(struct buf *b, const struct facts *f)
{
	const struct arc_outcome *o = &f->arc;

	buf_printf(b, ";\n\tarc=%s", arc_result_name(o->result));
	if (o->result == ARC_NONE)
		return;
	if (o->reason != NULL) {
		put_comment(b, o->reason);
	} else if (o->set_count > 0 && o->sets != NULL && o->sets[o->set_count - 1].seal_domain) {
		char c[300]; /* the newest set, who handed it on */

		snprintf(c, sizeof(c), "i=%u d=%.255s", o->sets[o->set_count - 1].instance,
			 o->sets[o->set_count - 1].seal_domain);
		put_comment(b, c);
	}
	if (f->client_ip[0] != '\0')
		buf_printf(b, " smtp.remote-ip=%s", f->client_ip);
	if (o->result == ARC_PASS && o->oldest_pass > 0)
		buf_printf(b, " header.oldest-pass=%u", o->oldest_pass == 1 ? 0 : o->oldest_pass);
}

static void put_dmarc(struct buf *b, const struct facts *f, const struct verdict *v)
{
	const struct dmarc_outcome *d = &f->dmarc;
	const struct dmarc_record *r = &f->dmarc_record;

	buf_printf(b, ";\n\tdmarc=%s", dmarc_result_name(d->result));
	if (f->from_error != NULL) {
		put_comment(b, f->from_error);
	} else if (r->found) {
		struct buf c;

		buf_init(&c, 256);
		buf_printf(&c, "p=%s", dmarc_policy_name(r->p));
		if (r->sp != DMARC_POLICY_UNSET)
			buf_printf(&c, " sp=%s", dmarc_policy_name(r->sp));
		if (r->np != DMARC_POLICY_UNSET)
			buf_printf(&c, " np=%s", dmarc_policy_name(r->np));
		if (r->testing)
			buf_puts(&c, " t=y");
		if (f->dmarc_override != NULL)
			buf_printf(&c, "; not enforced: %s", f->dmarc_override);
		put_comment(b, buf_str(&c));
		buf_release(&c);
	} else if (r->why != NULL) {
		put_comment(b, r->why);
	}
	if (f->arc_override_by != NULL) {
		/* RFC 8601 §2.2 reasonspec: why the policy was not applied */
		char why[600];

		snprintf(why, sizeof(why), "ARC sealer %.255s saw %.255s", f->arc_override_by,
			 f->arc_override_why != NULL ? f->arc_override_why : "a pass");
		buf_puts(b, " reason=");
		put_pvalue(b, why);
	}
	if (d->header_from != NULL) {
		buf_puts(b, " header.from=");
		put_pvalue(b, d->header_from);
	}
	if (r->found && (d->result == DMARC_PASS || d->result == DMARC_FAIL))
		buf_printf(b, " policy.dmarc=%s", dmarc_policy_name(v->dmarc_disposition));
}

char *authres_render(struct arena *a, const char *authserv_id, const struct facts *f,
		     const struct verdict *v)
{
	struct buf b;
	char *out;

	buf_init(&b, AUTHRES_MAX);
	put_pvalue(&b, authserv_id);
	/* The null sender's MAIL FROM identity is the HELO identity (RFC 7208
	 * §2.4): one resinfo says it all. */
	if (f->mail_from_domain != NULL)
		put_spf(&b, &f->spf_mfrom, f->mail_from_domain);
	if (f->helo != NULL)
		put_spf(&b, &f->spf_helo, f->helo);
	put_dkim(&b, &f->dkim);
	put_arc(&b, f);
	put_dmarc(&b, f, v);
	if (f->iprev.result != IPREV_NONE) {
		/* RFC 8601 §3: policy.iprev is the client address */
		buf_printf(&b, ";\n\tiprev=%s", iprev_result_name(f->iprev.result));
		if (f->iprev.name != NULL)
			put_comment(&b, f->iprev.name);
		buf_printf(&b, " policy.iprev=%s", f->client_ip);
	}
	if (b.overflow) { /* never a header with a piece missing: say less instead */
		buf_reset(&b);
		put_pvalue(&b, authserv_id);
		buf_puts(&b, "; none (results too long to report)");
	}
	out = arena_strndup(a, buf_str(&b), b.len);
	buf_release(&b);
	return out;
}

/* ---- reading a value ---- */

#define COMMENT_DEPTH_MAX 16 /* of what authres_read() reads */

struct lex {
	const char *p, *end;
	int depth_max; /* comments nested deeper are an error */
};

/* Blanks, folding and (nested) comments, RFC 5322 §3.2.2; -1 when a comment
 * does not end or nests too deep. */
static int skip_cfws(struct lex *l)
{
	for (;;) {
		int depth = 0;

		while (l->p < l->end &&
		       (*l->p == ' ' || *l->p == '\t' || *l->p == '\r' || *l->p == '\n'))
			l->p++;
		if (l->p == l->end || *l->p != '(')
			return 0;
		do {
			if (l->p == l->end)
				return -1;
			if (*l->p == '\\') {
				if (++l->p == l->end)
					return -1;
			} else if (*l->p == '(') {
				if (++depth > l->depth_max)
					return -1;
			} else if (*l->p == ')') {
				depth--;
			}
			l->p++;
		} while (depth > 0);
	}
}

int authres_is_ours(const char *value, const char *authserv_id)
{
	char id[256];
	size_t n = 0;
	/* comments of any depth: a forgery must not hide our id behind them */
	struct lex l = {value, value + strlen(value), INT_MAX};
	const char *p;

	if (skip_cfws(&l) < 0)
		return 0; /* a comment that does not end: no id follows */
	p = l.p;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return 0;
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 >= sizeof(id))
				return 0;
			id[n++] = *p;
		}
		p++;
	} else {
		while (*p != '\0' && (unsigned char)*p > ' ' && *p != 0x7f && !is_tspecial(*p)) {
			if (n + 1 >= sizeof(id))
				return 0;
			id[n++] = *p++;
		}
	}
	id[n] = '\0';
	/* Whatever follows (a version, a malformed rest): a header naming our
	 * authserv-id is not ours to keep (RFC 8601 §5). */
	return n != 0 && strcasecmp(id, authserv_id) == 0;
}

/* A token, a dot-atom, a domain, an address or an address literal: what an
 * Authentication-Results value is made of outside quotes. */
static int word_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u > ' ' && u < 0x7f && strchr("()\";=", c) == NULL;
}

static const char *read_word(struct lex *l, struct arena *a, int lower)
{
	const char *s = l->p;
	char *w;

	while (l->p < l->end && word_char(*l->p))
		l->p++;
	if (l->p == s)
		return NULL;
	w = arena_strndup(a, s, (size_t)(l->p - s));
	for (char *q = w; lower && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return w;
}

/* A value: words and quoted-strings (quoted-pairs resolved) side by side,
 * as in "local part"@domain; NULL when empty or a quote does not end.  Its
 * extent is found first, so that the copy costs what the value is long. */
static const char *read_value(struct lex *l, struct arena *a)
{
	const char *s = l->p;
	char *out, *o;

	while (l->p < l->end && (*l->p == '"' || word_char(*l->p))) {
		if (*l->p++ != '"')
			continue;
		for (; l->p < l->end && *l->p != '"'; l->p++)
			if (*l->p == '\\' && l->p + 1 < l->end)
				l->p++;
		if (l->p == l->end)
			return NULL;
		l->p++;
	}
	out = o = arena_alloc(a, (size_t)(l->p - s) + 1);
	for (const char *q = s; q < l->p; q++) {
		if (*q != '"') {
			*o++ = *q;
			continue;
		}
		for (q++; *q != '"'; q++) {
			if (*q == '\\')
				q++; /* the first pass saw the quote end after it */
			*o++ = *q;
		}
	}
	*o = '\0';
	return o == out ? NULL : out;
}

static int expect(struct lex *l, char c)
{
	if (skip_cfws(l) < 0 || l->p == l->end || *l->p != c)
		return -1;
	l->p++;
	return skip_cfws(l);
}

/* method[/version]=result [reason=value] ptype.property=value ... up to the
 * next ";" or the end: 0, 1 for "none" (no result), -1 when malformed. */
static int read_resinfo(struct lex *l, struct arena *a, struct authres_resinfo *r,
			const char **error_r)
{
	char *slash;

	memset(r, 0, sizeof(*r));
	if ((r->method = read_word(l, a, 1)) == NULL || skip_cfws(l) < 0) {
		*error_r = "malformed result";
		return -1;
	}
	if (strcmp(r->method, "none") == 0 && (l->p == l->end || *l->p == ';'))
		return 1; /* no-result, RFC 8601 §2.2 */
	if (expect(l, '=') < 0 || (r->result = read_word(l, a, 1)) == NULL || skip_cfws(l) < 0) {
		*error_r = "malformed result";
		return -1;
	}
	if ((slash = strchr(r->method, '/')) != NULL)
		*slash = '\0';
	while (l->p < l->end && *l->p != ';') {
		const char *name = read_word(l, a, 1), *value;

		if (name == NULL || expect(l, '=') < 0 || (value = read_value(l, a)) == NULL ||
		    skip_cfws(l) < 0) {
			*error_r = "malformed property";
			return -1;
		}
		if (strcmp(name, "reason") == 0) { /* a reasonspec, not a property */
			r->reason = value;
			continue;
		}
		if (r->prop_count == AUTHRES_READ_PROPS) {
			*error_r = "too many properties";
			return -1;
		}
		r->props[r->prop_count].name = name;
		r->props[r->prop_count++].value = value;
	}
	return 0;
}

int authres_read(const char *value, struct arena *a, struct authres_resinfo *out, size_t max,
		 size_t *count_r, const char **error_r)
{
	size_t len = strnlen(value, AUTHRES_READ_MAX + 1);
	struct lex l = {value, value + len, COMMENT_DEPTH_MAX};

	*count_r = 0;
	*error_r = NULL;
	if (len > AUTHRES_READ_MAX) {
		*error_r = "too long";
		return -1;
	}
	if (skip_cfws(&l) < 0 || read_value(&l, a) == NULL || skip_cfws(&l) < 0) {
		*error_r = "no authserv-id";
		return -1;
	}
	if (l.p < l.end && isdigit((unsigned char)*l.p) && /* authres-version */
	    (read_word(&l, a, 0) == NULL || skip_cfws(&l) < 0)) {
		*error_r = "malformed version";
		return -1;
	}
	while (l.p < l.end) {
		if (expect(&l, ';') < 0) {
			*error_r = "expected \";\"";
			return -1;
		}
		if (l.p == l.end)
			break; /* a final ";" */
		if (*count_r == max) {
			*error_r = "too many results";
			return -1;
		}
		switch (read_resinfo(&l, a, &out[*count_r], error_r)) {
		case -1:
			return -1;
		case 0:
			(*count_r)++;
			break;
		default:
			break;
		}
	}
	return 0;
}

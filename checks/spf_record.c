/*
 * spf_record - RFC 7208 record validation, rendering for libspf2, macro
 * expansion (see spf_record.h).
 *
 * The parser walks the record once: bytes first (§3.1 and the ABNF allow
 * only printable US-ASCII, terms separated by SP), then each term as a
 * modifier (name "=", §4.6.1: the "=" must follow the name at once) or a
 * directive.  Terms keep pointers into the record's own copy.  Rendering
 * and expansion write into a capped buffer (struct spf_sb); running past
 * the cap makes the result NULL rather than truncated.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "spf_record.h"

/* DNS-querying terms an evaluation may have (RFC 7208 §4.6.4) */
#define SPF_RECORD_DNS_TERMS 10
/* A domain-spec left with a p macro for libspf2: at most this long. */
#define SPF_RECORD_LAZY_MAX 400

enum spf_term_type { T_ALL, T_INCLUDE, T_A, T_MX, T_PTR, T_IP4, T_IP6, T_EXISTS };

/* What follows a mechanism's name (RFC 7208 section 12). */
enum spf_arg {
	ARG_NONE,
	ARG_DOMAIN_REQUIRED,
	ARG_DOMAIN_OPTIONAL,
	ARG_DOMAIN_CIDR,
	ARG_IP4,
	ARG_IP6
};

static const struct {
	const char *name;
	enum spf_term_type type;
	enum spf_arg arg;
} spf_mechanisms[] = {
    {"all", T_ALL, ARG_NONE},			 /* §5.1 */
    {"include", T_INCLUDE, ARG_DOMAIN_REQUIRED}, /* §5.2 */
    {"a", T_A, ARG_DOMAIN_CIDR},		 /* §5.3 */
    {"mx", T_MX, ARG_DOMAIN_CIDR},		 /* §5.4 */
    {"ptr", T_PTR, ARG_DOMAIN_OPTIONAL},	 /* §5.5 */
    {"ip4", T_IP4, ARG_IP4},			 /* §5.6 */
    {"ip6", T_IP6, ARG_IP6},			 /* §5.6 */
    {"exists", T_EXISTS, ARG_DOMAIN_REQUIRED},	 /* §5.7 */
};

struct spf_term {
	enum spf_term_type type;
	char qualifier; /* '+', '-', '~' or '?' */
	const char *ds; /* domain-spec, NULL if none */
	size_t ds_len;
	unsigned cidr4, cidr6; /* a, mx, ip4, ip6 */
	struct in_addr v4;
	struct in6_addr v6;
};

struct spf_record {
	char *text;
	struct spf_term *terms;
	size_t count, size;
	const char *redirect, *exp; /* domain-specs, NULL if absent */
	size_t redirect_len, exp_len;
	int has_all;
};

/* A parsed macro-expand "%{...}" (RFC 7208 section 7.1). */
struct spf_macro {
	char letter; /* lower case */
	int upper;   /* URL-escape the value (§7.3) */
	unsigned digits;
	int reverse;
	char delims[8];
	size_t ndelims;
};

/* A capped output buffer: full means the result is dropped, not cut. */
struct spf_sb {
	char *buf;
	size_t len, cap;
	int full;
};

static void sb_init(struct spf_sb *sb, size_t cap)
{
	sb->buf = xmalloc(cap + 1);
	sb->len = 0;
	sb->cap = cap;
	sb->full = 0;
	sb->buf[0] = '\0';
}

static void sb_put(struct spf_sb *sb, const char *s, size_t n)
{
	if (sb->full || sb->len + n > sb->cap) {
		sb->full = 1;
		return;
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void sb_puts(struct spf_sb *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

static void sb_printf(struct spf_sb *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(struct spf_sb *sb, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		sb->full = 1;
	else
		sb_put(sb, tmp, (size_t)n);
}

/* The result, or NULL (and nothing to free) if the cap was hit. */
static char *sb_finish(struct spf_sb *sb)
{
	if (sb->full) {
		free(sb->buf);
		return NULL;
	}
	return sb->buf;
}

static void why_set(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, SPF_RECORD_WHY_MAX, fmt, ap);
	va_end(ap);
}

int spf_record_is_spf(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 && (len == 6 || text[6] == ' ');
}

/*
 * Parse the macro-expand at s[i] (s[i] == '%'); return the index after it,
 * or 0 on a syntax error (§7.1: '%' must be followed by '{', '%', '_' or
 * '-').  c, r and t are allowed only in explanations (§7.2) unless
 * any_letter.  m, if not NULL, receives a "%{...}" macro; its letter is 0
 * for "%%", "%_" and "%-".
 */
static size_t spf_macro_parse(const char *s, size_t len, size_t i, int any_letter,
			      struct spf_macro *m, char *why)
{
	struct spf_macro tmp = {0};
	size_t j;
	int have_digits = 0;

	if (m == NULL)
		m = &tmp;
	memset(m, 0, sizeof(*m));
	if (i + 1 >= len) {
		why_set(why, "'%%' at the end of a macro-string (RFC 7208 section 7.1)");
		return 0;
	}
	switch (s[i + 1]) {
	case '%':
	case '_':
	case '-':
		return i + 2;
	case '{':
		break;
	default:
		why_set(why, "'%%%c' is not a macro (RFC 7208 section 7.1)", s[i + 1]);
		return 0;
	}
	j = i + 2;
	if (j >= len || strchr("slodiphcrtv", tolower((unsigned char)s[j])) == NULL ||
	    s[j] == '\0') {
		why_set(why, "unknown macro letter (RFC 7208 section 7.2)");
		return 0;
	}
	m->letter = (char)tolower((unsigned char)s[j]);
	m->upper = isupper((unsigned char)s[j]) != 0;
	if (!any_letter && strchr("crt", m->letter) != NULL) {
		why_set(why, "macro letter '%c' is allowed only in explanations (RFC 7208 section 7.2)",
			s[j]);
		return 0;
	}
	for (j++; j < len && isdigit((unsigned char)s[j]); j++) {
		have_digits = 1;
		m->digits = m->digits * 10 + (unsigned)(s[j] - '0');
		if (m->digits > 10000)
			m->digits = 10000; /* no overflow; anything past 128 means "all" */
	}
	if (have_digits && m->digits == 0) {
		why_set(why, "macro digit transformer must be nonzero (RFC 7208 section 7.3)");
		return 0;
	}
	if (j < len && (s[j] == 'r' || s[j] == 'R')) {
		m->reverse = 1;
		j++;
	}
	for (; j < len && strchr(".-+,/_=", s[j]) != NULL && s[j] != '\0'; j++)
		if (m->ndelims < sizeof(m->delims) && memchr(m->delims, s[j], m->ndelims) == NULL)
			m->delims[m->ndelims++] = s[j];
	if (j >= len || s[j] != '}') {
		why_set(why, "malformed macro (RFC 7208 section 7.1)");
		return 0;
	}
	return j + 1;
}

/* macro-string (§7.1): literals are already known printable; check macros. */
static int spf_macro_string_ok(const char *s, size_t len, int any_letter, char *why)
{
	for (size_t i = 0; i < len;) {
		if (s[i] != '%') {
			i++;
			continue;
		}
		if ((i = spf_macro_parse(s, len, i, any_letter, NULL, why)) == 0)
			return 0;
	}
	return 1;
}

static int spf_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )   (§7.1) */
static int spf_toplabel_ok(const char *t, size_t n)
{
	int alpha = 0, dash = 0;

	if (n == 0 || !spf_alnum(t[0]) || !spf_alnum(t[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '-')
			dash = 1;
		else if (isalpha((unsigned char)t[i]))
			alpha = 1;
		else if (!isdigit((unsigned char)t[i]))
			return 0;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand   (§7.1) */
static int spf_domain_spec_ok(const char *s, size_t len, char *why)
{
	size_t i = 0, literal = 0, dot;
	int ends_in_macro = 0;

	if (len == 0) {
		why_set(why, "empty domain-spec (RFC 7208 section 7.1)");
		return 0;
	}
	while (i < len) {
		if (s[i] != '%') {
			i++;
			continue;
		}
		if ((i = spf_macro_parse(s, len, i, 0, NULL, why)) == 0)
			return 0;
		literal = i;
		ends_in_macro = i == len;
	}
	if (ends_in_macro)
		return 1;
	/* The final literal run must hold "." toplabel [ "." ]. */
	if (len > literal && s[len - 1] == '.')
		len--;
	for (dot = len; dot > literal && s[dot - 1] != '.'; dot--)
		;
	if (dot == literal || !spf_toplabel_ok(s + dot, len - dot)) {
		why_set(why,
			"domain-spec \"%.*s\" does not end in a top-level label (RFC 7208 section 7.1)",
			(int)(len > 60 ? 60 : len), s);
		return 0;
	}
	return 1;
}

/* A prefix length: "0" or no leading zero (§12), at most max. */
static int spf_cidr_ok(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros (§12). */
static int spf_ip4_ok(const char *s, size_t n, struct in_addr *out)
{
	char buf[16];
	size_t parts = 0, digits = 0;
	unsigned v = 0;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (digits == 0 || v > 255)
				return 0;
			parts++;
			digits = 0;
			v = 0;
			continue;
		}
		if (!isdigit((unsigned char)s[i]) || (digits == 1 && v == 0))
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
		digits++;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return parts == 4 && inet_pton(AF_INET, buf, out) == 1;
}

static int spf_ip6_ok(const char *s, size_t n, struct in6_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(buf) || strspn(s, "0123456789abcdefABCDEF:.") < n)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1;
}

/* a and mx: [ ":" domain-spec ] [ dual-cidr-length ] (§5.3, §5.4).  A
 * valid domain-end never ends in "/" DIGIT, so trailing "/N" and "//N"
 * are prefix lengths, right or wrong. */
static int spf_domain_cidr(struct spf_term *t, const char *s, size_t n, char *why)
{
	size_t k;

	t->cidr4 = 32;
	t->cidr6 = 128;
	for (k = n; k > 0 && isdigit((unsigned char)s[k - 1]); k--)
		;
	if (k < n && k >= 2 && s[k - 1] == '/' && s[k - 2] == '/') {
		if (!spf_cidr_ok(s + k, n - k, 128, &t->cidr6)) {
			why_set(why, "bad IPv6 prefix length \"/%.*s\" (RFC 7208 section 5.6)",
				(int)(n - k > 8 ? 8 : n - k), s + k);
			return 0;
		}
		n = k - 2;
		for (k = n; k > 0 && isdigit((unsigned char)s[k - 1]); k--)
			;
	}
	if (k < n && k >= 1 && s[k - 1] == '/') {
		if (!spf_cidr_ok(s + k, n - k, 32, &t->cidr4)) {
			why_set(why, "bad IPv4 prefix length \"/%.*s\" (RFC 7208 section 5.6)",
				(int)(n - k > 8 ? 8 : n - k), s + k);
			return 0;
		}
		n = k - 1;
	}
	if (n == 0)
		return 1;
	if (s[0] != ':') {
		why_set(why, "unexpected \"%.*s\" after a mechanism name (RFC 7208 section 12)",
			(int)(n > 40 ? 40 : n), s);
		return 0;
	}
	t->ds = s + 1;
	t->ds_len = n - 1;
	return spf_domain_spec_ok(t->ds, t->ds_len, why);
}

static int spf_ip_arg(struct spf_term *t, const char *s, size_t n, char *why)
{
	const char *slash;
	size_t addr_len;
	int v6 = t->type == T_IP6;

	if (n == 0 || s[0] != ':') {
		why_set(why, "%s needs \":\" and an address (RFC 7208 section 5.6)", v6 ? "ip6" : "ip4");
		return 0;
	}
	s++;
	n--;
	slash = memchr(s, '/', n);
	addr_len = slash ? (size_t)(slash - s) : n;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (v6 ? !spf_ip6_ok(s, addr_len, &t->v6) : !spf_ip4_ok(s, addr_len, &t->v4)) {
		why_set(why, "bad %s address \"%.*s\" (RFC 7208 section 5.6)", v6 ? "IPv6" : "IPv4",
			(int)(addr_len > 45 ? 45 : addr_len), s);
		return 0;
	}
	if (slash != NULL &&
	    !spf_cidr_ok(slash + 1, n - addr_len - 1, v6 ? 128 : 32, v6 ? &t->cidr6 : &t->cidr4)) {
		why_set(why, "bad prefix length \"%.*s\" (RFC 7208 section 5.6)",
			(int)(n - addr_len > 8 ? 8 : n - addr_len), slash);
		return 0;
	}
	return 1;
}

static int spf_directive(struct spf_record *r, const char *s, size_t n, char *why)
{
	struct spf_term t = {.qualifier = '+'};
	size_t name_len = 0, i;

	if (n > 0 && strchr("+-~?", s[0]) != NULL) {
		t.qualifier = s[0];
		s++;
		n--;
	}
	while (name_len < n && spf_alnum(s[name_len]))
		name_len++;
	for (i = 0; i < sizeof(spf_mechanisms) / sizeof(spf_mechanisms[0]); i++)
		if (strlen(spf_mechanisms[i].name) == name_len &&
		    strncasecmp(spf_mechanisms[i].name, s, name_len) == 0)
			break;
	if (name_len == 0 || i == sizeof(spf_mechanisms) / sizeof(spf_mechanisms[0])) {
		why_set(why, "unknown mechanism \"%.*s\" (RFC 7208 section 4.6.1)", (int)(n > 40 ? 40 : n),
			s);
		return 0;
	}
	t.type = spf_mechanisms[i].type;
	s += name_len;
	n -= name_len;
	switch (spf_mechanisms[i].arg) {
	case ARG_NONE:
		if (n != 0) {
			why_set(why, "\"all\" takes no argument (RFC 7208 section 5.1)");
			return 0;
		}
		r->has_all = 1;
		break;
	case ARG_DOMAIN_OPTIONAL:
		if (n == 0)
			break;
		/* FALLTHROUGH */
	case ARG_DOMAIN_REQUIRED:
		if (n == 0 || s[0] != ':') {
			why_set(why, "%s needs \":\" and a domain-spec (RFC 7208 section 5)",
				spf_mechanisms[i].name);
			return 0;
		}
		t.ds = s + 1;
		t.ds_len = n - 1;
		if (!spf_domain_spec_ok(t.ds, t.ds_len, why))
			return 0;
		break;
	case ARG_DOMAIN_CIDR:
		if (!spf_domain_cidr(&t, s, n, why))
			return 0;
		break;
	case ARG_IP4:
	case ARG_IP6:
		if (!spf_ip_arg(&t, s, n, why))
			return 0;
		break;
	}
	if (r->count == r->size) {
		r->size = r->size ? r->size * 2 : 16;
		r->terms = xrealloc(r->terms, r->size * sizeof(*r->terms));
	}
	r->terms[r->count++] = t;
	return 1;
}

/* modifier: redirect, exp, or name "=" macro-string (§6, §12). */
static int spf_modifier(struct spf_record *r, const char *s, size_t name_len, size_t n, char *why)
{
	const char *value = s + name_len + 1;
	size_t value_len = n - name_len - 1;
	const char **slot = NULL;
	size_t *slot_len = NULL;

	if (name_len == 8 && strncasecmp(s, "redirect", 8) == 0) {
		slot = &r->redirect;
		slot_len = &r->redirect_len;
	} else if (name_len == 3 && strncasecmp(s, "exp", 3) == 0) {
		slot = &r->exp;
		slot_len = &r->exp_len;
	}
	if (slot == NULL) /* Unknown modifiers are never expanded, so any letter may appear. */
		return spf_macro_string_ok(value, value_len, 1, why);
	if (*slot != NULL) {
		why_set(why, "%.*s= appears twice (RFC 7208 section 6)", (int)name_len, s);
		return 0;
	}
	if (!spf_domain_spec_ok(value, value_len, why))
		return 0;
	*slot = value;
	*slot_len = value_len;
	return 1;
}

static int spf_term(struct spf_record *r, const char *s, size_t n, char *why)
{
	size_t name_len = 0;

	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=" at once */
	if (isalpha((unsigned char)s[0])) {
		name_len = 1;
		while (name_len < n &&
		       (spf_alnum(s[name_len]) || strchr("-_.", s[name_len]) != NULL))
			name_len++;
		if (name_len < n && s[name_len] == '=')
			return spf_modifier(r, s, name_len, n, why);
	}
	return spf_directive(r, s, n, why);
}

struct spf_record *spf_record_parse(const char *text, size_t len, char *why)
{
	struct spf_record *r;
	size_t i;

	if (len > SPF_RECORD_MAX_LEN) {
		why_set(why, "record longer than %d characters", SPF_RECORD_MAX_LEN);
		return NULL;
	}
	if (!spf_record_is_spf(text, len)) {
		why_set(why, "not an SPF record (RFC 7208 section 4.5)");
		return NULL;
	}
	/* Printable US-ASCII and SP only: a NUL, a control character or a
	 * non-ASCII byte makes the record invalid (RFC 7208 §3.1, §12). */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c > 0x7e) {
			why_set(why, "byte 0x%02x at offset %zu is not allowed (RFC 7208 section 3.1)", c,
				i);
			return NULL;
		}
	}
	r = xcalloc(1, sizeof(*r));
	r->text = xstrndup(text, len);
	for (i = 6; i < len;) {
		size_t end;

		if (r->text[i] == ' ') {
			i++;
			continue;
		}
		for (end = i; end < len && r->text[end] != ' '; end++)
			;
		if (!spf_term(r, r->text + i, end - i, why)) {
			spf_record_free(&r);
			return NULL;
		}
		i = end;
	}
	return r;
}

void spf_record_free(struct spf_record **rp)
{
	struct spf_record *r = *rp;

	if (r == NULL)
		return;
	free(r->terms);
	free(r->text);
	xfree(rp);
}

/* ------------------------------------------------------------ expansion */

struct spf_expander {
	const struct spf_macro_env *env;
	const char *p; /* the p macro's value, once asked */
	int p_done;
};

static const char *spf_macro_value(struct spf_expander *x, char letter, char *buf, size_t size)
{
	const struct spf_macro_env *env = x->env;
	const struct addr *ip = &env->client;

	switch (letter) {
	case 's':
		return env->sender;
	case 'l':
		return env->local;
	case 'o':
		return env->sender_domain;
	case 'd':
		return env->domain;
	case 'h':
		return env->helo;
	case 'r':
		return env->receiver != NULL ? env->receiver : "unknown"; /* §7.3 */
	case 't':
		snprintf(buf, size, "%lld", (long long)env->now);
		return buf;
	case 'v':
		return ip->family == AF_INET6 ? "ip6" : "in-addr";
	case 'p':
		if (!x->p_done) {
			x->p = env->validated_name ? env->validated_name(env->ctx) : NULL;
			x->p_done = 1;
		}
		return x->p != NULL ? x->p : "unknown"; /* §7.3 */
	case 'i':
		/* §7.3: IPv6 as dot-separated nibbles */
		if (ip->family == AF_INET6) {
			size_t o = 0;

			for (int k = 0; k < 16 && o + 4 < size; k++)
				o += (size_t)snprintf(buf + o, size - o, "%s%x.%x", k ? "." : "",
						      ip->u.v6.s6_addr[k] >> 4,
						      ip->u.v6.s6_addr[k] & 0xf);
			return buf;
		}
		/* FALLTHROUGH */
	case 'c':
		if (ip->family != AF_INET && ip->family != AF_INET6)
			return "";
		return inet_ntop(ip->family, &ip->u, buf, (socklen_t)size) ? buf : "";
	}
	return "";
}

/* One macro's expansion (§7.3): split on the delimiters, maybe reverse,
 * keep the rightmost parts, join with ".", URL-escape if upper case. */
static void spf_macro_expand(struct spf_expander *x, const struct spf_macro *m, struct spf_sb *out)
{
	char buf[128];
	const char *v = spf_macro_value(x, m->letter, buf, sizeof(buf));
	const char *delims = m->ndelims ? m->delims : ".";
	size_t ndelims = m->ndelims ? m->ndelims : 1;
	size_t vlen = v ? strlen(v) : 0, nparts = 1, first = 0, k;
	size_t *start, *plen;
	struct spf_sb joined;

	if (vlen > SPF_RECORD_MAX_OUT) {
		out->full = 1;
		return;
	}
	for (k = 0; k < vlen; k++)
		if (memchr(delims, v[k], ndelims) != NULL)
			nparts++;
	start = xcalloc(nparts, sizeof(*start));
	plen = xcalloc(nparts, sizeof(*plen));
	nparts = 0;
	start[0] = 0;
	for (k = 0; k <= vlen; k++) {
		if (k == vlen || memchr(delims, v[k], ndelims) != NULL) {
			plen[nparts] = k - start[nparts];
			nparts++;
			if (k < vlen)
				start[nparts] = k + 1;
		}
	}
	if (m->reverse) {
		for (k = 0; k < nparts / 2; k++) {
			size_t s = start[k], l = plen[k];

			start[k] = start[nparts - 1 - k];
			plen[k] = plen[nparts - 1 - k];
			start[nparts - 1 - k] = s;
			plen[nparts - 1 - k] = l;
		}
	}
	if (m->digits > 0 && m->digits < nparts)
		first = nparts - m->digits;
	sb_init(&joined, vlen);
	for (k = first; k < nparts; k++) {
		if (k > first)
			sb_put(&joined, ".", 1);
		sb_put(&joined, v + start[k], plen[k]);
	}
	if (!m->upper) {
		sb_put(out, joined.buf, joined.len);
	} else {
		/* RFC 3986 unreserved: ALPHA DIGIT "-" "." "_" "~" */
		for (k = 0; k < joined.len; k++) {
			unsigned char c = (unsigned char)joined.buf[k];

			if (isalnum(c) || strchr("-._~", c) != NULL)
				sb_put(out, (const char *)&c, 1);
			else
				sb_printf(out, "%%%02X", c);
		}
	}
	free(joined.buf);
	free(start);
	free(plen);
}

/* Is this macro left for libspf2 1.2.10 to expand?  Only a plain p, so its
 * lookups happen if and when its term is reached.  libspf2 gets the rest
 * wrong: it rejects the ',' and '/' delimiters, leaves !*'() unescaped in
 * upper-case macros, and drops the first character when the digit
 * transformer is not less than the number of parts ("%{d2}" of
 * "example.test" comes out "xample.test"). */
static int spf_libspf2_expands(const struct spf_macro *m)
{
	if (m->letter != 'p' || m->upper || m->digits != 0)
		return 0;
	for (size_t i = 0; i < m->ndelims; i++)
		if (strchr(".-+=_", m->delims[i]) == NULL)
			return 0;
	return 1;
}

/* A validated macro-string, expanded (§7.3). */
static void spf_expand_string(struct spf_expander *x, const char *s, size_t n, struct spf_sb *out)
{
	for (size_t i = 0; i < n;) {
		struct spf_macro m;
		size_t end;

		if (s[i] != '%') {
			sb_put(out, s + i, 1);
			i++;
			continue;
		}
		end = spf_macro_parse(s, n, i, 1, &m, NULL);
		if (end == 0) { /* validated already: a broken invariant */
			out->full = 1;
			return;
		}
		switch (m.letter ? '{' : s[i + 1]) {
		case '%':
			sb_put(out, "%", 1);
			break;
		case '_':
			sb_put(out, " ", 1);
			break;
		case '-':
			sb_put(out, "%20", 3);
			break;
		default:
			spf_macro_expand(x, &m, out);
			break;
		}
		i = end;
	}
}

/* Text taken literally by libspf2's parser: '%' and SP are its only
 * special characters. */
static void spf_put_literal(struct spf_sb *out, const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (s[k] == '%')
			sb_put(out, "%%", 2);
		else if (s[k] == ' ')
			sb_put(out, "%_", 2);
		else
			sb_put(out, s + k, 1);
	}
}

/* A domain-spec fully expanded here, without a final dot and cut from
 * the left to 253 characters (§7.3; libspf2 does not cut, and refuses
 * literals over 255). */
static void spf_render_ds_expanded(struct spf_expander *x, const char *s, size_t n,
				   struct spf_sb *out)
{
	struct spf_sb plain;
	const char *name;
	size_t len;

	sb_init(&plain, SPF_RECORD_MAX_OUT);
	spf_expand_string(x, s, n, &plain);
	if (plain.full)
		out->full = 1;
	name = plain.buf;
	len = plain.len;
	if (len > 0 && name[len - 1] == '.')
		len--;
	while (len > 253) {
		const char *dot = memchr(name, '.', len);

		if (dot == NULL) {   /* one huge label: no DNS name */
			name = ".."; /* the DNS layer's "no such name" */
			len = 2;
			break;
		}
		len -= (size_t)(dot - name) + 1;
		name = dot + 1;
	}
	spf_put_literal(out, name, len);
	free(plain.buf);
}

/* A domain-spec with its plain p macros left for libspf2 to expand; the
 * DNS layer cuts the name. */
static void spf_render_ds_lazy(struct spf_expander *x, const char *s, size_t n, struct spf_sb *out)
{
	for (size_t i = 0; i < n;) {
		struct spf_macro m;
		size_t end;

		if (s[i] != '%') {
			sb_put(out, s + i, 1);
			i++;
			continue;
		}
		end = spf_macro_parse(s, n, i, 0, &m, NULL);
		if (end == 0) { /* validated already: a broken invariant */
			out->full = 1;
			return;
		}
		if (m.letter == 0 || spf_libspf2_expands(&m)) {
			sb_put(out, s + i, end - i);
		} else {
			struct spf_sb v;

			sb_init(&v, SPF_RECORD_MAX_OUT);
			spf_macro_expand(x, &m, &v);
			if (v.full)
				out->full = 1;
			spf_put_literal(out, v.buf, v.len);
			free(v.buf);
		}
		i = end;
	}
}

/* Will libspf2 1.2.10 compile this rendered domain-spec?  It refuses a
 * literal run over 255 characters (SPF_MAX_STR_LEN) and a mechanism's
 * data over 511 bytes (SPF_MAX_MECH_LEN, some 8 bytes per part and the
 * prefix lengths): kept well inside both. */
static int spf_libspf2_fits(const char *s, size_t n)
{
	size_t run = 0, parts = 1;

	if (n > SPF_RECORD_LAZY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 1 < n && s[i + 1] == '{') {
			const char *close = memchr(s + i, '}', n - i);

			if (close == NULL) /* validated already: a broken invariant */
				return 0;
			parts += 2;
			run = 0;
			i = (size_t)(close - s);
			continue;
		}
		if (s[i] == '%') /* %% %_ %-: one character, or three */
			i++;
		if (++run > 250)
			return 0;
	}
	return n + 8 * parts <= SPF_RECORD_LAZY_MAX;
}

/* A domain-spec for libspf2, its macros expanded here but for a plain p
 * (see spf_libspf2_expands()), so that p's lookups happen only if its
 * term is reached.  A lazy rendering libspf2 would refuse (long literal
 * text around the p) is expanded here instead: the exact name, at the
 * cost of p's lookups when the record is rendered. */
static void spf_render_ds(struct spf_expander *x, const char *s, size_t n, struct spf_sb *out)
{
	struct spf_sb lazy;
	int has_lazy = 0;

	for (size_t i = 0; i < n; i++) {
		struct spf_macro m;

		if (s[i] == '%' && spf_macro_parse(s, n, i, 0, &m, NULL) != 0 && m.letter != 0 &&
		    spf_libspf2_expands(&m))
			has_lazy = 1;
	}
	if (!has_lazy) {
		spf_render_ds_expanded(x, s, n, out);
		return;
	}
	sb_init(&lazy, SPF_RECORD_MAX_OUT);
	spf_render_ds_lazy(x, s, n, &lazy);
	if (!lazy.full && spf_libspf2_fits(lazy.buf, lazy.len))
		sb_put(out, lazy.buf, lazy.len);
	else
		spf_render_ds_expanded(x, s, n, out);
	free(lazy.buf);
}

/* Does an ip4 or ip6 term match the client (§5.6)?  An ip4 term never
 * matches an IPv6 client, nor an ip6 term an IPv4 one (§5). */
static int spf_ip_matches(const struct spf_term *t, const struct addr *client)
{
	const unsigned char *net, *ip;
	unsigned bits, whole;

	if (t->type == T_IP4 && client->family == AF_INET) {
		net = (const unsigned char *)&t->v4;
		ip = (const unsigned char *)&client->u.v4;
		bits = t->cidr4;
	} else if (t->type == T_IP6 && client->family == AF_INET6) {
		net = t->v6.s6_addr;
		ip = client->u.v6.s6_addr;
		bits = t->cidr6;
	} else {
		return 0;
	}
	whole = bits / 8;
	if (memcmp(net, ip, whole) != 0)
		return 0;
	return bits % 8 == 0 || ((net[whole] ^ ip[whole]) & (0xff00u >> (bits % 8)) & 0xff) == 0;
}

/*
 * The run of ip4/ip6 terms from r->terms[i] on, which need no DNS: only
 * the first that matches the client can decide (§4.6.2), so the run is
 * rendered as that term's qualifier on the client's own address, or as
 * nothing.  This keeps libspf2's mechanism count (an unsigned char in
 * 1.2.10, which wraps past 255) small whatever the record's length.
 * Returns the index of the run's last term.
 */
static size_t spf_render_ip_run(const struct spf_record *r, size_t i, const struct addr *client,
				struct spf_sb *out)
{
	const struct spf_term *match = NULL;
	char addr[INET6_ADDRSTRLEN];

	for (; i < r->count && (r->terms[i].type == T_IP4 || r->terms[i].type == T_IP6); i++)
		if (match == NULL && spf_ip_matches(&r->terms[i], client))
			match = &r->terms[i];
	if (match != NULL && inet_ntop(client->family, &client->u, addr, sizeof(addr)) != NULL)
		sb_printf(out, " %c%s:%s/%u", match->qualifier,
			  match->type == T_IP4 ? "ip4" : "ip6", addr,
			  match->type == T_IP4 ? 32 : 128);
	return i - 1;
}

/* One mechanism that is not ip4 or ip6. */
static void spf_render_term(struct spf_expander *x, const struct spf_term *t, struct spf_sb *out)
{
	const struct spf_macro_env *env = x->env;
	int any;

	sb_printf(out, " %c", t->qualifier);
	switch (t->type) {
	case T_ALL:
		sb_puts(out, "all");
		break;
	case T_INCLUDE:
	case T_EXISTS:
	case T_PTR:
		sb_puts(out, t->type == T_INCLUDE  ? "include"
			     : t->type == T_EXISTS ? "exists"
						   : "ptr");
		if (t->ds != NULL) {
			sb_put(out, ":", 1);
			spf_render_ds(x, t->ds, t->ds_len, out);
		}
		break;
	case T_A:
	case T_MX:
		/* libspf2 cannot hold a /0 (§5.3: it matches any address of
		 * the family): mark the domain instead. */
		any = env->client.family == AF_INET6 ? t->cidr6 == 0 : t->cidr4 == 0;
		sb_puts(out, t->type == T_A ? "a" : "mx");
		if (t->ds != NULL) {
			sb_put(out, ":", 1);
			spf_render_ds(x, t->ds, t->ds_len, out);
		} else if (any && env->domain != NULL) {
			sb_put(out, ":", 1);
			spf_put_literal(out, env->domain, strlen(env->domain));
		}
		if (any)
			sb_puts(out, SPF_RECORD_ANY_ADDRESS);
		/* Always explicit, so an expanded domain ending in "/N" is
		 * never taken for a prefix length. */
		sb_printf(out, "/%u//%u", t->cidr4 ? t->cidr4 : 32, t->cidr6 ? t->cidr6 : 128);
		break;
	case T_IP4:
	case T_IP6: /* rendered by runs */
		break;
	}
}

/*
 * Only what evaluation can reach is rendered (§4.6.2: mechanisms in
 * order, the first match wins): runs of ip4/ip6 terms become one term or
 * none (spf_render_ip_run), nothing after "all" (it always matches,
 * §5.1), and nothing after the eleventh DNS-querying term, whose
 * evaluation is a permerror (§4.6.4) that the caller's DNS layer counts.
 * So a record of any length up to SPF_RECORD_MAX_LEN renders to at most
 * SPF_RECORD_DNS_TERMS + 1 DNS terms, as many ip terms plus one, an all,
 * redirect= and exp=.
 */
char *spf_record_render(const struct spf_record *r, const struct spf_macro_env *env)
{
	struct spf_expander x = {.env = env};
	struct spf_sb out;
	size_t dns_terms = 0;

	sb_init(&out, SPF_RECORD_MAX_OUT);
	sb_puts(&out, "v=spf1");
	for (size_t i = 0; i < r->count; i++) {
		const struct spf_term *t = &r->terms[i];

		if (t->type == T_IP4 || t->type == T_IP6) {
			i = spf_render_ip_run(r, i, &env->client, &out);
			continue;
		}
		spf_render_term(&x, t, &out);
		if (t->type == T_ALL || ++dns_terms > SPF_RECORD_DNS_TERMS)
			break;
	}
	/* §6.1: redirect= takes effect after every mechanism, and not at
	 * all beside "all"; libspf2 runs it where it stands. */
	if (r->redirect != NULL && !r->has_all) {
		sb_puts(&out, " redirect=");
		spf_render_ds(&x, r->redirect, r->redirect_len, &out);
	}
	if (r->exp != NULL) {
		sb_puts(&out, " exp=");
		spf_render_ds(&x, r->exp, r->exp_len, &out);
	}
	return sb_finish(&out);
}

char *spf_record_explain(const char *text, size_t len, const struct spf_macro_env *env)
{
	struct spf_expander x = {.env = env};
	struct spf_sb out;

	if (len > SPF_RECORD_EXP_MAX)
		return NULL;
	/* explain-string = *( macro-string / SP ): printable ASCII (§6.2, §7.1) */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
			return NULL;
	if (!spf_macro_string_ok(text, len, 1, NULL))
		return NULL;
	sb_init(&out, SPF_RECORD_MAX_OUT);
	spf_expand_string(&x, text, len, &out);
	return sb_finish(&out);
}

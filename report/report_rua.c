/*
 * report_rua - rua= parsing, external verification, suppression (see
 * report_rua.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain.h"
#include "report_rua.h"

#define ADDRESS_MAX 254

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 7489 §6.2 size: 1*DIGIT [ "k" / "m" / "g" / "t" ], powers of 1024. */
static int parse_size(const char *s, size_t len, uint64_t *size_r)
{
	uint64_t v = 0, mult = 1;
	size_t i = 0;

	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i < len) {
		const char *units = "kmgt", *u = strchr(units, tolower((unsigned char)s[i]));

		if (u == NULL || s[i] == '\0' || i + 1 != len)
			return -1;
		for (const char *p = units; p <= u; p++)
			mult *= 1024;
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*size_r = v * mult;
	return v == 0 ? -1 : 0;
}

static void parse_one(const char *uri, size_t len, struct arena *a, struct report_rua *r)
{
	const char *p, *end = uri + len, *bang, *q;
	char addr[ADDRESS_MAX + 1], *at;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->uri = arena_strndup(a, uri, len);
	if (len < 7 || strncasecmp(uri, "mailto:", 7) != 0) {
		r->error = "not a mailto: URI";
		return;
	}
	p = uri + 7;
	/* a literal '!' starts the size; one inside an address is %21 */
	bang = memchr(p, '!', (size_t)(end - p));
	if (bang != NULL) {
		if (parse_size(bang + 1, (size_t)(end - bang - 1), &r->max_size) < 0) {
			r->error = "bad !size suffix";
			return;
		}
		end = bang;
	}
	if ((q = memchr(p, '?', (size_t)(end - p))) != NULL)
		end = q; /* hfields (?subject=...) are not ours to follow */
	for (; p < end; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			if (end - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0) {
				r->error = "bad %-escape";
				return;
			}
			c = hexval(p[1]) * 16 + hexval(p[2]);
			p += 2;
		}
		if (c <= 0x20 || c >= 0x7f || strchr("<>,\"()[]\\;:", c) != NULL) {
			r->error = "bad character in the address";
			return;
		}
		if (n == ADDRESS_MAX) {
			r->error = "address too long";
			return;
		}
		addr[n++] = (char)c;
	}
	addr[n] = '\0';
	if ((at = strrchr(addr, '@')) == NULL || at == addr) {
		r->error = "no local@domain address";
		return;
	}
	for (char *d = at + 1; *d != '\0'; d++)
		*d = (char)tolower((unsigned char)*d);
	if (n > 0 && addr[n - 1] == '.')
		addr[--n] = '\0';
	if (!domain_valid(at + 1, 0)) {
		r->error = "bad domain in the address";
		return;
	}
	r->address = arena_strdup(a, addr);
	r->domain = strrchr(r->address, '@') + 1;
}

size_t report_rua_parse(const char *rua, struct arena *a, struct report_rua *out, size_t max)
{
	size_t count = 0, total;
	const char *p = rua;

	if (rua == NULL)
		return 0;
	total = strnlen(rua, REPORT_RUA_LEN_MAX);
	while (p < rua + total && count < max) {
		const char *comma = memchr(p, ',', (size_t)(rua + total - p));
		const char *end = comma != NULL ? comma : rua + total, *s = p;

		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > s)
			parse_one(s, (size_t)(end - s), a, &out[count++]);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return count;
}

/* Is d equal to base or below it? */
static int at_or_below(const char *d, const char *base)
{
	size_t dl = strlen(d), bl = strlen(base);

	if (dl == bl)
		return strcasecmp(d, base) == 0;
	return dl > bl && d[dl - bl - 1] == '.' && strcasecmp(d + dl - bl, base) == 0;
}

int report_rua_external(const char *policy_domain, const char *rua_domain)
{
	return !at_or_below(rua_domain, policy_domain) && !at_or_below(policy_domain, rua_domain);
}

enum report_auth report_rua_authorized(struct dns *dns, const char *policy_domain,
				       const char *rua_domain, unsigned timeout_ms)
{
	char name[512];
	struct dns_query *q = NULL;
	const struct dns_answer *ans;
	enum report_auth auth = REPORT_AUTH_NO;
	int n = snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy_domain, rua_domain);

	if (n < 0 || (size_t)n >= sizeof(name) || n > 253)
		return REPORT_AUTH_NO; /* no such name can exist */
	ans = dns_lookup(dns, name, DNS_T_TXT, timeout_ms, &q);
	if (ans->status == DNS_TEMPFAIL) {
		auth = REPORT_AUTH_TEMPFAIL;
	} else if (ans->status == DNS_OK) {
		for (size_t i = 0; i < ans->count; i++) {
			const char *t = ans->rr[i].u.text;

			while (*t == ' ' || *t == '\t')
				t++;
			if (strncmp(t, "v=DMARC1", 8) == 0 &&
			    (t[8] == '\0' || t[8] == ';' || t[8] == ' ' || t[8] == '\t'))
				auth = REPORT_AUTH_YES;
		}
	}
	dns_query_free(&q);
	return auth;
}

int report_rua_suppressed(char *const *list, const char *address)
{
	const char *at = strrchr(address, '@'), *domain = at != NULL ? at + 1 : address;

	for (; list != NULL && *list != NULL; list++) {
		const char *e = *list;

		if (strchr(e, '@') != NULL) {
			if (strcasecmp(e, address) == 0)
				return 1;
			continue;
		}
		if (*e == '.')
			e++;
		if (*e != '\0' && at_or_below(domain, e))
			return 1;
	}
	return 0;
}

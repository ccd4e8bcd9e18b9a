/*
 * content_url - URL extraction and normalisation (see content_url.h).
 *
 * Hosts follow what a browser would connect to (the WHATWG URL standard's
 * host parser, in the parts a phisher uses): tabs and newlines inside a
 * link are dropped, "\" is "/", percent-escapes in the host are decoded, a
 * host whose last label is a number is an IPv4 address in any of its
 * historic forms (http://3232235777/ is 192.168.1.1), and a Unicode host
 * goes through UTS #46 to A-labels (libidn2), so a look-alike and its
 * punycode are one host.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "content_url.h"

#define HOST_MAX	253
#define TEXT_DOMAIN_MAX 255 /* of a link's visible text looked at */

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	/* The newer of the list built into libpsl and Debian's publicsuffix
	 * package, which is updated with the distribution. */
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

void content_url_init(void)
{
	pthread_once(&psl_once, psl_load);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* One part of a numeric IPv4 host: decimal, 0x hex or 0 octal; -1 if not
 * a number. */
static int64_t ipv4_number(const char *s, size_t n)
{
	int base = 10;
	int64_t v = 0;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2, n -= 2;
	else if (n >= 2 && s[0] == '0')
		base = 8, s++, n--;
	if (n > 12)
		return -1; /* far past 2^32 in any base */
	for (size_t i = 0; i < n; i++) {
		int d = hexval((unsigned char)s[i]);

		if (d < 0 || d >= base)
			return -1;
		v = v * base + d;
	}
	return v;
}

/* A host whose last label is numeric is an IPv4 address: 1 and the dotted
 * quad in out; -1 if it is numeric but no valid address; 0 otherwise. */
static int ipv4_host(const char *host, char out[16])
{
	int64_t part[4], last;
	size_t count = 0, start = 0, len = strlen(host);
	const char *dot = strrchr(host, '.');
	const char *tail = dot != NULL ? dot + 1 : host;

	if (ipv4_number(tail, strlen(tail)) < 0)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (host[i] != '.' && host[i] != '\0')
			continue;
		if (count == 4 || (part[count] = ipv4_number(host + start, i - start)) < 0 ||
		    i == start)
			return -1;
		count++;
		start = i + 1;
	}
	last = part[count - 1];
	for (size_t i = 0; i + 1 < count; i++)
		if (part[i] > 255)
			return -1;
	if (last >= ((int64_t)1 << (8 * (5 - count))))
		return -1;
	for (size_t i = 0; i + 1 < count; i++)
		last += part[i] << (8 * (3 - i));
	snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(last >> 24) & 255, (unsigned)(last >> 16) & 255,
		 (unsigned)(last >> 8) & 255, (unsigned)last & 255);
	return 1;
}

static int ascii_only(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* A registered name's bytes: LDH, "." and "_" as some DNS names have it. */
static const unsigned char ldh[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1};

static int host_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!ldh[(unsigned char)*s])
			return 0;
	return 1;
}

/* Tests only: 0 sends every host the general way (content_url.h). */
static int plain_hosts = 1;

void content_url_host_fast(int on)
{
	plain_hosts = on;
}

/* host_canonical() of a host as nearly every link has it: LDH letters
 * only (no escape, no 8-bit byte), no empty label, a last label that
 * starts with a letter (so no IPv4 number); in one pass.  NULL when the
 * host is not of that kind: the general path decides. */
static const char *host_plain(struct arena *a, const char *raw, size_t n)
{
	char *out;
	size_t last = 0;

	while (n > 0 && raw[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX || raw[0] == '.')
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!ldh[(unsigned char)raw[i]])
			return NULL;
		if (raw[i] == '.') {
			if (raw[i + 1] == '.') /* (i + 1 < n: no dot ends raw now) */
				return NULL;
			last = i + 1;
		}
	}
	if (raw[last] >= '0' && raw[last] <= '9')
		return NULL;
	out = arena_strndup(a, raw, n);
	for (size_t i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + ('a' - 'A'));
	return out;
}

/* The host of a URL, decoded and made canonical, in the arena; NULL if
 * unusable.  raw is n bytes without brackets for IPv6 (v6 set). */
static const char *host_canonical(struct arena *a, const char *raw, size_t n, int v6)
{
	char buf[HOST_MAX * 3 + 1], quad[16];
	const char *plain;
	size_t o = 0;

	if (n == 0 || n > sizeof(buf) - 1)
		return NULL;
	if (!v6 && plain_hosts && (plain = host_plain(a, raw, n)) != NULL)
		return plain;
	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (raw[i] == '%' && i + 2 < n && (h = hexval((unsigned char)raw[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)raw[i + 2])) >= 0) {
			buf[o++] = (char)(h * 16 + l);
			i += 2;
		} else
			buf[o++] = raw[i];
	}
	buf[o] = '\0';
	if (memchr(buf, '\0', o) != NULL)
		return NULL;
	if (v6) {
		struct in6_addr in6;
		char text[INET6_ADDRSTRLEN];

		if (inet_pton(AF_INET6, buf, &in6) != 1 ||
		    inet_ntop(AF_INET6, &in6, text, sizeof(text)) == NULL)
			return NULL;
		return arena_strdup(a, text);
	}
	if (!ascii_only(buf)) {
		char *ace = NULL;

		if (idn2_to_ascii_8z(buf, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK &&
		    idn2_to_ascii_8z(buf, &ace, IDN2_TRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
			return NULL;
		if (strlen(ace) >= sizeof(buf)) {
			idn2_free(ace);
			return NULL;
		}
		strcpy(buf, ace);
		idn2_free(ace);
	}
	for (char *p = buf; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (o = strlen(buf); o > 0 && buf[o - 1] == '.'; o--)
		buf[o - 1] = '\0';
	switch (ipv4_host(buf, quad)) {
	case 1:
		return arena_strdup(a, quad);
	case -1:
		return NULL;
	}
	if (buf[0] == '\0' || buf[0] == '.' || strstr(buf, "..") != NULL || !host_chars_ok(buf) ||
	    strlen(buf) > HOST_MAX)
		return NULL;
	return arena_strdup(a, buf);
}

/* Eight bytes at a time, for the runs of a link that are copied as they
 * are (a link is a few hundred bytes, read twice).  Exact tests: a byte
 * below c (c <= 0x80), a byte equal to c. */
#define BYTES(c) (0x0101010101010101u * (uint8_t)(c))

static inline uint64_t byte_below(uint64_t w, unsigned c)
{
	return (w - BYTES(c)) & ~w & BYTES(0x80);
}

static inline uint64_t byte_equal(uint64_t w, unsigned c)
{
	return byte_below(w ^ BYTES(c), 1);
}

/* How many of s's first n bytes link_clean copies as they are: none of
 * tab, newline, CR or "\" (a word with another control is left to the
 * byte loop). */
static size_t clean_run(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (byte_below(w, '\r' + 1) | byte_equal(w, '\\'))
			break;
	}
	while (i < n && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\\')
		i++;
	return i;
}

/* How many of s's first n bytes path_append copies as they are: printable
 * ASCII but the quotes and angle brackets it encodes (a NUL ends it). */
static size_t path_run(const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if ((w & BYTES(0x80)) | byte_below(w, ' ' + 1) | byte_equal(w, 0x7f) |
		    byte_equal(w, '"') | byte_equal(w, '<') | byte_equal(w, '>'))
			break;
	}
	while (i < n && s[i] > ' ' && s[i] < 0x7f && s[i] != '"' && s[i] != '<' && s[i] != '>')
		i++;
	return i;
}

/* The link without tabs and newlines (browsers drop them) and without the
 * blanks and controls around it; "\" as "/". */
static size_t link_clean(const char *raw, size_t len, char *out, size_t size)
{
	size_t o = 0, i = 0;

	while (len > 0 && (unsigned char)raw[0] <= ' ')
		raw++, len--;
	while (len > 0 && (unsigned char)raw[len - 1] <= ' ')
		len--;
	/* o <= i: while i < size - 1 the output cannot be full */
	for (size_t fast = len < size - 1 ? len : size - 1, run; i < fast;) {
		char c;

		run = clean_run(raw + i, fast - i);
		memcpy(out + o, raw + i, run);
		o += run;
		if ((i += run) == fast)
			break;
		if ((c = raw[i++]) == '\t' || c == '\n' || c == '\r')
			continue;
		out[o++] = c == '\\' ? '/' : c;
	}
	for (; i < len && o + 1 < size; i++) {
		if (raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r')
			continue;
		out[o++] = raw[i] == '\\' ? '/' : raw[i];
	}
	out[o] = '\0';
	return o;
}

/* The scheme and where the authority starts: http and https, "//x" and
 * "www." (both taken as http). */
static const char *split_scheme(const char *s, const char **rest_r)
{
	/* "http" in any case, then ":" or "s:" (no strncasecmp: a link each) */
	if ((s[0] | 0x20) == 'h' && (s[1] | 0x20) == 't' && (s[2] | 0x20) == 't' &&
	    (s[3] | 0x20) == 'p' && (s[4] == ':' || ((s[4] | 0x20) == 's' && s[5] == ':'))) {
		const char *scheme = (s[4] == ':') ? "http" : "https";

		s += strlen(scheme) + 1;
		while (*s == '/')
			s++;
		*rest_r = s;
		return scheme;
	}
	if (s[0] == '/' && s[1] == '/') {
		*rest_r = s + 2;
		return "http";
	}
	if (strncasecmp(s, "www.", 4) == 0) {
		*rest_r = s;
		return "http";
	}
	return NULL;
}

/* The path, query and fragment as ASCII: blanks, controls, 8-bit bytes
 * and quotes percent-encoded; cut at the URL size cap. */
static const char hex_digits[] = "0123456789ABCDEF";

/* (o in a local: a store through out could be *o_r, which kept the
 * compiler reloading it for every byte.) */
static void path_append(char *out, size_t *o_r, size_t size, const char *path, size_t len)
{
	const unsigned char *p = (const unsigned char *)path, *end = p + len;
	size_t o = *o_r;

	if (*path == '\0' || *path == '?' || *path == '#')
		out[o++] = '/';
	for (; p < end && *p != '\0' && o + 4 < size; p++) {
		/* what fits while o + 4 < size, copied whole */
		size_t room = size - 4 - o, n = (size_t)(end - p), run;
		unsigned char c;

		run = path_run(p, n < room ? n : room);
		memcpy(out + o, p, run);
		o += run;
		p += run;
		if (p == end || *p == '\0' || o + 4 >= size)
			break;
		if ((c = *p) <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>') {
			out[o++] = '%';
			out[o++] = hex_digits[c >> 4];
			out[o++] = hex_digits[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	*o_r = o;
}

/* The authority's userinfo (kept: http://bank@evil/ is how it reads),
 * host and port. */
struct authority {
	const char *user;
	size_t user_len;
	const char *host;
	size_t host_len;
	int v6;
	long port; /* -1: none */
	const char *path;
};

static int split_authority(const char *s, struct authority *au)
{
	const char *at = NULL, *host, *colon;
	size_t end = 0;

	/* to the first "/", "?" or "#", the last "@" before it */
	for (char c; (c = s[end]) != '\0' && c != '/' && c != '?' && c != '#'; end++)
		if (c == '@')
			at = s + end;
	memset(au, 0, sizeof(*au));
	au->port = -1;
	au->path = s + end;
	host = at != NULL ? at + 1 : s;
	if (at != NULL)
		au->user = s, au->user_len = (size_t)(at - s);
	au->host = host;
	au->host_len = (size_t)(s + end - host);
	if (host[0] == '[') {
		const char *close = memchr(host, ']', au->host_len);

		if (close == NULL)
			return -1;
		au->v6 = 1;
		au->host = host + 1;
		colon = close + 1 < s + end && close[1] == ':' ? close + 1 : NULL;
		au->host_len = (size_t)(close - host - 1);
	} else {
		colon = memchr(host, ':', au->host_len);
		if (colon != NULL)
			au->host_len = (size_t)(colon - host);
	}
	if (colon != NULL && colon + 1 < s + end) {
		char *e;

		au->port = strtol(colon + 1, &e, 10);
		if (e != s + end || au->port < 0 || au->port > 65535)
			return -1;
	}
	return 0;
}

int content_url_normalise(struct arena *a, const char *raw, size_t len, const char **url_r,
			  const char **host_r)
{
	char clean[CONTENT_URL_MAX * 2], out[CONTENT_URL_MAX + 1], port[8];
	const char *rest, *scheme, *host;
	struct authority au;
	size_t o, host_len, port_len = 0, clean_len;

	clean_len = link_clean(raw, len, clean, sizeof(clean));
	if ((scheme = split_scheme(clean, &rest)) == NULL || split_authority(rest, &au) < 0 ||
	    (host = host_canonical(a, au.host, au.host_len, au.v6)) == NULL)
		return -1;
	o = strlen(scheme);
	memcpy(out, scheme, o);
	memcpy(out + o, "://", 3);
	o += 3;
	for (size_t i = 0; i < au.user_len && o + 4 < sizeof(out); i++) {
		unsigned char c = (unsigned char)au.user[i];

		if (c <= ' ' || c >= 0x7f) {
			out[o++] = '%';
			out[o++] = hex_digits[c >> 4];
			out[o++] = hex_digits[c & 15];
		} else
			out[o++] = (char)c;
	}
	if (au.user != NULL && o + 1 < sizeof(out))
		out[o++] = '@';
	/* host and port, if they leave room for the path's first byte */
	host_len = strlen(host);
	if (au.port >= 0 && au.port != (strcmp(scheme, "https") == 0 ? 443 : 80))
		port_len = (size_t)snprintf(port, sizeof(port), ":%ld", au.port);
	if (o + host_len + 2 * (au.v6 != 0) + port_len >= sizeof(out) - 1)
		return -1;
	if (au.v6)
		out[o++] = '[';
	memcpy(out + o, host, host_len);
	o += host_len;
	if (au.v6)
		out[o++] = ']';
	memcpy(out + o, port, port_len);
	o += port_len;
	path_append(out, &o, sizeof(out), au.path, (size_t)(clean + clean_len - au.path));
	*url_r = arena_strndup(a, out, o);
	*host_r = host;
	return 0;
}

/* Eight bytes at a step: the keys are long, and FNV's byte at a time
 * was most of what a link cost. */
static uint64_t hash(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 32);
}

/* The registrable domains of the hosts seen last, for every message: a
 * mail stream links the same hosts again and again, and the public suffix
 * list takes about 1 us a host.  Direct-mapped by hash; a domain is kept
 * as its offset in the host (-1: none). */
#define DOMAIN_CACHE_SLOTS 512
#define DOMAIN_CACHE_HOST  64 /* longer hosts are not kept */
static struct domain_cache {
	uint64_t hash;
	int offset;
	char host[DOMAIN_CACHE_HOST];
} domain_cache[DOMAIN_CACHE_SLOTS];
static pthread_mutex_t domain_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *domain_uncached(const char *host)
{
	char quad[16];
	struct in6_addr in6;

	content_url_init();
	if (inet_pton(AF_INET6, host, &in6) == 1 || ipv4_host(host, quad) != 0)
		return NULL;
	return psl_registrable_domain(psl, host);
}

const char *content_url_domain(struct arena *a, const char *host)
{
	size_t len = strlen(host);
	uint64_t h;
	struct domain_cache *c;
	const char *d;
	int offset = -2;

	(void)a;
	if (len >= DOMAIN_CACHE_HOST)
		return domain_uncached(host);
	h = hash(host);
	c = &domain_cache[h % DOMAIN_CACHE_SLOTS];
	pthread_mutex_lock(&domain_cache_lock);
	if (c->hash == h && strcmp(c->host, host) == 0)
		offset = c->offset;
	pthread_mutex_unlock(&domain_cache_lock);
	if (offset != -2)
		return offset >= 0 ? host + offset : NULL;
	d = domain_uncached(host); /* a suffix of host, which lives in the arena */
	pthread_mutex_lock(&domain_cache_lock);
	c->hash = h;
	c->offset = d != NULL ? (int)(d - host) : -1;
	memcpy(c->host, host, len + 1);
	pthread_mutex_unlock(&domain_cache_lock);
	return d;
}

/* The last top-level label a link text was checked for, and the answer:
 * a message's link texts mostly end in one or two, and the public suffix
 * list's answer costs ~2,000 instructions. */
struct tld_memo {
	char label[64]; /* "" when none */
	int real;
};

/* Is label a real top-level label (a public suffix)?  memo may be NULL. */
static int tld_real(const char *label, struct tld_memo *memo)
{
	int real;

	if (memo != NULL && memo->label[0] != '\0' && strcmp(memo->label, label) == 0)
		return memo->real;
	real = psl_is_public_suffix2(psl, label, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
	if (memo != NULL && strlen(label) < sizeof(memo->label)) {
		strcpy(memo->label, label);
		memo->real = real;
	}
	return real;
}

/* The host the visible text of a link names, normalised, or NULL: a URL, a
 * www. name, or a name whose top-level label is a real one (so
 * "report.pdf" or "Click.Here" name none). */
static const char *text_host(struct arena *a, const char *text, size_t len, struct tld_memo *memo)
{
	char buf[TEXT_DOMAIN_MAX + 16];
	const char *url, *host, *tld, *rest;
	size_t n;

	content_url_init();
	while (len > 0 && ((unsigned char)text[0] <= ' ' || text[0] == '<' || text[0] == '('))
		text++, len--;
	while (len > 0 &&
	       ((unsigned char)text[len - 1] <= ' ' || strchr(">).,;:!?", text[len - 1])))
		len--;
	if (len == 0 || len > TEXT_DOMAIN_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
			return NULL;
	n = strnlen(text, len); /* a NUL ends the name */
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (split_scheme(buf, &rest) == NULL) {
		if (memchr(text, '@', len) != NULL || memchr(text, '.', len) == NULL)
			return NULL;
		memmove(buf + 7, buf, n + 1);
		memcpy(buf, "http://", 7);
		n += 7;
	}
	if (content_url_normalise(a, buf, n, &url, &host) < 0)
		return NULL;
	tld = strrchr(host, '.');
	if (tld == NULL || !tld_real(tld + 1, memo))
		return NULL;
	return host;
}

const char *content_url_text_domain(struct arena *a, const char *text, size_t len)
{
	const char *host = text_host(a, text, len, NULL);

	return host != NULL ? content_url_domain(a, host) : NULL;
}

/* ------------------------------------------------------------ collector */

/* A set of strings with a value each: open addressing, doubled at half
 * load, in the arena.  Each slot keeps its key's hash: growing does not
 * hash the keys again, and a probe compares strings only when the hashes
 * agree (the keys are URLs of a few hundred bytes, most of them distinct). */
struct strmap {
	struct slot {
		const char *key;
		const void *value;
		uint64_t hash;
	} * slots;
	size_t size, used;
};

/* The slot of key: found (key set) or where it goes (key NULL, hash set
 * for strmap_set).  first: the table's size when it is made (a power of
 * two), so that a map that will hold many keys is not grown step by step. */
static struct slot *strmap_slot(struct arena *a, struct strmap *m, const char *key, size_t first)
{
	uint64_t h = hash(key);
	size_t mask, j;

	if (2 * (m->used + 1) > m->size) {
		struct slot *old = m->slots;
		size_t old_size = m->size;

		m->size = old_size ? old_size * 2 : first;
		m->slots = arena_alloc(a, m->size * sizeof(*m->slots));
		for (size_t i = 0; i < old_size; i++) {
			if (old[i].key == NULL)
				continue;
			for (j = old[i].hash & (m->size - 1); m->slots[j].key != NULL;
			     j = (j + 1) & (m->size - 1))
				;
			m->slots[j] = old[i];
		}
	}
	mask = m->size - 1;
	for (j = h & mask; m->slots[j].key != NULL; j = (j + 1) & mask)
		if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0)
			break;
	m->slots[j].hash = h;
	return &m->slots[j];
}

static void strmap_set(struct strmap *m, struct slot *slot, const char *key, const void *value)
{
	slot->key = key;
	slot->value = value;
	m->used++;
}

struct content_urls {
	struct arena *a;
	unsigned max;
	struct content_url *urls;
	size_t count;
	struct strmap seen;    /* every distinct URL: its content_url, NULL if over the bound */
	size_t seen_first;     /* its first size */
	struct tld_memo tld;   /* the link texts' last top-level label */
	struct strmap hosts;   /* the listed hosts: their registrable domain ("" for none) */
	struct strmap domains; /* the listed domains */
	const char **host_list, **domain_list;
	size_t host_count, domain_count;
	size_t skipped;
	int mismatch;
};

struct content_urls *content_urls_new(struct arena *a, unsigned max_urls)
{
	struct content_urls *u = arena_alloc(a, sizeof(*u));

	u->a = a;
	u->max = max_urls;
	/* every URL of a message at the bound without growing, up to 512
	 * slots (12 kB): the default bound (200) is a newsletter's size */
	for (u->seen_first = 64; u->seen_first < 512 && u->seen_first < 2 * ((size_t)max_urls + 1);)
		u->seen_first *= 2;
	return u;
}

/* A new listed URL: its domain (once per host), the host and domain lists. */
static struct content_url *url_list(struct content_urls *u, const char *url, const char *host)
{
	struct content_url *c;
	struct slot *h = strmap_slot(u->a, &u->hosts, host, 64), *d;

	if (u->urls == NULL) { /* most messages have no link: nothing until the first */
		u->urls = arena_alloc(u->a, u->max * sizeof(*u->urls));
		u->host_list = arena_alloc(u->a, u->max * sizeof(*u->host_list));
		u->domain_list = arena_alloc(u->a, u->max * sizeof(*u->domain_list));
	}
	c = &u->urls[u->count++];

	c->url = url;
	c->host = host;
	if (h->key == NULL) {
		const char *domain = content_url_domain(u->a, host);

		strmap_set(&u->hosts, h, host, domain != NULL ? domain : "");
		u->host_list[u->host_count++] = host;
		if (domain != NULL &&
		    (d = strmap_slot(u->a, &u->domains, domain, 64))->key == NULL) {
			strmap_set(&u->domains, d, domain, domain);
			u->domain_list[u->domain_count++] = domain;
		}
	}
	c->domain = *(const char *)h->value != '\0' ? h->value : NULL;
	return c;
}

/* content_url_text_domain(), but a host the message links to already has
 * its domain in the hosts: a newsletter's footer shows the URLs it links,
 * and the public suffix list is not asked twice about one host. */
static const char *text_domain_of(struct content_urls *u, const char *text, size_t len)
{
	const char *host = text_host(u->a, text, len, &u->tld);
	struct slot *h;

	if (host == NULL)
		return NULL;
	h = strmap_slot(u->a, &u->hosts, host, 64);
	if (h->key == NULL)
		return content_url_domain(u->a, host);
	return *(const char *)h->value != '\0' ? h->value : NULL;
}

void content_urls_add(struct content_urls *u, const char *raw, size_t len, int from_html,
		      const char *text, size_t text_len)
{
	const char *url, *host, *text_domain = NULL;
	struct content_url *c;
	struct slot *seen;

	if (content_url_normalise(u->a, raw, len, &url, &host) < 0)
		return;
	seen = strmap_slot(u->a, &u->seen, url, u->seen_first);
	if (seen->key == NULL) {
		c = u->count < u->max ? url_list(u, url, host) : NULL;
		strmap_set(&u->seen, seen, url, c);
		if (c == NULL)
			u->skipped++;
	} else
		c = (struct content_url *)seen->value;
	if (c == NULL)
		return; /* over the bound */
	c->from_html |= from_html != 0;
	if (text != NULL && !c->mismatch)
		text_domain = text_domain_of(u, text, text_len);
	if (text_domain != NULL) {
		c->text_domain = text_domain;
		c->mismatch = c->domain == NULL || strcmp(c->domain, text_domain) != 0;
		u->mismatch |= c->mismatch;
	}
}

/* The length of the URL character at p (UTF-8 allowed: an IDN host in
 * text), or 0 where a link ends: blanks, quotes, angle brackets, and the
 * Unicode blanks and quotation marks text puts around a link. */
static size_t url_char(const unsigned char *p, size_t n)
{
	static const char *const stops[] = {"\xc2\xa0",	    "\xc2\xab",	    "\xc2\xbb",
					    "\xe2\x80\x98", "\xe2\x80\x99", "\xe2\x80\x9c",
					    "\xe2\x80\x9d", "\xe3\x80\x80", "\xe3\x80\x82"};

	if (p[0] < 0x80) {
		switch (p[0]) {
		case '<':
		case '>':
		case '"':
		case '\'':
		case '`':
		case '{':
		case '}':
		case '|':
		case '^':
			return 0;
		}
		return p[0] > ' ' && p[0] < 0x7f;
	}
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (n >= strlen(stops[i]) && memcmp(p, stops[i], strlen(stops[i])) == 0)
			return 0;
	return 1;
}

/* The first index from i on where s has a ":" or a ".", or n: the fourth
 * or fifth byte of every bare link ("http:", "https:", "www.").  Eight
 * bytes at a time: text has few of either, where an h or a w starts
 * every few words. */
static size_t skip_to_mark(const char *s, size_t i, size_t n)
{
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (byte_equal(w, ':') | byte_equal(w, '.'))
			break;
	}
	while (i < n && s[i] != ':' && s[i] != '.')
		i++;
	return i;
}

/* Does s start "http://", "https://" or "www." and one more byte, in any
 * case? */
static int link_start(const char *s, size_t n)
{
	if ((s[0] | 0x20) == 'w')
		return n >= 5 && (s[1] | 0x20) == 'w' && (s[2] | 0x20) == 'w' && s[3] == '.';
	if (n < 7 || (s[0] | 0x20) != 'h' || (s[1] | 0x20) != 't' || (s[2] | 0x20) != 't' ||
	    (s[3] | 0x20) != 'p')
		return 0;
	if ((s[4] | 0x20) == 's')
		return n >= 8 && memcmp(s + 5, "://", 3) == 0;
	return memcmp(s + 4, "://", 3) == 0;
}

/* Where a bare link whose ":" or "." is at mark would start, or -1: "www."
 * ends at a ".", "http:" and "https:" at a ":".  A link's start comes
 * before the next link's mark, so the links are found in order. */
static long link_at(const char *s, size_t mark, size_t n)
{
	if (s[mark] == '.')
		return mark >= 3 && link_start(s + mark - 3, n - mark + 3) ? (long)mark - 3 : -1;
	if (mark >= 4 && link_start(s + mark - 4, n - mark + 4))
		return (long)mark - 4;
	if (mark >= 5 && link_start(s + mark - 5, n - mark + 5))
		return (long)mark - 5;
	return -1;
}

void content_urls_scan_text(struct content_urls *u, const char *text, size_t len)
{
	size_t from = 0; /* where the last link ended: nothing before is read again */

	for (size_t m = skip_to_mark(text, 0, len); m < len; m = skip_to_mark(text, m + 1, len)) {
		long start = link_at(text, m, len);
		size_t i, end;

		if (start < 0 || (size_t)start < from)
			continue;
		i = (size_t)start;
		if (i > 0 && (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '.' ||
			      text[i - 1] == '/' || text[i - 1] == '@'))
			continue;
		for (end = i; end < len;) {
			size_t step = url_char((const unsigned char *)text + end, len - end);

			if (step == 0)
				break;
			end += step;
		}
		while (end > i && strchr(".,;:!?)]", text[end - 1]) != NULL)
			end--;
		if (end - i < CONTENT_URL_MAX)
			content_urls_add(u, text + i, end - i, 0, NULL, 0);
		from = end;
		if (end > m)
			m = end - 1;
	}
}

void content_urls_finish(struct content_urls *u, struct content_facts *out)
{
	out->urls = u->urls;
	out->url_count = u->count;
	out->hosts = u->host_list;
	out->host_count = u->host_count;
	out->domains = u->domain_list;
	out->domain_count = u->domain_count;
	out->link_text_mismatch = u->mismatch;
	out->skipped_urls = u->skipped;
}

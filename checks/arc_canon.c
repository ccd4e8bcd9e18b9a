/*
 * arc_canon - tag-lists, base64, canonicalization, keys and signatures for
 * checks/arc.c (see arc_canon.h).  Pure functions over libcrypto;
 * thread-safe.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "arc_canon.h"
#include "buf.h"

static int arc_is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* tval-char (RFC 6376 §3.2): %x21-3A / %x3C-7E, and FWS between them */
static int arc_is_value_char(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e && c != ';') || arc_is_fws((char)c);
}

static size_t arc_skip_fws(const char *s, size_t i, size_t len)
{
	while (i < len && arc_is_fws(s[i]))
		i++;
	return i;
}

static int arc_tags_duplicate(const struct arc_tag *tags, size_t n, const struct arc_tag *t)
{
	for (size_t i = 0; i < n; i++)
		if (tags[i].name_len == t->name_len &&
		    memcmp(tags[i].name, t->name, t->name_len) == 0)
			return 1;
	return 0;
}

/* One tag-spec from *ip; 0, or -1 with *why_r. */
static int arc_tag_one(const char *s, size_t len, size_t *ip, struct arc_tag *t, const char **why_r)
{
	size_t i = *ip, start;

	start = i;
	if (i >= len || !isalpha((unsigned char)s[i])) {
		*why_r = "malformed tag-list";
		return -1;
	}
	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	t->name = s + start;
	t->name_len = i - start;
	i = arc_skip_fws(s, i, len);
	if (i >= len || s[i] != '=') {
		*why_r = "malformed tag-list (a tag without =)";
		return -1;
	}
	t->raw_start = ++i;
	while (i < len && s[i] != ';') {
		if (!arc_is_value_char((unsigned char)s[i])) {
			*why_r = "malformed tag-list (a control or 8-bit character)";
			return -1;
		}
		i++;
	}
	t->raw_end = i;
	start = arc_skip_fws(s, t->raw_start, i);
	t->value = s + start;
	t->value_len = i - start;
	while (t->value_len > 0 && arc_is_fws(t->value[t->value_len - 1]))
		t->value_len--;
	*ip = i;
	return 0;
}

int arc_tags_parse(const char *list, size_t len, struct arc_tag *tags, size_t max, size_t *n_r,
		   const char **why_r)
{
	size_t i = 0, n = 0;

	for (;;) {
		struct arc_tag t;

		i = arc_skip_fws(list, i, len);
		if (i >= len)
			break;
		if (n == max) {
			*why_r = "too many tags";
			return -1;
		}
		if (arc_tag_one(list, len, &i, &t, why_r) < 0)
			return -1;
		if (arc_tags_duplicate(tags, n, &t)) {
			*why_r = "duplicate tag";
			return -1;
		}
		tags[n++] = t;
		if (i < len)
			i++; /* the ';' */
	}
	*n_r = n;
	return 0;
}

const struct arc_tag *arc_tag_find(const struct arc_tag *tags, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (tags[i].name_len == len && memcmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

int arc_tag_is(const struct arc_tag *t, const char *s, int nocase)
{
	size_t len = strlen(s);

	if (t == NULL || t->value_len != len)
		return 0;
	return nocase ? strncasecmp(t->value, s, len) == 0 : memcmp(t->value, s, len) == 0;
}

static int arc_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long arc_b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
	unsigned long acc = 0;
	size_t n = 0, pad = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (arc_is_fws((char)c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = arc_b64_value(c);
		if (v < 0 || pad > 0)
			return -1; /* not base64, or data after the padding */
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == out_size)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6)
		return -1;
	return (long)n;
}

char *arc_b64_encode(struct arena *a, const unsigned char *in, size_t len)
{
	char *out = arena_alloc(a, 4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Canonical bytes go through a small buffer into the digest. */
struct arc_out {
	EVP_MD_CTX *md;
	size_t used;
	unsigned char buf[512];
};

static void arc_out_flush(struct arc_out *o)
{
	if (o->used > 0)
		EVP_DigestUpdate(o->md, o->buf, o->used);
	o->used = 0;
}

static void arc_out_byte(struct arc_out *o, unsigned char c)
{
	if (o->used == sizeof(o->buf))
		arc_out_flush(o);
	o->buf[o->used++] = c;
}

static void arc_out_str(struct arc_out *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		arc_out_byte(o, (unsigned char)s[i]);
}

void arc_canon_header(EVP_MD_CTX *md, enum arc_canon canon, const char *name, const char *value,
		      size_t value_len, int crlf)
{
	struct arc_out o = {.md = md};
	int started = 0, space = 0;

	if (canon == ARC_CANON_SIMPLE) {
		arc_out_str(&o, name, strlen(name));
		arc_out_byte(&o, ':');
		for (size_t i = 0; i < value_len; i++) {
			if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
				arc_out_byte(&o, '\r');
			arc_out_byte(&o, (unsigned char)value[i]);
		}
	} else {
		size_t nlen = strlen(name);

		while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		for (size_t i = 0; i < nlen; i++)
			arc_out_byte(&o, (unsigned char)tolower((unsigned char)name[i]));
		arc_out_byte(&o, ':');
		/* RFC 6376 §3.4.2: unfold, WSP runs to one SP, none at either end */
		for (size_t i = 0; i < value_len; i++) {
			char c = value[i];

			if (c == '\r' || c == '\n')
				continue;
			if (c == ' ' || c == '\t') {
				space = started;
				continue;
			}
			if (space)
				arc_out_byte(&o, ' ');
			space = 0;
			started = 1;
			arc_out_byte(&o, (unsigned char)c);
		}
	}
	if (crlf)
		arc_out_str(&o, "\r\n", 2);
	arc_out_flush(&o);
}

void arc_body_init(struct arc_body *b, enum arc_canon canon)
{
	memset(b, 0, sizeof(*b));
	b->canon = canon;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		abort();
}

static void arc_body_put(struct arc_body *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (b->used == sizeof(b->out)) {
			EVP_DigestUpdate(b->md, b->out, b->used);
			b->used = 0;
		}
		b->out[b->used++] = (unsigned char)s[i];
	}
}

/* A byte that is line content (not a line end, not relaxed WSP). */
static void arc_body_content(struct arc_body *b, unsigned char c)
{
	for (; b->pending_crlf > 0; b->pending_crlf--)
		arc_body_put(b, "\r\n", 2);
	if (b->pending_wsp)
		arc_body_put(b, " ", 1);
	b->pending_wsp = 0;
	arc_body_put(b, (const char *)&c, 1);
	b->line_content = b->any_content = 1;
}

/* RFC 6376 §3.4.3 and §3.4.4, one byte at a time: empty lines are held
 * back until content follows (trailing ones vanish); relaxed also holds
 * WSP back (a run becomes one SP, none at a line's end).  A CR is held
 * until the next byte says whether it ends a line. */
void arc_body_update(struct arc_body *b, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (b->saw_cr) {
			b->saw_cr = 0;
			if (c == '\n') {
				b->pending_crlf++;
				b->pending_wsp = 0;
				b->line_content = 0;
				continue;
			}
			arc_body_content(b, '\r');
		}
		if (c == '\r')
			b->saw_cr = 1;
		else if (b->canon == ARC_CANON_RELAXED && (c == ' ' || c == '\t'))
			b->pending_wsp = 1;
		else
			arc_body_content(b, c);
	}
}

void arc_body_final(struct arc_body *b, unsigned char hash[ARC_HASH_LEN])
{
	unsigned int n = 0;

	if (b->saw_cr)
		arc_body_content(b, '\r');
	b->saw_cr = 0;
	if (b->canon == ARC_CANON_SIMPLE || b->any_content)
		arc_body_put(b, "\r\n", 2); /* relaxed: an empty body stays empty */
	if (b->used > 0)
		EVP_DigestUpdate(b->md, b->out, b->used);
	b->used = 0;
	EVP_DigestFinal_ex(b->md, hash, &n);
}

void arc_body_free(struct arc_body *b)
{
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}

enum arc_alg arc_alg_parse(const struct arc_tag *t)
{
	if (arc_tag_is(t, "rsa-sha256", 0))
		return ARC_ALG_RSA_SHA256;
	if (arc_tag_is(t, "ed25519-sha256", 0))
		return ARC_ALG_ED25519_SHA256;
	return ARC_ALG_NONE;
}

const char *arc_alg_name(enum arc_alg alg)
{
	return alg == ARC_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

enum arc_alg arc_alg_of_key(EVP_PKEY *k)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		return ARC_ALG_RSA_SHA256;
	case EVP_PKEY_ED25519:
		return ARC_ALG_ED25519_SHA256;
	default:
		return ARC_ALG_NONE;
	}
}

/* Does a colon-separated list (h=, s=) hold word? */
static int arc_list_has(const struct arc_tag *t, const char *word)
{
	size_t wlen = strlen(word), i = 0;

	while (i < t->value_len) {
		size_t j = i, a, e;

		while (j < t->value_len && t->value[j] != ':')
			j++;
		for (a = i; a < j && arc_is_fws(t->value[a]); a++)
			;
		for (e = j; e > a && arc_is_fws(t->value[e - 1]); e--)
			;
		if (e - a == wlen && strncasecmp(t->value + a, word, wlen) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

static EVP_PKEY *arc_key_decode(const unsigned char *der, long len, int ed25519, unsigned min_bits,
				const char **why_r)
{
	const unsigned char *p = der;
	EVP_PKEY *k;
	BIO *bio;

	if (ed25519) {
		k = len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32) : NULL;
		if (k == NULL)
			*why_r = "key record: not an Ed25519 key";
		return k;
	}
	/* through a memory BIO, as libopendkim does: in the daemon,
	 * dkim_keycache.c serves this call from its table of decoded keys */
	bio = BIO_new_mem_buf(der, (int)len);
	k = bio != NULL ? d2i_PUBKEY_bio(bio, NULL) : NULL;
	BIO_free(bio);
	if (k == NULL) { /* some publish the bare RSAPublicKey */
		p = der;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	}
	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		*why_r = "key record: not an RSA key";
		return NULL;
	}
	if (EVP_PKEY_get_bits(k) < (int)min_bits) {
		EVP_PKEY_free(k);
		*why_r = "key record: RSA key too short (RFC 8301)";
		return NULL;
	}
	return k;
}

EVP_PKEY *arc_key_parse(const char *record, size_t len, unsigned min_rsa_bits, const char **why_r)
{
	struct arc_tag tags[ARC_TAGS_MAX];
	const struct arc_tag *v, *k, *h, *s, *p;
	unsigned char der[ARC_KEY_DER_MAX];
	size_t n;
	long der_len;

	if (arc_tags_parse(record, len, tags, ARC_TAGS_MAX, &n, why_r) < 0) {
		*why_r = "key record: malformed";
		return NULL;
	}
	v = arc_tag_find(tags, n, "v");
	k = arc_tag_find(tags, n, "k");
	h = arc_tag_find(tags, n, "h");
	s = arc_tag_find(tags, n, "s");
	p = arc_tag_find(tags, n, "p");
	*why_r = NULL;
	if (v != NULL && !arc_tag_is(v, "DKIM1", 0))
		*why_r = "key record: v= is not DKIM1";
	else if (k != NULL && !arc_tag_is(k, "rsa", 0) && !arc_tag_is(k, "ed25519", 0))
		*why_r = "key record: unknown k=";
	else if (h != NULL && !arc_list_has(h, "sha256"))
		*why_r = "key record: h= excludes sha256";
	else if (s != NULL && !arc_list_has(s, "*") && !arc_list_has(s, "email"))
		*why_r = "key record: not for email (s=)";
	else if (p == NULL)
		*why_r = "key record: no p=";
	else if (p->value_len == 0)
		*why_r = "key record: key revoked (empty p=)";
	if (*why_r != NULL)
		return NULL;
	der_len = arc_b64_decode(p->value, p->value_len, der, sizeof(der));
	if (der_len <= 0) {
		*why_r = "key record: p= is not base64";
		return NULL;
	}
	return arc_key_decode(der, der_len, k != NULL && arc_tag_is(k, "ed25519", 0), min_rsa_bits,
			      why_r);
}

static EVP_PKEY_CTX *arc_rsa_ctx(EVP_PKEY *k, int sign)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);

	if (ctx == NULL || (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int arc_verify_digest(EVP_PKEY *k, enum arc_alg alg, const unsigned char digest[ARC_HASH_LEN],
		      const unsigned char *sig, size_t sig_len)
{
	int ok = 0;

	if (arc_alg_of_key(k) != alg)
		return 0;
	if (alg == ARC_ALG_RSA_SHA256) {
		EVP_PKEY_CTX *ctx = arc_rsa_ctx(k, 0);

		ok = ctx != NULL && EVP_PKEY_verify(ctx, sig, sig_len, digest, ARC_HASH_LEN) == 1;
		EVP_PKEY_CTX_free(ctx);
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
		     EVP_DigestVerify(md, sig, sig_len, digest, ARC_HASH_LEN) == 1;
		EVP_MD_CTX_free(md);
	}
	return ok;
}

int arc_sign_digest(EVP_PKEY *k, enum arc_alg alg, const unsigned char digest[ARC_HASH_LEN],
		    unsigned char *sig, size_t *sig_len_r)
{
	size_t len = ARC_SIG_MAX;
	int ok = 0;

	if (arc_alg_of_key(k) != alg || EVP_PKEY_get_size(k) > ARC_SIG_MAX)
		return -1;
	if (alg == ARC_ALG_RSA_SHA256) {
		EVP_PKEY_CTX *ctx = arc_rsa_ctx(k, 1);

		ok = ctx != NULL && EVP_PKEY_sign(ctx, sig, &len, digest, ARC_HASH_LEN) == 1;
		EVP_PKEY_CTX_free(ctx);
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
		     EVP_DigestSign(md, sig, &len, digest, ARC_HASH_LEN) == 1;
		EVP_MD_CTX_free(md);
	}
	if (!ok)
		return -1;
	*sig_len_r = len;
	return 0;
}

/* One tag, folding inside a long h= after its ':'s; *col is the column. */
static void arc_fold_tag(struct buf *b, const char *tag, size_t len, size_t *col)
{
	if (len <= ARC_FOLD_HMAX || strncmp(tag, "h=", 2) != 0) {
		buf_append(b, tag, len);
		*col += len;
		return;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && tag[j] != ':')
			j++;
		if (j < len)
			j++; /* the name and its ':' */
		if (*col + (j - i) > ARC_FOLD_WIDTH && *col > 8) {
			buf_append(b, "\n\t", 2);
			*col = 8;
		}
		buf_append(b, tag + i, j - i);
		*col += j - i;
		i = j;
	}
}

char *arc_fold(struct arena *a, const char *list)
{
	struct buf b;
	size_t col = 0;
	char *out;
	int after_b = 0;

	buf_init(&b, 64 * 1024);
	for (const char *p = list; *p != '\0';) {
		const char *e = strstr(p, "; ");
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		int is_b = len >= 2 && strncmp(p, "b=", 2) == 0;
		/* i= never starts a continuation line: verifiers in the field
		 * (dkimpy 1.1, Debian's python3-dkim) find a set's fields by
		 * " i=N;" in the raw text, a blank and not a tab before it */
		int is_i = len >= 2 && strncmp(p, "i=", 2) == 0;

		if (p != list) {
			if (!is_i && (is_b || after_b || col + 2 + len > ARC_FOLD_WIDTH)) {
				buf_append(&b, ";\n\t", 3);
				col = 8;
			} else {
				buf_append(&b, "; ", 2);
				col += 2;
			}
		}
		arc_fold_tag(&b, p, len, &col);
		after_b = is_b;
		p = e != NULL ? e + 2 : p + len;
	}
	out = arena_strndup(a, b.data != NULL ? b.data : "", b.len);
	buf_release(&b);
	return out;
}

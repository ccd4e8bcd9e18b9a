/*
 * dkim_make - rsa-sha256 and ed25519-sha256 signing with libcrypto (see dkim_make.h).
 *
 * The header hash covers exactly the text handed out: the signature's own
 * value is built folded, with b= empty, canonicalized like every other
 * field, and the signature appended after.  RFC 8463 §3: Ed25519 (pure)
 * signs the SHA-256 of the canonicalized header data.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arc_canon.h"
#include "buf.h"
#include "dkim_make.h"

#define H_ENTRIES_MAX 2048 /* h= names; a message over it is not signed */
#define FOLD_AT 70	   /* fold the value near this column */

struct dkim_make {
	const struct dkim_privkey *key;
	struct arena *a;
	EVP_MD_CTX *body;
	/* relaxed body canonicalization state (RFC 6376 §3.4.4) */
	size_t blank_lines; /* empty lines not written yet: dropped at the end */
	int wsp;	    /* a WSP run not written yet: one SP before more text */
	int content;	    /* the current line has text */
	int cr;		    /* the last byte was CR: CRLF, or a lone CR, ends a line */
	int failed;
	/* canonical bytes not hashed yet: one digest update per buffer, not
	 * one per byte (that was a fifth of a signature's cost) */
	size_t out_len;
	char out[4096];
};

struct dkim_make *dkim_make_new(const struct dkim_privkey *key, struct arena *a)
{
	struct dkim_make *e = arena_alloc(a, sizeof(*e));

	memset(e, 0, sizeof(*e));
	e->key = key;
	e->a = a;
	e->body = EVP_MD_CTX_new();
	if (e->body == NULL || EVP_DigestInit_ex(e->body, EVP_sha256(), NULL) != 1)
		e->failed = 1;
	return e;
}

static void body_flush(struct dkim_make *e)
{
	if (!e->failed && e->out_len > 0 && EVP_DigestUpdate(e->body, e->out, e->out_len) != 1)
		e->failed = 1;
	e->out_len = 0;
}

static void body_out(struct dkim_make *e, const char *s, size_t len)
{
	if (e->out_len + len > sizeof(e->out))
		body_flush(e);
	memcpy(e->out + e->out_len, s, len); /* len <= 2 */
	e->out_len += len;
}

static void body_eol(struct dkim_make *e)
{
	if (e->content)
		body_out(e, "\r\n", 2);
	else
		e->blank_lines++; /* written only if text follows */
	e->content = e->wsp = 0;
}

static void body_char(struct dkim_make *e, unsigned char c)
{
	if (c == ' ' || c == '\t') {
		e->wsp = 1;
		return;
	}
	if (!e->content)
		for (; e->blank_lines > 0; e->blank_lines--)
			body_out(e, "\r\n", 2);
	if (e->wsp)
		body_out(e, " ", 1);
	body_out(e, (const char *)&c, 1);
	e->wsp = 0;
	e->content = 1;
}

void dkim_make_body(struct dkim_make *e, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (e->cr && c != '\n')
			body_eol(e); /* a lone CR ends the line, as libopendkim's FIXCRLF has it */
		e->cr = 0;
		if (c == '\r')
			e->cr = 1;
		else if (c == '\n')
			body_eol(e);
		else
			body_char(e, c);
	}
}

/* The body hash: the last line gets its CRLF; trailing empty lines none. */
static const char *body_hash(struct dkim_make *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (e->cr)
		body_eol(e);
	if (e->content)
		body_out(e, "\r\n", 2);
	body_flush(e);
	if (e->failed || EVP_DigestFinal_ex(e->body, md, &mdlen) != 1)
		return NULL;
	return arc_b64_encode(e->a, md, mdlen);
}

static int listed(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(name, *list) == 0)
			return 1;
	return 0;
}

/* The h= names: every signed field top down, then the oversigned names. */
static size_t h_names(const struct dkim_make_field *fields, size_t n,
		      const struct dkim_make_params *p, const char **h)
{
	size_t count = 0;

	for (size_t i = 0; i < n && count < H_ENTRIES_MAX; i++)
		if (listed(fields[i].name, p->sign))
			h[count++] = fields[i].name;
	for (const char *const *o = p->oversign; *o != NULL && count < H_ENTRIES_MAX; o++)
		h[count++] = *o;
	return count;
}

/* The k-th (0: the last) field named name, from the bottom, or NULL. */
static const struct dkim_make_field *from_bottom(const struct dkim_make_field *fields,
						    size_t n, const char *name, size_t k)
{
	for (size_t i = n; i-- > 0;)
		if (strcasecmp(fields[i].name, name) == 0 && k-- == 0)
			return &fields[i];
	return NULL;
}

/* The fields h= names, canonicalized in its order (RFC 6376 §5.4.2:
 * repeated names take instances from the bottom up). */
static void signed_fields(EVP_MD_CTX *md, const struct dkim_make_field *fields, size_t n,
			  const char **h, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t k = 0;
		const struct dkim_make_field *f;

		for (size_t j = 0; j < i; j++)
			k += strcasecmp(h[j], h[i]) == 0;
		if ((f = from_bottom(fields, n, h[i], k)) != NULL)
			arc_canon_header(md, ARC_CANON_RELAXED, f->name, f->value,
					 strlen(f->value), 1);
	}
}

/* Our value with b= empty, folded near FOLD_AT columns. */
static void sig_value(struct buf *v, const struct dkim_make *e,
		      const struct dkim_make_params *p, const char **h, size_t count,
		      const char *bh)
{
	size_t line_start;

	buf_printf(v, "v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\n\tt=%lld;", e->key->alg,
		   e->key->domain, e->key->selector, (long long)p->t);
	if (p->x > 0)
		buf_printf(v, " x=%lld;", (long long)p->x);
	buf_puts(v, "\n\th=");
	line_start = v->len;
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && v->len - line_start + strlen(h[i]) > FOLD_AT) {
			buf_puts(v, ":\n\t ");
			line_start = v->len;
		} else if (i > 0) {
			buf_puts(v, ":");
		}
		buf_puts(v, h[i]);
	}
	buf_printf(v, ";\n\tbh=%s;\n\tb=", bh);
}

/* b= folded: libopendkim's layout, lines of at most 70 characters. */
static void append_b(struct buf *v, const char *sig)
{
	size_t len = strlen(sig);

	for (size_t i = 0; i < len; i += 64)
		buf_printf(v, "%s%.64s", i ? "\n\t " : "", sig + i);
}

/* The signature over the relaxed header fields h= names and our own
 * field with b= empty (RFC 6376 §3.7): arc_canon.c's canonicalization and
 * signatures, which ARC's seals use too. */
static const char *sign_fields(struct dkim_make *e, const struct dkim_make_field *fields,
			       size_t n, const char **h, size_t count, const char *value)
{
	EVP_PKEY *pkey = (EVP_PKEY *)e->key->pkey;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[ARC_HASH_LEN], sig[ARC_SIG_MAX];
	size_t siglen = 0;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	if (ok) {
		signed_fields(md, fields, n, h, count);
		arc_canon_header(md, ARC_CANON_RELAXED, "DKIM-Signature", value, strlen(value), 0);
		ok = EVP_DigestFinal_ex(md, digest, NULL) == 1 &&
		     arc_sign_digest(pkey, arc_alg_of_key(pkey), digest, sig, &siglen) == 0;
	}
	EVP_MD_CTX_free(md);
	return ok ? arc_b64_encode(e->a, sig, siglen) : NULL;
}

const char *dkim_make_finish(struct dkim_make *e, const struct dkim_make_field *fields,
			     size_t n, const struct dkim_make_params *p, const char **error_r)
{
	const char **h = arena_alloc(e->a, H_ENTRIES_MAX * sizeof(*h));
	const char *bh = body_hash(e), *sig, *out = NULL;
	size_t count = h_names(fields, n, p, h);
	struct buf value;

	*error_r = NULL;
	if (bh == NULL) {
		*error_r = "libcrypto: body hash failed";
		return NULL;
	}
	buf_init(&value, 64 * 1024);
	sig_value(&value, e, p, h, count, bh);
	if (value.overflow)
		*error_r = "header fields too large to sign";
	else if ((sig = sign_fields(e, fields, n, h, count, buf_str(&value))) == NULL)
		*error_r = "libcrypto could not sign";
	else {
		append_b(&value, sig);
		out = value.overflow ? NULL : arena_strdup(e->a, buf_str(&value));
	}
	buf_release(&value);
	return out;
}

void dkim_make_free(struct dkim_make **ep)
{
	struct dkim_make *e = *ep;

	if (e == NULL)
		return;
	EVP_MD_CTX_free(e->body);
	e->body = NULL;
	*ep = NULL; /* the rest is the arena's */
}

/*
 * arc_canon - the private pieces of checks/arc.c: RFC 6376 §3.2 tag-lists,
 * base64, header and body canonicalization (RFC 6376 §3.4, relaxed and
 * simple), DKIM key records (§3.6.1) and the two signature algorithms
 * (rsa-sha256, RFC 8301; ed25519-sha256, RFC 8463) over libcrypto.
 *
 * arc.c and arc_seal.c use all of it; dkim_make.c (the DKIM signer) its
 * relaxed header canonicalization, base64 and signatures, so a message's
 * DKIM signatures and ARC seals are made by the same code.  Every function
 * is pure or works on the caller's objects; thread-safe.  Sizes are capped
 * here: ARC_TAGS_MAX tags in a list, signatures and keys of at most
 * ARC_SIG_MAX / ARC_KEY_DER_MAX bytes.
 */
#ifndef AUTHSCORE_ARC_CANON_H
#define AUTHSCORE_ARC_CANON_H

#include <stddef.h>

#include <openssl/evp.h>

#include "arena.h"

#define ARC_TAGS_MAX	64   /* tag-specs in one list */
#define ARC_SIG_MAX	1024 /* signature bytes: RSA up to 8192 bits */
#define ARC_KEY_DER_MAX 2048 /* public key bytes in p= */
#define ARC_HASH_LEN	32   /* SHA-256 */

struct arc_tag {
	const char *name; /* in the list, not NUL-terminated */
	size_t name_len;
	const char *value; /* FWS trimmed at both ends */
	size_t value_len;
	size_t raw_start, raw_end; /* the value's span after '=' up to ';' */
};

/* Parses list[0..len); 0, or -1 with *why_r (static text): malformed,
 * a duplicate tag, more than max tags. */
int arc_tags_parse(const char *list, size_t len, struct arc_tag *tags, size_t max, size_t *n_r,
		   const char **why_r);
const struct arc_tag *arc_tag_find(const struct arc_tag *tags, size_t n, const char *name);
/* Does the tag's value equal s exactly (case-insensitively if nocase)? */
int arc_tag_is(const struct arc_tag *t, const char *s, int nocase);

/* base64, FWS skipped (as in b=, bh=, p=); the length, or -1 when it is
 * not base64 or does not fit in out_size. */
long arc_b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size);
char *arc_b64_encode(struct arena *a, const unsigned char *in, size_t len);

enum arc_canon { ARC_CANON_SIMPLE, ARC_CANON_RELAXED };

/* Feed one header field, canonicalized, to md; value is value_len bytes as
 * received (a bare LF is a line break); crlf: end it with CRLF. */
void arc_canon_header(EVP_MD_CTX *md, enum arc_canon canon, const char *name, const char *value,
		      size_t value_len, int crlf);

/* A body hash in progress (SHA-256), fed in chunks. */
struct arc_body {
	EVP_MD_CTX *md;
	enum arc_canon canon;
	unsigned long long pending_crlf; /* empty lines held back: trailing ones vanish */
	int saw_cr, pending_wsp, line_content, any_content;
	size_t used;
	unsigned char out[1024];
};
void arc_body_init(struct arc_body *b, enum arc_canon canon);
void arc_body_update(struct arc_body *b, const unsigned char *data, size_t len);
void arc_body_final(struct arc_body *b, unsigned char hash[ARC_HASH_LEN]);
void arc_body_free(struct arc_body *b);

enum arc_alg { ARC_ALG_NONE, ARC_ALG_RSA_SHA256, ARC_ALG_ED25519_SHA256 };
enum arc_alg arc_alg_parse(const struct arc_tag *t);
const char *arc_alg_name(enum arc_alg alg);
/* The algorithm a key signs with, ARC_ALG_NONE for other key types. */
enum arc_alg arc_alg_of_key(EVP_PKEY *k);

/* A DKIM key record (RFC 6376 §3.6.1) to a public key, or NULL with
 * *why_r (static): malformed, revoked (empty p=), not for email or
 * sha256, an RSA key under min_rsa_bits. */
EVP_PKEY *arc_key_parse(const char *record, size_t len, unsigned min_rsa_bits, const char **why_r);

/* Signature over a SHA-256 digest of the canonical header fields: RSA
 * PKCS#1 v1.5, or Ed25519 over the digest (RFC 8463 §3). */
int arc_verify_digest(EVP_PKEY *k, enum arc_alg alg, const unsigned char digest[ARC_HASH_LEN],
		      const unsigned char *sig, size_t sig_len);
/* sig has ARC_SIG_MAX bytes; 0, or -1 */
int arc_sign_digest(EVP_PKEY *k, enum arc_alg alg, const unsigned char digest[ARC_HASH_LEN],
		    unsigned char *sig, size_t *sig_len_r);

/* A tag-list made here ("a=x; b=; c=y", one space after each ';') folded
 * for a header field with "\n\t" (as the milter inserts fields): tags
 * packed into lines of ARC_FOLD_WIDTH, b= on a line of its own.  Folds
 * only replace the space after a ';', so relaxed canonicalization reads
 * the flat list: the seal of a later hop, which signs this field as it
 * stands, signs the same bytes.  Only an h= longer than ARC_FOLD_HMAX (no
 * line may pass 998 characters, RFC 5322 §2.1.1) is broken after a ':'. */
#define ARC_FOLD_WIDTH 78
#define ARC_FOLD_HMAX  900
char *arc_fold(struct arena *a, const char *list);

/* Tests only (checks/arc_test.c): seal with this h= list instead of the
 * default one (the public suite's signing cases name theirs). */
struct arc_check;
void arc_check_seal_headers(struct arc_check *c, const char *h);

#endif

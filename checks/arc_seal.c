/*
 * arc_seal - this host's ARC set (RFC 8617 §5.1), instance N+1, for
 * arc_check_seal() (see arc.h): the AAR from the given
 * Authentication-Results value, the AMS over the message (relaxed/relaxed,
 * the fields below), the AS over every set and the new one, with cv= from
 * the validation.  A chain that failed is sealed with cv=fail; one that
 * cannot be extended (already cv=fail, 50 sets, no usable instance, a
 * temperror, headers too large to keep) is refused with the reason.
 * The fields come folded (arc_fold) and are signed as they will stand.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc_int.h"

/* The header fields this host's AMS signs, each as often as it occurs. */
static const char *const arc_seal_fields[] = {
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-post",
    "list-unsubscribe",
    "dkim-signature",
};

/* Tests only (arc_test.c): seal with this h= instead of the default. */

void arc_check_seal_headers(struct arc_check *c, const char *h)
{
	c->seal_h = h != NULL ? arena_strdup(c->mem, h) : NULL;
}

/* The default h=: each listed field as often as it occurs (at most 8
 * times), From at least once. */
static const char *arc_seal_h(struct arc_check *c)
{
	const char *h = "";

	if (c->seal_h != NULL)
		return c->seal_h;
	for (size_t k = 0; k < sizeof(arc_seal_fields) / sizeof(arc_seal_fields[0]); k++) {
		size_t count = k == 0 ? 1 : 0, seen = 0;

		for (size_t i = 0; i < c->nfields; i++)
			if (strcasecmp(c->fields[i].name, arc_seal_fields[k]) == 0)
				seen++;
		if (seen > count)
			count = seen;
		for (size_t i = 0; i < count && i < 8; i++)
			h = arena_printf(c->mem, "%s%s%s", h, *h ? ":" : "", arc_seal_fields[k]);
	}
	return h;
}

/* Sign the digest of md into base64; NULL when signing fails. */
static const char *arc_sign_md(struct arc_check *c, EVP_MD_CTX *md, EVP_PKEY *k, enum arc_alg alg)
{
	unsigned char digest[ARC_HASH_LEN], sig[ARC_SIG_MAX];
	unsigned int dlen = 0;
	size_t len = 0;

	EVP_DigestFinal_ex(md, digest, &dlen);
	if (arc_sign_digest(k, alg, digest, sig, &len) < 0)
		return NULL;
	return arc_b64_encode(c->mem, sig, len);
}

/* Why this chain cannot be sealed, or NULL. */
static const char *arc_seal_refusal(struct arc_check *c, const struct arc_seal_key *k)
{
	if (!c->finished)
		return "arc_check_seal() before arc_check_finish()";
	if (!c->body_on[ARC_CANON_RELAXED])
		return "sealing was not asked for (arc_params.seal)";
	if (k == NULL || k->pkey == NULL || k->domain == NULL || k->selector == NULL)
		return "no sealing key";
	if (arc_alg_of_key(k->pkey) == ARC_ALG_NONE)
		return "the sealing key is neither RSA nor Ed25519";
	if (c->result == ARC_TEMPERROR)
		return "the chain could not be validated (temperror): not sealing";
	if (c->overflow)
		return "too many or too large header fields to seal";
	if (c->arc_seen && c->n == 0)
		return "ARC fields with no usable instance: not sealing";
	for (unsigned i = 1; i <= c->n; i++)
		if (c->slot[i].as.cv != NULL && strcmp(c->slot[i].as.cv, "fail") == 0)
			return "the chain already says cv=fail: not sealing";
	if (c->n >= ARC_MAX_SETS)
		return "the chain already has 50 ARC sets";
	return NULL; /* a broken chain is sealed with cv=fail (RFC 8617 §5.1.1) */
}

/* template (folded, "b=;") with the signature in it */
static const char *arc_with_b(struct arc_check *c, const char *template, const char *b)
{
	const char *at = strstr(template, "b=;");

	return arena_printf(c->mem, "%.*sb=%s%s", (int)(at - template), template, b, at + 2);
}

/* The AMS over the message and the new AAR, relaxed/relaxed; NULL if
 * signing fails. */
static const char *arc_seal_ams(struct arc_check *c, const struct arc_seal_key *k,
				const struct arc_field *aar, unsigned i, time_t now)
{
	enum arc_alg alg = arc_alg_of_key(k->pkey);
	const char *bh = arc_b64_encode(c->mem, c->bh[ARC_CANON_RELAXED], ARC_HASH_LEN);
	const char *h = arc_seal_h(c), *ams, *b;
	EVP_MD_CTX *md = arc_md_new();

	ams = arc_fold(
	    c->mem,
	    arena_printf(c->mem,
			 "a=%s; b=; bh=%s; c=relaxed/relaxed; d=%s; h=%s; i=%u; s=%s; t=%lld",
			 arc_alg_name(alg), bh, k->domain, h, i, k->selector, (long long)now));
	arc_hash_h(c, md, ARC_CANON_RELAXED, h, aar);
	arc_canon_header(md, ARC_CANON_RELAXED, arc_kind_names[ARC_AMS], ams, strlen(ams), 0);
	b = arc_sign_md(c, md, k->pkey, alg);
	EVP_MD_CTX_free(md);
	return b != NULL ? arc_with_b(c, ams, b) : NULL;
}

/* The AS over sets 1..N and the new AAR and AMS; NULL if signing fails. */
static const char *arc_seal_as(struct arc_check *c, const struct arc_seal_key *k,
			       const struct arc_field *aar, const char *ams, const char *cv,
			       unsigned i, time_t now)
{
	enum arc_alg alg = arc_alg_of_key(k->pkey);
	EVP_MD_CTX *md = arc_md_new();
	const char *as, *b;

	as = arc_fold(c->mem, arena_printf(c->mem, "a=%s; b=; cv=%s; d=%s; i=%u; s=%s; t=%lld",
					   arc_alg_name(alg), cv, k->domain, i, k->selector,
					   (long long)now));
	arc_hash_sets(c, md, c->n);
	arc_canon_header(md, ARC_CANON_RELAXED, aar->name, aar->value, aar->len, 1);
	arc_canon_header(md, ARC_CANON_RELAXED, arc_kind_names[ARC_AMS], ams, strlen(ams), 1);
	arc_canon_header(md, ARC_CANON_RELAXED, arc_kind_names[ARC_AS], as, strlen(as), 0);
	b = arc_sign_md(c, md, k->pkey, alg);
	EVP_MD_CTX_free(md);
	return b != NULL ? arc_with_b(c, as, b) : NULL;
}

int arc_check_seal(struct arc_check *c, const struct arc_seal_key *k, const char *authres,
		   time_t now, struct arena *a, struct arc_seal_headers *out, const char **error_r)
{
	const char *why = c != NULL ? arc_seal_refusal(c, k) : "no check";
	const char *ams, *as, *cv;
	struct arc_field aar;
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (why != NULL) {
		*error_r = arena_strdup(a, why);
		return -1;
	}
	i = c->n + 1;
	cv = c->n == 0 ? "none" : c->result == ARC_PASS ? "pass" : "fail";
	while (authres != NULL && (*authres == ' ' || *authres == '\t'))
		authres++;
	aar.name = arc_kind_names[ARC_AAR];
	aar.value = arena_printf(c->mem, "i=%u; %s", i, authres != NULL ? authres : "");
	aar.len = strlen(aar.value);
	ams = arc_seal_ams(c, k, &aar, i, now);
	as = ams != NULL ? arc_seal_as(c, k, &aar, ams, cv, i, now) : NULL;
	if (as == NULL) {
		*error_r = ams == NULL ? "signing the ARC-Message-Signature failed"
				       : "signing the ARC-Seal failed";
		return -1;
	}
	out->aar = arena_strdup(a, aar.value);
	out->ams = arena_strdup(a, ams);
	out->seal = arena_strdup(a, as);
	return 0;
}

/*
 * dkim_keycache_test - the decoded-key cache: the program's d2i_PUBKEY_bio
 * is the one every library finds, a second decode of the same bytes is a
 * hit that returns the same key (fully consumed BIO, usable for
 * verification), bad bytes and other calling forms pass through uncached,
 * the table is bounded (least recently used dropped), and threads share it.
 * Prints TAP.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "check.h"
#include "dkim_keycache.h"

static unsigned char *der_of(EVP_PKEY *k, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	*len = n > 0 ? (size_t)n : 0;
	return der;
}

static EVP_PKEY *decode(const unsigned char *der, size_t len, int *consumed)
{
	BIO *b = BIO_new_mem_buf(der, (int)len);
	EVP_PKEY *k = d2i_PUBKEY_bio(b, NULL);

	if (consumed != NULL)
		*consumed = BIO_pending(b) == 0;
	BIO_free(b);
	return k;
}

static int verifies(EVP_PKEY *priv, EVP_PKEY *pub)
{
	static const unsigned char msg[] = "DKIM-Signature: v=1; a=rsa-sha256";
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
	int ok = EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, priv) == 1 &&
		 EVP_DigestSign(s, sig, &siglen, msg, sizeof(msg)) == 1 &&
		 EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, pub) == 1 &&
		 EVP_DigestVerify(v, sig, siglen, msg, sizeof(msg)) == 1;

	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	return ok;
}

struct shared {
	const unsigned char *der;
	size_t len;
	EVP_PKEY *want;
	int same;
};

static void *thread_main(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < 500; i++) {
		EVP_PKEY *k = decode(sh->der, sh->len, NULL);

		sh->same += k == sh->want;
		EVP_PKEY_free(k);
	}
	return NULL;
}

int main(void)
{
	struct dkim_keycache_stats st;
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *k1, *k2, *first_ed = NULL;
	unsigned char *der, *first_ed_der = NULL, junk[64];
	size_t len, first_ed_len = 0;
	int consumed = 0;
	BIO *b;

	CHECK(dlsym(RTLD_DEFAULT, "d2i_PUBKEY_bio") == (void *)d2i_PUBKEY_bio,
	      "every library's d2i_PUBKEY_bio is the program's");
	der = der_of(rsa, &len);
	k1 = decode(der, len, &consumed);
	dkim_keycache_stats(&st);
	CHECK(k1 != NULL && st.misses == 1 && st.hits == 0 && st.entries == 1,
	      "first decode: a miss, kept (%zu entries)", st.entries);
	CHECK(consumed, "first decode consumed the BIO");
	k2 = decode(der, len, &consumed);
	dkim_keycache_stats(&st);
	CHECK(k2 == k1 && st.hits == 1, "same bytes again: the same key from the table");
	CHECK(consumed, "a hit consumes the BIO too");
	CHECK(EVP_PKEY_eq(k2, rsa) == 1, "the key is the one encoded");
	CHECK(verifies(rsa, k2), "a signature verifies with the shared key");
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);

	memset(junk, 0x30, sizeof(junk));
	CHECK(decode(junk, sizeof(junk), NULL) == NULL, "bad DER: no key");
	dkim_keycache_stats(&st);
	CHECK(st.entries == 1, "bad DER is not kept");
	b = BIO_new_mem_buf(der, (int)len);
	k1 = NULL;
	{
		struct dkim_keycache_stats before = st;

		CHECK(d2i_PUBKEY_bio(b, &k1) != NULL && k1 != NULL,
		      "with an output argument: decoded");
		dkim_keycache_stats(&st);
		CHECK(st.hits == before.hits && st.misses == before.misses,
		      "... and passed through, not counted");
	}
	EVP_PKEY_free(k1);
	BIO_free(b);

	{
		struct shared sh = {der, len, NULL, 0};
		pthread_t t[4];

		sh.want = decode(der, len, NULL);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, thread_main, &sh);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		/* counted without a lock: a lost increment only lowers it */
		CHECK(sh.same > 0, "four threads decode the same key at once (%d same)", sh.same);
		EVP_PKEY_free(sh.want);
	}

	/* bounded: DKIM_KEYCACHE_MAX + 1 other keys push the oldest out */
	for (int i = 0; i <= DKIM_KEYCACHE_MAX; i++) {
		EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		size_t n;
		unsigned char *d = der_of(ed, &n);

		EVP_PKEY_free(decode(d, n, NULL));
		if (i == 0) {
			first_ed = ed;
			first_ed_der = d;
			first_ed_len = n;
		} else {
			EVP_PKEY_free(ed);
			OPENSSL_free(d);
		}
	}
	dkim_keycache_stats(&st);
	CHECK(st.entries == DKIM_KEYCACHE_MAX, "the table stays at %d keys (%zu)", DKIM_KEYCACHE_MAX,
	      st.entries);
	{
		unsigned long misses = st.misses;

		EVP_PKEY_free(decode(first_ed_der, first_ed_len, NULL));
		dkim_keycache_stats(&st);
		CHECK(st.misses == misses + 1, "the least recently used key was dropped");
	}
	dkim_keycache_clear();
	dkim_keycache_stats(&st);
	CHECK(st.entries == 0, "clear empties the table");
	EVP_PKEY_free(first_ed);
	OPENSSL_free(first_ed_der);
	OPENSSL_free(der);
	EVP_PKEY_free(rsa);
	return check_done();
}

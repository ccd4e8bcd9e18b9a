/*
 * dkim_keycache - decoded DKIM public keys (see dkim_keycache.h for why
 * this file defines one of libcrypto's functions).
 *
 * A small array kept in most-recently-used order: at most
 * DKIM_KEYCACHE_MAX entries of at most KEY_DER_MAX bytes, searched
 * linearly (a memcmp of ~300 bytes each, far below one decode).  The lock
 * is never held across a call into libcrypto's decoder.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim_keycache.h"
#include "log.h"
#include "mem.h"

#define KEY_DER_MAX 4096 /* an 8192-bit RSA key is ~1,050 bytes of DER */

struct key {
	unsigned char *der;
	size_t len;
	EVP_PKEY *pkey; /* one reference held by the table */
};

typedef EVP_PKEY *d2i_fn(BIO *, EVP_PKEY **);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct key keys[DKIM_KEYCACHE_MAX]; /* [0] most recently used */
static size_t count;
static unsigned long hits, misses;
static d2i_fn *real_d2i;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void find_real(void)
{
	/* libcrypto's own definition, past ours in the lookup order */
	real_d2i = (d2i_fn *)dlvsym(RTLD_NEXT, "d2i_PUBKEY_bio", "OPENSSL_3.0.0");
	if (real_d2i == NULL)
		real_d2i = (d2i_fn *)dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
	if (real_d2i == NULL)
		log_panic("dkim_keycache: libcrypto's d2i_PUBKEY_bio not found: %s", dlerror());
}

/* Move keys[i] to the front. */
static void touch(size_t i)
{
	struct key k = keys[i];

	memmove(&keys[1], &keys[0], i * sizeof(keys[0]));
	keys[0] = k;
}

static EVP_PKEY *lookup(const unsigned char *der, size_t len)
{
	EVP_PKEY *pkey = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++) {
		if (keys[i].len == len && memcmp(keys[i].der, der, len) == 0) {
			pkey = keys[i].pkey;
			EVP_PKEY_up_ref(pkey);
			touch(i);
			break;
		}
	}
	if (pkey != NULL)
		hits++;
	else
		misses++;
	pthread_mutex_unlock(&lock);
	return pkey;
}

/* Keep der (malloc'd, ours now) and a reference to pkey. */
static void insert(unsigned char *der, size_t len, EVP_PKEY *pkey)
{
	struct key dropped = {der, len, pkey};

	EVP_PKEY_up_ref(pkey);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++)
		if (keys[i].len == len && memcmp(keys[i].der, der, len) == 0)
			goto unlock; /* another thread decoded it first: drop ours */
	if (count == DKIM_KEYCACHE_MAX)
		dropped = keys[--count];
	else
		dropped.der = NULL;
	keys[count++] = (struct key){der, len, pkey};
	touch(count - 1);
unlock:
	pthread_mutex_unlock(&lock);
	if (dropped.der != NULL) {
		EVP_PKEY_free(dropped.pkey);
		free(dropped.der);
	}
}

EVP_PKEY *d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	char *data = NULL;
	long len;
	EVP_PKEY *pkey;

	pthread_once(&real_once, find_real);
	if (a != NULL || bp == NULL || BIO_method_type(bp) != BIO_TYPE_MEM ||
	    (len = BIO_get_mem_data(bp, &data)) <= 0 || len > KEY_DER_MAX)
		return real_d2i(bp, a);
	if ((pkey = lookup((unsigned char *)data, (size_t)len)) != NULL) {
		char drain[256];

		/* consume the bytes as the decoder would have */
		while (BIO_read(bp, drain, sizeof(drain)) > 0)
			;
		return pkey;
	}
	{
		/* the decoder consumes the BIO: keep the bytes first */
		unsigned char *der = xmalloc((size_t)len);

		memcpy(der, data, (size_t)len);
		pkey = real_d2i(bp, NULL);
		if (pkey != NULL)
			insert(der, (size_t)len, pkey);
		else
			free(der);
	}
	return pkey;
}

void dkim_keycache_stats(struct dkim_keycache_stats *out)
{
	pthread_mutex_lock(&lock);
	out->entries = count;
	out->hits = hits;
	out->misses = misses;
	pthread_mutex_unlock(&lock);
}

void dkim_keycache_clear(void)
{
	pthread_mutex_lock(&lock);
	while (count > 0) {
		count--;
		EVP_PKEY_free(keys[count].pkey);
		free(keys[count].der);
	}
	hits = misses = 0;
	pthread_mutex_unlock(&lock);
}

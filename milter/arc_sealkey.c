/*
 * arc_sealkey - load the sealing key named by arc-seal (see arc_sealkey.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "arc_sealkey.h"
#include "domain.h"
#include "mem.h"

#define SEAL_RSA_MIN_BITS 1024 /* RFC 8301 §3.2, as for DKIM */

/* The private key of one PEM file, checked for a type and size that seal. */
static EVP_PKEY *key_read(const char *path, char **error_r)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	int type;

	if (f == NULL) {
		*error_r = xasprintf("arc-seal: %s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		*error_r = xasprintf("arc-seal: %s: not a PEM private key", path);
		return NULL;
	}
	type = EVP_PKEY_base_id(k);
	if (type != EVP_PKEY_ED25519 &&
	    (type != EVP_PKEY_RSA || EVP_PKEY_bits(k) < SEAL_RSA_MIN_BITS)) {
		*error_r = xasprintf("arc-seal: %s: an RSA key of at least %d bits or an Ed25519 "
				     "key is needed",
				     path, SEAL_RSA_MIN_BITS);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

struct arc_seal_key *arc_sealkey_load(const struct conf *conf, char **error_r)
{
	char *const *w = conf->arc_seal;
	struct arc_seal_key *k;
	struct stat st;
	size_t n = 0;

	*error_r = NULL;
	while (w != NULL && w[n] != NULL)
		n++;
	if (n == 0)
		return NULL;
	if (n != 3) {
		*error_r = xasprintf("%s: arc-seal: expected DOMAIN SELECTOR KEYFILE", conf->path);
		return NULL;
	}
	if (!domain_valid(w[0], 0) || !domain_valid(w[1], 0)) {
		*error_r = xasprintf("%s: arc-seal: \"%s\" or \"%s\" is not a domain name",
				     conf->path, w[0], w[1]);
		return NULL;
	}
	/* a private key others can read is no longer private */
	if (stat(w[2], &st) == 0 && (st.st_mode & S_IROTH) != 0) {
		*error_r = xasprintf("arc-seal: %s: readable by everyone (chmod o-r)", w[2]);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	if ((k->pkey = key_read(w[2], error_r)) == NULL) {
		free(k);
		return NULL;
	}
	k->domain = xstrdup(w[0]); /* its own: the key may outlive the configuration */
	k->selector = xstrdup(w[1]);
	return k;
}

void arc_sealkey_free(struct arc_seal_key **kp)
{
	struct arc_seal_key *k = *kp;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free((char *)k->domain);
	free((char *)k->selector);
	free(k);
	*kp = NULL;
}

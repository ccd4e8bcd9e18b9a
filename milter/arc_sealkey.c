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
#include "dkim_keys.h"
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

/* `arc-seal DOMAIN SELECTOR`: the key of the same name in the DKIM key
 * table (dkim-key lines), shared with the signer. */
static EVP_PKEY *key_from_table(const struct conf *conf, const struct dkim_keys *keys,
				char *const *w, char **error_r)
{
	const struct dkim_privkey *p = keys != NULL ? dkim_keys_find(keys, w[0], w[1]) : NULL;

	if (p == NULL) {
		*error_r = xasprintf("%s: arc-seal: no dkim-key line for %s %s (name a key file, "
				     "or add the key to the key table)",
				     conf->path, w[0], w[1]);
		return NULL;
	}
	EVP_PKEY_up_ref(p->pkey);
	return p->pkey;
}

/* A key file of its own, not readable by everyone. */
static EVP_PKEY *key_from_file(const char *path, char **error_r)
{
	struct stat st;

	/* a private key others can read is no longer private */
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH) != 0) {
		*error_r = xasprintf("arc-seal: %s: readable by everyone (chmod o-r)", path);
		return NULL;
	}
	return key_read(path, error_r);
}

struct arc_seal_key *arc_sealkey_load(const struct conf *conf, const struct dkim_keys *keys,
				      char **error_r)
{
	char *const *w = conf->arc_seal;
	struct arc_seal_key *k;
	size_t n = 0;

	*error_r = NULL;
	while (w != NULL && w[n] != NULL)
		n++;
	if (n == 0)
		return NULL;
	if (n != 2 && n != 3) {
		*error_r = xasprintf("%s: arc-seal: expected DOMAIN SELECTOR [KEYFILE]", conf->path);
		return NULL;
	}
	if (!domain_valid(w[0], 0) || !domain_valid(w[1], 0)) {
		*error_r = xasprintf("%s: arc-seal: \"%s\" or \"%s\" is not a domain name",
				     conf->path, w[0], w[1]);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = n == 3 ? key_from_file(w[2], error_r) : key_from_table(conf, keys, w, error_r);
	if (k->pkey == NULL) {
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

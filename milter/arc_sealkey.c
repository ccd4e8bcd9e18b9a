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
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		*error_r = xasprintf("%s: not a PEM private key", path);
		return NULL;
	}
	type = EVP_PKEY_base_id(k);
	if (type != EVP_PKEY_ED25519 &&
	    (type != EVP_PKEY_RSA || EVP_PKEY_bits(k) < SEAL_RSA_MIN_BITS)) {
		*error_r = xasprintf("%s: an RSA key of at least %d bits or an Ed25519 "
				     "key is needed",
				     path, SEAL_RSA_MIN_BITS);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* An error about word i of the arc-seal line, named file:line:column. */
static void *serr(const struct conf *conf, const struct conf_line *line, int i, char **error_r,
		  const char *msg)
{
	*error_r = xasprintf("%s:%u:%u: arc-seal: %s", conf->path, line->line,
			     line->cols[i < line->count ? i : 0], msg);
	return NULL;
}

/* `arc-seal DOMAIN SELECTOR`: the key of the same name in the DKIM key
 * table (dkim-key lines), shared with the signer. */
static EVP_PKEY *key_from_table(const struct conf *conf, const struct conf_line *line,
				const struct dkim_keys *keys, char **error_r)
{
	char *const *w = line->words;
	const struct dkim_privkey *p = keys != NULL ? dkim_keys_find(keys, w[0], w[1]) : NULL;
	char *msg;

	if (p == NULL) {
		msg = xasprintf("no dkim-key line for %s %s (name a key file, or add the key to "
				"the key table)",
				w[0], w[1]);
		serr(conf, line, 1, error_r, msg);
		free(msg);
		return NULL;
	}
	EVP_PKEY_up_ref(p->pkey);
	return p->pkey;
}

/* A key file of its own, not readable by everyone. */
static EVP_PKEY *key_from_file(const struct conf *conf, const struct conf_line *line,
			       char **error_r)
{
	const char *path = line->words[2];
	struct stat st;
	char *why = NULL;
	EVP_PKEY *k;

	/* a private key others can read is no longer private */
	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH) != 0)
		why = xasprintf("%s: readable by everyone (chmod o-r)", path);
	else if ((k = key_read(path, &why)) != NULL)
		return k;
	serr(conf, line, 2, error_r, why);
	free(why);
	return NULL;
}

struct arc_seal_key *arc_sealkey_load(const struct conf *conf, const struct dkim_keys *keys,
				      char **error_r)
{
	const struct conf_line *line = conf->arc_seal.count > 0 ? &conf->arc_seal.items[0] : NULL;
	struct arc_seal_key *k;

	*error_r = NULL;
	if (line == NULL)
		return NULL;
	if (line->count != 2 && line->count != 3)
		return serr(conf, line, 0, error_r, "expected DOMAIN SELECTOR [KEYFILE]");
	if (!domain_valid(line->words[0], 0) || !domain_valid(line->words[1], 0)) {
		int bad = domain_valid(line->words[0], 0) ? 1 : 0;
		char *msg = xasprintf("\"%s\" is not a domain name", line->words[bad]);

		serr(conf, line, bad, error_r, msg);
		free(msg);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = line->count == 3 ? key_from_file(conf, line, error_r)
				   : key_from_table(conf, line, keys, error_r);
	if (k->pkey == NULL) {
		free(k);
		return NULL;
	}
	k->domain = xstrdup(line->words[0]); /* its own: the key may outlive the configuration */
	k->selector = xstrdup(line->words[1]);
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

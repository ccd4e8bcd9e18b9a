/*
 * arc_sealkey - load the sealing key named by arc-seal (see arc_sealkey.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arc_sealkey.h"
#include "dkim_keys.h"
#include "domain.h"
#include "mem.h"

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

/* A key file of its own, read and checked as a dkim-key line's file is:
 * one reader, so the two refuse the same keys in the same words. */
static EVP_PKEY *key_from_file(const struct conf *conf, const struct conf_line *line,
			       char **error_r)
{
	struct dkim_privkey key;

	if (dkim_keys_read_file(conf, line, 2, "arc-seal", &key, error_r) < 0)
		return NULL;
	return key.pkey;
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

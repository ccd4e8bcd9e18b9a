/*
 * dkim_keys - the private keys authscore signs with, and which of them sign
 * which message (the key table and the signing table).
 *
 *   dkim-key  DOMAIN SELECTOR FILE          (the key table)
 *   dkim-sign PATTERN DOMAIN:SELECTOR...    (the signing table)
 *
 * dkim_keys_load() reads both from a loaded configuration and every key
 * file they name: a file that is missing, unreadable, not a regular file,
 * readable or writable by group or others, or not an RSA (1024 bits or
 * more) or Ed25519 private key in PEM is an error naming file:line:column
 * and the key file.  dkim_keys_check() does the same without opening the
 * files (syntax and references only; the fuzz target's entry point).
 *
 * A PATTERN without '@' matches the From domain: `example.com` that domain,
 * `*.example.com` its subdomains, `*` every message.  One with '@' matches
 * the envelope sender (MAIL FROM): `user@example.com`, `*@example.com`,
 * `*@*.example.com`.  Lines are tried in order; the first that matches
 * gives the keys (several for dual rsa-sha256 + ed25519-sha256 signing).
 *
 * A loaded table is immutable and shared by threads (it lives in the
 * runtime snapshot); dkim_keys_find() is the lookup another module (ARC
 * sealing) uses by domain and selector.  dkim_keys_free() wipes the keys.
 */
#ifndef AUTHSCORE_DKIM_KEYS_H
#define AUTHSCORE_DKIM_KEYS_H

#include <stddef.h>

#include "conf.h"

#define DKIM_KEYS_MAX_PER_LINE 8 /* keys one dkim-sign line may name */

enum dkim_key_type { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

struct dkim_privkey {
	const char *domain;   /* d=, lower case */
	const char *selector; /* s= */
	const char *path;     /* the key file */
	enum dkim_key_type type;
	const char *alg;      /* "rsa-sha256" or "ed25519-sha256" */
	unsigned bits;	      /* of an RSA key; 256 for Ed25519 */
	struct evp_pkey_st *pkey; /* the parsed key */
};

struct dkim_keys;

struct dkim_keys *dkim_keys_load(const struct conf *cfg, char **error_r);
/* Syntax and references only: returns 0, or -1 with *error_r (malloc'd). */
int dkim_keys_check(const struct conf *cfg, char **error_r);
/* The same, keeping the tables: for lookups only (no key is read: pem and
 * pkey are NULL), as the fuzz target matches senders against them. */
struct dkim_keys *dkim_keys_parse(const struct conf *cfg, char **error_r);
void dkim_keys_free(struct dkim_keys **kp);
/* One key file read and checked as a dkim-key line's is (above), for
 * another line that names one (arc-seal): word `word` of `line` is the
 * file, and an error, malloc'd in *error_r, reads "FILE:LINE:COLUMN:
 * DIRECTIVE: ...".  0 with key's type, alg, bits and pkey (the caller's
 * to free) set and path pointing into line (domain and selector NULL), or
 * -1 with key->pkey NULL. */
int dkim_keys_read_file(const struct conf *cfg, const struct conf_line *line, int word,
			const char *directive, struct dkim_privkey *key, char **error_r);

size_t dkim_keys_count(const struct dkim_keys *k);
/* Does the signing table have a line at all? */
int dkim_keys_signing(const struct dkim_keys *k);
const struct dkim_privkey *dkim_keys_find(const struct dkim_keys *k, const char *domain,
				      const char *selector);
/* The keys of the first signing-table line matching the message (From
 * domain, envelope sender; either may be NULL); returns how many (at most
 * DKIM_KEYS_MAX_PER_LINE), 0 when no line matches. */
size_t dkim_keys_for(const struct dkim_keys *k, const char *from_domain, const char *mail_from,
		     const struct dkim_privkey **out);

/* The public half as a key record's p= (RFC 6376 §3.6.1: the DER
 * SubjectPublicKeyInfo of an RSA key; RFC 8463 §4: the 32 raw bytes of an
 * Ed25519 key), base64, malloc'd; NULL for another kind of key. */
char *dkim_keys_public_b64(const struct evp_pkey_st *pkey);
/* "v=DKIM1; k=rsa; p=..." (or k=ed25519), malloc'd; NULL as above. */
char *dkim_keys_record(const struct evp_pkey_st *pkey);
/* Does a published key record (a TXT record's text, RFC 6376 §3.6.1)
 * hold this key's public half, for its algorithm?  1 yes, 0 no, with
 * *why_r a short static reason.  Hostile text is fine: capped, never read
 * past its NUL. */
#define DKIM_KEYS_RECORD_MAX 8192
int dkim_keys_record_matches(const char *record, const struct evp_pkey_st *pkey,
			     const char **why_r);

#endif

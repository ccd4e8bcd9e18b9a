/*
 * dkim_sign - DKIM signatures for the site's own outgoing mail (RFC 6376,
 * RFC 8301 rsa-sha256, RFC 8463 ed25519-sha256), made with libcrypto over
 * keys decoded once (dkim_make.h; dkim_sign.c says why not libopendkim).
 *
 * A struct dkim_signing belongs to one runtime generation: the key and
 * signing tables (dkim_keys.h) and this generation's options (x=).  A
 * struct dkim_signer is one message's: it keeps the header fields
 * as they arrive (the keys are chosen at end of headers, when the From
 * domain is known), then hashes the body once per key, and at end
 * of message returns the DKIM-Signature values, each to be inserted at the
 * top of the message.  relaxed/relaxed, no l=, t= always, x= if set.
 *
 * Signing handles never query DNS.  A signing object is immutable and
 * shared by threads; a signer belongs to one message (its arena).
 */
#ifndef AUTHSCORE_DKIM_SIGN_H
#define AUTHSCORE_DKIM_SIGN_H

#include <stddef.h>

#include "arena.h"
#include "conf.h"
#include "dkim_keys.h"

#define DKIM_SIGN_HEADER "DKIM-Signature"

struct dkim_signing;
struct dkim_signer;

/* NULL with *error_r NULL when the configuration signs nothing (no
 * dkim-key and no dkim-sign line); NULL with *error_r set on an error. */
struct dkim_signing *dkim_signing_load(const struct conf *cfg, char **error_r);
void dkim_signing_free(struct dkim_signing **sp);
const struct dkim_keys *dkim_signing_keys(const struct dkim_signing *s);

/* One signature made: its key and the header value (folded with "\n\t"). */
struct dkim_signature {
	const struct dkim_privkey *key;
	const char *value;
};

struct dkim_signer *dkim_signer_new(const struct dkim_signing *s, struct arena *a,
				    const char *id);
/* name and value as the MTA passed them (value with its leading blank). */
void dkim_signer_header(struct dkim_signer *g, const char *name, const char *value);
/* The keys of the signing table's first matching line; returns how many
 * (0: the message is not signed, and the signer does nothing more). */
size_t dkim_signer_eoh(struct dkim_signer *g, const char *from_domain, const char *mail_from);
void dkim_signer_body(struct dkim_signer *g, const unsigned char *data, size_t len);
/* Returns the number of signatures (in *out, arena memory), 0 when none
 * was asked for, or -1 with *error_r a short static-or-arena reason. */
int dkim_signer_finish(struct dkim_signer *g, const struct dkim_signature **out,
		       const char **error_r);
void dkim_signer_free(struct dkim_signer **gp);

#endif

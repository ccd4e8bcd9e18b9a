/*
 * arc_sealkey - the key this host seals with (RFC 8617 §5.1), from the
 * configuration's `arc-seal DOMAIN SELECTOR [KEYFILE]`.  (issue 18)
 *
 * arc_sealkey_load() takes the key of that domain and selector from the
 * DKIM key table (`dkim-key` lines, already loaded and checked by
 * dkim_keys.c), or, with KEYFILE, reads that private key file with
 * dkim_keys.c's reader (the same checks and errors as a dkim-key file:
 * the owner's alone, unencrypted PEM, RSA of at least 1024 bits or
 * Ed25519), into a struct arc_seal_key for arc_check_seal().  Loaded
 * with each runtime (start, SIGHUP): a bad key is the whole reload's
 * error.  arc_sealkey_free() accepts NULL.
 * The key is immutable once loaded and may be shared by threads.
 */
#ifndef AUTHSCORE_ARC_SEALKEY_H
#define AUTHSCORE_ARC_SEALKEY_H

#include "arc.h"
#include "conf.h"

/* NULL and no error when the configuration seals nothing; NULL with
 * *error_r (malloc'd, naming the file) when the key cannot be used. */
struct dkim_keys;
/* keys: the DKIM key table, or NULL when there is none */
struct arc_seal_key *arc_sealkey_load(const struct conf *conf, const struct dkim_keys *keys,
				      char **error_r);
void arc_sealkey_free(struct arc_seal_key **kp);

#endif

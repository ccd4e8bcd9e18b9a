/*
 * arc_sealkey - the key this host seals with (RFC 8617 §5.1), from the
 * configuration's `arc-seal DOMAIN SELECTOR KEYFILE`.  (issue 18)
 *
 * arc_sealkey_load() reads the private key file (PEM, PKCS#8 or
 * traditional; RSA of at least 1024 bits or Ed25519) into a struct
 * arc_seal_key for arc_check_seal(); it is the one place a sealing key
 * comes from, so pointing it at the DKIM signing key table later is a
 * change here only.  Loaded with each runtime (start, SIGHUP): a bad key
 * is the whole reload's error.  arc_sealkey_free() accepts NULL.
 * The key is immutable once loaded and may be shared by threads.
 */
#ifndef AUTHSCORE_ARC_SEALKEY_H
#define AUTHSCORE_ARC_SEALKEY_H

#include "arc.h"
#include "conf.h"

/* NULL and no error when the configuration seals nothing; NULL with
 * *error_r (malloc'd, naming the file) when the key cannot be used. */
struct arc_seal_key *arc_sealkey_load(const struct conf *conf, char **error_r);
void arc_sealkey_free(struct arc_seal_key **kp);

#endif

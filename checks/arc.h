/*
 * arc - ARC (RFC 8617): chain validation of inbound mail, and sealing.
 *
 * One struct arc_check per message, fed every header and the body as they
 * arrive (as dkim.h's check is).  arc_check_eoh() parses the sets and
 * starts the key lookups of every ARC-Seal and the newest
 * ARC-Message-Signature (and of older AMSes, for oldest-pass) over the
 * shared resolver, in parallel with DKIM's; arc_check_finish() waits for
 * them under their deadlines and validates the chain.  Crypto: OpenSSL
 * libcrypto (rsa-sha256, ed25519-sha256 as for DKIM); canonicalization
 * relaxed/simple as RFC 6376.  Bounded: at most ARC_MAX_SETS sets, a chain
 * with more is a fail, never more work.
 *
 * Sealing (a forwarder's own set, instance N+1): after arc_check_finish(),
 * given the Authentication-Results value this host wrote, arc_check_seal()
 * returns the three header field values to insert above everything else.
 *
 * arc_module_init() once per process, before threads.  A check belongs to
 * one message; results are copied into the caller's arena.
 */
#ifndef AUTHSCORE_ARC_H
#define AUTHSCORE_ARC_H

#include <stddef.h>
#include <time.h>

#include "arc_result.h"
#include "arena.h"
#include "dns.h"

struct arc_params {
	unsigned lookup_timeout_ms; /* each key lookup */
	unsigned min_rsa_bits;	    /* 1024 (RFC 8301) */
	int seal;		    /* keep what sealing needs (body hash, headers) */
};

struct arc_check;

int arc_module_init(struct dns *dns, char **error_r);
void arc_module_deinit(void);

struct arc_check *arc_check_new(const struct arc_params *p, const char *queue_id);
/* name and value exactly as received (as dkim_check_header) */
void arc_check_header(struct arc_check *c, const char *name, const char *value);
void arc_check_eoh(struct arc_check *c);
void arc_check_body(struct arc_check *c, const unsigned char *data, size_t len);
void arc_check_finish(struct arc_check *c, struct arena *a, struct arc_outcome *out);

/* A sealing key: the private key file is PEM (PKCS#8 or traditional). */
struct arc_seal_key {
	const char *domain;
	const char *selector;
	void *pkey; /* an EVP_PKEY *, owned by the caller */
};
struct arc_seal_headers {
	const char *aar;  /* ARC-Authentication-Results value */
	const char *ams;  /* ARC-Message-Signature value */
	const char *seal; /* ARC-Seal value */
};
/* After arc_check_finish(): this host's set.  authres is the value of the
 * Authentication-Results field this host adds (without the field name).
 * Returns 0, or -1 with *error_r (in a) when the chain cannot be sealed
 * (e.g. already 50 sets) or signing fails. */
int arc_check_seal(struct arc_check *c, const struct arc_seal_key *k, const char *authres,
		   time_t now, struct arena *a, struct arc_seal_headers *out, const char **error_r);
void arc_check_free(struct arc_check **cp);

#endif

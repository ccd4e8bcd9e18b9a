/*
 * dkim - DKIM signature verification (RFC 6376, 8301, 8463) with libopendkim,
 * its key lookups over our resolver.
 *
 * One struct dkim_check per message: fed every header and the body as they
 * arrive.  dkim_check_eoh() starts the key lookups of every signature (up to
 * the configured maximum) at once, so they run in parallel with each other
 * and with the rest of the message; dkim_check_finish() waits for them
 * (each under its deadline) and returns one result per verified signature.
 * RFC 8301: rsa-sha1 and RSA keys under 1024 bits never pass (they are
 * reported as `policy` with a reason).  Signatures past the maximum are not
 * verified and are counted in `skipped`.
 *
 * dkim_module_init() once per process, before threads (not dkim_init():
 * libopendkim owns that name).  A dkim_check belongs to
 * one message and is never shared between threads; results are copied into
 * the caller's arena.
 */
#ifndef AUTHSCORE_DKIM_H
#define AUTHSCORE_DKIM_H

#include <stddef.h>

#include "arena.h"
#include "dkim_result.h"
#include "dns.h"

struct dkim_params {
	unsigned max_signatures;    /* verify at most this many (DoS bound) */
	unsigned lookup_timeout_ms; /* each key lookup */
	unsigned min_rsa_bits;	    /* 1024 (RFC 8301) */
};

struct dkim_check;

int dkim_module_init(struct dns *dns, char **error_r);
void dkim_module_deinit(void);

struct dkim_check *dkim_check_new(const struct dkim_params *p, const char *queue_id);
/* name and value exactly as received: the value is everything after the
 * colon, leading blanks and folding included, as RFC 6376 simple header
 * canonicalization needs the original bytes. */
void dkim_check_header(struct dkim_check *c, const char *name, const char *value);
void dkim_check_eoh(struct dkim_check *c);
/* After dkim_check_eoh(): the d= domains of the signatures being verified
 * (distinct, at most max), so their Organizational Domains can be looked
 * up in parallel with the keys.  Strings live as long as the check. */
size_t dkim_check_domains(const struct dkim_check *c, const char **out, size_t max);
void dkim_check_body(struct dkim_check *c, const unsigned char *data, size_t len);
void dkim_check_finish(struct dkim_check *c, struct arena *a, struct dkim_results *out);
void dkim_check_free(struct dkim_check **cp);

#endif

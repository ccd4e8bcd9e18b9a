/*
 * dkim_make - rsa-sha256 (RFC 6376, 8301) and ed25519-sha256 (RFC 8463)
 * DKIM signatures made with OpenSSL's libcrypto, relaxed/relaxed (RFC 6376
 * §3.4.2, §3.4.4), with the key decoded once when the key table was read.
 *
 * Why not libopendkim: dkim_sign.c says (a PEM decode per signature, and
 * a leaked Ed25519 key per signature, in Debian 12's 2.11.0~beta2).
 * The canonicalization here is the RFC's; tests hold its body hash equal to
 * libopendkim's and its signatures to libopendkim's and dkimpy's
 * verifiers.
 *
 * dkim_make_new() per message and key; the body is fed as it comes (a
 * bare LF or a lone CR ends a line, as libopendkim's FIXCRLF has it, so
 * both signatures of a message agree; RFC 5321 §2.3.8 allows neither in
 * SMTP, and Postfix passes none of the LFs); at end of
 * message dkim_make_finish() takes the header fields in order and
 * returns the DKIM-Signature value, folded with "\n\t" like libopendkim's.
 * All memory is in the given arena but the digest context, which
 * dkim_make_free() releases.  One message's; not shared by threads.
 */
#ifndef AUTHSCORE_DKIM_MAKE_H
#define AUTHSCORE_DKIM_MAKE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "dkim_keys.h"

/* A header field as the MTA passed it: value after the colon, folding kept. */
struct dkim_make_field {
	const char *name;
	const char *value;
};

struct dkim_make_params {
	const char *const *sign;     /* field names signed (every instance) */
	const char *const *oversign; /* named once more in h= (RFC 6376 §8.15) */
	int64_t t;		     /* t= */
	int64_t x;		     /* x=, or 0: none */
};

struct dkim_make;

struct dkim_make *dkim_make_new(const struct dkim_privkey *key, struct arena *a);
void dkim_make_body(struct dkim_make *e, const unsigned char *data, size_t len);
/* The signature's header value, or NULL with *error_r a short reason. */
const char *dkim_make_finish(struct dkim_make *e, const struct dkim_make_field *fields,
				size_t n, const struct dkim_make_params *p, const char **error_r);
void dkim_make_free(struct dkim_make **ep);

#endif

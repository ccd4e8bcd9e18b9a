/*
 * authres - the Authentication-Results header (RFC 8601).
 *
 * authres_render() writes the one header value authscore adds: our
 * authserv-id, then one resinfo per result in `struct facts`, folded one
 * per line ("\n\t" between them, as libmilter expects).  Values that are
 * not plain tokens or domain names are quoted; comments are escaped, so a
 * hostile HELO or MAIL FROM cannot inject a resinfo.
 *
 * authres_is_ours() tells whether an existing header value carries our
 * authserv-id (any case, any CFWS around it, RFC 8601 §2.2 and §5): such
 * a header is a forgery and is removed before ours is added.
 * Pure functions; thread-safe.
 */
#ifndef AUTHSCORE_AUTHRES_H
#define AUTHSCORE_AUTHRES_H

#include "arena.h"
#include "facts.h"
#include "verdict_result.h"

#define AUTHRES_HEADER "Authentication-Results"

/* v: the verdict, for the DMARC disposition applied (policy.dmarc) */
char *authres_render(struct arena *a, const char *authserv_id, const struct facts *f,
		     const struct verdict *v);
int authres_is_ours(const char *value, const char *authserv_id);

#endif

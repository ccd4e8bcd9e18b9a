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
 * authres_read() (below) reads a value into its resinfos.
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

/*
 * authres_read() is the one reader of an Authentication-Results value (RFC
 * 8601 §2.2; an AAR's text after "i=N;" is one too): authserv-id, optional
 * version, then "method[/version]=result [reason=value] ptype.property=value
 * ..." resinfos into out[max], *count_r of them.  CFWS and comments (nested
 * at most 16 deep) are skipped, quoted-strings unquoted; method, result and
 * property names come in lower case, the method without its version; a
 * "none" (no-result) gives no resinfo.  Strings are in the arena.  Bounded:
 * AUTHRES_READ_MAX bytes (a longer value is refused unread), at most max
 * resinfos and AUTHRES_READ_PROPS properties each, linear time and memory.
 * 0, or -1 with *error_r a static phrase when malformed or over a cap.
 */
#define AUTHRES_READ_MAX   (64 * 1024)
#define AUTHRES_READ_PROPS 8

struct authres_prop {
	const char *name; /* ptype.property: "header.d", "smtp.mailfrom" */
	const char *value;
};
struct authres_resinfo {
	const char *method; /* "dmarc" */
	const char *result; /* "pass" */
	const char *reason; /* reason=, or NULL */
	struct authres_prop props[AUTHRES_READ_PROPS];
	size_t prop_count;
};

int authres_read(const char *value, struct arena *a, struct authres_resinfo *out, size_t max,
		 size_t *count_r, const char **error_r);

#endif

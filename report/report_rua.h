/*
 * report_rua - where a domain's reports go: the rua= tag, external
 * destination verification and the suppression list.
 *
 * report_rua_parse() splits rua= (RFC 9989: comma-separated URIs) into
 * entries; only mailto: is usable.  A URI that is not (https:, junk, a bad
 * address) comes back with `error` set, for the caller's log line.  The
 * RFC 7489 `!size` suffix (k m g t: powers of 1024) is honoured as a hint:
 * max_size in bytes, 0 for none.  %XX escapes (RFC 6068) are decoded.
 *
 * report_rua_external() tells whether a destination needs verifying (RFC
 * 9990, verifying external destinations): without the Organizational Domain we
 * approximate "different organisation" by "the rua domain is neither the
 * policy domain nor a parent or child of it".  report_rua_authorized()
 * asks for TXT `<policy-domain>._report._dmarc.<rua-domain>` starting
 * with v=DMARC1 through the resolver of dns/dns.h.
 * Strings live in the caller's arena.  Thread-safe.
 */
#ifndef AUTHSCORE_REPORT_RUA_H
#define AUTHSCORE_REPORT_RUA_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "dns.h"

#define REPORT_RUA_MAX	   16	/* URIs taken from one rua= */
#define REPORT_RUA_LEN_MAX 2048 /* longer rua= values are cut here */

struct report_rua {
	const char *uri;     /* as published, trimmed */
	const char *address; /* local@domain (domain lower case); NULL on error */
	const char *domain;
	uint64_t max_size; /* !size in bytes; 0: no limit */
	const char *error; /* static: why this URI is unusable, or NULL */
};

/* Fills at most max entries (good and bad); returns how many. */
size_t report_rua_parse(const char *rua, struct arena *a, struct report_rua *out, size_t max);

int report_rua_external(const char *policy_domain, const char *rua_domain);

enum report_auth { REPORT_AUTH_YES, REPORT_AUTH_NO, REPORT_AUTH_TEMPFAIL };
enum report_auth report_rua_authorized(struct dns *dns, const char *policy_domain,
				       const char *rua_domain, unsigned timeout_ms);

/* Is the address, its domain or a parent domain in the NULL-terminated
 * list (entries with '@' match whole addresses, case-insensitively)? */
int report_rua_suppressed(char *const *list, const char *address);

#endif

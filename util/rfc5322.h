/*
 * rfc5322 - the address parts of message header fields (RFC 5322 §3.4).
 *
 * rfc5322_mailbox_domains() splits a From-style mailbox-list and returns
 * the domain of each address, lower-cased, without a final dot: what DMARC
 * calls the Author Domain.  It understands display names,
 * quoted strings, (nested) comments, angle addresses, folding and the
 * obsolete empty list elements; it refuses groups, domain literals and
 * domains that are not LDH names, because none of them gives a domain a
 * policy could be looked up for.  Input is capped; never reads past the
 * string.  Pure; thread-safe.
 */
#ifndef AUTHSCORE_RFC5322_H
#define AUTHSCORE_RFC5322_H

#include <stddef.h>

#include "arena.h"

#define RFC5322_MAX_VALUE 16384 /* longer header values are refused */

/* Returns the number of addresses found (also when more than max; only the
 * first max domains are stored), or -1 with *error_r set to a short static
 * reason ("unparsable address", "group syntax", "domain literal",
 * "no domain", "invalid domain", "too long"). */
int rfc5322_mailbox_domains(const char *value, struct arena *a, const char **domains, size_t max,
			    const char **error_r);

#endif

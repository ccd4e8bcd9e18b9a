/*
 * fake_dns - the unit tests' resolver: milter/dns.h answered from zone text.
 *
 * Defines every symbol of milter/dns.h (link it instead of dns.c) and
 * answers at once from records loaded with fake_dns_load(), one per line:
 *
 *	NAME TYPE DATA		# comment
 *
 * TYPE is A, AAAA, TXT (DATA: "quoted strings", joined, with \" and \\
 * escapes and \DDD for any octet, NUL too; unquoted: the rest of the line,
 * as one string), MX ("10 mx.example.test"), PTR or CNAME (followed for
 * other types, as a resolver would), or a pseudo type: SERVFAIL (every
 * query for NAME is a temporary failure), TIMEOUT (the same, with
 * timed_out set) or DELAY ms (answers for NAME take ms milliseconds; a
 * query whose deadline is shorter times out at its deadline).  Names are
 * case-insensitive, the trailing dot optional.  A name with no records and
 * no names below it is NXDOMAIN; one with records but none of the type
 * asked, or only names below it, is NODATA.  dns_new() ignores its
 * configuration.  A malformed zone line is a broken test:
 * log_panic().
 *
 * fake_dns_reset() drops every record and zeroes the query counter;
 * fake_dns_queries() counts the queries started since.  Thread-safe (a
 * mutex), so code under test may query from its own threads.
 */
#ifndef AUTHSCORE_FAKE_DNS_H
#define AUTHSCORE_FAKE_DNS_H

#include "dns.h"

void fake_dns_load(const char *zone_text);
void fake_dns_reset(void);
unsigned fake_dns_queries(void);

/* The order of dns_start ("S") and dns_wait ("W") calls since the last
 * fake_dns_trace_reset(): lookups started at once read "SS...WW...". */
const char *fake_dns_trace(void);
void fake_dns_trace_reset(void);

#endif

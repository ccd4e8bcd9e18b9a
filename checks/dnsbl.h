/*
 * dnsbl - DNS block- and allow-lists (RFC 5782) for the client address and
 * for domains.
 *
 * dnsbl_ip_start() asks every configured IP list about one address at once
 * (IPv4 as reversed octets, IPv6 as reversed nibbles, RFC 5782 §2.1/§2.4);
 * dnsbl_domain_start() asks domain lists (DBL style, RFC 5782 §2.3) about a
 * name.  dnsbl_finish() waits (each query under its deadline) and returns
 * one result per list: the 127.0.0.x return codes, or "blocked" when the
 * list answered with one of its refusal codes (e.g. Spamhaus 127.255.255.252
 * to 255 for queries through public resolvers) — a blocked answer is never
 * a listing, and is logged as a warning at most once per list per interval.
 *
 * Answers (RFC 5782 §2.1, §2.3): NXDOMAIN or NODATA is "not listed"; A
 * records all inside 127.0.0.0/8 are a listing; one of the list's refusal
 * codes makes the whole answer "blocked"; an address outside 127.0.0.0/8
 * (a dead list's wildcard, a hijacked zone) or a temporary DNS failure is
 * an error.  A list that configures no refusal codes gets the defaults of
 * dnsbl_default_blocked().  Names over 253 characters are never asked:
 * such a name cannot be listed ("not listed", with a reason).
 *
 * The list of lists comes from the configuration (struct dnsbl_list, which
 * must outlive the query); results, zone and subject strings are copied
 * into the caller's arena.  A query set belongs to one
 * session or message; the blocked-answer log limiter is shared and
 * thread-safe.
 */
#ifndef AUTHSCORE_DNSBL_H
#define AUTHSCORE_DNSBL_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "dns.h"
#include "dnsbl_result.h"

struct dnsbl_query;

/* lists: the configured lists of the right kind (others are ignored). */
struct dnsbl_query *dnsbl_ip_start(struct dns *dns, const struct addr *client,
				   const struct dnsbl_list *lists, size_t count,
				   unsigned timeout_ms);
struct dnsbl_query *dnsbl_domain_start(struct dns *dns, const char *domain,
				       const struct dnsbl_list *lists, size_t count,
				       unsigned timeout_ms);
/* Fills out[] (the caller sizes it for every list of the query's kind) and
 * returns the number of results; frees the query. */
size_t dnsbl_finish(struct dnsbl_query **qp, struct arena *a, struct dnsbl_result *out, size_t max);
void dnsbl_cancel(struct dnsbl_query **qp);

/* The query name: "10.113.0.203.zen.spamhaus.org" or the nibble form. */
int dnsbl_ip_name(const struct addr *client, const char *zone, char *out, size_t size);

/* The refusal codes assumed for a zone that configures none: 127.255.255.252
 * to 255 for every list (Spamhaus's, which no list uses as a listing), plus
 * those of well-known lists (list.dnswl.org 127.0.0.255, multi.uribl.com
 * and multi.surbl.org 127.0.0.1, dbl.spamhaus.org 127.0.1.255).  Returns how many were written. */
size_t dnsbl_default_blocked(const char *zone, uint32_t *out, size_t max);
/* Blocked and out-of-range answers are logged once per list per interval
 * (default 600 s); thread-safe. */
void dnsbl_set_warn_interval(unsigned seconds);

#endif

/*
 * iprev - reverse DNS with forward confirmation (RFC 8601 §3, "iprev").
 *
 * iprev_start() asks for the client's PTR names at connect time;
 * iprev_finish() looks each name (at most IPREV_MAX_NAMES) up forward (A or
 * AAAA, in parallel) and passes when one of them maps back to the client.
 * Results, in RFC 8601 §2.7.3's words: pass (a name maps back), fail (the
 * forward lookups completed and none maps back: NXDOMAIN, NODATA, other
 * addresses), temperror (no name maps back and a lookup failed temporarily
 * or timed out), permerror ("no PTR data are published": the PTR lookup
 * gave NXDOMAIN or NODATA, or only names that are not host names).  A name
 * that confirms wins over other names' errors.  Forward lookups get their
 * own timeout_ms (the PTR answer has usually long arrived by then).
 * The MTA has usually done the same lookups before it connects to us:
 * libmilter's contract for xxfi_connect's hostname is the name whose
 * forward lookup confirmed the address, or "[address]" when there is none
 * (Postfix: "unknown").  iprev_start() given such a confirmed name passes
 * at once with it, without a query: two dependent DNS rounds fewer on the
 * message's path.  Any other value gets our own lookups.
 * A check belongs to one session; results go to the caller's arena.
 */
#ifndef AUTHSCORE_IPREV_H
#define AUTHSCORE_IPREV_H

#include "addr.h"
#include "arena.h"
#include "dns.h"
#include "iprev_result.h"

#define IPREV_MAX_NAMES 10

struct iprev_check;

/* mta_name: the MTA's confirmed name for the client, or NULL to look up. */
struct iprev_check *iprev_start(struct dns *dns, const struct addr *client, const char *mta_name,
				unsigned timeout_ms);
void iprev_finish(struct iprev_check **cp, struct arena *a, struct iprev_outcome *out);
void iprev_cancel(struct iprev_check **cp);

#endif

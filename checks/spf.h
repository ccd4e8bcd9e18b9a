/*
 * spf - RFC 7208 check_host() for one identity, libspf2 over our resolver.
 *
 * libspf2 evaluates; this module gives it a DNS layer over struct dns that
 * counts what RFC 7208 §4.6.4 limits (DNS-querying terms, void lookups)
 * and enforces a deadline for the whole evaluation, then maps libspf2's
 * outcome to the seven RFC 7208 §2.6 results, never collapsing two.
 *
 * spf_evaluate() is synchronous.  spf_start() runs the same evaluation on
 * a pool of worker threads (grown on demand, bounded, idle ones exit) so
 * it overlaps with the rest of the SMTP transaction; spf_finish() waits
 * for it, copies the outcome into the caller's arena and frees the check.
 * spf_cancel() abandons it without waiting (result discarded).
 * Thread-safe: each check is independent; the resolver is shared.
 */
#ifndef AUTHSCORE_SPF_H
#define AUTHSCORE_SPF_H

#include "addr.h"
#include "arena.h"
#include "dns.h"
#include "spf_result.h"

struct spf_params {
	struct addr client;
	const char *helo;	   /* HELO/EHLO argument as given; may be NULL */
	const char *sender;	   /* MAIL FROM address without <>; "" or NULL for the null sender */
	enum spf_scope scope;	   /* MFROM: check sender's domain; HELO: check the HELO name */
	unsigned deadline_ms;	   /* for the whole evaluation */
	unsigned lookup_timeout_ms; /* for each DNS query */
};

struct spf_check;

void spf_init(void); /* once per process, before threads */
int spf_evaluate(struct dns *dns, const struct spf_params *p, struct arena *a,
		 struct spf_outcome *out);
struct spf_check *spf_start(struct dns *dns, const struct spf_params *p);
void spf_finish(struct spf_check **cp, struct arena *a, struct spf_outcome *out);
void spf_cancel(struct spf_check **cp);
/* No check queued or running, abandoned ones included (tests wait for it). */
int spf_pool_quiet(void);

#endif

/*
 * arc_trust - may a DMARC failure be overridden because a trusted ARC
 * sealer (RFC 8617 §7.2) saw the message pass?  (issue 18)
 *
 * arc_trust_decide() reads only struct arc_outcome (what checks/arc.c
 * validated) and the From domain: it says "override" only when the chain
 * passes, the NEWEST set's sealer (its ARC-Seal d=, the host that handed
 * the message on with its newest AMS, the one a passing chain verifies
 * against the message as we got it) is in the trusted list, and that same
 * set's ARC-Authentication-Results say dmarc=pass for our From domain, or
 * (without any dmarc result) spf=pass or dkim=pass for a domain aligned
 * with it.  Anything else is no override: an untrusted, older or unknown
 * sealer, a chain that is not "pass" (fail, temperror, none), a DMARC
 * failure the sealer recorded, results it cannot read.
 *
 * arc_aar_parse() is the bounded reader of an AAR's text (after "i=N;"):
 * authres_read() (authres.h, RFC 8601 §2.2) under the AAR's own caps
 * below; malformed or oversized text is an error.
 * Pure functions; thread-safe.
 */
#ifndef AUTHSCORE_ARC_TRUST_H
#define AUTHSCORE_ARC_TRUST_H

#include <stddef.h>

#include "arc_result.h"
#include "arena.h"
#include "authres.h"

#define ARC_AAR_MAX_BYTES   8192 /* of an AAR value we read */
#define ARC_AAR_MAX_RESULTS 32	 /* resinfos */

/* authres_read() over an AAR value of at most ARC_AAR_MAX_BYTES: 0 and
 * *count_r resinfos in out[max], or -1 with *error_r (static). */
int arc_aar_parse(const char *aar, struct arena *a, struct authres_resinfo *out, size_t max,
		  size_t *count_r, const char **error_r);

struct arc_trust_input {
	const struct arc_outcome *arc;
	const char *from_domain;       /* the Author Domain */
	const char *org_domain;	       /* its Organizational Domain, or NULL (then strict only) */
	int adkim_strict, aspf_strict; /* the policy's alignment modes */
	char *const *trusted;	       /* arc-trusted-sealers, NULL-terminated, or NULL */
};

struct arc_trust {
	int override;	    /* 1: the DMARC policy is not applied */
	const char *sealer; /* the newest set's sealer when it is trusted, or NULL */
	const char *why;    /* what the trusted sealer saw ("dmarc=pass"), or why no override */
};

void arc_trust_decide(const struct arc_trust_input *in, struct arena *a, struct arc_trust *out);
/* Could the ARC temperror have hidden an override?  (trusted sealers are
 * configured, and the newest sealer is trusted or unknown) */
int arc_trust_pending(char *const *trusted, const struct arc_outcome *arc);
/* Is the sealer domain in the list (exactly, any case, a final dot ignored)? */
int arc_trust_listed(char *const *trusted, const char *domain);

#endif

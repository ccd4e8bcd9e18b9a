/*
 * dmarc - DMARC per RFC 9989: policy discovery by the DNS tree walk,
 * identifier alignment, the result and the disposition.
 *
 * dmarc_discover_start() computes every name of the RFC 9989 §4.10 tree walk
 * for the Author Domain (at most 8) and starts them all at once, with the
 * domain-existence query np needs (§3.2.13); dmarc_discover_finish() waits
 * and applies the walk to the answers in order: the policy record that
 * applies (§4.10.1) and the Organizational Domain (§4.10.2).
 * dmarc_orgdomain_start() is the same walk without the existence query, for
 * the SPF and DKIM domains compared under relaxed alignment.  Records are
 * parsed here, strictly to §4.7/§4.8 (libopendmarc 1.4.2's parser drops a
 * whole record for one bad tag and accepts v= out of place: see dmarc.c);
 * `pct`, `rf`, `ri` are ignored.  No Public Suffix List.
 *
 * dmarc_evaluate() is pure: from the discovered policy, the SPF outcome of
 * the MAIL FROM identity (never HELO) and the DKIM results, it decides
 * pass/fail/none/temperror/permerror, which identifiers aligned, and the
 * policy to apply (p, sp for subdomains, np for non-existent subdomains,
 * one step lower when t=y).
 *
 * Memory: a discovery is malloc'd until finish or free; results are copied
 * into the caller's arena.  Thread-safety: a discovery belongs to one
 * message; dmarc_evaluate and dmarc_record_parse are pure.
 */
#ifndef AUTHSCORE_DMARC_H
#define AUTHSCORE_DMARC_H

#include "arena.h"
#include "dkim_result.h"
#include "dmarc_result.h"
#include "dns.h"
#include "spf_result.h"

/* Parse one TXT record (len bytes, need not be NUL-terminated) into the
 * record fields of *out (p, sp, np, adkim/aspf, t, psd, rua, raw, invalid).
 * Returns -1 when the text is not a DMARC record (does not start with
 * v=DMARC1, §4.7 "v"), else 0. */
int dmarc_record_parse(const char *text, size_t len, struct arena *a, struct dmarc_record *out);

struct dmarc_discovery;

/* For the Author Domain: the walk and the existence query.  Never fails: a
 * domain that is not a domain name is reported by finish (permerror). */
struct dmarc_discovery *dmarc_discover_start(struct dns *dns, const char *domain,
					     unsigned timeout_ms);
/* For an SPF or DKIM domain: the walk only (its org_domain is what counts). */
struct dmarc_discovery *dmarc_orgdomain_start(struct dns *dns, const char *domain,
					      unsigned timeout_ms);
/* Wait for every answer, fill *out (strings in a), free the discovery. */
/* Both accept *dp == NULL (nothing to do) and clear it. */
void dmarc_discover_finish(struct dmarc_discovery **dp, struct arena *a, struct dmarc_record *out);
/* Abandon a discovery without waiting (a message aborted). */
void dmarc_discover_cancel(struct dmarc_discovery **dp);
/* Abandon a discovery (abort): cancels its queries.  Accepts NULL. */
void dmarc_discover_cancel(struct dmarc_discovery **dp);

/* The Organizational Domains of the SPF and DKIM domains, discovered by the
 * caller with dmarc_orgdomain_start (NULL when not looked up because the
 * domain equals the Author Domain, or when its discovery failed: a relaxed
 * comparison that needs it is then undecided, and the result temperror
 * unless another identifier aligned).  spf_mfrom and dkim may be NULL. */
struct dmarc_inputs {
	const char *author_domain;
	const struct dmarc_record *record;
	const struct spf_outcome *spf_mfrom; /* MAIL FROM identity only */
	const char *spf_org_domain;
	const struct dkim_results *dkim;
	const char *const *dkim_org_domains; /* one per dkim->sig[i] */
};

void dmarc_evaluate(const struct dmarc_inputs *in, struct arena *a, struct dmarc_outcome *out);

#endif

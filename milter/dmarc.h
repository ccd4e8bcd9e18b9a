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
#include "dkim.h"
#include "dns.h"
#include "spf.h"

enum dmarc_result { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
enum dmarc_policy {
	DMARC_POLICY_UNSET,
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT
};

/* rua= as kept in struct dmarc_record: its first whole URIs, at most this
 * many bytes (the history store's column width, history/record.c) and
 * DMARC_RUA_URIS_MAX URIs (RFC 9989 lets a receiver limit the URIs it
 * sends to; the report module takes 16).  Whole URIs only: a URI cut short
 * would address reports to somebody else. */
#define DMARC_RUA_LEN_MAX  255
#define DMARC_RUA_URIS_MAX 16

/* The published record that applies, as discovered. */
struct dmarc_record {
	int found; /* a record applies (error may still say it is unusable) */
	enum dmarc_result
	    error; /* DMARC_TEMPERROR / DMARC_PERMERROR when discovery failed, else DMARC_NONE */
	const char *record_domain;   /* where the record was found */
	const char *org_domain;	     /* Organizational Domain of the queried domain; NULL when a
				      * DNS temporary failure hid it (the policy may still be known) */
	enum dmarc_policy p, sp, np; /* UNSET when absent */
	int adkim_strict, aspf_strict;
	int testing;	     /* t=y */
	int psd;	     /* -1 absent or u, 0 n, 1 y */
	const char *rua;     /* rua= cut to its first whole URIs (above), or NULL */
	const char *raw;     /* the record text */
	const char *invalid; /* why the record cannot be applied (§4.10.1: bad p/sp/np and no
			      * valid rua), or NULL */
	int domain_exists;   /* the queried domain: 1 exists, 0 NXDOMAIN (§3.2.13), -1 unknown
			      * or not asked */
	unsigned queries;    /* DNS queries of the tree walk (<= 8); the existence query is extra */
	const char *why;     /* for errors, or what was odd (several records, a hidden org
			      * domain): a short reason */
};

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

struct dmarc_outcome {
	enum dmarc_result result;
	const char *header_from;     /* the Author Domain */
	enum dmarc_policy policy;    /* the policy that applies to this message (after sp/np/t) */
	enum dmarc_policy published; /* p= as published at the record's domain */
	int spf_aligned, dkim_aligned;
	const char *dkim_aligned_domain; /* the d= that aligned, or NULL */
	const char *reason;		 /* plain-words explanation for logs/explain */
};

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

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif

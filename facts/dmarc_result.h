/*
 * dmarc_result - what DMARC (checks/dmarc.c) found: the policy record that
 * applies, as discovered (RFC 9989 §4.10), the outcome for the message, and
 * the names of results and policies.  Plain data, strings in the message's
 * arena; discovery and evaluation stay in the check.
 */
#ifndef AUTHSCORE_DMARC_RESULT_H
#define AUTHSCORE_DMARC_RESULT_H

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

struct dmarc_outcome {
	enum dmarc_result result;
	const char *header_from;     /* the Author Domain */
	enum dmarc_policy policy;    /* the policy that applies to this message (after sp/np/t) */
	enum dmarc_policy published; /* p= as published at the record's domain */
	int spf_aligned, dkim_aligned;
	const char *dkim_aligned_domain; /* the d= that aligned, or NULL */
	const char *reason;		 /* plain-words explanation for logs/explain */
};

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif

/*
 * spf_result - what an SPF check (checks/spf.c) found for one identity:
 * the seven RFC 7208 §2.6 results, the identity checked, and their names.
 * Plain data, strings in the message's arena; no check machinery here, so
 * the rules and the history store can read an outcome without the check.
 */
#ifndef AUTHSCORE_SPF_RESULT_H
#define AUTHSCORE_SPF_RESULT_H

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_scope { SPF_SCOPE_MFROM, SPF_SCOPE_HELO };

struct spf_outcome {
	enum spf_result result;
	enum spf_scope scope;
	const char *domain;	 /* identity's domain evaluated, NULL if none */
	const char *reason;	 /* short explanation for AR comments and logs, or NULL */
	const char *explanation; /* exp= text for a fail, or NULL */
	unsigned dns_queries;	 /* DNS-querying terms counted (RFC 7208 §4.6.4) */
	unsigned void_lookups;	 /* NXDOMAIN/NODATA answers counted */
};

const char *spf_result_name(enum spf_result r); /* "pass", "fail", ... (RFC 8601 §2.7.2) */
const char *spf_scope_name(enum spf_scope s);	/* "mfrom" or "helo" */

#endif

/*
 * dkim_result - what DKIM verification (checks/dkim.c) found: one result
 * per signature verified (RFC 8601 §2.7.1), and the names of the results.
 * Plain data, strings in the message's arena; libopendkim stays private to
 * the check.
 */
#ifndef AUTHSCORE_DKIM_RESULT_H
#define AUTHSCORE_DKIM_RESULT_H

#include <stddef.h>

/* RFC 8601 §2.7.1 */
enum dkim_result {
	DKIM_NONE,
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_POLICY,
	DKIM_NEUTRAL,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

struct dkim_sig {
	enum dkim_result result;
	const char *domain;    /* d= */
	const char *selector;  /* s= */
	const char *algorithm; /* a=, e.g. "rsa-sha256", "ed25519-sha256" */
	const char *b8;	       /* first 8 characters of b= (RFC 6008) */
	const char *reason;    /* why it did not pass, or NULL */
	unsigned key_bits;     /* 0 when unknown */
};

struct dkim_results {
	size_t count; /* signatures verified */
	struct dkim_sig *sig;
	unsigned skipped; /* signatures beyond max_signatures, not verified */
};

const char *dkim_result_name(enum dkim_result r); /* RFC 8601 names */

#endif

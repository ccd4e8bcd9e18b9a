/*
 * iprev_result - what the reverse DNS check (checks/iprev.c) found for the
 * client (RFC 8601 §3), and the names of its results (§2.7.3).  Plain
 * data, strings in the caller's arena.
 */
#ifndef AUTHSCORE_IPREV_RESULT_H
#define AUTHSCORE_IPREV_RESULT_H

enum iprev_result { IPREV_NONE, IPREV_PASS, IPREV_FAIL, IPREV_TEMPERROR, IPREV_PERMERROR };

struct iprev_outcome {
	enum iprev_result result;
	const char *name;   /* the confirmed name (pass), or the first PTR name, or NULL */
	const char *reason; /* why it did not pass, or NULL */
};

const char *iprev_result_name(enum iprev_result r);

#endif

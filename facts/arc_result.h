/*
 * arc_result - what ARC validation (RFC 8617, checks/arc.c) found in one
 * message's chain: the chain validation status, where the chain last
 * passed, and each set's sealer and recorded Authentication-Results.
 * Plain data, strings in the message's arena; the crypto stays private to
 * the check.
 */
#ifndef AUTHSCORE_ARC_RESULT_H
#define AUTHSCORE_ARC_RESULT_H

#include <stddef.h>

#define ARC_MAX_SETS 50 /* RFC 8617 §4.2.1: i= is 1..50 */

/* RFC 8617 §4.4 chain validation status, plus the DNS outcomes that are
 * not a verdict on the chain (RFC 8601 names: temperror, permerror). */
enum arc_result {
	ARC_NONE,      /* no ARC sets */
	ARC_PASS,      /* every set valid, the newest AMS verifies */
	ARC_FAIL,      /* anything else, including a structurally broken chain */
	ARC_TEMPERROR, /* a key lookup failed temporarily: no verdict on the chain */
};

/* One ARC set, instance i (1 = the oldest). */
struct arc_set {
	unsigned instance;
	const char *seal_domain;   /* ARC-Seal d= (the sealer) */
	const char *seal_selector; /* ARC-Seal s= */
	const char *cv;		   /* ARC-Seal cv= as written: "none", "pass", "fail" */
	const char *ams_domain;	   /* ARC-Message-Signature d= */
	int ams_valid;		   /* this set's AMS verified against the current message */
	const char *aar;	   /* ARC-Authentication-Results after "i=N;" (the
				      authserv-id and results the sealer recorded) */
};

struct arc_outcome {
	enum arc_result result;
	const char *reason; /* why fail / temperror, or NULL */
	/* the sets in instance order, for the rules, the header and the log;
	 * empty when the chain is structurally broken past recognition */
	const struct arc_set *sets;
	size_t set_count;
	/* RFC 8617 §5.2: the oldest instance whose AMS still verifies, for
	 * header.oldest-pass; 0 when unknown or none */
	unsigned oldest_pass;
};

const char *arc_result_name(enum arc_result r); /* RFC 8601 names */

#endif

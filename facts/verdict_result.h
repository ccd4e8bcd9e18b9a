/*
 * verdict_result - what was decided for a message (milter/verdict.c
 * decides): the action, its SMTP reply and why, and the names of the
 * actions.  Plain data, so the history store records a verdict without
 * the daemon; strings are static or in the message's arena.
 */
#ifndef AUTHSCORE_VERDICT_RESULT_H
#define AUTHSCORE_VERDICT_RESULT_H

#include "dmarc_result.h"

enum verdict_action {
	VERDICT_ACCEPT,
	VERDICT_TAG,	    /* deliver, marked as suspicious */
	VERDICT_QUARANTINE, /* deliver to the MTA's hold queue */
	VERDICT_TEMPFAIL,
	VERDICT_REJECT,
	VERDICT_DISCARD, /* accept and drop: a rule's forced action only */
};

struct verdict {
	enum verdict_action action;
	const char *rcode; /* "550", "451"; NULL unless reject or tempfail */
	const char *xcode; /* enhanced status code, RFC 3463 */
	const char *text;  /* reply text, or the quarantine reason */
	const char *why;   /* short reason for the log line */
	enum dmarc_policy dmarc_disposition; /* what was done for DMARC: none, quarantine, reject */
	int by_rules;			     /* the rules decided the action */
};

const char *verdict_action_name(enum verdict_action action);

#endif

/*
 * verdict - from the facts of a message to one action and its SMTP reply.
 *
 * verdict_decide() is a pure function of the configuration and the facts:
 * `authscore test` and the daemon call the same one.  Precedence, first
 * match wins: an unusable From; a DMARC policy that could not be
 * discovered; a DMARC failure under an enforcing policy (where a DKIM or
 * SPF lookup that failed temporarily could have changed the result, the
 * temporary-error action wins: never a wrong reject or quarantine); then
 * the SPF actions, unless DMARC passed.  Reply strings are static or in
 * the message's arena.  Thread-safe.
 */
#ifndef AUTHSCORE_VERDICT_H
#define AUTHSCORE_VERDICT_H

#include "arena.h"
#include "conf.h"
#include "facts.h"

enum verdict_action {
	VERDICT_ACCEPT,
	VERDICT_TAG,	    /* deliver, marked as suspicious */
	VERDICT_QUARANTINE, /* deliver to the MTA's hold queue */
	VERDICT_TEMPFAIL,
	VERDICT_REJECT,
};

struct verdict {
	enum verdict_action action;
	const char *rcode; /* "550", "451"; NULL unless reject or tempfail */
	const char *xcode; /* enhanced status code, RFC 3463 */
	const char *text;  /* reply text, or the quarantine reason */
	const char *why;   /* short reason for the log line */
	enum dmarc_policy dmarc_disposition; /* what was done for DMARC: none, quarantine, reject */
};

void verdict_decide(const struct conf *conf, const struct facts *f, struct arena *a,
		    struct verdict *v);
const char *verdict_action_name(enum verdict_action action);

#endif

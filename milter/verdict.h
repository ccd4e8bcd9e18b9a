/*
 * verdict - from the facts of a message to one action and its SMTP reply.
 *
 * verdict_decide() is a pure function of the configuration and the facts:
 * `authscore test` and the daemon call the same one.  The reply strings
 * are static or in the message's arena.  Thread-safe.
 */
#ifndef AUTHSCORE_VERDICT_H
#define AUTHSCORE_VERDICT_H

#include "arena.h"
#include "conf.h"
#include "facts.h"

enum verdict_action { VERDICT_ACCEPT, VERDICT_TEMPFAIL, VERDICT_REJECT };

struct verdict {
	enum verdict_action action;
	const char *rcode; /* "550", "451"; NULL for accept */
	const char *xcode; /* enhanced status code, RFC 3463 */
	const char *text;  /* reply text */
	const char *why;   /* short reason for the log line */
};

void verdict_decide(const struct conf *conf, const struct facts *f, struct arena *a,
		    struct verdict *v);
const char *verdict_action_name(enum verdict_action action);

#endif

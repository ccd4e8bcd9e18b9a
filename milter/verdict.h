/*
 * verdict - from the facts of a message to one action and its SMTP reply.
 *
 * verdict_decide() is a pure function of the configuration and the facts:
 * `authscore test` and the daemon call the same one.  Precedence, first
 * match wins: an unusable From; a DMARC policy that could not be
 * discovered; a DMARC failure under an enforcing policy (where a DKIM or
 * SPF lookup that failed temporarily could have changed the result, the
 * temporary-error action wins: never a wrong reject or quarantine); then
 * the SPF actions, unless DMARC passed.  Then the rules: a reject,
 * discard or tempfail they force or score wins over a protocol accept, tag
 * or quarantine (but never over a protocol tempfail or reject); otherwise
 * the more severe of the two.  A message whose checks are skipped is
 * accepted, or deferred (451 4.7.1) when it exceeded a rate limit: the
 * rules never see it.  Reply strings are static or in the
 * message's arena.  Thread-safe.
 */
#ifndef AUTHSCORE_VERDICT_H
#define AUTHSCORE_VERDICT_H

#include "arena.h"
#include "conf.h"
#include "facts.h"
#include "rules.h"
#include "verdict_result.h"

/* rv: the rules' verdict on the same facts, or NULL */
void verdict_decide(const struct conf *conf, const struct facts *f,
		    const struct rules_verdict *rv, struct arena *a, struct verdict *v);

#endif

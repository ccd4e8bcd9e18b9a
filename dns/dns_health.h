/*
 * dns_health - is the resolver getting answers at all?
 *
 * With outbound DNS blocked (a common firewall default) every lookup times
 * out and every message gets the on-*-temperror action; per message that
 * looks like bad luck.  dns.c reports here every answer that came from the
 * network (or ran out of time); cache hits are no evidence either way.  A
 * run of DNS_HEALTH_FAILURES temporary failures in a row (SERVFAIL,
 * timeout, resolver error), across messages, marks DNS as down and logs
 * ONE line saying so and what messages get meanwhile; the first answer
 * after that marks it up again and logs one line.  Nothing is logged per
 * message.  An NXDOMAIN or NODATA is an answer: DNS works.
 *
 * The start-up probe (main.c) asks one name; its failure marks DNS down at
 * once with dns_health_mark_down(), its caller logging the line.
 * Thread-safe: a mutex; lines are logged outside it.
 */
#ifndef AUTHSCORE_DNS_HEALTH_H
#define AUTHSCORE_DNS_HEALTH_H

#include <stdint.h>

#define DNS_HEALTH_FAILURES 10 /* failed lookups in a row that mean "down" */

struct dns_health_stats {
	int up;		   /* 1 until a run of failures, or a failed probe */
	uint64_t failures; /* lookups that ended in a temporary failure */
	uint64_t timeouts; /* among them, those that ran out of time */
	uint64_t outages;  /* times DNS was marked down */
	unsigned run;	   /* failures since the last answer */
};

/* One lookup's outcome: failed (a temporary failure), timed_out among
 * them; why (e.g. "timeout", "SERVFAIL") and name for the log line. */
void dns_health_record(int failed, int timed_out, const char *why, const char *name);
/* What messages get while DNS fails, for the log line ("tempfail
 * (on-spf-temperror, ...)"); set at start and at every reload. */
void dns_health_set_consequence(const char *text);
/* The text set above, copied into buf. */
void dns_health_consequence(char *buf, size_t size);
/* Down now, without a log line (the caller wrote one). */
void dns_health_mark_down(void);
void dns_health_get(struct dns_health_stats *s);
/* Tests only: back to the start state. */
void dns_health_reset(void);

#endif

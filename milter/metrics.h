/*
 * metrics - the daemon's counters, and their Prometheus text exposition.
 *
 * Every counter is a C11 atomic in a static table: the message path only
 * does relaxed atomic adds, never takes a lock and never allocates, except
 * the first time a rule name or DNS list zone is seen, when it claims a
 * slot of a fixed-size, insert-only hash table with one compare-and-swap
 * (names come from the admin's rules and configuration, so the table fills
 * once; a reload that brings new names takes new slots, old ones keep
 * their counts, and names past METRICS_NAMES_MAX are summed under
 * "_other").  Nothing here knows HTTP: metrics_render() writes the text
 * exposition format 0.0.4 into a buffer, from any thread, at any time;
 * metrics_http.c serves it.  Counts are process-wide and start at zero;
 * `authscore test` links this module too and simply never shows them.
 * The checks count their DNS answers in their own counters
 * (checks/metrics_dns.h), which this module reads when it renders; it
 * reads the checks' results (facts.h) at the end of a message.  Thread-safe.
 */
#ifndef AUTHSCORE_METRICS_H
#define AUTHSCORE_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "facts.h"
#include "metrics_dns.h"
#include "verdict.h"

#define METRICS_NAMES_MAX COUNTER_NAMES_MAX /* per table: rules, monitor rules, DNS list zones */

/* The latency histograms. */
enum metrics_phase {
	METRICS_PHASE_MESSAGE,	/* MAIL FROM to the verdict */
	METRICS_PHASE_DNS_WAIT, /* at end of message, waiting for the checks' answers */
	METRICS_PHASE_RULES,	/* rules evaluation */
	METRICS_PHASE_CONTENT,	/* the body's MIME walk, text and links (content.c) */
	METRICS_PHASES
};

/* Figures the daemon gathers at scrape time (the history store). */
struct metrics_extra {
	int have_store;
	uint64_t store_queued, store_written, store_spooled, store_reloaded, store_dropped;
	unsigned store_queue_depth;
	long long spool_bytes; /* -1: no spool file */
	/* the resolver's health (dns_health.h); only the daemon has it */
	int have_dns_health;
	int dns_up;
	uint64_t dns_failures, dns_timeouts, dns_outages;
};

void metrics_start(const char *version); /* once, at start-up: up since, version */

/* metrics_dns() and metrics_spf_dns(), the DNS answers the checks
 * consume, are the checks' own counters: see checks/metrics_dns.h. */
/* A connection; trusted ones are accepted at connect, with no message line. */
void metrics_connection(int trusted);
/* One message, with the same facts and verdict as its summary log line. */
void metrics_message(const struct facts *f, const struct verdict *v);
void metrics_observe(enum metrics_phase phase, uint64_t usec);
/* A DKIM signature authscore added to outgoing mail, by key and algorithm;
 * a message it could not sign. */
void metrics_dkim_signed(const char *domain, const char *selector, const char *alg);
void metrics_dkim_sign_error(void);
/* This host's ARC set added to a message (arc-seal), or not for an error. */
void metrics_arc_sealed(int ok);
void metrics_reload(int ok);

/* The whole exposition; -1 if it did not fit the buffer. */
int metrics_render(struct buf *b, const struct metrics_extra *extra);

#endif

/*
 * metrics_uribl - the URL block lists' figures for the Prometheus
 * endpoint (issue 19): how many of the links' domains each checked
 * message asked of the uribl(zone) lists (a histogram), and how many were
 * left out over uribl-max-domains.  The DNS answers themselves are counted
 * per zone with the other lists (authscore_dns_*{kind="dnsbl"}).
 * metrics.c calls both functions; relaxed atomics, thread-safe.
 */
#ifndef AUTHSCORE_METRICS_URIBL_H
#define AUTHSCORE_METRICS_URIBL_H

#include <stddef.h>

#include "buf.h"
#include "facts.h"

/* Of one message's facts: the links' domains asked (those of the
 * IDENT_URI listings of one list) and those left out over the cap. */
void metrics_uribl_counts(const struct facts *f, size_t *asked_r, size_t *over_r);
/* One checked message (metrics_message). */
void metrics_uribl_message(const struct facts *f);
void metrics_uribl_render(struct buf *b);

#endif

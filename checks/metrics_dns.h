/*
 * metrics_dns - the one counter the checks feed: a DNS answer consumed.
 *
 * The checks' own counters: the checks (dkim, dmarc, dnsbl, iprev) count
 * the DNS answers they consume here, per kind of check and per DNS list
 * zone, and know nothing of the daemon's metrics; milter/metrics.c reads
 * these counters when it renders, and never comes back to the checks.
 * metrics_dns() is a few relaxed atomic adds, no lock, no allocation
 * except the first time a DNS list zone is seen (util/counters.h).
 * Thread-safe.
 */
#ifndef AUTHSCORE_METRICS_DNS_H
#define AUTHSCORE_METRICS_DNS_H

#include <stdint.h>

#include "counters.h"
#include "dns.h"
#include "spf_result.h"

/* Where a DNS answer was consumed. */
enum metrics_dns_kind {
	METRICS_DNS_DNSBL, /* IP and domain lists */
	METRICS_DNS_IPREV,
	METRICS_DNS_SPF,
	METRICS_DNS_DKIM,
	METRICS_DNS_DMARC,
	METRICS_DNS_KINDS
};

/* The counters of each kind, and of each zone. */
enum metrics_dns_col {
	METRICS_DNS_QUERIES,  /* answers consumed */
	METRICS_DNS_RECORDS,  /* of them, with records */
	METRICS_DNS_ERRORS,   /* temporary errors */
	METRICS_DNS_TIMEOUTS, /* of them, timeouts */
	METRICS_DNS_COLS
};

/* One answer consumed by a check; zone: the DNS list's, or NULL. */
void metrics_dns(enum metrics_dns_kind kind, const char *zone, enum dns_status status,
		 int timed_out);
/* The SPF queries of one outcome (libspf2 does its own lookups, so they
 * are counted from the outcome once the check is done). */
void metrics_spf_dns(const struct spf_outcome *o);

/* For the renderer: a kind's counter, and the table per zone (rows of
 * METRICS_DNS_COLS counters). */
uint64_t metrics_dns_get(enum metrics_dns_kind kind, enum metrics_dns_col col);
struct counter_names *metrics_dns_zones(void);

#endif

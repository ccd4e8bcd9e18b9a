/*
 * metrics_dns - the one counter the checks feed: a DNS answer consumed.
 *
 * The narrow side of metrics: the checks (dkim, dmarc, dnsbl, iprev)
 * include this header, not metrics.h, so they depend on no more of
 * metrics than this call, and metrics.h, which reads their results at the
 * end of a message, does not come back to them.  metrics_dns() is
 * implemented in metrics.c: a few relaxed atomic adds, no lock, no
 * allocation except the first time a DNS list zone is seen (see
 * metrics.h).  Thread-safe.
 */
#ifndef AUTHSCORE_METRICS_DNS_H
#define AUTHSCORE_METRICS_DNS_H

#include "dns.h"

/* Where a DNS answer was consumed. */
enum metrics_dns_kind {
	METRICS_DNS_DNSBL, /* IP and domain lists */
	METRICS_DNS_IPREV,
	METRICS_DNS_SPF,
	METRICS_DNS_DKIM,
	METRICS_DNS_DMARC,
	METRICS_DNS_KINDS
};

/* One answer consumed by a check; zone: the DNS list's, or NULL. */
void metrics_dns(enum metrics_dns_kind kind, const char *zone, enum dns_status status,
		 int timed_out);

#endif

/*
 * metrics_dns - the DNS answers the checks consume, counted (see
 * metrics_dns.h).
 */
#include "config.h"

#include <string.h>

#include "metrics_dns.h"

static counter rows[METRICS_DNS_KINDS][METRICS_DNS_COLS];
static struct counter_names zones;

static void count(counter *row, enum dns_status status, int timed_out)
{
	counter_add(&row[METRICS_DNS_QUERIES], 1);
	if (status == DNS_OK)
		counter_add(&row[METRICS_DNS_RECORDS], 1);
	else if (status == DNS_TEMPFAIL)
		counter_add(&row[METRICS_DNS_ERRORS], 1);
	if (timed_out)
		counter_add(&row[METRICS_DNS_TIMEOUTS], 1);
}

void metrics_dns(enum metrics_dns_kind kind, const char *zone, enum dns_status status,
		 int timed_out)
{
	if ((unsigned)kind >= METRICS_DNS_KINDS)
		return;
	count(rows[kind], status, timed_out);
	if (zone != NULL)
		count(zones.count[counter_names_row(&zones, zone)], status, timed_out);
}

void metrics_spf_dns(const struct spf_outcome *o)
{
	counter *row = rows[METRICS_DNS_SPF];

	/* RFC 7208 §4.6.4 counts the terms that query; the record's own TXT
	 * lookup comes on top whenever there was a domain to ask about. */
	counter_add(&row[METRICS_DNS_QUERIES], o->dns_queries + (o->domain != NULL));
	if (o->result == SPF_TEMPERROR) {
		counter_add(&row[METRICS_DNS_ERRORS], 1);
		if (o->reason != NULL && strcmp(o->reason, "DNS timeout") == 0)
			counter_add(&row[METRICS_DNS_TIMEOUTS], 1);
	}
}

uint64_t metrics_dns_get(enum metrics_dns_kind kind, enum metrics_dns_col col)
{
	if ((unsigned)kind >= METRICS_DNS_KINDS || (unsigned)col >= METRICS_DNS_COLS)
		return 0;
	return counter_get(&rows[kind][col]);
}

struct counter_names *metrics_dns_zones(void)
{
	return &zones;
}

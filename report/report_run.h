/*
 * report_run - one period's reports, from aggregate to delivery.
 *
 * For each policy domain of an aggregate: skip it when the ledger says its
 * report for the period was sent; build the XML, validate it (a report
 * that fails is never sent: it is logged and kept in failed_dir); gzip
 * it; read the rua=, drop unusable, suppressed, unauthorised external and
 * too-small (!size) destinations, each with a log line; compose the
 * message and hand it to the sender (or, in dry-run, write the .xml.gz and
 * .eml into a directory), then record it in the ledger.  A domain whose
 * destinations could not be checked (DNS temporary failure) or whose
 * sending failed is left unmarked, so the next run retries it.
 *
 * The ledger, the sender and the resolver are seams: the command passes
 * the store, report_send() and dns/dns.c; the tests pass fakes.
 * Not thread-safe.
 */
#ifndef AUTHSCORE_REPORT_RUN_H
#define AUTHSCORE_REPORT_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "report_agg.h"
#include "report_xml.h"

struct report_ledger {
	int (*sent)(void *arg, const char *domain, int64_t begin, int64_t end);
	int (*mark)(void *arg, const char *domain, int64_t begin, int64_t end,
		    const char *report_id, char **error_r);
	void *arg;
};

struct report_sender {
	/* 0 when queued; -1 with a malloc'd *error_r */
	int (*send)(void *arg, const char *from, const char *const *rcpts, size_t count,
		    const char *msg, size_t len, char **error_r);
	void *arg;
};

struct report_run_options {
	const char *org_name, *email; /* report_metadata; email is also From */
	const char *receiver;	      /* our domain (file name, Submitter) */
	const char *generator;	      /* NULL to omit */
	int64_t begin, end;	      /* the period, end exclusive */
	int64_t now;		      /* Date: of the messages */
	const char *only_domain;      /* NULL: every domain */
	const char *dry_run_dir;      /* write files here instead of sending */
	const char *failed_dir;	      /* invalid reports are kept here (created) */
	char *const *suppress;	      /* NULL-terminated; may be NULL */
	struct dns *dns;	      /* for _report._dmarc; NULL: externals skipped */
	unsigned dns_timeout_ms;
	struct report_schema *schema;
	const struct report_ledger *ledger; /* may be NULL (dry-run) */
	const struct report_sender *sender; /* unused in dry-run */
};

struct report_run_stats {
	unsigned domains, already_sent, invalid, no_destination, sent, written, failed;
};

/* 0 when every domain was handled (sent, written or skipped for good);
 * 1 when some must be retried or failed validation. */
int report_run(const struct report_run_options *o, struct report_agg *agg,
	       struct report_run_stats *stats);

#endif

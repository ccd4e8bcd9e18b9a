/*
 * report_agg - history records grouped into RFC 9990 aggregate-report rows.
 *
 * report_agg_add() takes history records (any order, any number) and files
 * each under its policy domain (where the DMARC record was found; records
 * without one are skipped: there is nobody to report to).  Every value is
 * mapped to the schema's enumerations first, then records whose source IP,
 * disposition, evaluated DKIM/SPF, override, identifiers and auth results
 * are equal collapse into one row with a count.  The published policy and
 * rua of a domain are those of its latest record.
 *
 * The aggregator owns copies of everything (its own arena); report_agg_free
 * releases them.  Domains come out sorted by name, rows in first-seen
 * order, so the same records always give the same document.
 * Not thread-safe: one owner.
 */
#ifndef AUTHSCORE_REPORT_AGG_H
#define AUTHSCORE_REPORT_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct report_row {
	const char *source_ip;
	/* policy_evaluated: disposition none|pass|quarantine|reject,
	 * dkim and spf pass|fail, override a PolicyOverrideType or NULL */
	const char *disposition, *dkim_eval, *spf_eval, *override;
	/* identifiers; envelope_from NULL when unknown */
	const char *header_from, *envelope_from;
	/* auth_results: spf omitted when spf_domain is NULL; spf_scope is
	 * "mfrom" or NULL (the schema knows no other scope) */
	const char *spf_domain, *spf_scope, *spf_result;
	struct record_dkim dkim[RECORD_MAX_DKIM];
	size_t dkim_count;
	uint64_t count;
};

struct report_policy {
	const char *domain;	 /* lower case */
	const char *p, *sp, *np; /* DispositionType, NULL when not published */
	int adkim_strict, aspf_strict, testing;
	const char *discovery; /* psl|treewalk */
	const char *rua;       /* raw rua= value, or NULL */
	int64_t last_time;     /* of the record the policy was taken from */
};

struct report_domain {
	struct report_policy policy;
	struct report_row **rows;
	size_t row_count;
	uint64_t messages;
};

struct report_agg;

struct report_agg *report_agg_new(void);
void report_agg_free(struct report_agg **aggp);
/* Returns 1 when the record was counted, 0 when skipped (no policy domain). */
int report_agg_add(struct report_agg *agg, const struct history_record *r);
/* Domains sorted by name (the order is fixed by the first call). */
size_t report_agg_domain_count(struct report_agg *agg);
const struct report_domain *report_agg_domain(struct report_agg *agg, size_t i);
uint64_t report_agg_skipped(const struct report_agg *agg);

/* The schema's enumerations (RFC 9990 Appendix A); unknown values are
 * mapped as documented in the .c file.  Return static strings. */
const char *report_agg_spf_result(const char *result);
const char *report_agg_dkim_result(const char *result);
const char *report_agg_policy(const char *p); /* NULL when not a DispositionType */

#endif

/*
 * metrics - atomic counters and the Prometheus text exposition (see
 * metrics.h).  The fixed families are arrays indexed by the checks' own
 * enums; the families labelled by a name (rule, signing key) are
 * util/counters.h's `struct counter_names`.  The checks' DNS counters are
 * theirs (checks/metrics_dns.c); this file only reads them.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_uribl.h"

/* The column of the per-name tables. */
enum { C_HITS = 0 };

#define N_ACTIONS (VERDICT_DISCARD + 1)
#define N_SPF	  (SPF_PERMERROR + 1)
#define N_DKIM	  (DKIM_PERMERROR + 1)
#define N_DMARC	  (DMARC_PERMERROR + 1)
#define N_ARC	  (ARC_TEMPERROR + 1)
#define N_IPREV	  (IPREV_PERMERROR + 1)

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {1000,    2500,    5000,	 10000,	   25000,
				     50000,   100000,  250000,	 500000,   1000000,
				     2500000, 5000000, 10000000, 30000000, 60000000};
#define N_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

enum skip_reason { SKIP_TRUSTED, SKIP_AUTHENTICATED, SKIP_OTHER, SKIP_REASONS };
static const char *const skip_names[] = {"trusted_network", "authenticated", "other"};

static const char *const dns_kind_names[] = {
    [METRICS_DNS_DNSBL] = "dnsbl", [METRICS_DNS_IPREV] = "iprev", [METRICS_DNS_SPF] = "spf",
    [METRICS_DNS_DKIM] = "dkim",   [METRICS_DNS_DMARC] = "dmarc",
};
static const char *const phase_names[] = {
    [METRICS_PHASE_MESSAGE] = "message",
    [METRICS_PHASE_DNS_WAIT] = "dns_wait",
    [METRICS_PHASE_RULES] = "rules",
    [METRICS_PHASE_CONTENT] = "content",
};

/* The body's content (facts/content_result.h): URLs per message buckets,
 * what went over the bounds. */
static const uint64_t url_bucket[] = {0, 1, 2, 5, 10, 20, 50, 100, 200, 500};
#define N_URL_BUCKETS (sizeof(url_bucket) / sizeof(url_bucket[0]))
enum content_skip { CS_PARTS, CS_URLS, CS_TEXT_BYTES, CS_BODY_BYTES, CONTENT_SKIPS };
static const char *const content_skip_names[] = {"parts", "urls", "text_bytes", "body_bytes"};

static struct {
	counter connections[2]; /* [trusted] */
	counter messages[N_ACTIONS];
	counter skipped[SKIP_REASONS];
	counter spf[2][N_SPF]; /* [scope][result] */
	counter dkim[N_DKIM];
	counter dmarc[N_DMARC];
	counter arc[N_ARC];
	counter arc_overrides; /* DMARC failures a trusted ARC sealer's results overrode */
	counter arc_seals[2];  /* [ok]: this host's ARC sets, failed and added */
	counter iprev[N_IPREV];
	counter buckets[METRICS_PHASES][N_BUCKETS + 1]; /* the last one is +Inf */
	counter sum_us[METRICS_PHASES];
	counter reloads, reload_failures;
	counter dkim_sign_errors;
	counter content_messages, content_parts, content_archive_members;
	counter content_urls[N_URL_BUCKETS + 1]; /* distinct URLs per message; the last +Inf */
	counter content_urls_sum;
	counter content_skipped[CONTENT_SKIPS];
	_Atomic long long started;
	_Atomic(const char *) version;
} m;

static struct counter_names rules_tab, monitors_tab;
static struct counter_names signed_tab; /* "domain selector algorithm": the keys are the admin's */

void metrics_start(const char *version)
{
	atomic_store(&m.started, (long long)time(NULL));
	atomic_store(&m.version, version);
}

void metrics_connection(int trusted)
{
	counter_add(&m.connections[trusted != 0], 1);
}

static enum skip_reason skip_reason(const char *why)
{
	if (strcmp(why, "trusted network") == 0)
		return SKIP_TRUSTED;
	if (strcmp(why, "authenticated") == 0)
		return SKIP_AUTHENTICATED;
	return SKIP_OTHER;
}

/* One more hit for name in a table by name. */
static void name_hit(struct counter_names *t, const char *name)
{
	counter_add(&t->count[counter_names_row(t, name)][C_HITS], 1);
}

static void content_count(const struct content_facts *c)
{
	size_t b = 0;

	counter_add(&m.content_messages, 1);
	for (size_t i = 0; i < c->part_count; i++)
		counter_add(c->parts[i].in_archive ? &m.content_archive_members : &m.content_parts,
			    1);
	while (b < N_URL_BUCKETS && c->url_count > url_bucket[b])
		b++;
	counter_add(&m.content_urls[b], 1);
	counter_add(&m.content_urls_sum, c->url_count);
	counter_add(&m.content_skipped[CS_PARTS], c->skipped_parts);
	counter_add(&m.content_skipped[CS_URLS], c->skipped_urls);
	counter_add(&m.content_skipped[CS_TEXT_BYTES], c->skipped_text_bytes);
	counter_add(&m.content_skipped[CS_BODY_BYTES], c->skipped_body_bytes);
}

void metrics_message(const struct facts *f, const struct verdict *v)
{
	if ((unsigned)v->action < N_ACTIONS)
		counter_add(&m.messages[v->action], 1);
	if (f->skipped != NULL) {
		counter_add(&m.skipped[skip_reason(f->skipped)], 1);
		return;
	}
	if ((unsigned)f->spf_mfrom.result < N_SPF)
		counter_add(&m.spf[SPF_SCOPE_MFROM][f->spf_mfrom.result], 1);
	if ((unsigned)f->spf_helo.result < N_SPF)
		counter_add(&m.spf[SPF_SCOPE_HELO][f->spf_helo.result], 1);
	if (f->dkim.count == 0)
		counter_add(&m.dkim[DKIM_NONE], 1);
	for (size_t i = 0; i < f->dkim.count; i++)
		if ((unsigned)f->dkim.sig[i].result < N_DKIM)
			counter_add(&m.dkim[f->dkim.sig[i].result], 1);
	if ((unsigned)f->dmarc.result < N_DMARC)
		counter_add(&m.dmarc[f->dmarc.result], 1);
	if ((unsigned)f->arc.result < N_ARC)
		counter_add(&m.arc[f->arc.result], 1);
	if (f->arc_override_by != NULL)
		counter_add(&m.arc_overrides, 1);
	if ((unsigned)f->iprev.result < N_IPREV)
		counter_add(&m.iprev[f->iprev.result], 1);
	for (size_t i = 0; i < f->rules_hit_count; i++)
		name_hit(&rules_tab, f->rules_hit[i]);
	for (size_t i = 0; i < f->monitors_hit_count; i++)
		name_hit(&monitors_tab, f->monitors_hit[i]);
	if (f->content.scanned)
		content_count(&f->content);
	metrics_uribl_message(f);
}

void metrics_observe(enum metrics_phase phase, uint64_t usec)
{
	size_t b = 0;

	if ((unsigned)phase >= METRICS_PHASES)
		return;
	while (b < N_BUCKETS && usec > bucket_us[b])
		b++;
	counter_add(&m.buckets[phase][b], 1);
	counter_add(&m.sum_us[phase], usec);
}

void metrics_reload(int ok)
{
	counter_add(ok ? &m.reloads : &m.reload_failures, 1);
}

/* ---------------------------------------------------------- exposition */

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \\, \" and \n escaped (exposition format 0.0.4); a byte
 * that is not UTF-8 becomes '?', since label values must be UTF-8. */
static void label_value(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t len = json_utf8_len(p + i, n - i);

		if (len == 0) {
			buf_append(b, "?", 1);
			i++;
		} else if (p[i] == '\\' || p[i] == '"') {
			buf_append(b, "\\", 1);
			buf_append(b, p + i++, 1);
		} else if (p[i] == '\n') {
			buf_puts(b, "\\n");
			i++;
		} else {
			buf_append(b, p + i, len);
			i += len;
		}
	}
}

static void sample(struct buf *b, const char *name, const char *label, const char *value,
		   uint64_t n)
{
	buf_puts(b, name);
	if (label != NULL) {
		buf_printf(b, "{%s=\"", label);
		label_value(b, value);
		buf_puts(b, "\"}");
	}
	buf_printf(b, " %llu\n", (unsigned long long)n);
}

static void sample2(struct buf *b, const char *name, const char *l1, const char *v1, const char *l2,
		    const char *v2, uint64_t n)
{
	buf_printf(b, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, l1, v1, l2, v2,
		   (unsigned long long)n);
}

static void names_samples(struct buf *b, struct counter_names *t, const char *name,
			  const char *label, int col)
{
	for (size_t i = 0; i <= COUNTER_NAMES_MAX; i++) {
		const char *n = counter_names_name(t, i);

		if (n != NULL && (i < COUNTER_NAMES_MAX || counter_get(&t->count[i][col]) > 0))
			sample(b, name, label, n, counter_get(&t->count[i][col]));
	}
}

static const char *spf_name(unsigned r)
{
	return spf_result_name((enum spf_result)r);
}

/* one counter column of the DNS tables, as a metric family */
struct column {
	int col;
	const char *name, *help;
};
static const struct column dns_cols[] = {
    {METRICS_DNS_QUERIES, "authscore_dns_queries_total", "DNS answers consumed by the checks"},
    {METRICS_DNS_RECORDS, "authscore_dns_answers_with_records_total",
     "DNS answers that carried records"},
    {METRICS_DNS_ERRORS, "authscore_dns_errors_total",
     "DNS temporary errors (SERVFAIL, timeout, resolver failure)"},
    {METRICS_DNS_TIMEOUTS, "authscore_dns_timeouts_total", "DNS queries that ran out of time"},
};
static const struct column zone_cols[] = {
    {METRICS_DNS_QUERIES, "authscore_dnsbl_queries_total", "DNS list answers consumed, per zone"},
    {METRICS_DNS_RECORDS, "authscore_dnsbl_answers_with_records_total",
     "DNS list answers with records (a listing or a refusal code), per zone"},
    {METRICS_DNS_ERRORS, "authscore_dnsbl_errors_total", "DNS list temporary errors, per zone"},
    {METRICS_DNS_TIMEOUTS, "authscore_dnsbl_timeouts_total", "DNS list timeouts, per zone"},
};

/* The process: build, start time, connections, messages. */
static void render_process(struct buf *b)
{
	const char *version = atomic_load(&m.version);

	family(b, "authscore_build_info", "gauge", "Always 1; the version is a label");
	sample(b, "authscore_build_info", "version", version != NULL ? version : "unknown", 1);
	family(b, "authscore_start_time_seconds", "gauge",
	       "When the daemon started, in seconds since the Unix epoch");
	buf_printf(b, "authscore_start_time_seconds %lld\n", (long long)atomic_load(&m.started));

	family(
	    b, "authscore_connections_total", "counter",
	    "SMTP connections; trusted networks are accepted at connect, unchecked and unlogged");
	sample(b, "authscore_connections_total", "trusted", "no", counter_get(&m.connections[0]));
	sample(b, "authscore_connections_total", "trusted", "yes", counter_get(&m.connections[1]));
	family(b, "authscore_messages_total", "counter",
	       "Messages by the action taken (one per summary log line)");
	for (unsigned a = 0; a < N_ACTIONS; a++)
		sample(b, "authscore_messages_total", "action",
		       verdict_action_name((enum verdict_action)a), counter_get(&m.messages[a]));
	family(b, "authscore_messages_skipped_total", "counter",
	       "Messages accepted unchecked, by the reason");
	for (unsigned r = 0; r < SKIP_REASONS; r++)
		sample(b, "authscore_messages_skipped_total", "reason", skip_names[r],
		       counter_get(&m.skipped[r]));
}

/* The checks' results, then the rules that fired. */
static void render_results(struct buf *b)
{
	family(b, "authscore_spf_results_total", "counter",
	       "SPF results of checked messages, by identity (mfrom, helo)");
	for (unsigned s = 0; s < 2; s++)
		for (unsigned r = 0; r < N_SPF; r++)
			sample2(b, "authscore_spf_results_total", "scope",
				spf_scope_name((enum spf_scope)s), "result", spf_name(r),
				counter_get(&m.spf[s][r]));
	family(b, "authscore_dkim_results_total", "counter",
	       "DKIM results, one per verified signature; none for a message without one");
	for (unsigned r = 0; r < N_DKIM; r++)
		sample(b, "authscore_dkim_results_total", "result",
		       dkim_result_name((enum dkim_result)r), counter_get(&m.dkim[r]));
	family(b, "authscore_dmarc_results_total", "counter", "DMARC results of checked messages");
	for (unsigned r = 0; r < N_DMARC; r++)
		sample(b, "authscore_dmarc_results_total", "result",
		       dmarc_result_name((enum dmarc_result)r), counter_get(&m.dmarc[r]));
	family(b, "authscore_arc_results_total", "counter",
	       "ARC chain results of checked messages (RFC 8617); none without ARC sets");
	for (unsigned r = 0; r < N_ARC; r++)
		sample(b, "authscore_arc_results_total", "result",
		       arc_result_name((enum arc_result)r), counter_get(&m.arc[r]));
	family(b, "authscore_arc_overrides_total", "counter",
	       "DMARC failures not enforced because a trusted ARC sealer saw them pass");
	sample(b, "authscore_arc_overrides_total", NULL, NULL, counter_get(&m.arc_overrides));
	family(b, "authscore_arc_seals_total", "counter", "ARC sets this host added (arc-seal)");
	sample(b, "authscore_arc_seals_total", NULL, NULL, counter_get(&m.arc_seals[1]));
	family(b, "authscore_arc_seal_errors_total", "counter",
	       "Messages that arc-seal would have sealed but could not");
	sample(b, "authscore_arc_seal_errors_total", NULL, NULL, counter_get(&m.arc_seals[0]));
	family(b, "authscore_iprev_results_total", "counter",
	       "Reverse DNS (iprev) results of checked messages");
	for (unsigned r = 0; r < N_IPREV; r++)
		sample(b, "authscore_iprev_results_total", "result",
		       iprev_result_name((enum iprev_result)r), counter_get(&m.iprev[r]));

	family(b, "authscore_rule_hits_total", "counter", "Scoring rules that fired, per rule");
	names_samples(b, &rules_tab, "authscore_rule_hits_total", "rule", C_HITS);
	family(b, "authscore_monitor_rule_hits_total", "counter",
	       "Monitor rules that fired (logged, never scored), per rule");
	names_samples(b, &monitors_tab, "authscore_monitor_rule_hits_total", "rule", C_HITS);
}

/* The DNS answers per check, then per DNS list zone. */
static void render_dns(struct buf *b)
{
	for (size_t c = 0; c < sizeof(dns_cols) / sizeof(dns_cols[0]); c++) {
		family(b, dns_cols[c].name, "counter", dns_cols[c].help);
		for (unsigned k = 0; k < METRICS_DNS_KINDS; k++)
			sample(b, dns_cols[c].name, "kind", dns_kind_names[k],
			       metrics_dns_get(k, dns_cols[c].col));
	}
	for (size_t c = 0; c < sizeof(zone_cols) / sizeof(zone_cols[0]); c++) {
		family(b, zone_cols[c].name, "counter", zone_cols[c].help);
		names_samples(b, metrics_dns_zones(), zone_cols[c].name, "zone", zone_cols[c].col);
	}
}

static void render_phases(struct buf *b)
{
	family(b, "authscore_phase_duration_seconds", "histogram",
	       "Time per message: message (MAIL FROM to verdict), dns_wait (end of message, "
	       "waiting for answers), rules (evaluation), content (the body's MIME walk)");
	for (unsigned p = 0; p < METRICS_PHASES; p++) {
		uint64_t cum = 0;

		for (size_t i = 0; i <= N_BUCKETS; i++) {
			cum += counter_get(&m.buckets[p][i]);
			if (i < N_BUCKETS)
				buf_printf(b,
					   "authscore_phase_duration_seconds_bucket{phase=\"%s\","
					   "le=\"%g\"} %llu\n",
					   phase_names[p], (double)bucket_us[i] / 1e6,
					   (unsigned long long)cum);
			else
				buf_printf(b,
					   "authscore_phase_duration_seconds_bucket{phase=\"%s\","
					   "le=\"+Inf\"} %llu\n",
					   phase_names[p], (unsigned long long)cum);
		}
		buf_printf(b, "authscore_phase_duration_seconds_sum{phase=\"%s\"} %.6f\n",
			   phase_names[p], (double)counter_get(&m.sum_us[p]) / 1e6);
		buf_printf(b, "authscore_phase_duration_seconds_count{phase=\"%s\"} %llu\n",
			   phase_names[p], (unsigned long long)cum);
	}
}

/* The figures the daemon gathered: the history store, the resolver's health. */
static void render_extra(struct buf *b, const struct metrics_extra *x)
{
	family(b, "authscore_history_enabled", "gauge", "1 when a history store is open");
	sample(b, "authscore_history_enabled", NULL, NULL, x != NULL && x->have_store);
	if (x != NULL && x->have_store) {
		const struct {
			const char *outcome;
			uint64_t n;
		} rec[] = {{"queued", x->store_queued},
			   {"written", x->store_written},
			   {"spooled", x->store_spooled},
			   {"reloaded", x->store_reloaded},
			   {"dropped", x->store_dropped}};

		family(b, "authscore_history_records_total", "counter",
		       "History records by what became of them");
		for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
			sample(b, "authscore_history_records_total", "outcome", rec[i].outcome,
			       rec[i].n);
		family(b, "authscore_history_queue_depth", "gauge",
		       "Records waiting in memory for the store writer");
		sample(b, "authscore_history_queue_depth", NULL, NULL, x->store_queue_depth);
		family(b, "authscore_history_spool_bytes", "gauge",
		       "Size of the spool file (records waiting for an unavailable store)");
		sample(b, "authscore_history_spool_bytes", NULL, NULL,
		       x->spool_bytes > 0 ? (uint64_t)x->spool_bytes : 0);
	}
	if (x != NULL && x->have_dns_health) {
		family(b, "authscore_dns_up", "gauge",
		       "0 after a run of failed lookups (or a failed start-up probe), 1 otherwise");
		sample(b, "authscore_dns_up", NULL, NULL, (uint64_t)x->dns_up);
		family(b, "authscore_dns_resolver_failures_total", "counter",
		       "Lookups of the resolver that ended in a temporary failure");
		sample(b, "authscore_dns_resolver_failures_total", NULL, NULL, x->dns_failures);
		family(b, "authscore_dns_resolver_timeouts_total", "counter",
		       "Lookups of the resolver that ran out of time");
		sample(b, "authscore_dns_resolver_timeouts_total", NULL, NULL, x->dns_timeouts);
		family(b, "authscore_dns_outages_total", "counter",
		       "Times DNS resolution was found failing");
		sample(b, "authscore_dns_outages_total", NULL, NULL, x->dns_outages);
	}
}

void metrics_dkim_signed(const char *domain, const char *selector, const char *alg)
{
	char name[COUNTER_NAME_LEN + 1];

	snprintf(name, sizeof(name), "%s %s %s", domain, selector, alg);
	name_hit(&signed_tab, name);
}

void metrics_dkim_sign_error(void)
{
	counter_add(&m.dkim_sign_errors, 1);
}

void metrics_arc_sealed(int ok)
{
	counter_add(&m.arc_seals[ok != 0], 1);
}

/* One sample per key: the name's three words are the three labels. */
static void render_signing(struct buf *b)
{
	static const char *metric = "authscore_dkim_signatures_total";

	family(b, metric, "counter", "DKIM signatures added to outgoing mail, per key");
	for (size_t i = 0; i < METRICS_NAMES_MAX; i++) {
		const char *n = counter_names_name(&signed_tab, i);
		char d[COUNTER_NAME_LEN + 1], s[COUNTER_NAME_LEN + 1], a[COUNTER_NAME_LEN + 1];

		if (n == NULL || sscanf(n, "%255s %255s %255s", d, s, a) != 3)
			continue;
		buf_printf(b, "%s{domain=\"", metric);
		label_value(b, d);
		buf_puts(b, "\",selector=\"");
		label_value(b, s);
		buf_printf(b, "\",algorithm=\"%s\"} %llu\n", a,
			   (unsigned long long)counter_get(&signed_tab.count[i][C_HITS]));
	}
	family(b, "authscore_dkim_sign_errors_total", "counter",
	       "Outgoing messages that could not be signed (on-dkim-sign-error)");
	sample(b, "authscore_dkim_sign_errors_total", NULL, NULL, counter_get(&m.dkim_sign_errors));
}

/* The body's content: parts, URLs per message, what the bounds skipped. */
static void render_content(struct buf *b)
{
	uint64_t cum = 0;

	family(b, "authscore_content_messages_total", "counter",
	       "Messages whose body was scanned (MIME walk, text, links)");
	sample(b, "authscore_content_messages_total", NULL, NULL, counter_get(&m.content_messages));
	family(b, "authscore_content_parts_total", "counter",
	       "MIME leaf parts of scanned messages, and member names listed from archives");
	sample(b, "authscore_content_parts_total", "kind", "mime", counter_get(&m.content_parts));
	sample(b, "authscore_content_parts_total", "kind", "archive_member",
	       counter_get(&m.content_archive_members));
	family(b, "authscore_content_urls", "histogram", "Distinct URLs listed per scanned message");
	for (size_t i = 0; i <= N_URL_BUCKETS; i++) {
		cum += counter_get(&m.content_urls[i]);
		if (i < N_URL_BUCKETS)
			buf_printf(b, "authscore_content_urls_bucket{le=\"%llu\"} %llu\n",
				   (unsigned long long)url_bucket[i], (unsigned long long)cum);
		else
			buf_printf(b, "authscore_content_urls_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cum);
	}
	buf_printf(b, "authscore_content_urls_sum %llu\nauthscore_content_urls_count %llu\n",
		   (unsigned long long)counter_get(&m.content_urls_sum), (unsigned long long)cum);
	family(b, "authscore_content_skipped_total", "counter",
	       "What the content bounds left out: parts, distinct URLs, decoded text bytes, "
	       "body bytes not parsed");
	for (unsigned i = 0; i < CONTENT_SKIPS; i++)
		sample(b, "authscore_content_skipped_total", "what", content_skip_names[i],
		       counter_get(&m.content_skipped[i]));
}

int metrics_render(struct buf *b, const struct metrics_extra *x)
{
	render_process(b);
	render_results(b);
	render_dns(b);
	render_phases(b);
	render_content(b);
	metrics_uribl_render(b);
	family(b, "authscore_config_reloads_total", "counter", "Successful configuration reloads");
	sample(b, "authscore_config_reloads_total", NULL, NULL, counter_get(&m.reloads));
	family(b, "authscore_config_reload_failures_total", "counter",
	       "Reloads refused (the running configuration was kept)");
	sample(b, "authscore_config_reload_failures_total", NULL, NULL,
	       counter_get(&m.reload_failures));
	render_signing(b);
	render_extra(b, x);
	return b->overflow ? -1 : 0;
}

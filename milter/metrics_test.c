/*
 * metrics_test - the counters and their text exposition: every family has
 * HELP and TYPE, counts land on the right labels, label values are escaped
 * (and stay UTF-8), the histogram is cumulative, name tables overflow into
 * "_other", and concurrent adds are not lost.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static char *scrape(const struct metrics_extra *x)
{
	struct buf b;
	char *out;

	buf_init(&b, 8 * 1024 * 1024);
	CHECK(metrics_render(&b, x) == 0, "render fits");
	out = strdup(buf_str(&b));
	buf_release(&b);
	return out;
}

/* The value of one sample line ("name{labels} value"), or -1. */
static long long value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

/* Every sample's family has HELP and TYPE before it; no line is blank. */
static int well_formed(const char *text)
{
	char family[256] = "";

	for (const char *p = text; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (eol == NULL || len == 0)
			return 0;
		if (strncmp(p, "# TYPE ", 7) == 0) {
			size_t fl = strcspn(p + 7, " ");

			snprintf(family, sizeof(family), "%.*s", (int)fl, p + 7);
		} else if (p[0] != '#') {
			size_t fl = strlen(family);

			if (fl == 0 || strncmp(p, family, fl) != 0 ||
			    (p[fl] != ' ' && p[fl] != '{' && p[fl] != '_'))
				return 0;
		}
		p = eol + 1;
	}
	return 1;
}

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		metrics_dns(METRICS_DNS_DNSBL, "race.example", DNS_OK, 0);
	return NULL;
}

int main(void)
{
	struct facts f;
	struct verdict v = {.action = VERDICT_REJECT};
	const char *hits[] = {"SPF_FAIL", "NO_PTR"}, *mons[] = {"TRY"};
	struct dkim_sig sigs[2] = {{.result = DKIM_PASS}, {.result = DKIM_FAIL}};
	struct metrics_extra x = {
	    .have_store = 1, .store_written = 7, .store_queue_depth = 3, .spool_bytes = 512};
	char *t, name[64];

	metrics_start("9.9.9");
	t = scrape(NULL);
	CHECK(well_formed(t), "a fresh scrape is well formed");
	CHECK(value(t, "authscore_messages_total{action=\"accept\"}") == 0 &&
		  value(t, "authscore_messages_total{action=\"discard\"}") == 0,
	      "every action is there from the start, at zero");
	CHECK(value(t, "authscore_build_info{version=\"9.9.9\"}") == 1, "version label");
	CHECK(value(t, "authscore_start_time_seconds") > 1600000000, "start time");
	CHECK(value(t, "authscore_history_enabled") == 0 &&
		  strstr(t, "authscore_history_queue_depth") == NULL,
	      "no store: no store figures");
	free(t);

	memset(&f, 0, sizeof(f));
	f.spf_mfrom.result = SPF_FAIL;
	f.spf_helo.result = SPF_NONE;
	f.dkim.count = 2;
	f.dkim.sig = sigs;
	f.dmarc.result = DMARC_FAIL;
	f.iprev.result = IPREV_PASS;
	f.rules_hit = hits;
	f.rules_hit_count = 2;
	f.monitors_hit = mons;
	f.monitors_hit_count = 1;
	f.arc.result = ARC_PASS;
	metrics_message(&f, &v);
	f.arc_override_by = "fwd.example"; /* a trusted sealer's results overrode DMARC */
	metrics_message(&f, &v);
	v.action = VERDICT_ACCEPT;
	f.skipped = "authenticated";
	metrics_message(&f, &v);
	metrics_connection(1);
	metrics_connection(0);
	metrics_connection(0);
	metrics_dns(METRICS_DNS_DNSBL, "zen.example", DNS_NXDOMAIN, 0);
	metrics_dns(METRICS_DNS_DNSBL, "zen.example", DNS_TEMPFAIL, 1);
	metrics_dns(METRICS_DNS_DNSBL, "bad\"zone\\\n\xff.example", DNS_OK, 0);
	metrics_dns(METRICS_DNS_DKIM, NULL, DNS_OK, 0);
	{
		struct spf_outcome o = {.result = SPF_TEMPERROR,
					.domain = "example",
					.reason = "DNS timeout",
					.dns_queries = 3};

		metrics_spf_dns(&o);
	}
	metrics_observe(METRICS_PHASE_RULES, 700);	 /* first bucket (1 ms) */
	metrics_observe(METRICS_PHASE_RULES, 30000);	 /* the 50 ms bucket */
	metrics_observe(METRICS_PHASE_RULES, 999000000); /* past every bucket */
	metrics_reload(1);
	metrics_reload(0);
	metrics_reload(0);
	metrics_arc_sealed(1);
	metrics_arc_sealed(1);
	metrics_arc_sealed(0);

	t = scrape(&x);
	CHECK(well_formed(t), "a full scrape is well formed");
	CHECK(value(t, "authscore_messages_total{action=\"reject\"}") == 2 &&
		  value(t, "authscore_messages_total{action=\"accept\"}") == 1,
	      "messages by action");
	CHECK(value(t, "authscore_connections_total{trusted=\"yes\"}") == 1 &&
		  value(t, "authscore_connections_total{trusted=\"no\"}") == 2,
	      "connections, trusted apart");
	CHECK(value(t, "authscore_messages_skipped_total{reason=\"authenticated\"}") == 1,
	      "skipped by reason");
	CHECK(value(t, "authscore_spf_results_total{scope=\"mfrom\",result=\"fail\"}") == 2 &&
		  value(t, "authscore_spf_results_total{scope=\"helo\",result=\"none\"}") == 2,
	      "SPF results of checked messages only, both identities");
	CHECK(value(t, "authscore_dkim_results_total{result=\"pass\"}") == 2 &&
		  value(t, "authscore_dkim_results_total{result=\"fail\"}") == 2,
	      "DKIM results per signature");
	CHECK(value(t, "authscore_dmarc_results_total{result=\"fail\"}") == 2 &&
		  value(t, "authscore_iprev_results_total{result=\"pass\"}") == 2,
	      "DMARC and iprev results");
	CHECK(value(t, "authscore_arc_results_total{result=\"pass\"}") == 2 &&
		  value(t, "authscore_arc_results_total{result=\"none\"}") == 0 &&
		  value(t, "authscore_arc_overrides_total") == 1,
	      "ARC results of checked messages, and the overrides");
	CHECK(value(t, "authscore_arc_seals_total") == 2 &&
		  value(t, "authscore_arc_seal_errors_total") == 1,
	      "this host's ARC sets, added and failed");
	CHECK(value(t, "authscore_rule_hits_total{rule=\"SPF_FAIL\"}") == 2 &&
		  value(t, "authscore_rule_hits_total{rule=\"NO_PTR\"}") == 2 &&
		  value(t, "authscore_monitor_rule_hits_total{rule=\"TRY\"}") == 2 &&
		  value(t, "authscore_rule_hits_total{rule=\"TRY\"}") == -1,
	      "rule hits, monitors apart");
	CHECK(value(t, "authscore_dns_queries_total{kind=\"dnsbl\"}") == 3 &&
		  value(t, "authscore_dns_errors_total{kind=\"dnsbl\"}") == 1 &&
		  value(t, "authscore_dns_timeouts_total{kind=\"dnsbl\"}") == 1 &&
		  value(t, "authscore_dns_answers_with_records_total{kind=\"dnsbl\"}") == 1,
	      "DNS per kind");
	CHECK(value(t, "authscore_dns_queries_total{kind=\"spf\"}") == 4 &&
		  value(t, "authscore_dns_timeouts_total{kind=\"spf\"}") == 1 &&
		  value(t, "authscore_dns_queries_total{kind=\"dkim\"}") == 1,
	      "SPF counts its terms plus the record; a DNS timeout is a timeout");
	CHECK(value(t, "authscore_dnsbl_queries_total{zone=\"zen.example\"}") == 2 &&
		  value(t, "authscore_dnsbl_timeouts_total{zone=\"zen.example\"}") == 1,
	      "DNS per zone");
	CHECK(value(t, "authscore_dnsbl_queries_total{zone=\"bad\\\"zone\\\\\\n?.example\"}") == 1,
	      "label values escape quote, backslash and newline; a non-UTF-8 byte is '?'");
	CHECK(
	    value(t, "authscore_phase_duration_seconds_bucket{phase=\"rules\",le=\"0.001\"}") ==
		    1 &&
		value(t, "authscore_phase_duration_seconds_bucket{phase=\"rules\",le=\"0.05\"}") ==
		    2 &&
		value(t, "authscore_phase_duration_seconds_bucket{phase=\"rules\",le=\"60\"}") ==
		    2 &&
		value(t, "authscore_phase_duration_seconds_bucket{phase=\"rules\",le=\"+Inf\"}") ==
		    3 &&
		value(t, "authscore_phase_duration_seconds_count{phase=\"rules\"}") == 3,
	    "histogram buckets are cumulative; +Inf equals the count");
	CHECK(strstr(t, "authscore_phase_duration_seconds_sum{phase=\"rules\"} 999.030700\n") !=
		  NULL,
	      "histogram sum in seconds");
	CHECK(value(t, "authscore_config_reloads_total") == 1 &&
		  value(t, "authscore_config_reload_failures_total") == 2,
	      "reloads and failures");
	CHECK(value(t, "authscore_history_enabled") == 1 &&
		  value(t, "authscore_history_records_total{outcome=\"written\"}") == 7 &&
		  value(t, "authscore_history_queue_depth") == 3 &&
		  value(t, "authscore_history_spool_bytes") == 512,
	      "store figures");
	free(t);

	/* A full table: new names are summed under _other, old ones still count. */
	for (int i = 0; i < METRICS_NAMES_MAX + 10; i++) {
		const char *one[1] = {name};
		struct facts g = {.rules_hit = one, .rules_hit_count = 1};
		struct verdict a = {.action = VERDICT_ACCEPT};

		snprintf(name, sizeof(name), "R%d", i);
		metrics_message(&g, &a);
	}
	t = scrape(NULL);
	CHECK(value(t, "authscore_rule_hits_total{rule=\"SPF_FAIL\"}") == 2,
	      "a full table keeps the old names");
	CHECK(value(t, "authscore_rule_hits_total{rule=\"_other\"}") == 12,
	      "names past the table are summed as _other (%lld)",
	      value(t, "authscore_rule_hits_total{rule=\"_other\"}"));
	free(t);

	{
		pthread_t th[4];

		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, adder, NULL);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		t = scrape(NULL);
		CHECK(value(t, "authscore_dnsbl_queries_total{zone=\"race.example\"}") == 400000,
		      "4 threads x 100000 adds to a new zone: none lost, one slot");
		free(t);
	}
	{ /* the body's content (issue 19): parts, URLs per message, the bounds */
		struct content_part parts[3] = {{.type = "text/plain"},
						{.type = "application/zip"},
						{.type = "application/octet-stream", .in_archive = 1}};
		struct content_url urls[7] = {{.url = "http://a/"}};
		struct facts g = {.content = {.scanned = 1,
					      .parts = parts,
					      .part_count = 3,
					      .urls = urls,
					      .url_count = 7,
					      .skipped_parts = 2,
					      .skipped_urls = 5,
					      .skipped_text_bytes = 1000,
					      .skipped_body_bytes = 3000}};
		struct facts h = {.content = {.scanned = 0, .url_count = 99}};
		struct verdict a = {.action = VERDICT_ACCEPT};

		metrics_message(&g, &a);
		metrics_message(&h, &a); /* not scanned: not counted */
		t = scrape(NULL);
		CHECK(well_formed(t) && value(t, "authscore_content_messages_total") == 1 &&
			  value(t, "authscore_content_parts_total{kind=\"mime\"}") == 2 &&
			  value(t, "authscore_content_parts_total{kind=\"archive_member\"}") == 1,
		      "content: scanned messages, parts and archive members");
		CHECK(value(t, "authscore_content_urls_bucket{le=\"5\"}") == 0 &&
			  value(t, "authscore_content_urls_bucket{le=\"10\"}") == 1 &&
			  value(t, "authscore_content_urls_bucket{le=\"+Inf\"}") == 1 &&
			  value(t, "authscore_content_urls_sum") == 7 &&
			  value(t, "authscore_content_urls_count") == 1,
		      "content: URLs per message histogram");
		CHECK(value(t, "authscore_content_skipped_total{what=\"parts\"}") == 2 &&
			  value(t, "authscore_content_skipped_total{what=\"urls\"}") == 5 &&
			  value(t, "authscore_content_skipped_total{what=\"text_bytes\"}") == 1000 &&
			  value(t, "authscore_content_skipped_total{what=\"body_bytes\"}") == 3000,
		      "content: what the bounds left out");
		free(t);
	}
	{ /* the resolver's health (issue 15): only where the daemon gathers it */
		struct metrics_extra d = {.have_dns_health = 1,
					  .dns_up = 0,
					  .dns_failures = 12,
					  .dns_timeouts = 10,
					  .dns_outages = 1};

		t = scrape(&d);
		CHECK(well_formed(t) && value(t, "authscore_dns_up") == 0 &&
			  value(t, "authscore_dns_resolver_failures_total") == 12 &&
			  value(t, "authscore_dns_resolver_timeouts_total") == 10 &&
			  value(t, "authscore_dns_outages_total") == 1,
		      "DNS health: up, failures, timeouts, outages");
		free(t);
		t = scrape(NULL);
		CHECK(strstr(t, "authscore_dns_up") == NULL, "no DNS health figures: none shown");
		free(t);
	}
	return check_done();
}

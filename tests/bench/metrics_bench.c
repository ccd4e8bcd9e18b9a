/*
 * metrics_bench - what the counters cost a message, beside a baseline.
 *
 * One "message" is what the daemon counts for a typical checked message:
 * metrics_message (3 rule hits, 1 DKIM signature), 5 DNS list answers, an
 * iprev and a DMARC answer, and 3 latency observations.  The baseline, in
 * the same run: the 4 clock_gettime() calls message.c makes for those
 * observations.  Then the same with 2 threads (contention on the same
 * counters), and the time to render a scrape.  Not part of `make check`:
 *   make tests/bench/metrics_bench && ./tests/bench/metrics_bench
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "metrics.h"

#define N 1000000

static const char *const zones[] = {"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org",
				    "list.dnswl.org", "dbl.spamhaus.org"};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *count(void *arg)
{
	const char *hits[] = {"SPF_FAIL", "NO_PTR", "DKIM_BROKEN"};
	struct dkim_sig sig = {.result = DKIM_PASS};
	struct facts f = {.rules_hit = hits, .rules_hit_count = 3};
	struct verdict v = {.action = VERDICT_ACCEPT};

	(void)arg;
	f.dkim.count = 1;
	f.dkim.sig = &sig;
	for (int i = 0; i < N; i++) {
		metrics_message(&f, &v);
		for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
			metrics_dns(METRICS_DNS_DNSBL, zones[z], DNS_NXDOMAIN, 0);
		metrics_dns(METRICS_DNS_IPREV, NULL, DNS_OK, 0);
		metrics_dns(METRICS_DNS_DMARC, NULL, DNS_OK, 0);
		metrics_observe(METRICS_PHASE_MESSAGE, 5000);
		metrics_observe(METRICS_PHASE_DNS_WAIT, 3000);
		metrics_observe(METRICS_PHASE_RULES, 20);
	}
	return NULL;
}

int main(void)
{
	struct timespec ts;
	pthread_t th[2];
	struct buf b;
	double t0, t1, sink = 0;

	t0 = now();
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 4; k++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += (double)ts.tv_nsec;
		}
	t1 = now();
	printf("baseline: 4 clock_gettime per message: %.0f ns (%g)\n", (t1 - t0) / N * 1e9,
	       sink > 0 ? 1.0 : 0.0);
	t0 = now();
	count(NULL);
	t1 = now();
	printf("counters, 1 thread: %.0f ns per message\n", (t1 - t0) / N * 1e9);
	t0 = now();
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, count, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	printf("counters, 2 threads on the same counters: %.0f ns per message\n",
	       (t1 - t0) / (2.0 * N) * 1e9);
	buf_init(&b, 8 * 1024 * 1024);
	t0 = now();
	for (int i = 0; i < 1000; i++) {
		buf_reset(&b);
		metrics_render(&b, NULL);
	}
	t1 = now();
	printf("scrape: %zu bytes rendered in %.0f us\n", b.len, (t1 - t0) / 1000 * 1e6);
	buf_release(&b);
	return 0;
}

/*
 * store_pg_test - the history store against a live PostgreSQL at
 * $AUTHSCORE_PG_URL (skipped without it; tests/e2e/store.sh starts one).
 *
 *   store_pg_test                  the TAP checks: migration, append and
 *                                  read back, ledger, expire, re-open
 *   store_pg_test flow N SPOOLDIR  writer mode: N records, one every 2 ms
 *                                  (times 1000000 + i), then waits for the
 *                                  spool to be loaded back; prints the counters
 *   store_pg_test count            how many records the flow stored
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "store.h"

#define FLOW_BASE 1000000
#define FLOW_END  100000000 /* 1973: far from the checks' records of today */

static const char *url;

static struct history_record rec(int64_t t, const char *qid)
{
	struct history_record r = {
	    .time = t,
	    .queue_id = qid,
	    .client_ip = "2001:db8::10",
	    .mail_from = "bounce@example.com",
	    .header_from = "example.com",
	    .spf_domain = "example.com",
	    .spf_scope = "mfrom",
	    .spf_result = "pass",
	    .dkim = {{"example.com", "s1", "pass"}},
	    .dkim_count = 1,
	    .dmarc_result = "pass",
	    .policy_domain = "example.com",
	    .p = "quarantine",
	    .psd = -1,
	    .disposition = "none",
	    .score = 0.25,
	    .rules = "",
	    .action = "accept",
	    .facts_json = "{\"rcpt_count\":1}",
	};
	return r;
}

struct tally {
	int n, ordered, odd_ok;
	int64_t last;
};

static int counter(const struct history_record *r, void *arg)
{
	struct tally *t = arg;

	if (t->n > 0 && r->time < t->last)
		t->ordered = 0;
	t->last = r->time;
	if (r->mail_from != NULL && strcmp(r->mail_from, "b\xc3\xa9\\\"\xff") == 0)
		t->odd_ok++; /* exact bytes from `facts`, whatever the column holds */
	t->n++;
	return 0;
}

static struct tally count_t(struct store *s, int64_t begin, int64_t end)
{
	struct tally t = {.ordered = 1};
	char *error = NULL;

	if (store_each(s, begin, end, NULL, counter, &t, &error) < 0) {
		printf("# store_each: %s\n", error);
		t.n = -1;
	}
	free(error);
	return t;
}

static int count(struct store *s, int64_t begin, int64_t end)
{
	return count_t(s, begin, end).n;
}

static struct store *open_store(int writer, const char *spool_dir, char **error)
{
	struct store_options o = {.location = url, .spool_dir = spool_dir, .writer = writer};

	return store_open(&o, error);
}

static int checks(void)
{
	char *error = NULL;
	struct store *s = open_store(0, NULL, &error);
	struct history_record r;
	int64_t now = (int64_t)time(NULL);
	int n = 0;

	CHECK(s != NULL, "connect and migrate: %s", error ? error : "ok");
	if (s == NULL)
		return check_done();
	for (int i = 0; i < 50; i++) {
		r = rec(1000 + (i * 37) % 50, "P");
		if (i == 7)
			r.mail_from = "b\xc3\xa9\\\"\xff"; /* not UTF-8: the column gets '?' */
		store_append(s, &r);
	}
	{
		struct tally t = count_t(s, 1000, 1050);

		CHECK(t.n == 50 && t.ordered, "50 records read back in time order (%d)", t.n);
		CHECK(t.odd_ok == 1,
		      "bytes that are not UTF-8 survive (facts), the column takes '?'");
	}
	CHECK(store_report_sent(s, "example.com", 0, 86400) == 0, "ledger: not sent");
	CHECK(store_mark_sent(s, "example.com", 0, 86400, "r1", &error) == 0, "mark: %s",
	      error ? error : "ok");
	CHECK(store_mark_sent(s, "example.com", 0, 86400, "r1", &error) == 0, "mark twice");
	CHECK(store_report_sent(s, "example.com", 0, 86400) == 1, "ledger: sent");
	r = rec(now - 40 * 86400, "OLD");
	store_append(s, &r);
	CHECK(store_expire(s, 30, &error) == 51, "expire: the old record and the 50 from 1970");
	r = rec(now, "NOW");
	store_append(s, &r);
	store_close(&s);
	s = open_store(0, NULL, &error);
	CHECK(s != NULL, "re-open: migrations already applied");
	if (s != NULL) {
		n = count(s, now, now + 1);
		CHECK(n == 1, "the record is still there (%d)", n);
		/* issue 15 item 10: the daemon's writer expires by itself */
		r = rec(now - 40 * 86400, "OLD2");
		store_append(s, &r);
		r = rec(now - 20 * 86400, "RECENT");
		store_append(s, &r);
		store_close(&s);
	}
	{
		struct store_options o = {.location = url, .writer = 1, .retention_days = 30};

		s = store_open(&o, &error);
		CHECK(s != NULL, "writer open: %s", error ? error : "ok");
	}
	if (s != NULL) {
		for (int i = 0; i < 200 && (n = count(s, 0, now + 1)) > 2; i++)
			usleep(50000); /* polled: 10 s at most */
		CHECK(n == 2 && count(s, now - 20 * 86400, now - 20 * 86400 + 1) == 1 &&
			  count(s, now, now + 1) == 1,
		      "writer, retention 30 days: the 40-day-old record goes at start, the recent "
		      "ones stay (%d left)",
		      n);
		store_close(&s);
	}
	return check_done();
}

static int flow(int n, const char *spool_dir)
{
	char *error = NULL;
	struct store *s = open_store(1, spool_dir, &error);
	struct store_stats st;
	char qid[32], spool[4096];

	if (s == NULL) {
		fprintf(stderr, "store_open: %s\n", error);
		return 1;
	}
	snprintf(spool, sizeof(spool), "%s/authscore-spool.jsonl", spool_dir);
	for (int i = 0; i < n; i++) {
		struct history_record r;

		snprintf(qid, sizeof(qid), "F%d", i);
		r = rec(FLOW_BASE + i, qid);
		store_append(s, &r);
		usleep(2000);
	}
	/* wait until everything spooled has been loaded back (60 s at most) */
	for (int i = 0; i < 600; i++) {
		store_stats(s, &st);
		if (st.queue_depth == 0 && st.reloaded >= st.spooled && access(spool, F_OK) < 0)
			break;
		usleep(100000);
	}
	store_close(&s);
	printf("queued=%llu written=%llu spooled=%llu reloaded=%llu dropped=%llu\n",
	       (unsigned long long)st.queued, (unsigned long long)st.written,
	       (unsigned long long)st.spooled, (unsigned long long)st.reloaded,
	       (unsigned long long)st.dropped);
	return 0;
}

int main(int argc, char **argv)
{
	char *error = NULL;
	struct store *s;
	int n;

	log_init("store_pg_test", 1);
	url = getenv("AUTHSCORE_PG_URL");
	if (url == NULL || *url == '\0') {
		printf("1..0 # SKIP AUTHSCORE_PG_URL not set (tests/e2e/store.sh sets it)\n");
		return 0;
	}
	if (argc == 1)
		return checks();
	if (argc == 4 && strcmp(argv[1], "flow") == 0)
		return flow(atoi(argv[2]), argv[3]);
	if (argc == 2 && strcmp(argv[1], "count") == 0) {
		if ((s = open_store(0, NULL, &error)) == NULL) {
			fprintf(stderr, "store_open: %s\n", error);
			return 1;
		}
		n = count(s, FLOW_BASE, FLOW_END);
		store_close(&s);
		printf("%d\n", n);
		return n < 0;
	}
	fprintf(stderr, "usage: store_pg_test [flow N SPOOLDIR | count]\n");
	return 2;
}

/*
 * store_bench - the history store's throughput: N records (default
 * 1,000,000) through the writer thread into SQLite, then one store_each
 * over all of them; beside a baseline measured in the same run: the same
 * JSON lines written to a plain file (fwrite, one fsync), and read back
 * and decoded.  Prints records/s, seconds and peak RSS.  The appending loop
 * waits while the queue is nearly full, as a sustained rate the writer
 * keeps up with, not a burst that spills to the spool (reported if any).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "bench.h"

static long peak_rss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static long file_mb(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)(st.st_size / (1024 * 1024)) : -1;
}

static void make_record(struct history_record *r, long i, char *qid, size_t qsize)
{
	static const char *const domains[] = {"example.com", "example.net", "example.org",
					      "mail.example.com"};
	const char *d = domains[i % 4];

	snprintf(qid, qsize, "4Xq%07lX", i);
	memset(r, 0, sizeof(*r));
	r->time = 1767225600 + i / 10;
	r->queue_id = qid;
	r->message_id = "<20260101.123456@mail.example.com>";
	r->client_ip = "203.0.113.10";
	r->helo = "mail.example.com";
	r->mail_from = "bounce@example.com";
	r->header_from = d;
	r->spf_domain = d;
	r->spf_scope = "mfrom";
	r->spf_result = i % 5 ? "pass" : "fail";
	r->spf_helo_result = "none";
	r->dkim[0] = (struct record_dkim){d, "s2026", "pass"};
	r->dkim[1] = (struct record_dkim){"esp.example", "k1", i % 3 ? "pass" : "fail"};
	r->dkim_count = 2;
	r->dmarc_result = "pass";
	r->policy_domain = d;
	r->p = "reject";
	r->psd = -1;
	r->discovery = "treewalk";
	r->rua = "mailto:dmarc@example.com";
	r->dkim_aligned = 1;
	r->disposition = "none";
	r->score = 1.5;
	r->rules = "SPF_FAIL,NO_PTR";
	r->action = "accept";
	r->facts_json =
	    "{\"family\":4,\"client_ip\":\"203.0.113.10\",\"ip_lists\":[{\"zone\":"
	    "\"zen.spamhaus.org\",\"status\":\"not_listed\",\"codes\":[]}],\"iprev\":"
	    "{\"result\":\"pass\",\"name\":\"mail.example.com\"},\"geoip\":{\"country\":"
	    "\"DE\",\"asn\":64496},\"rcpt_count\":1,\"header_bytes\":2100,"
	    "\"body_bytes\":15000,\"header_count\":18}";
}

static int count_fn(const struct history_record *r, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, seen = 0;
	char dir[] = "/tmp/store_bench.XXXXXX", path[256], db[256], qid[32], *error = NULL;
	struct store_options o = {.writer = 1};
	struct store_stats st;
	struct store *s;
	double t0, t_base, t_store, t_read_base, t_each;
	FILE *f;

	log_init("store_bench", 1);
	if (n <= 0 || mkdtemp(dir) == NULL)
		return 2;

	/* baseline: encode and write the lines to a plain file */
	snprintf(path, sizeof(path), "%s/baseline.jsonl", dir);
	t0 = now_s();
	f = fopen(path, "w");
	for (long i = 0; i < n; i++) {
		struct arena *a = arena_new(4096);
		struct history_record r;

		make_record(&r, i, qid, sizeof(qid));
		fputs(record_encode(&r, a), f);
		fputc('\n', f);
		arena_free(&a);
	}
	fflush(f);
	fsync(fileno(f));
	fclose(f);
	t_base = now_s() - t0;

	/* baseline: read the lines back and decode them */
	t0 = now_s();
	f = fopen(path, "r");
	{
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		while ((len = getline(&line, &cap, f)) > 0) {
			struct arena *a = arena_new(4096);
			struct history_record r;
			const char *why;

			if (record_decode(line, (size_t)len, a, &r, &why) == 0)
				seen++;
			arena_free(&a);
		}
		free(line);
	}
	fclose(f);
	t_read_base = now_s() - t0;
	printf("baseline  write %ld JSON lines to a file: %.2f s, %.0f records/s, %ld MB\n", n,
	       t_base, (double)n / t_base, file_mb(path));
	printf("baseline  read and decode them:          %.2f s, %.0f records/s (%ld)\n",
	       t_read_base, (double)seen / t_read_base, seen);
	unlink(path);

	/* the store: writer thread, batched transactions, SQLite WAL */
	snprintf(db, sizeof(db), "%s/history.sqlite", dir);
	o.location = db;
	o.spool_dir = dir;
	if ((s = store_open(&o, &error)) == NULL) {
		fprintf(stderr, "store_open: %s\n", error);
		return 1;
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		struct history_record r;

		make_record(&r, i, qid, sizeof(qid));
		if (i % 1000 == 0)
			for (;;) {
				store_stats(s, &st);
				if (st.queue_depth < 8000)
					break;
				usleep(200);
			}
		store_append(s, &r);
	}
	store_stats(s, &st);
	store_close(&s);
	t_store = now_s() - t0;
	printf("store     %ld records through the writer into SQLite: %.2f s, %.0f records/s,"
	       " %ld MB (spooled %llu, dropped %llu), peak RSS %ld MB\n",
	       n, t_store, (double)n / t_store, file_mb(db), (unsigned long long)st.spooled,
	       (unsigned long long)st.dropped, peak_rss_mb());

	o.writer = 0;
	if ((s = store_open(&o, &error)) == NULL) {
		fprintf(stderr, "store_open: %s\n", error);
		return 1;
	}
	seen = 0;
	t0 = now_s();
	if (store_each(s, 0, INT64_MAX, NULL, count_fn, &seen, &error) < 0)
		fprintf(stderr, "store_each: %s\n", error);
	t_each = now_s() - t0;
	store_close(&s);
	printf("store     store_each over them (decoded, time order): %.2f s, %.0f records/s"
	       " (%ld), peak RSS %ld MB\n",
	       t_each, (double)seen / t_each, seen, peak_rss_mb());
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) == 0 && seen == n ? 0 : 1;
}

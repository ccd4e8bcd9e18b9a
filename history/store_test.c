/*
 * store_test - the SQLite history store in a temporary directory: schema
 * migration, the writer thread, the spool and its reload, the report
 * ledger, retention.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "store.h"

static char dir[64];

static struct history_record rec(int64_t t, const char *qid)
{
	struct history_record r = {
	    .time = t,
	    .queue_id = qid,
	    .client_ip = "203.0.113.10",
	    .header_from = "example.com",
	    .spf_domain = "example.com",
	    .spf_scope = "mfrom",
	    .spf_result = "pass",
	    .dkim = {{"example.com", "s1", "pass"}, {"bad\xff.example", "s\"2", "fail"}},
	    .dkim_count = 2,
	    .dmarc_result = "pass",
	    .policy_domain = "example.com",
	    .p = "reject",
	    .psd = -1,
	    .discovery = "treewalk",
	    .disposition = "none",
	    .score = 1.5,
	    .rules = "A,B",
	    .action = "accept",
	    .facts_json = "{\"rcpt_count\":1}",
	};
	return r;
}

struct collect {
	int n;
	int64_t last;
	int ordered;
	char qids[64][16];
	int dkim_ok;
};

static int collect_fn(const struct history_record *r, void *arg)
{
	struct collect *c = arg;

	if (c->n > 0 && r->time < c->last)
		c->ordered = 0;
	c->last = r->time;
	if (c->n < 64 && r->queue_id != NULL)
		snprintf(c->qids[c->n], sizeof(c->qids[0]), "%s", r->queue_id);
	if (r->dkim_count == 2 && strcmp(r->dkim[1].domain, "bad\xff.example") == 0 &&
	    strcmp(r->dkim[1].selector, "s\"2") == 0 && r->uid != NULL)
		c->dkim_ok++;
	c->n++;
	return 0;
}

static struct collect each(struct store *s, int64_t begin, int64_t end)
{
	struct collect c = {.ordered = 1};
	char *error = NULL;

	if (store_each(s, begin, end, NULL, collect_fn, &c, &error) < 0) {
		printf("# store_each: %s\n", error);
		c.n = -1;
	}
	free(error);
	return c;
}

static struct store *open_sync(const char *db, char **error)
{
	struct store_options o = {.location = db, .spool_dir = dir};

	return store_open(&o, error);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* dir/name, valid until the end of the test program */
static char *path(const char *name)
{
	static char p[64][256];
	static unsigned i;

	i = (i + 1) % 64;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static int wait_for(struct store *s, uint64_t want, int reloaded)
{
	struct store_stats st;

	for (int i = 0; i < 300; i++) {
		store_stats(s, &st);
		if ((reloaded ? st.reloaded : st.spooled) >= want)
			return 1;
		usleep(50000);
	}
	return 0;
}

/* wait (10 s at most) until the queue and the spill hold at most `max` */
static int wait_depth(struct store *s, uint64_t max)
{
	struct store_stats st;

	for (int i = 0; i < 10000; i++) {
		store_stats(s, &st);
		if (st.queue_depth <= max)
			return 1;
		usleep(1000);
	}
	return 0;
}

static void test_sync_and_migrations(void)
{
	const char *db = path("sync.sqlite");
	char *error = NULL;
	struct store *s = open_sync(db, &error);
	struct history_record r;
	struct collect c;
	sqlite3 *raw;
	sqlite3_stmt *st;
	int version = -1;

	CHECK(s != NULL, "open creates a new file: %s", error ? error : "ok");
	if (s == NULL)
		return;
	r = rec(300, "C");
	store_append(s, &r);
	r = rec(100, "A");
	store_append(s, &r);
	r = rec(200, "B");
	store_append(s, &r);
	r = rec(400, "D");
	store_append(s, &r);
	c = each(s, 100, 400);
	CHECK(c.n == 3 && c.ordered, "store_each: the period, in time order (%d)", c.n);
	CHECK(strcmp(c.qids[0], "A") == 0 && strcmp(c.qids[2], "C") == 0, "A B C");
	CHECK(c.dkim_ok == 3, "per-signature results and uids come back");
	store_close(&s);
	CHECK(s == NULL, "store_close clears the pointer");

	if (sqlite3_open(db, &raw) == SQLITE_OK &&
	    sqlite3_prepare_v2(raw, "SELECT version FROM schema_version", -1, &st, NULL) ==
		SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	CHECK(version == 1, "schema_version is 1");
	if (sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
		CHECK(sqlite3_step(st) == SQLITE_ROW &&
			  strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0,
		      "WAL mode");
		sqlite3_finalize(st);
	}
	sqlite3_close(raw);

	s = open_sync(db, &error);
	CHECK(s != NULL, "re-open: migrations already applied");
	if (s == NULL)
		return;
	c = each(s, 0, 1000);
	CHECK(c.n == 4, "re-open keeps the records (%d)", c.n);
	store_close(&s);

	/* a newer schema than ours is refused, not downgraded */
	sqlite3_open(db, &raw);
	sqlite3_exec(raw, "UPDATE schema_version SET version = 99", NULL, NULL, NULL);
	sqlite3_close(raw);
	free(error);
	error = NULL;
	s = open_sync(db, &error);
	CHECK(s == NULL && error != NULL && strstr(error, "newer") != NULL,
	      "a newer schema is refused: %s", error ? error : "(opened)");
	store_close(&s);
	free(error);

	/* not a database */
	{
		const char *junk = path("junk.sqlite");
		FILE *f = fopen(junk, "w");

		fputs("this is not a database, just some text long enough to be read as a header",
		      f);
		fclose(f);
		error = NULL;
		s = open_sync(junk, &error);
		CHECK(s == NULL && error != NULL, "a file that is not SQLite: %s", error);
		store_close(&s);
		free(error);
	}
}

static void test_writer(void)
{
	const char *db = path("writer.sqlite");
	struct store_options o = {.location = db, .spool_dir = dir, .writer = 1};
	char *error = NULL;
	struct store *s = store_open(&o, &error);
	struct store_stats st;
	struct collect c;

	CHECK(s != NULL, "writer mode opens: %s", error ? error : "ok");
	if (s == NULL)
		return;
	for (int i = 0; i < 5000; i++) {
		char qid[16];
		struct history_record r;

		snprintf(qid, sizeof(qid), "Q%d", i);
		r = rec(1000 + (i * 7919) % 5000, qid); /* shuffled times */
		store_append(s, &r);
	}
	store_stats(s, &st);
	CHECK(st.queued == 5000, "5000 queued");
	store_close(&s);
	s = open_sync(db, &error);
	c = s != NULL ? each(s, 0, 100000) : (struct collect){.n = -1};
	CHECK(c.n == 5000 && c.ordered, "close flushed all 5000, read back in order (%d)", c.n);
	store_close(&s);
	CHECK(access(path("authscore-spool.jsonl"), F_OK) < 0, "nothing spooled");
}

static void test_spool_bad_path(void)
{
	char *subdir = path("later"), db[300];
	struct store_options o = {.location = db, .spool_dir = dir, .writer = 1};
	char *error = NULL;
	struct store *s;
	struct collect c;

	snprintf(db, sizeof(db), "%s/db.sqlite", subdir);
	s = store_open(&o, &error);
	CHECK(s != NULL, "writer mode opens without its database (it spools)");
	if (s == NULL)
		return;
	for (int i = 0; i < 100; i++) {
		struct history_record r = rec(50 + i, "S");

		store_append(s, &r);
	}
	CHECK(wait_for(s, 100, 0), "100 records spooled");
	CHECK(count_lines(path("authscore-spool.jsonl")) == 100, "the spool holds 100 lines");
	mkdir(subdir, 0700); /* the store works again */
	CHECK(wait_for(s, 100, 1), "reloaded once the store works");
	CHECK(access(path("authscore-spool.jsonl"), F_OK) < 0 &&
		  access(path("authscore-spool.jsonl.loading"), F_OK) < 0,
	      "spool removed");
	store_close(&s);
	s = open_sync(db, &error);
	c = s != NULL ? each(s, 0, 1000) : (struct collect){.n = -1};
	CHECK(c.n == 100 && c.ordered, "every spooled record is in the store (%d)", c.n);
	store_close(&s);

	/* a tool (no writer) needs its store at once */
	snprintf(db, sizeof(db), "%s/nonexistent/db.sqlite", dir);
	s = open_sync(db, &error);
	CHECK(s == NULL && error != NULL, "synchronous open of a bad path fails: %s", error);
	free(error);
	error = NULL;
	o.spool_dir = NULL;
	s = store_open(&o, &error);
	CHECK(s == NULL && error != NULL, "writer without a spool dir needs its store");
	free(error);
}

static void test_spool_corrupt(void)
{
	const char *db = path("corrupt.sqlite");
	char *error = NULL;
	struct store *s;
	struct history_record r = rec(10, "GOOD1");
	struct arena *a = arena_new(4096);
	const char *good1, *good2;
	struct collect c;
	FILE *f;

	r.uid = "fixed-uid-1";
	good1 = record_encode(&r, a);
	r = rec(20, "GOOD2");
	r.uid = "fixed-uid-2";
	good2 = record_encode(&r, a);
	f = fopen(path("authscore-spool.jsonl"), "w");
	fprintf(f, "%s\n{\"v\":1,\"time\":\"x\"}\nnot json at all \x01\xff\n%s\n%s\n{\"v\":1,\"ti",
		good1, good2, good1 /* twice: stored once */);
	fclose(f);
	s = open_sync(db, &error);
	CHECK(s != NULL, "open with a spool left behind");
	c = s != NULL ? each(s, 0, 1000) : (struct collect){.n = -1};
	CHECK(c.n == 2, "good lines loaded once each (%d)", c.n);
	CHECK(count_lines(path("authscore-spool.jsonl.bad")) == 3, "3 bad lines kept in .bad");
	CHECK(access(path("authscore-spool.jsonl"), F_OK) < 0, "spool removed");
	store_close(&s);

	/* the same records spooled again (a crash between commit and unlink) */
	f = fopen(path("authscore-spool.jsonl"), "w");
	fprintf(f, "%s\n%s\n", good1, good2);
	fclose(f);
	s = open_sync(db, &error);
	c = s != NULL ? each(s, 0, 1000) : (struct collect){.n = -1};
	CHECK(c.n == 2, "a spool loaded twice stores each record once (%d): %s", c.n,
	      error ? error : "");
	store_close(&s);
	arena_free(&a);
	unlink(path("authscore-spool.jsonl.bad"));
}

static void test_queue_full(void)
{
	const char *db = path("busy.sqlite");
	struct store_options o = {.location = db, .spool_dir = dir, .writer = 1, .queue_max = 10};
	char *error = NULL;
	struct store *s = store_open(&o, &error);
	struct store_stats st;
	struct collect c;
	sqlite3 *raw;
	int paced = 1;

	CHECK(s != NULL, "writer with a queue of 10");
	if (s == NULL)
		return;
	/* another process holds the write lock: the writer waits (busy timeout) */
	sqlite3_open(db, &raw);
	sqlite3_exec(raw, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
	for (int i = 0; i < 200; i++) {
		struct history_record r = rec(i, "F");

		/* ~250 messages a second (the writer is locked out whatever
		 * the rate), but never faster than the spooler drains the spill:
		 * on a loaded machine it may be off the CPU for a while, which is
		 * not what this checks.  The writer takes the first batch. */
		if (i > 0)
			usleep(4000);
		paced = paced && wait_depth(s, i == 1 ? 0 : 2 * o.queue_max - 1);
		store_append(s, &r);
	}
	CHECK(paced,
	      "the writer takes the first record; the spill drains while the store is locked");
	store_stats(s, &st);
	CHECK(st.dropped == 0 && st.queue_depth <= 20, "queue full: records spill, none dropped");
	CHECK(wait_for(s, 150, 0), "the spill went to the spool without waiting for the store");
	sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(raw);
	store_close(&s);
	s = open_sync(db, &error); /* loads what is still spooled */
	c = s != NULL ? each(s, 0, 1000) : (struct collect){.n = -1};
	CHECK(c.n == 200, "all 200 records in the store after reload (%d)", c.n);
	store_close(&s);
	CHECK(access(path("authscore-spool.jsonl"), F_OK) < 0, "spool removed");
}

/*
 * A state directory that refuses writes and later takes them.  Root ignores
 * permission bits, so: a read-only bind mount of the directory over itself
 * (a private mount namespace, entered by main() while single-threaded),
 * remounted read-write later; without CAP_SYS_ADMIN, a regular file where
 * the directory should be (ENOTDIR), replaced by the directory later.
 */
static int have_mountns;

static void unwritable_begin(const char *d)
{
	if (have_mountns) {
		mkdir(d, 0700);
		if (mount(d, d, NULL, MS_BIND, NULL) == 0 &&
		    mount(NULL, d, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0)
			return;
		printf("# read-only bind mount of %s: %s; a file in its place\n", d,
		       strerror(errno));
		umount2(d, MNT_DETACH);
		rmdir(d);
		have_mountns = 0;
	}
	close(open(d, O_WRONLY | O_CREAT | O_TRUNC, 0600));
}

static void unwritable_end(const char *d)
{
	if (have_mountns) {
		if (mount(NULL, d, NULL, MS_REMOUNT | MS_BIND, NULL) < 0)
			printf("# remount %s read-write: %s\n", d, strerror(errno));
		return;
	}
	unlink(d);
	mkdir(d, 0700);
}

static int wait_stats(struct store *s, int (*done)(const struct store_stats *st))
{
	struct store_stats st;

	for (int i = 0; i < 400; i++) {
		store_stats(s, &st);
		if (done(&st))
			return 1;
		usleep(50000);
	}
	return 0;
}

static int retried_twice(const struct store_stats *st)
{
	return st->retried >= 2;
}

static int all_out(const struct store_stats *st)
{
	return st->queue_depth == 0;
}

/* rows, distinct uids and distinct queue ids in the messages table */
static void count_rows(const char *db, int counts[3])
{
	sqlite3 *raw;
	sqlite3_stmt *st;

	counts[0] = counts[1] = counts[2] = -1;
	if (sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(raw,
			       "SELECT count(*), count(DISTINCT uid), count(DISTINCT queue_id) "
			       "FROM messages",
			       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			for (int i = 0; i < 3; i++)
				counts[i] = sqlite3_column_int(st, i);
		sqlite3_finalize(st);
	}
	sqlite3_close(raw);
}

/*
 * Neither the store nor the spool can be written at first (a read-only
 * state directory), then both can: every record reaches the store exactly
 * once.  The batches that nobody took go back in the queue and the spill
 * queue and are tried again: they must not point into the arena of the
 * failed attempt (their uid did, once: a use after free, then records lost
 * or two records with one uid, stored once).  A queue of 200 for 400
 * records: half through the writer, half through the spool thread.
 */
static void test_unwritable_then_writable(void)
{
	char *state = path("ro"), db[300];
	struct store_options o = {
	    .location = db, .spool_dir = state, .writer = 1, .queue_max = 200};
	char *error = NULL;
	struct store *s;
	struct store_stats st;
	int counts[3];

	snprintf(db, sizeof(db), "%s/history.sqlite", state);
	unwritable_begin(state);
	printf("# the state directory refuses writes: %s\n",
	       have_mountns ? "read-only bind mount" : "a file in its place");
	s = store_open(&o, &error);
	CHECK(s != NULL, "unwritable: the writer opens without its store (%s)",
	      error ? error : "ok");
	free(error);
	if (s == NULL)
		return;
	for (int i = 0; i < 400; i++) {
		char qid[16];
		struct history_record r;

		snprintf(qid, sizeof(qid), "U%d", i);
		r = rec(5000 + i, qid);
		store_append(s, &r);
	}
	store_stats(s, &st);
	CHECK(st.dropped == 0, "unwritable: 400 records queued or spilled, none dropped");
	CHECK(wait_stats(s, retried_twice), "unwritable: batches nobody took are tried again");
	unwritable_end(state);
	CHECK(wait_stats(s, all_out), "writable again: the queues drain");
	store_stats(s, &st);
	CHECK(st.dropped == 0, "writable again: nothing dropped (%llu)",
	      (unsigned long long)st.dropped);
	store_close(&s);
	o.writer = 0;
	s = store_open(&o, &error); /* loads what was spooled */
	CHECK(s != NULL, "the store opens: %s", error ? error : "ok");
	free(error);
	error = NULL;
	store_close(&s);
	count_rows(db, counts);
	CHECK(counts[0] == 400 && counts[1] == 400 && counts[2] == 400,
	      "every record stored exactly once, each with its own uid (%d rows, %d uids, "
	      "%d queue ids)",
	      counts[0], counts[1], counts[2]);
	if (have_mountns)
		umount2(state, MNT_DETACH);
}

static void test_ledger_and_expire(void)
{
	const char *db = path("ledger.sqlite");
	char *error = NULL;
	struct store *s = open_sync(db, &error);
	int64_t now = (int64_t)time(NULL);
	struct history_record r;
	struct collect c;

	if (s == NULL) {
		CHECK(0, "open: %s", error);
		return;
	}
	CHECK(store_report_sent(s, "example.com", 0, 86400) == 0, "not sent yet");
	CHECK(store_mark_sent(s, "example.com", 0, 86400, "id-1", &error) == 0, "mark sent");
	CHECK(store_report_sent(s, "example.com", 0, 86400) == 1, "sent");
	CHECK(store_mark_sent(s, "example.com", 0, 86400, "id-2", &error) == 0,
	      "marking twice is harmless");
	CHECK(store_report_sent(s, "example.com", 86400, 2 * 86400) == 0, "another period");
	CHECK(store_report_sent(s, "example.org", 0, 86400) == 0, "another domain");

	r = rec(now - 10 * 86400, "OLD");
	store_append(s, &r);
	r = rec(now - 3 * 86400, "RECENT");
	store_append(s, &r);
	r = rec(now, "NOW");
	store_append(s, &r);
	CHECK(store_expire(s, 5, &error) == 1, "expire 5 days: one deleted");
	c = each(s, 0, now + 1);
	CHECK(c.n == 2 && strcmp(c.qids[0], "RECENT") == 0, "the recent ones stay");
	CHECK(store_expire(s, 5, &error) == 0, "expire again: nothing");
	store_close(&s);
}

/* Item 10 of issue 15: the daemon's writer expires old records by itself
 * (no report run, no report-email), at start and when the setting changes. */
static void test_writer_retention(void)
{
	const char *db = path("retention.sqlite");
	char *error = NULL;
	struct store *s = open_sync(db, &error);
	int64_t now = (int64_t)time(NULL);
	struct store_options o = {
	    .location = db, .spool_dir = dir, .writer = 1, .retention_days = 30};
	struct history_record r;
	struct collect c = {0};

	if (s == NULL) {
		CHECK(0, "open: %s", error);
		free(error);
		return;
	}
	r = rec(now - 400 * 86400, "ANCIENT");
	store_append(s, &r);
	r = rec(now - 40 * 86400, "OLD");
	store_append(s, &r);
	r = rec(now - 20 * 86400, "RECENT");
	store_append(s, &r);
	r = rec(now - 60, "NOW");
	store_append(s, &r);
	store_close(&s);

	if ((s = store_open(&o, &error)) == NULL) {
		CHECK(0, "writer open: %s", error);
		free(error);
		return;
	}
	/* polled with a deadline (10 s): the writer expires at start */
	for (int i = 0; i < 200; i++) {
		c = each(s, 0, now + 1);
		if (c.n <= 2)
			break;
		usleep(50000);
	}
	CHECK(c.n == 2 && strcmp(c.qids[0], "RECENT") == 0 && strcmp(c.qids[1], "NOW") == 0,
	      "writer, retention 30 days: the two older records go at start, the recent stay "
	      "(%d left)",
	      c.n);
	store_set_retention(s, 10);
	for (int i = 0; i < 200; i++) {
		c = each(s, 0, now + 1);
		if (c.n <= 1)
			break;
		usleep(50000);
	}
	CHECK(c.n == 1 && strcmp(c.qids[0], "NOW") == 0,
	      "a changed retention (10 days) applies at once (%d left)", c.n);
	store_set_retention(s, 0);
	r = rec(now - 1000 * 86400, "KEPT");
	store_append(s, &r);
	CHECK(wait_depth(s, 0), "the writer drains its queue");
	for (int i = 0; i < 200; i++) { /* it is written a moment after it leaves the queue */
		c = each(s, 0, now + 1);
		if (c.n >= 2)
			break;
		usleep(50000);
	}
	c = each(s, 0, now + 1);
	CHECK(c.n == 2 && strcmp(c.qids[0], "KEPT") == 0,
	      "retention 0 keeps every record (%d stored)", c.n);
	store_close(&s);
}

static int stop_at_two(const struct history_record *r, void *arg)
{
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_each_stops(void)
{
	char *error = NULL;
	struct store *s = open_sync(path("sync.sqlite"), &error);
	int n = 0;

	/* sync.sqlite was set to version 99 above: use the writer file */
	store_close(&s);
	free(error);
	error = NULL;
	s = open_sync(path("writer.sqlite"), &error);
	if (s == NULL) {
		CHECK(0, "open: %s", error);
		return;
	}
	CHECK(store_each(s, 0, 100000, NULL, stop_at_two, &n, &error) == 42 && n == 2,
	      "store_each stops when fn returns nonzero, with its value");
	store_close(&s);
}

int main(void)
{
	char cmd[128];

	log_init("store_test", 1);
	/* while single-threaded: every thread started later shares it */
	have_mountns =
	    unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
	snprintf(dir, sizeof(dir), "/tmp/store_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	test_sync_and_migrations();
	test_writer();
	test_spool_bad_path();
	test_spool_corrupt();
	test_queue_full();
	test_unwritable_then_writable();
	test_ledger_and_expire();
	test_writer_retention();
	test_each_stops();
	if (check_failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	} else
		printf("# kept %s\n", dir);
	return check_done();
}

/*
 * store - queue, writer thread, spool and reload over a backend (see store.h).
 *
 * store_append() (writer mode) takes a deep copy of the record (one
 * malloc'd block, its uid included) onto `q`, drained by the writer thread
 * in transactions of up to STORE_BATCH_MAX records or STORE_BATCH_MS
 * milliseconds.  When `q`
 * is full the copy goes onto `spill`, which the spool thread appends to the
 * spool file; only when both are full is a record dropped (counted, logged
 * at most once a minute): the caller never waits for a disk or a network.
 * A queued record owns everything it points to: a batch that neither the
 * store nor the spool takes goes back in its queue and is encoded again
 * later, so nothing in it may point into the arena of the failed attempt.
 *
 * A batch the backend refuses (no database, a write error, PostgreSQL
 * down) is appended to <spool_dir>/authscore-spool.jsonl (one record_encode
 * line each, O_APPEND, fsync per batch), and the backend is reopened after
 * a backoff (STORE_RETRY_MIN_MS doubling to STORE_RETRY_MAX_MS).  Once it
 * works again the spool is renamed to .loading, loaded in one transaction
 * and removed; lines that do not decode go to .bad.  Every record has a
 * uid and the insert ignores a uid already stored, so a spool loaded twice
 * (a crash between commit and unlink, a COMMIT whose answer was lost)
 * stores each record once.  Processes sharing a spool directory serialize
 * on flock(2) of authscore-spool.lock.
 *
 * store_close() drains both queues without waiting: a store already broken
 * is not reconnected (that can take seconds) and a spool is not loaded;
 * what the store does not take goes to the spool, for the next start.
 *
 * Locks, always taken in this order: be_lock (backend calls), spool_lock
 * (the spool file within this process), lock (queues, counters, flags).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "record_int.h"
#include "store.h"
#include "store_int.h"

#define STORE_QUEUE_DEFAULT 10000
#define STORE_BATCH_MAX	    1000
#define STORE_BATCH_MS	    200
#define STORE_RETRY_MIN_MS  500
#define STORE_RETRY_MAX_MS  5000
#define STORE_IDLE_MS	    1000
#define STORE_EXPIRE_MS	    (24 * 3600 * 1000LL) /* retention: once a day */
#define STORE_EXPIRE_RETRY  (3600 * 1000LL)	 /* after a failed expiry */
#define STORE_EXPIRE_WAIT   (60 * 1000LL)	 /* while the store is down */

struct qitem {
	struct qitem *next;
	struct history_record *r; /* record_dup() */
	int64_t enqueued_ms;
};

struct queue {
	struct qitem *head, *tail;
	unsigned depth;
};

struct store {
	const struct store_ops *ops;
	char *location;
	void *be;   /* NULL while the store is unavailable */
	int broken; /* reopen at retry_at_ms */
	int64_t retry_at_ms;
	unsigned backoff_ms;
	char *spool, *loading, *bad, *lockfile; /* NULL without a spool_dir */
	int spool_pending;			/* a spool file may exist */
	int writer;
	unsigned queue_max;
	unsigned retention_days; /* 0: keep every record (under lock) */
	int64_t expire_at_ms;	 /* the writer's next expiry (under lock) */

	pthread_mutex_t be_lock, spool_lock, lock;
	pthread_cond_t wake_writer, wake_spooler;
	struct queue q, spill;
	int closing, threads;
	pthread_t writer_tid, spooler_tid;
	struct store_stats st;
	int64_t drop_logged_ms;

	char uid_prefix[17];
	uint64_t uid_seq;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline(struct timespec *ts, int64_t ms_from_now)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms_from_now / 1000;
	ts->tv_nsec += (ms_from_now % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void q_push(struct queue *q, struct qitem *it)
{
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->depth++;
}

/* Up to max items off the head, as a list. */
static struct qitem *q_take(struct queue *q, unsigned max, unsigned *n_r)
{
	struct qitem *first = q->head, *last = NULL, *it = q->head;
	unsigned n = 0;

	while (it != NULL && n < max) {
		last = it;
		it = it->next;
		n++;
	}
	if (last != NULL)
		last->next = NULL;
	q->head = it;
	if (it == NULL)
		q->tail = NULL;
	q->depth -= n;
	*n_r = n;
	return n > 0 ? first : NULL;
}

/* Put a list back at the head (a batch nothing could take). */
static void q_unshift(struct queue *q, struct qitem *list)
{
	struct qitem *last = list;
	unsigned n = 1;

	if (list == NULL)
		return;
	while (last->next != NULL) {
		last = last->next;
		n++;
	}
	last->next = q->head;
	q->head = list;
	if (q->tail == NULL)
		q->tail = last;
	q->depth += n;
}

/* Returns how many there were. */
static unsigned items_free(struct qitem *list)
{
	unsigned n = 0;

	for (struct qitem *it = list, *next; it != NULL; it = next, n++) {
		next = it->next;
		free(it->r);
		free(it);
	}
	return n;
}

/* ----------------------------------------------------------------- columns */

size_t store_columns(const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < record_field_count && n + 1 < max; i++)
		names[n++] = record_fields[i].name;
	names[n++] = "facts";
	return n;
}

/* Bytes that are not UTF-8 become '?': the columns are for SQL queries; the
 * exact bytes are in `facts`, which is UTF-8 by construction (record.h). */
static const char *utf8_clean(const char *s, struct arena *a)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = NULL;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t len = 0;
		unsigned char c = p[i];

		if (c < 0x80)
			len = 1;
		else if (c >= 0xc2 && c <= 0xdf && i + 1 < n && (p[i + 1] & 0xc0) == 0x80)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef && i + 2 < n && (p[i + 1] & 0xc0) == 0x80 &&
			 (p[i + 2] & 0xc0) == 0x80 && !(c == 0xe0 && p[i + 1] < 0xa0) &&
			 !(c == 0xed && p[i + 1] > 0x9f))
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4 && i + 3 < n && (p[i + 1] & 0xc0) == 0x80 &&
			 (p[i + 2] & 0xc0) == 0x80 && (p[i + 3] & 0xc0) == 0x80 &&
			 !(c == 0xf0 && p[i + 1] < 0x90) && !(c == 0xf4 && p[i + 1] > 0x8f))
			len = 4;
		if (len == 0) {
			if (out == NULL)
				out = arena_strdup(a, s);
			out[i] = '?';
			len = 1;
		}
		i += len;
	}
	return out != NULL ? out : s;
}

size_t store_values(const struct history_record *r, const char *line, struct arena *a,
		    struct store_value *v, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < record_field_count && n + 1 < max; i++, n++) {
		const struct record_field *f = &record_fields[i];
		const char *p = (const char *)r + f->offset;

		memset(&v[n], 0, sizeof(v[n]));
		switch (f->kind) {
		case FK_STR: {
			const char *s = *(const char *const *)p;

			v[n].kind = s != NULL ? SV_TEXT : SV_NULL;
			v[n].text = s != NULL ? utf8_clean(s, a) : NULL;
			break;
		}
		case FK_I64:
			v[n].kind = SV_INT;
			v[n].i = *(const int64_t *)p;
			break;
		case FK_INT:
			v[n].kind = SV_INT;
			v[n].i = *(const int *)p;
			break;
		case FK_DBL:
			v[n].kind = SV_REAL;
			v[n].d = *(const double *)p;
			break;
		}
	}
	v[n].kind = SV_TEXT;
	v[n].text = line;
	return n + 1;
}

char *store_insert_sql(int dollar)
{
	const char *names[STORE_MAX_COLUMNS];
	size_t n = store_columns(names, STORE_MAX_COLUMNS);
	struct buf b;
	char *sql;

	buf_init(&b, 8192);
	buf_puts(&b, "INSERT INTO messages (");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s\"%s\"", i > 0 ? ", " : "", names[i]);
	buf_puts(&b, ") VALUES (");
	for (size_t i = 0; i < n; i++)
		if (dollar)
			buf_printf(&b, "%s$%zu", i > 0 ? ", " : "", i + 1);
		else
			buf_printf(&b, "%s?", i > 0 ? ", " : "");
	buf_puts(&b, ") ON CONFLICT (uid) DO NOTHING");
	sql = xstrdup(buf_str(&b));
	buf_release(&b);
	return sql;
}

/* ------------------------------------------------------------------ backend */

/* Called with be_lock held.  Opens the backend when it is due; 0 when usable. */
static int backend_ready(struct store *s)
{
	char *error = NULL;

	if (s->be != NULL && !s->broken)
		return 0;
	if (now_ms() < s->retry_at_ms)
		return -1;
	if (s->be != NULL)
		s->ops->close(s->be);
	s->be = s->ops->open(s->location, &error);
	if (s->be == NULL) {
		if (s->backoff_ms == 0) /* the first failure in a row is logged */
			log_warn("history store %s unavailable: %s; spooling", s->location, error);
		s->backoff_ms = s->backoff_ms == 0 ? STORE_RETRY_MIN_MS : s->backoff_ms * 2;
		if (s->backoff_ms > STORE_RETRY_MAX_MS)
			s->backoff_ms = STORE_RETRY_MAX_MS;
		s->retry_at_ms = now_ms() + s->backoff_ms;
		s->broken = 1;
		free(error);
		return -1;
	}
	if (s->broken)
		log_notice("history store %s available again", s->location);
	s->broken = 0;
	s->backoff_ms = 0;
	return 0;
}

/* A write failed: reopen later (a dead connection, a full disk, a lock). */
static void backend_failed(struct store *s, const char *what, const char *error)
{
	log_warn("history store %s: %s: %s; spooling", s->location, what, error);
	s->broken = 1;
	s->backoff_ms = STORE_RETRY_MIN_MS;
	s->retry_at_ms = now_ms() + s->backoff_ms;
}

#define STORE_UID_MAX 40 /* 16 hex digits, '-', up to 16 hex digits */

static void make_uid(struct store *s, char uid[STORE_UID_MAX])
{
	uint64_t seq = __atomic_add_fetch(&s->uid_seq, 1, __ATOMIC_RELAXED);

	snprintf(uid, STORE_UID_MAX, "%s-%llx", s->uid_prefix, (unsigned long long)seq);
}

/* The copy a queue holds: one block with every string, the uid too, so it
 * survives any number of failed attempts (no pointer into their arenas). */
static struct history_record *queued_copy(struct store *s, const struct history_record *r)
{
	struct history_record with_uid;
	char uid[STORE_UID_MAX];

	if (r->uid != NULL)
		return record_dup(r);
	with_uid = *r;
	make_uid(s, uid);
	with_uid.uid = uid;
	return record_dup(&with_uid);
}

/* Encode each record of *listp (in a); a record too long to encode is
 * dropped from the list, once. */
static size_t encode_batch(struct store *s, struct qitem **listp, struct arena *a,
			   const struct history_record **recs, const char **lines)
{
	size_t n = 0;

	for (struct qitem **pp = listp, *it; (it = *pp) != NULL;) {
		if ((lines[n] = record_encode(it->r, a)) == NULL) {
			log_err("history record of %s dropped: longer than %d bytes encoded",
				it->r->queue_id != NULL ? it->r->queue_id : "?", RECORD_MAX_LINE);
			pthread_mutex_lock(&s->lock);
			s->st.dropped++;
			pthread_mutex_unlock(&s->lock);
			*pp = it->next;
			free(it->r);
			free(it);
			continue;
		}
		recs[n++] = it->r;
		pp = &it->next;
	}
	return n;
}

/* One transaction; called with be_lock held and the backend ready. */
static int db_write(struct store *s, const struct history_record *const *recs,
		    const char *const *lines, size_t n, struct arena *a)
{
	struct store_value v[STORE_MAX_COLUMNS];
	char *error = NULL;

	if (s->ops->begin(s->be, &error) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t nv = store_values(recs[i], lines[i], a, v, STORE_MAX_COLUMNS);

		if (s->ops->insert(s->be, v, nv, &error) < 0) {
			s->ops->rollback(s->be);
			goto fail;
		}
	}
	if (s->ops->commit(s->be, &error) < 0) {
		s->ops->rollback(s->be);
		goto fail;
	}
	return 0;
fail:
	backend_failed(s, "write", error);
	free(error);
	return -1;
}

/* ------------------------------------------------------------------- spool */

static int lock_spool(struct store *s)
{
	int fd;

	pthread_mutex_lock(&s->spool_lock);
	fd = open(s->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		log_err("history spool lock %s: %s", s->lockfile, strerror(errno));
		if (fd >= 0)
			close(fd);
		pthread_mutex_unlock(&s->spool_lock);
		return -1;
	}
	return fd;
}

static void unlock_spool(struct store *s, int fd)
{
	close(fd); /* releases the flock */
	pthread_mutex_unlock(&s->spool_lock);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Append lines to the spool, one write and one fsync; a failed write is
 * cut back off, so the file only ever holds whole lines. */
static int spool_write(struct store *s, const char *const *lines, size_t n)
{
	struct buf b;
	struct stat st;
	int lockfd, fd, rc = -1;

	if (s->spool == NULL || n == 0)
		return s->spool == NULL ? -1 : 0;
	buf_init(&b, (size_t)-1 / 2);
	for (size_t i = 0; i < n; i++) {
		buf_puts(&b, lines[i]);
		buf_append(&b, "\n", 1);
	}
	if ((lockfd = lock_spool(s)) < 0) {
		buf_release(&b);
		return -1;
	}
	fd = open(s->spool, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		log_err("history spool %s: %s", s->spool, strerror(errno));
	else if (fstat(fd, &st) < 0)
		log_err("history spool %s: %s", s->spool, strerror(errno));
	else if (write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		log_err("history spool %s: write: %s", s->spool, strerror(errno));
		if (ftruncate(fd, st.st_size) < 0)
			log_err("history spool %s: truncate: %s", s->spool, strerror(errno));
	} else
		rc = 0;
	if (fd >= 0)
		close(fd);
	unlock_spool(s, lockfd);
	buf_release(&b);
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		s->spool_pending = 1;
		s->st.spooled += n;
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

static void spool_bad(struct store *s, FILE **badp, const char *line, size_t len,
		      unsigned long lineno, const char *why)
{
	log_warn("history spool %s line %lu skipped (kept in %s): %s", s->loading, lineno, s->bad,
		 why);
	if (*badp == NULL && (*badp = fopen(s->bad, "ae")) == NULL) {
		log_err("history spool %s: %s", s->bad, strerror(errno));
		return;
	}
	fwrite(line, 1, len, *badp);
	fputc('\n', *badp);
}

/* Reads the next line into *b (without its newline); a line over the cap
 * is consumed and reported as too long.  Returns 1, 0 at the end, -1 on a
 * read error. */
static int read_line(FILE *f, struct buf *b, int *too_long)
{
	int c;

	buf_reset(b);
	*too_long = 0;
	while ((c = getc(f)) != EOF && c != '\n') {
		char ch = (char)c;

		if (!*too_long && buf_append(b, &ch, 1) < 0)
			*too_long = 1;
	}
	if (c == EOF && ferror(f))
		return -1;
	return c == EOF && b->len == 0 && !*too_long ? 0 : 1;
}

/* Load .loading (the spool renamed, fd locked) in one transaction and
 * remove it.  be_lock held, backend ready.  Returns the records loaded, or
 * -1 (the file is kept for the next attempt). */
static long spool_load(struct store *s, int fd)
{
	FILE *f = fdopen(fd, "r"), *bad = NULL;
	struct buf line;
	struct arena *a = NULL;
	struct store_value v[STORE_MAX_COLUMNS];
	char *error = NULL;
	unsigned long lineno = 0;
	long loaded = 0;
	int rc, too_long;

	if (f == NULL) {
		close(fd);
		return -1;
	}
	buf_init(&line, RECORD_MAX_LINE);
	if (s->ops->begin(s->be, &error) < 0)
		goto fail;
	while ((rc = read_line(f, &line, &too_long)) > 0) {
		struct history_record r;
		const char *why, *enc;

		lineno++;
		if (too_long) {
			spool_bad(s, &bad, line.data, line.len, lineno, "line too long");
			continue;
		}
		arena_free(&a);
		a = arena_new(16384);
		if (record_decode(buf_str(&line), line.len, a, &r, &why) < 0) {
			spool_bad(s, &bad, buf_str(&line), line.len, lineno, why);
			continue;
		}
		if (r.uid == NULL) { /* lives in this line's arena, as r does */
			char uid[STORE_UID_MAX];

			make_uid(s, uid);
			r.uid = arena_strdup(a, uid);
		}
		if ((enc = record_encode(&r, a)) == NULL) {
			spool_bad(s, &bad, buf_str(&line), line.len, lineno,
				  "too long to re-encode");
			continue;
		}
		if (s->ops->insert(s->be, v, store_values(&r, enc, a, v, STORE_MAX_COLUMNS),
				   &error) < 0) {
			s->ops->rollback(s->be);
			goto fail;
		}
		loaded++;
	}
	if (rc < 0) {
		error = xasprintf("read %s: %s", s->loading, strerror(errno));
		s->ops->rollback(s->be);
		goto fail;
	}
	if (s->ops->commit(s->be, &error) < 0) {
		s->ops->rollback(s->be);
		goto fail;
	}
	if (bad != NULL && (fflush(bad) != 0 || fsync(fileno(bad)) < 0))
		log_err("history spool %s: %s", s->bad, strerror(errno));
	/* removed while still locked: no other process loads it again */
	if (unlink(s->loading) < 0)
		log_err("history spool %s: unlink: %s", s->loading, strerror(errno));
	goto out;
fail:
	backend_failed(s, "loading the spool", error);
	loaded = -1;
out:
	free(error);
	if (bad != NULL)
		fclose(bad);
	arena_free(&a);
	buf_release(&line);
	fclose(f);
	return loaded;
}

/* Move the spool aside and load it.  be_lock held, backend ready. */
static void spool_reload(struct store *s)
{
	struct stat st_path, st_fd;
	int lockfd, fd = -1, busy = 0;
	long n;

	if (s->spool == NULL)
		return;
	if ((lockfd = lock_spool(s)) < 0)
		return;
	/* a .loading left by a failed attempt goes first; the spool waits */
	if (access(s->loading, F_OK) < 0 && rename(s->spool, s->loading) < 0) {
		if (errno != ENOENT)
			log_err("history spool %s: rename: %s", s->spool, strerror(errno));
		pthread_mutex_lock(&s->lock);
		s->spool_pending = 0;
		pthread_mutex_unlock(&s->lock);
		unlock_spool(s, lockfd);
		return;
	}
	/* another process may be loading it: its lock says so */
	fd = open(s->loading, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
		busy = 1;
	unlock_spool(s, lockfd);
	if (fd < 0 || busy) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fstat(fd, &st_fd) < 0 || stat(s->loading, &st_path) < 0 ||
	    st_fd.st_ino != st_path.st_ino || st_fd.st_dev != st_path.st_dev) {
		close(fd); /* loaded and removed by someone else meanwhile */
		return;
	}
	if ((n = spool_load(s, fd)) < 0)
		return;
	log_notice("history spool: %ld records loaded into %s", n, s->location);
	pthread_mutex_lock(&s->lock);
	s->st.reloaded += (uint64_t)n;
	/* more may have been spooled while this one loaded: next time */
	s->spool_pending = access(s->spool, F_OK) == 0;
	pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------- batches */

/* Store a batch, or spool it.  Returns 0 when every record went somewhere
 * (or was dropped as unencodable, and taken off *listp), -1 when neither
 * took it.  Closing, a broken store is not retried (a reconnect can take
 * seconds) and a spool is left for the next start: the batch is spooled. */
static int write_batch(struct store *s, struct qitem **listp, unsigned count)
{
	const struct history_record **recs = xcalloc(count, sizeof(*recs));
	const char **lines = xcalloc(count, sizeof(*lines));
	struct arena *a = arena_new(64 * 1024);
	size_t n = encode_batch(s, listp, a, recs, lines);
	int rc = -1, pending, closing;

	pthread_mutex_lock(&s->lock);
	closing = s->closing;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->be_lock);
	if (!(closing && s->broken) && backend_ready(s) == 0 &&
	    db_write(s, recs, lines, n, a) == 0) {
		pthread_mutex_lock(&s->lock);
		s->st.written += n;
		pending = s->spool_pending && !s->closing;
		pthread_mutex_unlock(&s->lock);
		if (pending)
			spool_reload(s);
		rc = 0;
	}
	pthread_mutex_unlock(&s->be_lock);
	if (rc < 0 && spool_write(s, lines, n) == 0)
		rc = 0;
	arena_free(&a);
	free(recs);
	free(lines);
	return rc;
}

/* Retention, in the writer thread: records older than retention_days go,
 * at start (or when the setting changes) and then once a day.  Milter
 * threads never wait for it: they only queue, and the queue spools when
 * a long DELETE keeps the writer busy. */
static void expire_work(struct store *s)
{
	unsigned days;
	int64_t next = STORE_EXPIRE_WAIT;
	char *error = NULL;

	pthread_mutex_lock(&s->lock);
	days = s->retention_days;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->be_lock);
	if (days > 0 && backend_ready(s) == 0) {
		long n = s->ops->expire(s->be, (int64_t)time(NULL) - (int64_t)days * 86400, &error);

		if (n < 0) {
			log_warn(
			    "history store %s: retention (%u days): %s; tried again in an hour",
			    s->location, days, error ? error : "?");
			next = STORE_EXPIRE_RETRY;
		} else {
			if (n > 0)
				log_info(
				    "history store %s: %ld record(s) older than %u days removed",
				    s->location, n, days);
			next = STORE_EXPIRE_MS;
		}
		free(error);
	}
	pthread_mutex_unlock(&s->be_lock);
	pthread_mutex_lock(&s->lock);
	if (s->retention_days == days) /* not changed meanwhile: that is due now */
		s->expire_at_ms = now_ms() + next;
	pthread_mutex_unlock(&s->lock);
}

/* Called with s->lock held. */
static int expire_due(const struct store *s)
{
	return s->retention_days > 0 && !s->closing && now_ms() >= s->expire_at_ms;
}

/* Idle: reopen a broken backend when due, and load a spool left behind. */
static void idle_work(struct store *s)
{
	int pending;

	pthread_mutex_lock(&s->lock);
	pending = s->spool_pending;
	pthread_mutex_unlock(&s->lock);
	if (!pending)
		return;
	pthread_mutex_lock(&s->be_lock);
	if (backend_ready(s) == 0)
		spool_reload(s);
	pthread_mutex_unlock(&s->be_lock);
}

static void *writer_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct timespec ts;
		struct qitem *list;
		unsigned n;

		if (expire_due(s)) {
			pthread_mutex_unlock(&s->lock);
			expire_work(s);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (s->q.depth == 0 && !s->closing) {
			deadline(&ts, STORE_IDLE_MS);
			if (pthread_cond_timedwait(&s->wake_writer, &s->lock, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&s->lock);
				idle_work(s);
				pthread_mutex_lock(&s->lock);
			}
			continue;
		}
		if (s->q.depth == 0)
			break; /* closing, all written */
		/* gather a batch: STORE_BATCH_MAX records or STORE_BATCH_MS */
		while (!s->closing && s->q.depth < STORE_BATCH_MAX) {
			int64_t wait = s->q.head->enqueued_ms + STORE_BATCH_MS - now_ms();

			if (wait <= 0)
				break;
			deadline(&ts, wait);
			pthread_cond_timedwait(&s->wake_writer, &s->lock, &ts);
		}
		list = q_take(&s->q, STORE_BATCH_MAX, &n);
		pthread_mutex_unlock(&s->lock);
		if (write_batch(s, &list, n) == 0) {
			items_free(list);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		if (s->closing) {
			/* neither the store nor the spool: nothing left to try */
			n = items_free(list);
			log_err("history store: %u records lost at shutdown (no store, no spool)",
				n);
			s->st.dropped += n;
			continue;
		}
		/* keep them and wait for the store or the spool to come back */
		q_unshift(&s->q, list);
		s->st.retried++;
		deadline(&ts, STORE_RETRY_MIN_MS);
		pthread_cond_timedwait(&s->wake_writer, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Drains `spill` (records the full queue could not take) to the spool. */
static void *spooler_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct qitem *list;
		struct arena *a;
		const struct history_record **recs;
		const char **lines;
		unsigned n;
		size_t m;

		while (s->spill.depth == 0 && !s->closing)
			pthread_cond_wait(&s->wake_spooler, &s->lock);
		if (s->spill.depth == 0)
			break;
		list = q_take(&s->spill, STORE_BATCH_MAX, &n);
		pthread_mutex_unlock(&s->lock);
		a = arena_new(64 * 1024);
		recs = xcalloc(n, sizeof(*recs));
		lines = xcalloc(n, sizeof(*lines));
		m = encode_batch(s, &list, a, recs, lines);
		if (spool_write(s, lines, m) < 0) {
			struct timespec ts;

			pthread_mutex_lock(&s->lock);
			if (s->closing) {
				n = items_free(list);
				log_err("history store: %u records lost at shutdown (spool)", n);
				s->st.dropped += n;
			} else {
				q_unshift(&s->spill, list);
				s->st.retried++;
				deadline(&ts, STORE_RETRY_MIN_MS);
				pthread_cond_timedwait(&s->wake_spooler, &s->lock, &ts);
			}
			pthread_mutex_unlock(&s->lock);
		} else
			items_free(list);
		arena_free(&a);
		free(recs);
		free(lines);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ------------------------------------------------------------------- API */

static int start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	/* the daemon's signals belong to its main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(tid, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

struct store *store_open(const struct store_options *o, char **error_r)
{
	struct store *s = xcalloc(1, sizeof(*s));
	const char *loc = o->location;
	unsigned char rnd[8];
	char *error = NULL;

	*error_r = NULL;
	if (loc == NULL || *loc == '\0') {
		*error_r = xstrdup("no history store location");
		free(s);
		return NULL;
	}
	if (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0)
		s->ops = &store_pg_ops;
	else {
		s->ops = &store_sqlite_ops;
		if (strncmp(loc, "sqlite:", 7) == 0)
			loc += 7;
	}
	s->location = xstrdup(loc);
	s->writer = o->writer;
	s->retention_days = o->retention_days;
	s->queue_max = o->queue_max > 0 ? o->queue_max : STORE_QUEUE_DEFAULT;
	if (o->spool_dir != NULL) {
		s->spool = xasprintf("%s/" STORE_SPOOL_NAME, o->spool_dir);
		s->loading = xasprintf("%s/" STORE_SPOOL_NAME ".loading", o->spool_dir);
		s->bad = xasprintf("%s/" STORE_SPOOL_NAME ".bad", o->spool_dir);
		s->lockfile = xasprintf("%s/authscore-spool.lock", o->spool_dir);
		s->spool_pending = access(s->spool, F_OK) == 0 || access(s->loading, F_OK) == 0;
	}
	/* uids: 64 random bits per open, then a counter */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ (uint64_t)now_ms();

		memcpy(rnd, &t, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(s->uid_prefix + 2 * i, 3, "%02x", rnd[i]);
	pthread_mutex_init(&s->be_lock, NULL);
	pthread_mutex_init(&s->spool_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake_writer, NULL);
	pthread_cond_init(&s->wake_spooler, NULL);

	s->be = s->ops->open(s->location, &error);
	if (s->be == NULL) {
		/* the daemon starts and spools; a tool needs the store now */
		if (!s->writer || s->spool == NULL) {
			*error_r = error;
			store_close(&s);
			return NULL;
		}
		log_warn("history store %s unavailable: %s; spooling to %s", s->location, error,
			 s->spool);
		free(error);
		s->broken = 1;
		s->backoff_ms = STORE_RETRY_MIN_MS;
		s->retry_at_ms = now_ms() + s->backoff_ms;
	} else if (s->spool_pending && !s->writer) {
		pthread_mutex_lock(&s->be_lock);
		spool_reload(s);
		pthread_mutex_unlock(&s->be_lock);
	}
	if (s->writer) {
		if (start_thread(&s->writer_tid, writer_main, s) != 0) {
			*error_r = xstrdup("cannot start the history writer thread");
			store_close(&s);
			return NULL;
		}
		s->threads = 1;
		if (start_thread(&s->spooler_tid, spooler_main, s) != 0) {
			*error_r = xstrdup("cannot start the history spool thread");
			store_close(&s);
			return NULL;
		}
		s->threads = 2;
	}
	return s;
}

void store_close(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = 1;
	pthread_cond_broadcast(&s->wake_writer);
	pthread_cond_broadcast(&s->wake_spooler);
	pthread_mutex_unlock(&s->lock);
	if (s->threads >= 1)
		pthread_join(s->writer_tid, NULL);
	if (s->threads >= 2)
		pthread_join(s->spooler_tid, NULL);
	items_free(s->q.head);
	items_free(s->spill.head);
	if (s->be != NULL)
		s->ops->close(s->be);
	pthread_cond_destroy(&s->wake_writer);
	pthread_cond_destroy(&s->wake_spooler);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->spool_lock);
	pthread_mutex_destroy(&s->be_lock);
	free(s->location);
	free(s->spool);
	free(s->loading);
	free(s->bad);
	free(s->lockfile);
	xfree(sp);
}

/* A tool's append: written (or spooled) before it returns. */
static void append_sync(struct store *s, const struct history_record *r)
{
	struct qitem *list = xcalloc(1, sizeof(*list));

	list->r = queued_copy(s, r);
	if (write_batch(s, &list, 1) < 0) {
		log_err("history record of %s lost: no store, no spool",
			r->queue_id != NULL ? r->queue_id : "?");
		pthread_mutex_lock(&s->lock);
		s->st.dropped++;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	s->st.queued++;
	pthread_mutex_unlock(&s->lock);
	items_free(list); /* NULL when encode_batch dropped it */
}

void store_append(struct store *s, const struct history_record *r)
{
	struct qitem *it;
	int64_t now;

	if (!s->writer) {
		append_sync(s, r);
		return;
	}
	it = xmalloc(sizeof(*it));
	it->r = queued_copy(s, r);
	now = now_ms();
	it->enqueued_ms = now;
	pthread_mutex_lock(&s->lock);
	if (s->q.depth < s->queue_max) {
		q_push(&s->q, it);
		s->st.queued++;
		/* wake the writer once per batch, not once per record */
		if (s->q.depth == 1 || s->q.depth >= STORE_BATCH_MAX)
			pthread_cond_signal(&s->wake_writer);
	} else if (s->spool != NULL && s->spill.depth < s->queue_max) {
		q_push(&s->spill, it);
		if (s->spill.depth == 1)
			pthread_cond_signal(&s->wake_spooler);
	} else {
		s->st.dropped++;
		if (now - s->drop_logged_ms >= 60000) {
			s->drop_logged_ms = now;
			log_err("history store: queue and spool queue full, records dropped "
				"(%llu so far)",
				(unsigned long long)s->st.dropped);
		}
		free(it->r);
		free(it);
	}
	pthread_mutex_unlock(&s->lock);
}

void store_set_retention(struct store *s, unsigned days)
{
	pthread_mutex_lock(&s->lock);
	if (days != s->retention_days) {
		s->retention_days = days;
		s->expire_at_ms = 0; /* now */
		pthread_cond_signal(&s->wake_writer);
	}
	pthread_mutex_unlock(&s->lock);
}

void store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->queue_depth = s->q.depth + s->spill.depth;
	pthread_mutex_unlock(&s->lock);
}

/* Readers: the backend, opened now if it is down. */
static int reader_backend(struct store *s, char **error_r)
{
	pthread_mutex_lock(&s->be_lock);
	s->retry_at_ms = 0; /* a reader asks now, not after the backoff */
	if (backend_ready(s) < 0) {
		pthread_mutex_unlock(&s->be_lock);
		if (error_r != NULL)
			*error_r = xasprintf("history store %s unavailable", s->location);
		return -1;
	}
	return 0;
}

struct each_ctx {
	struct arena *a; /* the caller's, or NULL: one of ours per record */
	int (*fn)(const struct history_record *r, void *arg);
	void *arg;
	unsigned long bad;
};

static int each_line(const char *line, size_t len, void *arg)
{
	struct each_ctx *c = arg;
	struct history_record r;
	struct arena *scratch = c->a == NULL ? arena_new(8192) : NULL;
	const char *why;
	int rc = 0;

	if (record_decode(line, len, c->a != NULL ? c->a : scratch, &r, &why) < 0) {
		if (c->bad++ == 0)
			log_warn("history store: a stored record does not decode: %s", why);
	} else
		rc = c->fn(&r, c->arg);
	arena_free(&scratch);
	return rc;
}

int store_each(struct store *s, int64_t begin, int64_t end, struct arena *a,
	       int (*fn)(const struct history_record *r, void *arg), void *arg, char **error_r)
{
	struct each_ctx c = {.a = a, .fn = fn, .arg = arg};
	int rc;

	*error_r = NULL;
	if (reader_backend(s, error_r) < 0)
		return -1;
	rc = s->ops->each(s->be, begin, end, each_line, &c, error_r);
	pthread_mutex_unlock(&s->be_lock);
	return rc;
}

int store_each_line(struct store *s, int64_t begin, int64_t end,
		    int (*fn)(const char *line, size_t len, void *arg), void *arg, char **error_r)
{
	int rc;

	*error_r = NULL;
	if (reader_backend(s, error_r) < 0)
		return -1;
	rc = s->ops->each(s->be, begin, end, fn, arg, error_r);
	pthread_mutex_unlock(&s->be_lock);
	return rc;
}

int store_report_sent(struct store *s, const char *domain, int64_t begin, int64_t end)
{
	int rc;

	if (reader_backend(s, NULL) < 0)
		return -1;
	rc = s->ops->report_sent(s->be, domain, begin, end);
	pthread_mutex_unlock(&s->be_lock);
	return rc;
}

int store_mark_sent(struct store *s, const char *domain, int64_t begin, int64_t end,
		    const char *report_id, char **error_r)
{
	int rc;

	*error_r = NULL;
	if (reader_backend(s, error_r) < 0)
		return -1;
	rc = s->ops->mark_sent(s->be, domain, begin, end, report_id, (int64_t)time(NULL), error_r);
	pthread_mutex_unlock(&s->be_lock);
	return rc;
}

long store_expire(struct store *s, unsigned days, char **error_r)
{
	long n;

	*error_r = NULL;
	if (reader_backend(s, error_r) < 0)
		return -1;
	n = s->ops->expire(s->be, (int64_t)time(NULL) - (int64_t)days * 86400, error_r);
	pthread_mutex_unlock(&s->be_lock);
	return n;
}

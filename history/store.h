/*
 * store - the history store: one record per message, for DMARC aggregate
 * reports (and later explain/replay/stats).
 *
 * store_open() takes a location: a file path (or "sqlite:PATH") for the
 * embedded SQLite store (WAL mode), or a "postgresql://..." URL so several
 * MX hosts share one store.  The schema is versioned and migrated at open.
 *
 * In the daemon, store_append() never blocks a milter thread on the disk or
 * the network: it copies the record into a bounded in-memory queue drained
 * by one writer thread in batched transactions.  When the store is
 * unavailable (or the queue is full), records go to an append-only spool
 * file in the state directory, loaded back (and the spool removed) once
 * the store works again: no record lost, no mail delayed.
 * store_close() flushes the queue (and spools what it cannot write).
 *
 * Readers (`authscore report`) use store_each() over a period, and the
 * sent-report ledger (store_report_sent / store_mark_sent) that makes
 * re-runs idempotent.  Retention: in writer mode the writer thread deletes
 * records older than retention_days at start, whenever the setting
 * changes (store_set_retention) and then once a day, whether or not
 * reports are sent; store_expire() does it at once (tools, tests).
 * Thread-safety: store_append from any thread; the rest from one thread.
 */
#ifndef AUTHSCORE_STORE_H
#define AUTHSCORE_STORE_H

/* The spool file in spool_dir (its size is a metric of the daemon). */
#define STORE_SPOOL_NAME "authscore-spool.jsonl"

#include <stdint.h>

#include "record.h"

struct store;

struct store_options {
	const char *location;  /* path, "sqlite:PATH" or "postgresql://..." */
	const char *spool_dir; /* where the spool file (STORE_SPOOL_NAME) lives: the state directory */
	unsigned queue_max;    /* records held in memory before spooling (0: default) */
	int writer;	       /* start the writer thread (the daemon); 0: synchronous (tools) */
	unsigned retention_days; /* writer mode: expire older records daily; 0: keep all */
};

struct store *store_open(const struct store_options *o, char **error_r);
void store_close(struct store **sp);

/* Never blocks on I/O (writer mode); a copy of the record is taken. */
void store_append(struct store *s, const struct history_record *r);
/* Counters for logs and metrics; retried: batches that neither the store
 * nor the spool took, kept and tried again. */
struct store_stats {
	uint64_t queued, written, spooled, reloaded, dropped, retried;
	unsigned queue_depth;
};
void store_stats(struct store *s, struct store_stats *out);

/* Every record with begin <= time < end, in time order; stops when fn
 * returns nonzero (which store_each returns).  Records live in `a`, which
 * the caller may reset between calls of fn; with a == NULL, each record
 * lives in a scratch arena of the store's until fn returns (a scan of
 * millions of records in constant memory). */
int store_each(struct store *s, int64_t begin, int64_t end, struct arena *a,
	       int (*fn)(const struct history_record *r, void *arg), void *arg, char **error_r);

/* The same records as stored lines (record_encode's JSON), not decoded:
 * for a reader that parses them once itself (`authscore replay`). */
int store_each_line(struct store *s, int64_t begin, int64_t end,
		    int (*fn)(const char *line, size_t len, void *arg), void *arg, char **error_r);

/* Was the report for this policy domain and period already sent? */
int store_report_sent(struct store *s, const char *domain, int64_t begin, int64_t end);
int store_mark_sent(struct store *s, const char *domain, int64_t begin, int64_t end,
		    const char *report_id, char **error_r);
/* Writer mode: the retention the writer thread applies (0: keep every
 * record); a change takes effect at once.  Any thread. */
void store_set_retention(struct store *s, unsigned days);
/* Delete records older than `days`; returns the number deleted or -1. */
long store_expire(struct store *s, unsigned days, char **error_r);

#endif

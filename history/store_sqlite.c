/*
 * store_sqlite - the embedded history store: one SQLite file (see store_int.h).
 *
 * WAL mode (readers such as `authscore report` never block the daemon's
 * writer), synchronous=NORMAL (a commit is durable at the next checkpoint;
 * a power cut may lose the last transactions, never corrupt the file), a
 * busy timeout for the moments two processes write.  The schema is
 * migrations[]: step i brings the file from version i to i + 1; open()
 * applies the missing steps in one IMMEDIATE transaction, so two processes
 * opening a new file at once migrate it once.  Statements are prepared
 * once per connection.  A connection belongs to one thread at a time.
 */
#include "config.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "store_int.h"

#define BUSY_TIMEOUT_MS 5000

/* Never edit a step once released: add one. */
static const char *const migrations[] = {
    /* 1: messages (every column of the record, `facts` the whole line with
     * the per-signature DKIM results), the report ledger */
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY,"
    " uid TEXT NOT NULL UNIQUE,"
    " \"time\" INTEGER NOT NULL,"
    " queue_id TEXT, message_id TEXT, client_ip TEXT, helo TEXT,"
    " mail_from TEXT, header_from TEXT,"
    " spf_domain TEXT, spf_scope TEXT, spf_result TEXT, spf_helo_result TEXT,"
    " dmarc_result TEXT, policy_domain TEXT, p TEXT, sp TEXT, np TEXT,"
    " adkim_strict INTEGER, aspf_strict INTEGER, testing INTEGER, psd INTEGER,"
    " discovery TEXT, rua TEXT, dkim_aligned INTEGER, spf_aligned INTEGER,"
    " disposition TEXT, \"override\" TEXT,"
    " score REAL, rules TEXT, action TEXT,"
    " facts TEXT NOT NULL);"
    "CREATE INDEX messages_time ON messages (\"time\");"
    "CREATE INDEX messages_policy_domain ON messages (policy_domain, \"time\");"
    "CREATE INDEX messages_header_from ON messages (header_from, \"time\");"
    "CREATE TABLE reports_sent ("
    " policy_domain TEXT NOT NULL,"
    " begin_time INTEGER NOT NULL,"
    " end_time INTEGER NOT NULL,"
    " report_id TEXT,"
    " sent_at INTEGER NOT NULL,"
    " UNIQUE (policy_domain, begin_time, end_time));",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *insert, *each, *sent, *mark, *expire;
};

static int sq_fail(struct sq *q, const char *what, char **error_r)
{
	*error_r = xasprintf("%s: %s", what, sqlite3_errmsg(q->db));
	return -1;
}

static int sq_exec(struct sq *q, const char *sql, char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = xasprintf("%s", msg != NULL ? msg : sqlite3_errmsg(q->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int migrate(struct sq *q, char **error_r)
{
	const int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	sqlite3_stmt *st = NULL;
	int version = -1;
	char *sql;

	if (sq_exec(q, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (sq_exec(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
		    error_r) < 0)
		goto fail;
	if (sqlite3_prepare_v2(q->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
			       &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sq_fail(q, "schema_version", error_r);
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > latest) {
		*error_r = xasprintf("schema version %d is newer than this program's (%d)", version,
				     latest);
		goto fail;
	}
	for (int i = version; i < latest; i++)
		if (sq_exec(q, migrations[i], error_r) < 0)
			goto fail;
	if (version < latest) {
		sql = xasprintf(
		    "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", latest);
		if (sq_exec(q, sql, error_r) < 0) {
			free(sql);
			goto fail;
		}
		free(sql);
	}
	return sq_exec(q, "COMMIT", error_r);
fail:
	sqlite3_finalize(st);
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void sq_close(void *b)
{
	struct sq *q = b;

	if (q == NULL)
		return;
	sqlite3_finalize(q->insert);
	sqlite3_finalize(q->each);
	sqlite3_finalize(q->sent);
	sqlite3_finalize(q->mark);
	sqlite3_finalize(q->expire);
	sqlite3_close(q->db);
	free(q);
}

static void *sq_open(const char *path, char **error_r)
{
	struct sq *q = xcalloc(1, sizeof(*q));
	char *insert = store_insert_sql(0), *error = NULL;
	const struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
	    {&q->insert, insert},
	    {&q->each, "SELECT facts FROM messages WHERE \"time\" >= ? AND \"time\" < ?"
		       " ORDER BY \"time\", id"},
	    {&q->sent, "SELECT 1 FROM reports_sent WHERE policy_domain = ? AND begin_time = ?"
		       " AND end_time = ?"},
	    {&q->mark, "INSERT INTO reports_sent (policy_domain, begin_time, end_time, report_id,"
		       " sent_at) VALUES (?, ?, ?, ?, ?)"
		       " ON CONFLICT (policy_domain, begin_time, end_time) DO NOTHING"},
	    {&q->expire, "DELETE FROM messages WHERE \"time\" < ?"},
	};

	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*error_r = xasprintf("%s: %s", path,
				     q->db != NULL ? sqlite3_errmsg(q->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	if (sq_exec(q, "PRAGMA journal_mode=WAL", &error) < 0 ||
	    sq_exec(q, "PRAGMA synchronous=NORMAL", &error) < 0 || migrate(q, &error) < 0) {
		*error_r = xasprintf("%s: %s", path, error);
		free(error);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (sqlite3_prepare_v3(q->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
				       stmts[i].st, NULL) != SQLITE_OK) {
			sq_fail(q, path, error_r);
			goto fail;
		}
	free(insert);
	return q;
fail:
	free(insert);
	sq_close(q);
	return NULL;
}

static int sq_begin(void *b, char **error_r)
{
	return sq_exec(b, "BEGIN IMMEDIATE", error_r);
}

static int sq_commit(void *b, char **error_r)
{
	return sq_exec(b, "COMMIT", error_r);
}

static void sq_rollback(void *b)
{
	struct sq *q = b;

	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_insert(void *b, const struct store_value *v, size_t n, char **error_r)
{
	struct sq *q = b;
	int rc;

	for (size_t i = 0; i < n; i++) {
		int col = (int)i + 1;

		switch (v[i].kind) {
		case SV_NULL:
			sqlite3_bind_null(q->insert, col);
			break;
		case SV_TEXT:
			sqlite3_bind_text(q->insert, col, v[i].text, -1, SQLITE_STATIC);
			break;
		case SV_INT:
			sqlite3_bind_int64(q->insert, col, v[i].i);
			break;
		case SV_REAL:
			sqlite3_bind_double(q->insert, col, v[i].d);
			break;
		}
	}
	rc = sqlite3_step(q->insert);
	sqlite3_reset(q->insert);
	sqlite3_clear_bindings(q->insert);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, "insert", error_r);
}

static int sq_each(void *b, int64_t begin, int64_t end, store_line_fn *fn, void *arg,
		   char **error_r)
{
	struct sq *q = b;
	int rc, stop = 0;

	sqlite3_bind_int64(q->each, 1, begin);
	sqlite3_bind_int64(q->each, 2, end);
	while (!stop && (rc = sqlite3_step(q->each)) == SQLITE_ROW)
		stop = fn((const char *)sqlite3_column_text(q->each, 0),
			  (size_t)sqlite3_column_bytes(q->each, 0), arg);
	sqlite3_reset(q->each);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : sq_fail(q, "select", error_r);
}

static int sq_report_sent(void *b, const char *domain, int64_t begin, int64_t end)
{
	struct sq *q = b;
	int rc;

	sqlite3_bind_text(q->sent, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q->sent, 2, begin);
	sqlite3_bind_int64(q->sent, 3, end);
	rc = sqlite3_step(q->sent);
	sqlite3_reset(q->sent);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int sq_mark_sent(void *b, const char *domain, int64_t begin, int64_t end,
			const char *report_id, int64_t sent_at, char **error_r)
{
	struct sq *q = b;
	int rc;

	sqlite3_bind_text(q->mark, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q->mark, 2, begin);
	sqlite3_bind_int64(q->mark, 3, end);
	sqlite3_bind_text(q->mark, 4, report_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q->mark, 5, sent_at);
	rc = sqlite3_step(q->mark);
	sqlite3_reset(q->mark);
	return rc == SQLITE_DONE ? 0 : sq_fail(q, "reports_sent", error_r);
}

static long sq_expire(void *b, int64_t before, char **error_r)
{
	struct sq *q = b;
	int rc;

	sqlite3_bind_int64(q->expire, 1, before);
	rc = sqlite3_step(q->expire);
	sqlite3_reset(q->expire);
	if (rc != SQLITE_DONE)
		return sq_fail(q, "expire", error_r);
	return (long)sqlite3_changes(q->db);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .insert = sq_insert,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .each = sq_each,
    .report_sent = sq_report_sent,
    .mark_sent = sq_mark_sent,
    .expire = sq_expire,
};

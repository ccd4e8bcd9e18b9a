/*
 * store_pg - the shared history store: PostgreSQL over libpq (see store_int.h).
 *
 * Several MX hosts write the same database: every record carries a uid and
 * the insert ignores one already there; migrations run under a transaction
 * advisory lock, so hosts starting together migrate once.  The schema is
 * the SQLite one with PostgreSQL types (`facts` is TEXT, not jsonb: jsonb
 * refuses the \udcXX escapes record.c writes for bytes that are not UTF-8).
 * open() connects with a connect timeout and TCP keepalives, so a dead
 * server is noticed in seconds; store.c reconnects after a failure.
 * Statements are prepared once per connection; store_each streams rows
 * (single-row mode).  A connection belongs to one thread at a time.
 */
#include "config.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "store_int.h"

/* pg_advisory_xact_lock key for migrations: "authscor" */
#define MIGRATION_LOCK "6081752228296979314"

static const char *const migrations[] = {
    /* 1: as store_sqlite.c's first step */
    "CREATE TABLE messages ("
    " id BIGSERIAL PRIMARY KEY,"
    " uid TEXT NOT NULL UNIQUE,"
    " \"time\" BIGINT NOT NULL,"
    " queue_id TEXT, message_id TEXT, client_ip TEXT, helo TEXT,"
    " mail_from TEXT, header_from TEXT,"
    " spf_domain TEXT, spf_scope TEXT, spf_result TEXT, spf_helo_result TEXT,"
    " dmarc_result TEXT, policy_domain TEXT, p TEXT, sp TEXT, np TEXT,"
    " adkim_strict SMALLINT, aspf_strict SMALLINT, testing SMALLINT, psd SMALLINT,"
    " discovery TEXT, rua TEXT, dkim_aligned SMALLINT, spf_aligned SMALLINT,"
    " disposition TEXT, \"override\" TEXT,"
    " score DOUBLE PRECISION, rules TEXT, action TEXT,"
    " facts TEXT NOT NULL);"
    "CREATE INDEX messages_time ON messages (\"time\");"
    "CREATE INDEX messages_policy_domain ON messages (policy_domain, \"time\");"
    "CREATE INDEX messages_header_from ON messages (header_from, \"time\");"
    "CREATE TABLE reports_sent ("
    " policy_domain TEXT NOT NULL,"
    " begin_time BIGINT NOT NULL,"
    " end_time BIGINT NOT NULL,"
    " report_id TEXT,"
    " sent_at BIGINT NOT NULL,"
    " UNIQUE (policy_domain, begin_time, end_time));",
};

struct pg {
	PGconn *conn;
};

static int pg_fail(struct pg *g, const char *what, PGresult *res, char **error_r)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";

	if (*msg == '\0')
		msg = PQerrorMessage(g->conn);
	*error_r = xasprintf("%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	PQclear(res);
	return -1;
}

/* A statement without parameters or rows. */
static int pg_exec(struct pg *g, const char *sql, char **error_r)
{
	PGresult *res = PQexec(g->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(g, sql, res, error_r);
	PQclear(res);
	return 0;
}

static int migrate(struct pg *g, char **error_r)
{
	const int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	PGresult *res;
	int version;
	char sql[160];

	if (pg_exec(g, "BEGIN", error_r) < 0)
		return -1;
	if (pg_exec(g, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", error_r) < 0 ||
	    pg_exec(g, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
		    error_r) < 0)
		goto fail;
	res = PQexec(g->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_fail(g, "schema_version", res, error_r);
		goto fail;
	}
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (version > latest) {
		*error_r = xasprintf("schema version %d is newer than this program's (%d)", version,
				     latest);
		goto fail;
	}
	for (int i = version; i < latest; i++)
		if (pg_exec(g, migrations[i], error_r) < 0)
			goto fail;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", latest);
	if (version < latest && pg_exec(g, sql, error_r) < 0)
		goto fail;
	return pg_exec(g, "COMMIT", error_r);
fail:
	PQclear(PQexec(g->conn, "ROLLBACK"));
	return -1;
}

static void ignore_notice(void *arg, const char *message)
{
}

static void pgb_close(void *b)
{
	struct pg *g = b;

	if (g == NULL)
		return;
	PQfinish(g->conn);
	free(g);
}

static void *pgb_open(const char *url, char **error_r)
{
	/* the URL comes last: what it says wins over these defaults */
	const char *const keys[] = {"connect_timeout",	"keepalives_idle",  "keepalives_interval",
				    "keepalives_count", "tcp_user_timeout", "client_encoding",
				    "application_name", "dbname",	    NULL};
	const char *const values[] = {"5", "10", "5", "3", "15000", "UTF8", "authscore", url, NULL};
	struct pg *g = xcalloc(1, sizeof(*g));
	char *insert = store_insert_sql(1), *error = NULL;
	const struct {
		const char *name, *sql;
		int nparams;
	} stmts[] = {
	    {"insert", insert, 0},
	    {"each",
	     "SELECT facts FROM messages WHERE \"time\" >= $1 AND \"time\" < $2"
	     " ORDER BY \"time\", id",
	     2},
	    {"sent",
	     "SELECT 1 FROM reports_sent WHERE policy_domain = $1 AND begin_time = $2"
	     " AND end_time = $3",
	     3},
	    {"mark",
	     "INSERT INTO reports_sent (policy_domain, begin_time, end_time, report_id,"
	     " sent_at) VALUES ($1, $2, $3, $4, $5)"
	     " ON CONFLICT (policy_domain, begin_time, end_time) DO NOTHING",
	     5},
	    {"expire", "DELETE FROM messages WHERE \"time\" < $1", 1},
	};

	g->conn = PQconnectdbParams(keys, values, 1);
	if (g->conn == NULL || PQstatus(g->conn) != CONNECTION_OK) {
		const char *msg = g->conn != NULL ? PQerrorMessage(g->conn) : "out of memory";

		*error_r = xasprintf("%.*s", (int)strcspn(msg, "\n"), msg);
		goto fail;
	}
	/* "relation already exists, skipping" and the like are not news */
	PQsetNoticeProcessor(g->conn, ignore_notice, NULL);
	if (migrate(g, &error) < 0) {
		*error_r = error;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *res = PQprepare(g->conn, stmts[i].name, stmts[i].sql, 0, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_fail(g, stmts[i].name, res, error_r);
			goto fail;
		}
		PQclear(res);
	}
	free(insert);
	return g;
fail:
	free(insert);
	pgb_close(g);
	return NULL;
}

static int pgb_begin(void *b, char **error_r)
{
	return pg_exec(b, "BEGIN", error_r);
}

static int pgb_commit(void *b, char **error_r)
{
	return pg_exec(b, "COMMIT", error_r);
}

static void pgb_rollback(void *b)
{
	struct pg *g = b;

	if (PQstatus(g->conn) == CONNECTION_OK && PQtransactionStatus(g->conn) != PQTRANS_IDLE)
		PQclear(PQexec(g->conn, "ROLLBACK"));
}

/* Run a prepared statement with text parameters; the result, or NULL
 * with *error_r set. */
static PGresult *run(struct pg *g, const char *name, const char *const *params, int n,
		     ExecStatusType want, char **error_r)
{
	PGresult *res = PQexecPrepared(g->conn, name, n, params, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		pg_fail(g, name, res, error_r);
		return NULL;
	}
	return res;
}

static int pgb_insert(void *b, const struct store_value *v, size_t n, char **error_r)
{
	const char *params[STORE_MAX_COLUMNS];
	char nums[STORE_MAX_COLUMNS][32];
	PGresult *res;

	for (size_t i = 0; i < n && i < STORE_MAX_COLUMNS; i++) {
		switch (v[i].kind) {
		case SV_NULL:
			params[i] = NULL;
			break;
		case SV_TEXT:
			params[i] = v[i].text;
			break;
		case SV_INT:
			snprintf(nums[i], sizeof(nums[i]), "%lld", v[i].i);
			params[i] = nums[i];
			break;
		case SV_REAL:
			snprintf(nums[i], sizeof(nums[i]), "%.17g", v[i].d);
			params[i] = nums[i];
			break;
		}
	}
	if ((res = run(b, "insert", params, (int)n, PGRES_COMMAND_OK, error_r)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int pgb_each(void *b, int64_t begin, int64_t end, store_line_fn *fn, void *arg,
		    char **error_r)
{
	struct pg *g = b;
	char a1[24], a2[24];
	const char *params[] = {a1, a2};
	PGresult *res;
	int stop = 0, rc = 0;

	snprintf(a1, sizeof(a1), "%lld", (long long)begin);
	snprintf(a2, sizeof(a2), "%lld", (long long)end);
	if (!PQsendQueryPrepared(g->conn, "each", 2, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(g->conn))
		return pg_fail(g, "each", NULL, error_r);
	/* every result is read, even after fn stopped, so the connection is
	 * ready for the next statement */
	while ((res = PQgetResult(g->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE) {
			if (!stop)
				stop =
				    fn(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), arg);
		} else if (st != PGRES_TUPLES_OK && rc == 0) {
			rc = pg_fail(g, "each", res, error_r);
			continue;
		}
		PQclear(res);
	}
	return stop ? stop : rc;
}

static int pgb_report_sent(void *b, const char *domain, int64_t begin, int64_t end)
{
	char a2[24], a3[24], *error = NULL;
	const char *params[] = {domain, a2, a3};
	PGresult *res;
	int n;

	snprintf(a2, sizeof(a2), "%lld", (long long)begin);
	snprintf(a3, sizeof(a3), "%lld", (long long)end);
	if ((res = run(b, "sent", params, 3, PGRES_TUPLES_OK, &error)) == NULL) {
		free(error);
		return -1;
	}
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

static int pgb_mark_sent(void *b, const char *domain, int64_t begin, int64_t end,
			 const char *report_id, int64_t sent_at, char **error_r)
{
	char a2[24], a3[24], a5[24];
	const char *params[] = {domain, a2, a3, report_id, a5};
	PGresult *res;

	snprintf(a2, sizeof(a2), "%lld", (long long)begin);
	snprintf(a3, sizeof(a3), "%lld", (long long)end);
	snprintf(a5, sizeof(a5), "%lld", (long long)sent_at);
	if ((res = run(b, "mark", params, 5, PGRES_COMMAND_OK, error_r)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static long pgb_expire(void *b, int64_t before, char **error_r)
{
	char a1[24];
	const char *params[] = {a1};
	PGresult *res;
	long n;

	snprintf(a1, sizeof(a1), "%lld", (long long)before);
	if ((res = run(b, "expire", params, 1, PGRES_COMMAND_OK, error_r)) == NULL)
		return -1;
	n = atol(PQcmdTuples(res));
	PQclear(res);
	return n;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pgb_open,
    .close = pgb_close,
    .begin = pgb_begin,
    .insert = pgb_insert,
    .commit = pgb_commit,
    .rollback = pgb_rollback,
    .each = pgb_each,
    .report_sent = pgb_report_sent,
    .mark_sent = pgb_mark_sent,
    .expire = pgb_expire,
};

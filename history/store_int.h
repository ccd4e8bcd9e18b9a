/*
 * store_int - what store.c asks of a backend (store_sqlite.c, store_pg.c).
 *
 * A backend is a connection and its prepared statements.  store.c calls it
 * from one thread at a time (under its backend lock), owns queueing,
 * batching, spooling and reconnecting; a backend only runs SQL.  Errors
 * come back as malloc'd strings.  A backend migrates the schema in open()
 * (schema_version, then every step of its migrations[] not yet applied,
 * in one transaction).  Both backends take the same column list: the
 * scalar members of the record (record_int.h) and `facts`, the encoded line.
 */
#ifndef AUTHSCORE_STORE_INT_H
#define AUTHSCORE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum store_value_kind { SV_NULL, SV_TEXT, SV_INT, SV_REAL };

struct store_value {
	enum store_value_kind kind;
	const char *text; /* valid UTF-8 (PostgreSQL refuses anything else) */
	long long i;
	double d;
};

/* The columns of `messages` that an insert fills, in order. */
#define STORE_MAX_COLUMNS 48
size_t store_columns(const char **names, size_t max);
/* The values of those columns for one record and its encoded line. */
size_t store_values(const struct history_record *r, const char *line, struct arena *a,
		    struct store_value *v, size_t max);
/* "INSERT INTO messages (...) VALUES (?...) ON CONFLICT (uid) DO NOTHING";
 * placeholders "?" or "$1", "$2"...  malloc'd. */
char *store_insert_sql(int dollar);

typedef int store_line_fn(const char *line, size_t len, void *arg);

struct store_ops {
	const char *name;
	void *(*open)(const char *location, char **error_r);
	void (*close)(void *b);
	int (*begin)(void *b, char **error_r);
	int (*insert)(void *b, const struct store_value *v, size_t n, char **error_r);
	int (*commit)(void *b, char **error_r);
	void (*rollback)(void *b);
	/* the `facts` lines with begin <= time < end, in time order */
	int (*each)(void *b, int64_t begin, int64_t end, store_line_fn *fn, void *arg,
		    char **error_r);
	int (*report_sent)(void *b, const char *domain, int64_t begin, int64_t end); /* 1 0 -1 */
	int (*mark_sent)(void *b, const char *domain, int64_t begin, int64_t end,
			 const char *report_id, int64_t sent_at, char **error_r);
	long (*expire)(void *b, int64_t before, char **error_r);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif

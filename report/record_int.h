/*
 * record_int - the table of a history record's scalar members, shared by
 * the JSON codec (record.c) and the store's column list (store.c): a
 * member added here is a key in the JSON and a column in `messages` (with
 * a migration in each backend).  Read-only; thread-safe.
 */
#ifndef AUTHSCORE_RECORD_INT_H
#define AUTHSCORE_RECORD_INT_H

#include <stddef.h>

enum record_field_kind { FK_STR, FK_I64, FK_INT, FK_DBL };

struct record_field {
	const char *name; /* JSON key and SQL column */
	enum record_field_kind kind;
	size_t offset; /* in struct history_record */
};

extern const struct record_field record_fields[];
extern const size_t record_field_count;

#endif

/*
 * record_int - the table of a history record's scalar members, shared by
 * the JSON codec (record.c) and the store's column list (store.c): a
 * member added here is a key in the JSON and a column in `messages` (with
 * a migration in each backend).  Read-only; thread-safe.
 */
#ifndef AUTHSCORE_RECORD_INT_H
#define AUTHSCORE_RECORD_INT_H

#include <stddef.h>

#include "arena.h"

enum record_field_kind { FK_STR, FK_I64, FK_INT, FK_DBL };

struct record_field {
	const char *name; /* JSON key and SQL column */
	enum record_field_kind kind;
	size_t offset; /* in struct history_record */
};

extern const struct record_field record_fields[];
extern const size_t record_field_count;

/* The strict JSON reader of record.c (caps on depth and value count; no
 * NUL, invalid UTF-8 or stray surrogates), for the facts decoder
 * (record_facts.c).  Values live in the arena. */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	const char *raw; /* the value's text in the input */
	size_t raw_len;
	char *str;	   /* J_STR: decoded, NUL-terminated; J_NUM: the text */
	int boolean;	   /* J_BOOL */
	const char *key;   /* a member of an object: its name */
	struct jval *kids; /* J_ARR, J_OBJ: first element or member */
	struct jval *next;
	size_t count;
};

int record_json_parse(const char *text, size_t len, struct arena *a, struct jval *root,
		      const char **error_r);
/* record_decode on a line already parsed (one parse for the record and its
 * facts: `authscore replay` over millions of records); facts_json is left
 * NULL (the caller has the parsed "facts" member). */
struct history_record;
int record_decode_value(const struct jval *root, struct arena *a, struct history_record *out,
			const char **error_r);

#endif

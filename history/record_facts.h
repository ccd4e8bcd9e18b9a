/*
 * record_facts - the stored facts of a message (history_record.facts_json,
 * written by record_from_facts) decoded back into a struct facts, so that
 * `authscore explain / replay / stats` can run today's rules on them.
 *
 * record_facts_decode() is table-driven (record_facts.c): every member of
 * the JSON object is one row naming its key, its kind and where it goes in
 * struct facts, so a fact added to the encoder is one line here.  It is
 * strict about what it knows (types, ranges, enum names, duplicate members,
 * array lengths; record.c's JSON reader caps depth and values) and skips
 * members it does not know, so that records written by a newer milter still
 * replay.  Header contents are never stored: headers is NULL (header_count
 * is kept), and rules that read headers cannot be replayed (rules.h,
 * rules_evaluate_except).  Nor is the body's text or its URLs: content has
 * its parts, the links' hosts and domains, counts and flags, with text,
 * raw and urls NULL (the body, rawbody and uri rules are not replayable).
 * A record without "content" (older, or body not scanned) decodes with
 * content.scanned 0.  All strings and arrays live in the arena.
 * Pure; thread-safe.
 */
#ifndef AUTHSCORE_RECORD_FACTS_H
#define AUTHSCORE_RECORD_FACTS_H

#include <stddef.h>

#include "arena.h"
#include "facts.h"
#include "record.h"

#define RECORD_FACTS_MAX_LISTS 256  /* ip_lists, domain_lists (20 links' domains x lists) */
#define RECORD_FACTS_MAX_DKIM  64   /* dkim signatures */
#define RECORD_FACTS_MAX_NAMES 4096 /* rules_hit, monitors_hit */
#define RECORD_FACTS_MAX_PARTS 64   /* content.parts (more are counted as skipped) */
#define RECORD_FACTS_MAX_HOSTS 256  /* content.hosts, content.domains */

/* Returns 0 with *out filled, or -1 with *error_r (static) saying why. */
int record_facts_decode(const char *json, size_t len, struct arena *a, struct facts *out,
			const char **error_r);
/* The same on a member already parsed by record.c's reader (record_int.h). */
struct jval;
int record_facts_decode_value(const struct jval *obj, struct arena *a, struct facts *out,
			      const char **error_r);
/* A stored line (store_each_line) parsed once into its record and its
 * facts.  Returns 0; 1 with *error_r when the record decodes but has no
 * usable facts; -1 with *error_r when the line does not decode. */
int record_facts_decode_line(const char *line, size_t len, struct arena *a,
			     struct history_record *r, struct facts *f, const char **error_r);

#endif

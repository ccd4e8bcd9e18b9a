/*
 * arena - a region allocator: many small allocations, one free.
 *
 * A message's memory lives in its arena and is released in one call at end
 * of message or abort (Unbound regional, Dovecot pools).  Allocations are
 * 16-byte aligned and zero-filled.  Not thread-safe: one owner at a time.
 */
#ifndef AUTHSCORE_ARENA_H
#define AUTHSCORE_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(size_t first_chunk);
void arena_free(struct arena **ap);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t arena_used(const struct arena *a);

#endif

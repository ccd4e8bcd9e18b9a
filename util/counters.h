/*
 * counters - atomic counters, and an insert-only table of counter rows
 * keyed by name.
 *
 * A counter is a C11 atomic added to with relaxed ordering: a reader may
 * see one event's counts half added, never a torn count.  A counter_names
 * table has COUNTER_NAMES_MAX rows claimed by name: the first time a name
 * is seen, one compare-and-swap takes a free slot of an open-addressing
 * table; slots are never freed, so rows stay where they are and readers
 * need no lock.  Names longer than a DNS name, and names past the table's
 * size, share the last row ("_other").  Used by the metrics (per rule, per
 * signing key) and by the checks' DNS counters (per DNS list zone).
 * Thread-safe; a table is zero-initialised (static storage) before use.
 */
#ifndef AUTHSCORE_COUNTERS_H
#define AUTHSCORE_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef _Atomic uint64_t counter;

#define COUNTER_NAMES_MAX 512 /* rows per table; the extra last row is "_other" */
#define COUNTER_COLS	  4   /* counters per row */
#define COUNTER_NAME_LEN  255 /* a DNS name; a longer name goes to "_other" */

struct counter_names {
	_Atomic(char *) name[COUNTER_NAMES_MAX];
	counter count[COUNTER_NAMES_MAX + 1][COUNTER_COLS];
};

static inline void counter_add(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t counter_get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* The row of `name` (claimed the first time), or COUNTER_NAMES_MAX. */
size_t counter_names_row(struct counter_names *t, const char *name);
/* The name of row i; "_other" for COUNTER_NAMES_MAX; NULL: unclaimed. */
const char *counter_names_name(struct counter_names *t, size_t i);

#endif

/*
 * counters - the insert-only name table of counter rows (see counters.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "mem.h"

size_t counter_names_row(struct counter_names *t, const char *name)
{
	size_t len = strnlen(name, COUNTER_NAME_LEN + 1);
	uint32_t h = 2166136261u; /* FNV-1a */

	if (len > COUNTER_NAME_LEN)
		return COUNTER_NAMES_MAX;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	for (size_t i = 0; i < COUNTER_NAMES_MAX; i++) {
		size_t j = (h + i) % COUNTER_NAMES_MAX;
		char *cur = atomic_load_explicit(&t->name[j], memory_order_acquire);

		if (cur == NULL) {
			char *mine = xstrdup(name), *expected = NULL;

			if (atomic_compare_exchange_strong_explicit(&t->name[j], &expected, mine,
								    memory_order_acq_rel,
								    memory_order_acquire))
				return j;
			free(mine); /* another thread took the slot first */
			cur = expected;
		}
		if (strcmp(cur, name) == 0)
			return j;
	}
	return COUNTER_NAMES_MAX;
}

const char *counter_names_name(struct counter_names *t, size_t i)
{
	if (i >= COUNTER_NAMES_MAX)
		return "_other";
	return atomic_load_explicit(&t->name[i], memory_order_acquire);
}

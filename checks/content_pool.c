/*
 * content_pool - the in-memory pool of the bodies past the spill
 * threshold (see content_pool.h).
 *
 * Why a pool and not a threshold per message: what the spool file saves
 * is the daemon's memory when hundreds of messages are in flight at once,
 * and what it costs (a file made and unlinked, the body written and read
 * back: tens of microseconds of kernel time per message) is paid by every
 * message past 16 kB, also when twenty are in flight and nothing needed
 * saving.  A pool bounds the sum instead: the first scans past the
 * threshold stay in memory, and only those that come while the pool is
 * full go to a file.  A compare-and-swap, not a fetch-add: a take that
 * does not fit must leave the counter as it was, or two scans racing for
 * the last bytes could both be refused, or both pass the limit.
 */
#include "config.h"

#include <stdatomic.h>

#include "content_pool.h"
#include "log.h"

static atomic_size_t pool_used;

int content_pool_take(size_t n, size_t limit)
{
	size_t used = atomic_load_explicit(&pool_used, memory_order_relaxed);

	if (n == 0)
		return 1;
	do {
		if (n > limit || used > limit - n)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(
	    &pool_used, &used, used + n, memory_order_relaxed, memory_order_relaxed));
	return 1;
}

void content_pool_give(size_t n)
{
	size_t before = atomic_fetch_sub_explicit(&pool_used, n, memory_order_relaxed);

	if (before < n)
		log_panic("content_pool: %zu bytes given back, only %zu were taken", n, before);
}

size_t content_pool_used(void)
{
	return atomic_load_explicit(&pool_used, memory_order_relaxed);
}

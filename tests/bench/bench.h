/*
 * bench - what the benchmark programs share: a monotonic clock in seconds
 * and a store_each() callback that only counts.  Header-only: each bench
 * is one program of its own.
 */
#ifndef AUTHSCORE_BENCH_H
#define AUTHSCORE_BENCH_H

#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#ifdef AUTHSCORE_STORE_H
/* store_each() callback: ++*(long *)arg per record. */
static inline int count_one(const struct history_record *r, void *arg)
{
	(void)r;
	++*(long *)arg;
	return 0;
}
#endif

#endif

/*
 * content_pool - the process-wide pool of body bytes the content scans
 * keep in memory past their spill threshold (content.h, spill_pool_bytes).
 *
 *   content_pool_take(n, limit)  takes n bytes of the pool if the bytes
 *                                taken, n with them, stay within limit:
 *                                1, or 0 and nothing taken (n 0: 1)
 *   content_pool_give(n)         gives back n bytes taken before
 *   content_pool_used()          the bytes taken now (tests, metrics)
 *
 * One counter for the process, whatever generation of the configuration
 * each scan's limit came from: a limit lowered by a reload holds back new
 * takers until the scans of before give enough back.  Lock-free and
 * thread-safe (C11 atomics).  Each scan counts what it took and gives it
 * all back once (content.c: when it spills, and when it is freed).
 */
#ifndef AUTHSCORE_CONTENT_POOL_H
#define AUTHSCORE_CONTENT_POOL_H

#include <stddef.h>

int content_pool_take(size_t n, size_t limit);
void content_pool_give(size_t n);
size_t content_pool_used(void);

#endif

/*
 * mem - allocation that either succeeds or does not return (Postfix mymalloc).
 *
 * Out of memory is a broken invariant for a mail filter: log_panic().
 * xfree(&p) frees and clears the caller's pointer; it accepts NULL.
 * Thread-safe.
 */
#ifndef AUTHSCORE_MEM_H
#define AUTHSCORE_MEM_H

#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define xfree(pp)                                                                                  \
	do {                                                                                       \
		free(*(pp));                                                                       \
		*(pp) = NULL;                                                                      \
	} while (0)

#endif

/*
 * buf - a growable byte string, always NUL-terminated, with a hard cap.
 *
 * buf_init() on a caller-owned struct; appends past the cap fail with -1,
 * leave the content as it was and set `overflow`, so a hostile input can
 * never grow a buffer without bound, and a writer that appends many pieces
 * can check once at the end that none was dropped.  buf_release() frees the storage.  Not thread-safe.
 */
#ifndef AUTHSCORE_BUF_H
#define AUTHSCORE_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len, size, cap;
	int overflow; /* an append was refused */
};

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *buf_str(const struct buf *b);

#endif

/*
 * buf - capped growable string (see buf.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->size = 0;
	b->cap = cap;
	b->overflow = 0;
}

void buf_release(struct buf *b)
{
	xfree(&b->data);
	b->len = b->size = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->overflow = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (extra > b->cap || need > b->cap + 1) {
		b->overflow = 1;
		return -1;
	}
	if (need > b->size) {
		size_t size = b->size ? b->size : 64;

		while (size < need)
			size *= 2;
		b->data = xrealloc(b->data, size);
		b->size = size;
	}
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Formatted once into the room the buffer has (most calls: a number, a
 * short field), twice only when it does not fit. */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->size > b->len ? b->size - b->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	if ((size_t)n < room && (size_t)n <= b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		goto fail;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
fail:
	if (b->data != NULL)
		b->data[b->len] = '\0'; /* what a failed call wrote past the end undone */
	return -1;
}

const char *buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

/*
 * arena - chunked bump allocator (see arena.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mem.h"

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct chunk *head;
	size_t chunk_size, total;
};

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *arena_new(size_t first_chunk)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->chunk_size = first_chunk < 256 ? 256 : first_chunk;
	a->head = chunk_new(a->chunk_size);
	return a;
}

void arena_free(struct arena **ap)
{
	struct arena *a = *ap;

	if (a == NULL)
		return;
	for (struct chunk *c = a->head, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	xfree(ap);
}

/* size bytes, 16-aligned, not cleared (NULL on overflow). */
static void *bump(struct arena *a, size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	struct chunk *c = a->head;
	void *p;

	if (need < size)
		return NULL;
	if (c->size - c->used < need) {
		size_t csize = a->chunk_size;

		while (csize < need)
			csize *= 2;
		if (a->chunk_size < 64 * 1024)
			a->chunk_size *= 2;
		c = chunk_new(csize);
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	a->total += need;
	return p;
}

void *arena_alloc(struct arena *a, size_t size)
{
	void *p = bump(a, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = bump(a, n + 1); /* every byte written below */

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}

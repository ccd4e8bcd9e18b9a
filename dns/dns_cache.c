/*
 * dns_cache - answers kept for their TTL (see dns_cache.h for the contract).
 *
 * A chained hash table over nodes that also sit on one LRU list (most
 * recently used first).  One mutex guards both; it is held for a hash
 * lookup and a few pointer moves, never across a call into the resolver.
 * The value's unref on eviction runs outside the lock: it may free.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dns_cache.h"
#include "mem.h"

#define KEY_MAX 1024 /* a name is at most 1004 bytes in presentation form (escapes) */

struct node {
	struct node *hash_next;
	struct node *lru_prev, *lru_next;
	void *value;
	uint64_t expires_ms;
	uint32_t hash;
	int rrtype;
	size_t key_len;
	char key[]; /* lower-case name, no final dot */
};

struct dns_cache {
	pthread_mutex_t lock;
	const struct dns_cache_value_ops *ops;
	struct node **buckets;
	size_t mask, count, capacity;
	struct node *lru_head, *lru_tail;
	uint64_t hits, misses, evictions;
};

struct dns_cache *dns_cache_new(size_t capacity, const struct dns_cache_value_ops *ops)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));
	size_t n = 16;

	if (capacity == 0)
		capacity = 1;
	while (n < capacity)
		n <<= 1;
	c->buckets = xcalloc(n, sizeof(*c->buckets));
	c->mask = n - 1;
	c->capacity = capacity;
	c->ops = ops;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void dns_cache_free(struct dns_cache **cp)
{
	struct dns_cache *c = *cp;

	if (c == NULL)
		return;
	for (struct node *n = c->lru_head, *next; n != NULL; n = next) {
		next = n->lru_next;
		c->ops->unref(n->value);
		free(n);
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	xfree(cp);
}

/* Lower-case key without the final dot; 0 when the name is too long. */
static size_t key_make(const char *name, char out[KEY_MAX])
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	out[len] = '\0';
	return len;
}

static uint32_t key_hash(const char *key, size_t len, int rrtype)
{
	uint32_t h = 2166136261u ^ (uint32_t)rrtype; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

static void lru_unlink(struct dns_cache *c, struct node *n)
{
	if (n->lru_prev != NULL)
		n->lru_prev->lru_next = n->lru_next;
	else
		c->lru_head = n->lru_next;
	if (n->lru_next != NULL)
		n->lru_next->lru_prev = n->lru_prev;
	else
		c->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
}

static void lru_push_front(struct dns_cache *c, struct node *n)
{
	n->lru_prev = NULL;
	n->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = n;
	c->lru_head = n;
	if (c->lru_tail == NULL)
		c->lru_tail = n;
}

static struct node **slot_find(struct dns_cache *c, const char *key, size_t len, int rrtype,
			       uint32_t hash)
{
	struct node **p = &c->buckets[hash & c->mask];

	for (; *p != NULL; p = &(*p)->hash_next) {
		struct node *n = *p;

		if (n->hash == hash && n->rrtype == rrtype && n->key_len == len &&
		    memcmp(n->key, key, len) == 0)
			break;
	}
	return p;
}

/* Take node *p out of the table; returns it for the caller to release
 * (after unlocking). */
static struct node *node_remove(struct dns_cache *c, struct node **p)
{
	struct node *n = *p;

	*p = n->hash_next;
	lru_unlink(c, n);
	c->count--;
	return n;
}

static void node_release(struct dns_cache *c, struct node *n)
{
	if (n == NULL)
		return;
	c->ops->unref(n->value);
	free(n);
}

void *dns_cache_get(struct dns_cache *c, const char *name, int rrtype, uint64_t now_ms,
		    unsigned *ttl_left_r)
{
	char key[KEY_MAX];
	size_t len = key_make(name, key);
	uint32_t hash = key_hash(key, len, rrtype);
	struct node **p, *stale = NULL;
	void *value = NULL;

	if (len == 0)
		return NULL;
	pthread_mutex_lock(&c->lock);
	p = slot_find(c, key, len, rrtype, hash);
	if (*p != NULL && (*p)->expires_ms <= now_ms) {
		stale = node_remove(c, p);
	} else if (*p != NULL) {
		struct node *n = *p;

		lru_unlink(c, n);
		lru_push_front(c, n);
		value = n->value;
		c->ops->ref(value);
		if (ttl_left_r != NULL)
			*ttl_left_r = (unsigned)((n->expires_ms - now_ms + 999) / 1000);
	}
	if (value != NULL)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	node_release(c, stale);
	return value;
}

void dns_cache_put(struct dns_cache *c, const char *name, int rrtype, void *value, unsigned ttl,
		   uint64_t now_ms)
{
	char key[KEY_MAX];
	size_t len = key_make(name, key);
	uint32_t hash = key_hash(key, len, rrtype);
	struct node **p, *n, *old = NULL, *evicted = NULL;

	if (len == 0 || ttl == 0)
		return;
	n = xmalloc(sizeof(*n) + len + 1);
	memcpy(n->key, key, len + 1);
	n->key_len = len;
	n->hash = hash;
	n->rrtype = rrtype;
	n->expires_ms = now_ms + (uint64_t)ttl * 1000;
	n->value = value;
	n->lru_prev = n->lru_next = NULL;
	c->ops->ref(value);

	pthread_mutex_lock(&c->lock);
	p = slot_find(c, key, len, rrtype, hash);
	if (*p != NULL)
		old = node_remove(c, p);
	if (c->count >= c->capacity) {
		struct node *tail = c->lru_tail;

		evicted = node_remove(c, slot_find(c, tail->key, tail->key_len, tail->rrtype, tail->hash));
		c->evictions++;
	}
	n->hash_next = c->buckets[hash & c->mask];
	c->buckets[hash & c->mask] = n;
	lru_push_front(c, n);
	c->count++;
	pthread_mutex_unlock(&c->lock);
	node_release(c, old);
	node_release(c, evicted);
}

void dns_cache_stats(struct dns_cache *c, struct dns_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->entries = c->count;
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	pthread_mutex_unlock(&c->lock);
}

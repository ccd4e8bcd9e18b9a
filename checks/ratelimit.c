/*
 * ratelimit - token buckets in bounded hash tables (see ratelimit.h).
 *
 * A table is an array of `capacity` slots, a power-of-two array of chain
 * heads, and a doubly linked LRU list through the slots, all by 32-bit
 * index.  A lookup hashes the key (SipHash-2-4 with the table's random
 * key), walks one chain, refills and takes, and moves the slot to the
 * front of the LRU list; a new key takes a free slot or the LRU tail's.
 * Nothing in here does I/O or allocates under the lock except a new
 * key's copy.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "ratelimit.h"

#define NONE UINT32_MAX

struct slot {
	uint64_t hash;
	int64_t last_ms; /* when tokens was computed */
	double tokens;
	uint32_t chain;	     /* next slot in the same hash chain */
	uint32_t prev, next; /* LRU list: prev is more recent */
	uint16_t key_len;
	unsigned char *key;
};

struct ratelimit_table {
	pthread_mutex_t lock;
	size_t capacity;
	uint64_t k0, k1;    /* SipHash key */
	struct slot *slots; /* NULL until first use */
	uint32_t *heads;
	uint32_t mask;
	uint32_t used;
	uint32_t lru_head, lru_tail; /* most and least recently used */
	uint64_t evictions;
};

struct ratelimit {
	size_t capacity;
	struct ratelimit_table *tables[RATELIMIT_KINDS];
};

/* ---------------------------------------------------------------- SipHash
 * SipHash-2-4 (Aumasson, Bernstein 2012): a keyed hash made for hash
 * tables fed by an adversary. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t load64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t siphash24(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, whole = len & ~(size_t)7;

	for (i = 0; i < whole; i += 8) {
		m = load64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ------------------------------------------------------------------ table */
struct ratelimit_table *ratelimit_table_new(size_t capacity, const unsigned char *seed)
{
	struct ratelimit_table *t = xcalloc(1, sizeof(*t));
	unsigned char key[16];

	if (capacity == 0)
		capacity = 1;
	if (capacity > NONE / 2)
		capacity = NONE / 2;
	t->capacity = capacity;
	if (seed != NULL) {
		memcpy(key, seed, sizeof(key));
	} else if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		/* No entropy yet (early boot): still unpredictable enough to a
		 * remote sender, who cannot see the clock or our pid. */
		struct timespec ts;
		uint64_t a, b;

		clock_gettime(CLOCK_REALTIME, &ts);
		a = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		b = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t;
		memcpy(key, &a, 8);
		memcpy(key + 8, &b, 8);
	}
	t->k0 = load64(key);
	t->k1 = load64(key + 8);
	pthread_mutex_init(&t->lock, NULL);
	t->lru_head = t->lru_tail = NONE;
	return t;
}

void ratelimit_table_free(struct ratelimit_table **tp)
{
	struct ratelimit_table *t = *tp;

	if (t == NULL)
		return;
	for (uint32_t i = 0; t->slots != NULL && i < t->used; i++)
		free(t->slots[i].key);
	free(t->slots);
	free(t->heads);
	pthread_mutex_destroy(&t->lock);
	xfree(tp);
}

static void table_alloc(struct ratelimit_table *t)
{
	size_t n = 1;

	while (n < t->capacity)
		n <<= 1;
	t->slots = xcalloc(t->capacity, sizeof(*t->slots));
	t->heads = xmalloc(n * sizeof(*t->heads));
	for (size_t i = 0; i < n; i++)
		t->heads[i] = NONE;
	t->mask = (uint32_t)(n - 1);
}

static void lru_unlink(struct ratelimit_table *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	if (s->prev != NONE)
		t->slots[s->prev].next = s->next;
	else
		t->lru_head = s->next;
	if (s->next != NONE)
		t->slots[s->next].prev = s->prev;
	else
		t->lru_tail = s->prev;
}

static void lru_push_front(struct ratelimit_table *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	s->prev = NONE;
	s->next = t->lru_head;
	if (t->lru_head != NONE)
		t->slots[t->lru_head].prev = i;
	t->lru_head = i;
	if (t->lru_tail == NONE)
		t->lru_tail = i;
}

static void chain_unlink(struct ratelimit_table *t, uint32_t i)
{
	uint32_t *p = &t->heads[t->slots[i].hash & t->mask];

	while (*p != i)
		p = &t->slots[*p].chain;
	*p = t->slots[i].chain;
}

/* A slot for a new key: a free one, or the least recently used one's. */
static uint32_t slot_claim(struct ratelimit_table *t)
{
	uint32_t i;

	if (t->used < t->capacity)
		return t->used++;
	i = t->lru_tail;
	lru_unlink(t, i);
	chain_unlink(t, i);
	free(t->slots[i].key);
	t->slots[i].key = NULL;
	t->evictions++;
	return i;
}

static void refill(struct slot *s, const struct ratelimit_rate *rate, int64_t now_ms)
{
	double burst = rate->count;

	if (now_ms > s->last_ms) {
		s->tokens +=
		    (double)(now_ms - s->last_ms) * rate->count / ((double)rate->period_s * 1000.0);
		s->last_ms = now_ms;
	}
	/* also when the limit was lowered by a reload */
	if (s->tokens > burst)
		s->tokens = burst;
}

int ratelimit_table_take(struct ratelimit_table *t, const void *key, size_t len,
			 const struct ratelimit_rate *rate, int64_t now_ms)
{
	uint64_t h;
	uint32_t i;
	struct slot *s;
	int allowed;

	if (rate == NULL || rate->count == 0 || rate->period_s == 0)
		return 1;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	h = siphash24(t->k0, t->k1, key, len);
	pthread_mutex_lock(&t->lock);
	if (t->slots == NULL)
		table_alloc(t);
	for (i = t->heads[h & t->mask]; i != NONE; i = t->slots[i].chain) {
		s = &t->slots[i];
		if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0)
			break;
	}
	if (i != NONE) {
		s = &t->slots[i];
		lru_unlink(t, i);
		refill(s, rate, now_ms);
	} else {
		i = slot_claim(t);
		s = &t->slots[i];
		s->hash = h;
		s->key_len = (uint16_t)len;
		s->key = xmalloc(len > 0 ? len : 1);
		memcpy(s->key, key, len);
		s->tokens = rate->count;
		s->last_ms = now_ms;
		s->chain = t->heads[h & t->mask];
		t->heads[h & t->mask] = i;
	}
	lru_push_front(t, i);
	allowed = s->tokens >= 1.0;
	if (allowed)
		s->tokens -= 1.0;
	pthread_mutex_unlock(&t->lock);
	return allowed;
}

void ratelimit_table_stats(struct ratelimit_table *t, struct ratelimit_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->entries = t->used;
	st->capacity = t->capacity;
	st->evictions = t->evictions;
	for (size_t b = 0; t->heads != NULL && b <= t->mask; b++) {
		size_t n = 0;

		for (uint32_t i = t->heads[b]; i != NONE; i = t->slots[i].chain)
			n++;
		if (n > st->longest_chain)
			st->longest_chain = n;
	}
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------------- keys */
size_t ratelimit_ip_key(const struct addr *a, unsigned ipv4_prefix, unsigned ipv6_prefix,
			unsigned char *out)
{
	const unsigned char *bytes;
	unsigned prefix, n;

	if (a->family == AF_INET) {
		bytes = (const unsigned char *)&a->u.v4;
		prefix = ipv4_prefix > 32 ? 32 : ipv4_prefix;
		n = 4;
	} else if (a->family == AF_INET6) {
		bytes = (const unsigned char *)&a->u.v6;
		prefix = ipv6_prefix > 128 ? 128 : ipv6_prefix;
		n = 16;
	} else {
		return 0;
	}
	out[0] = n == 4 ? 4 : 6;
	out[1] = (unsigned char)prefix;
	for (unsigned i = 0; i < n; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;

		out[2 + i] = bits >= 8 ? bytes[i] : (unsigned char)(bytes[i] & (0xff00u >> bits));
	}
	return 2 + n;
}

/* An address or user name, lowercased and capped. */
static size_t text_key(const char *s, unsigned char *out)
{
	size_t n = 0;

	for (; s[n] != '\0' && n < RATELIMIT_KEY_MAX; n++)
		out[n] = (unsigned char)tolower((unsigned char)s[n]);
	return n;
}

/* ------------------------------------------------------------ the daemon's */
struct ratelimit *ratelimit_new(size_t capacity_per_table)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	rl->capacity = capacity_per_table;
	for (int k = 0; k < RATELIMIT_KINDS; k++)
		rl->tables[k] = ratelimit_table_new(capacity_per_table, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit **rlp)
{
	struct ratelimit *rl = *rlp;

	if (rl == NULL)
		return;
	for (int k = 0; k < RATELIMIT_KINDS; k++)
		ratelimit_table_free(&rl->tables[k]);
	xfree(rlp);
}

size_t ratelimit_capacity(const struct ratelimit *rl)
{
	return rl->capacity;
}

struct ratelimit_table *ratelimit_table_of(struct ratelimit *rl, enum ratelimit_kind kind)
{
	return kind < RATELIMIT_KINDS ? rl->tables[kind] : NULL;
}

unsigned ratelimit_check(struct ratelimit *rl, const struct ratelimit_limits *lim,
			 const struct addr *client, const char *mail_from, const char *auth_user,
			 int64_t now_ms)
{
	unsigned char key[RATELIMIT_KEY_MAX];
	unsigned exceeded = 0;
	size_t n;

	if (auth_user != NULL) {
		/* The user answers for what it sends, from wherever it sends it:
		 * an office behind one NAT address is not one flooder. */
		n = text_key(auth_user, key);
		if (!ratelimit_table_take(rl->tables[RATELIMIT_USER], key, n, &lim->user, now_ms))
			exceeded |= RATELIMIT_BIT(RATELIMIT_USER);
		return exceeded;
	}
	if (client != NULL &&
	    (n = ratelimit_ip_key(client, lim->ipv4_prefix, lim->ipv6_prefix, key)) > 0 &&
	    !ratelimit_table_take(rl->tables[RATELIMIT_IP], key, n, &lim->ip, now_ms))
		exceeded |= RATELIMIT_BIT(RATELIMIT_IP);
	if (mail_from != NULL && mail_from[0] != '\0') {
		n = text_key(mail_from, key);
		if (!ratelimit_table_take(rl->tables[RATELIMIT_SENDER], key, n, &lim->sender,
					  now_ms))
			exceeded |= RATELIMIT_BIT(RATELIMIT_SENDER);
	}
	return exceeded;
}

int64_t ratelimit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

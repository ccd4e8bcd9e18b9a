/*
 * dns_cache_test - the answer cache alone: hits and misses, case and final
 * dot, the TTL with a clock the test moves, replacement, eviction of the
 * least recently used at capacity, references handed out and dropped, and
 * a name too long to keep.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dns.h"
#include "dns_cache.h"

struct value {
	int refs;
	int id;
};

static int values_freed;

static void value_ref(void *p)
{
	((struct value *)p)->refs++;
}

static void value_unref(void *p)
{
	struct value *v = p;

	if (--v->refs == 0) {
		values_freed++;
		free(v);
	}
}

static const struct dns_cache_value_ops ops = {value_ref, value_unref};

static struct value *value_new(int id)
{
	struct value *v = calloc(1, sizeof(*v));

	v->refs = 1;
	v->id = id;
	return v;
}

/* get and drop the reference at once: the id found, or 0 */
static int get_id(struct dns_cache *c, const char *name, int type, uint64_t now)
{
	struct value *v = dns_cache_get(c, name, type, now, NULL);
	int id;

	if (v == NULL)
		return 0;
	id = v->id;
	value_unref(v);
	return id;
}

static void put(struct dns_cache *c, const char *name, int type, int id, unsigned ttl,
		uint64_t now)
{
	struct value *v = value_new(id);

	dns_cache_put(c, name, type, v, ttl, now);
	value_unref(v); /* the cache keeps its own */
}

static void test_basics(void)
{
	struct dns_cache *c = dns_cache_new(8, &ops);
	struct dns_cache_stats st;
	unsigned left = 0;
	struct value *v;

	CHECK(get_id(c, "example.test", DNS_T_TXT, 0) == 0, "empty cache: miss");
	put(c, "Example.TEST.", DNS_T_TXT, 1, 60, 1000);
	CHECK(get_id(c, "example.test", DNS_T_TXT, 1000) == 1, "hit ignores case and the final dot");
	CHECK(get_id(c, "EXAMPLE.test.", DNS_T_TXT, 1000) == 1, "hit the other way round");
	CHECK(get_id(c, "example.test", DNS_T_A, 1000) == 0, "another type is another key");
	CHECK(get_id(c, "example.tes", DNS_T_TXT, 1000) == 0, "a prefix is another key");
	v = dns_cache_get(c, "example.test", DNS_T_TXT, 31000, &left);
	CHECK(v != NULL && left == 30, "TTL left after 30 s: %u", left);
	if (v != NULL)
		value_unref(v);
	CHECK(get_id(c, "example.test", DNS_T_TXT, 60999) == 1, "still there 1 ms before expiry");
	CHECK(get_id(c, "example.test", DNS_T_TXT, 61000) == 0, "gone at expiry");
	dns_cache_stats(c, &st);
	CHECK(st.entries == 0, "the expired entry was dropped (%zu left)", st.entries);
	CHECK(st.hits == 4 && st.misses == 4, "hits %llu, misses %llu", (unsigned long long)st.hits,
	   (unsigned long long)st.misses);

	put(c, "zero.test", DNS_T_A, 2, 0, 0);
	CHECK(get_id(c, "zero.test", DNS_T_A, 0) == 0, "TTL 0 is not kept");
	put(c, "r.test", DNS_T_A, 3, 60, 0);
	put(c, "r.test", DNS_T_A, 4, 60, 0);
	CHECK(get_id(c, "r.test", DNS_T_A, 0) == 4, "a second put replaces the first");
	dns_cache_stats(c, &st);
	CHECK(st.entries == 1, "one entry for one key (%zu)", st.entries);
	dns_cache_free(&c);
	CHECK(c == NULL, "free clears the pointer");
	dns_cache_free(&c);
}

static void test_lru(void)
{
	struct dns_cache *c = dns_cache_new(3, &ops);
	struct dns_cache_stats st;
	struct value *held;

	values_freed = 0;
	put(c, "a.test", DNS_T_A, 1, 300, 0);
	put(c, "b.test", DNS_T_A, 2, 300, 0);
	put(c, "c.test", DNS_T_A, 3, 300, 0);
	CHECK(get_id(c, "a.test", DNS_T_A, 1) == 1, "a used again: now the most recent");
	put(c, "d.test", DNS_T_A, 4, 300, 2);
	CHECK(get_id(c, "b.test", DNS_T_A, 3) == 0, "full: the least recently used (b) went");
	CHECK(get_id(c, "a.test", DNS_T_A, 3) == 1 && get_id(c, "c.test", DNS_T_A, 3) == 3 &&
	       get_id(c, "d.test", DNS_T_A, 3) == 4,
	   "a, c and d stay");
	dns_cache_stats(c, &st);
	CHECK(st.entries == 3 && st.evictions == 1, "3 entries, 1 eviction");
	CHECK(values_freed == 1, "the evicted value was released (%d)", values_freed);

	/* a value handed out outlives its eviction */
	held = dns_cache_get(c, "a.test", DNS_T_A, 4, NULL);
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%d.test", i);
		put(c, name, DNS_T_A, 10 + i, 300, 5);
	}
	CHECK(get_id(c, "a.test", DNS_T_A, 6) == 0, "a evicted by three newer names");
	CHECK(held != NULL && held->id == 1 && held->refs == 1, "the caller's reference still holds a");
	if (held != NULL)
		value_unref(held);
	dns_cache_free(&c);
	CHECK(values_freed == 7, "every value released once in the end (%d of 7)", values_freed);
}

static void test_long_name(void)
{
	struct dns_cache *c = dns_cache_new(4, &ops);
	char name[1100];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	put(c, name, DNS_T_TXT, 1, 60, 0);
	CHECK(get_id(c, name, DNS_T_TXT, 0) == 0, "a name longer than any DNS name is not kept");
	put(c, ".", DNS_T_TXT, 2, 60, 0);
	CHECK(get_id(c, ".", DNS_T_TXT, 0) == 0, "the root name is not kept");
	dns_cache_free(&c);
}

int main(void)
{
	test_basics();
	test_lru();
	test_long_name();
	return check_done();
}

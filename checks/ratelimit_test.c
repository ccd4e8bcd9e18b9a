/*
 * ratelimit_test - token buckets and their table: refill over an injected
 * clock, the burst cap, eviction at capacity, the keys (IPv6 by /64, IPv4
 * per address, prefixes), hostile keys, who counts against which limit,
 * a lowered limit, and concurrent takes.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ratelimit.h"

static const unsigned char seed[16] = "authscore-test!";

static int take(struct ratelimit_table *t, const char *key, const struct ratelimit_rate *r,
		int64_t now)
{
	return ratelimit_table_take(t, key, strlen(key), r, now);
}

static void test_bucket(void)
{
	struct ratelimit_table *t = ratelimit_table_new(16, seed);
	struct ratelimit_rate r = {3, 10}; /* 3 per 10 s: a token every 3333.3 ms */
	struct ratelimit_rate off = {0, 0};
	struct ratelimit_stats st;
	int n = 0;

	CHECK(take(t, "a", &r, 0) && take(t, "a", &r, 0) && take(t, "a", &r, 0),
	      "a full bucket gives its burst (3)");
	CHECK(!take(t, "a", &r, 0), "the 4th message at once exceeds");
	CHECK(take(t, "b", &r, 0), "another key has its own bucket");
	CHECK(!take(t, "a", &r, 3333), "3333 ms later: not yet a whole token");
	CHECK(take(t, "a", &r, 3334), "3334 ms later: one token back");
	CHECK(!take(t, "a", &r, 3335), "and only one");
	/* refused takes take nothing: a retrying client gets through on time */
	for (int64_t ms = 3400; ms < 6667; ms += 100)
		n += take(t, "a", &r, ms);
	CHECK(n == 0, "retries before the refill all refused");
	CHECK(take(t, "a", &r, 6668), "the next token arrives on time despite the retries");
	/* a long idle time refills to the burst, not beyond */
	n = 0;
	for (int i = 0; i < 10; i++)
		n += take(t, "a", &r, 3600 * 1000);
	CHECK(n == 3, "after an hour idle: the burst again, not more (%d)", n);
	/* a clock that goes back (it should not) refills nothing */
	CHECK(!take(t, "a", &r, 1000), "a clock going backwards gives no tokens");
	CHECK(take(t, "zzz", &off, 0) && take(t, "zzz", &off, 0), "count 0: no limit");
	ratelimit_table_stats(t, &st);
	CHECK(st.entries == 2, "no limit stores nothing (%zu entries)", st.entries);
	/* a lowered limit (a reload) caps what a bucket holds */
	{
		struct ratelimit_rate big = {100, 60}, small = {2, 60};

		n = 0;
		take(t, "c", &big, 0);
		for (int i = 0; i < 10; i++)
			n += take(t, "c", &small, 1);
		CHECK(n == 2, "a bucket keeps its state but not more than a lowered burst (%d)", n);
	}
	ratelimit_table_free(&t);
	CHECK(t == NULL, "ratelimit_table_free clears the pointer");
	ratelimit_table_free(&t);
}

static void test_eviction(void)
{
	struct ratelimit_table *t = ratelimit_table_new(4, seed);
	struct ratelimit_rate r = {1, 3600};
	struct ratelimit_stats st;

	take(t, "a", &r, 0);
	take(t, "b", &r, 1);
	take(t, "c", &r, 2);
	take(t, "d", &r, 3);
	CHECK(!take(t, "a", &r, 4), "a is drained (and now the most recently used)");
	CHECK(take(t, "e", &r, 5), "a fifth key at capacity 4 is admitted");
	ratelimit_table_stats(t, &st);
	CHECK(st.entries == 4 && st.capacity == 4 && st.evictions == 1,
	      "the table stays at its capacity: one eviction (%zu, %llu)", st.entries,
	      (unsigned long long)st.evictions);
	CHECK(!take(t, "a", &r, 6), "the recently used key was kept: still drained");
	CHECK(take(t, "b", &r, 7), "the least recently used key (b) was evicted: a fresh bucket");
	CHECK(!take(t, "d", &r, 8) && !take(t, "e", &r, 9), "d and e kept");
	ratelimit_table_stats(t, &st);
	CHECK(st.evictions == 2, "b's return evicted c, the least recently used then");
	ratelimit_table_free(&t);
	/* capacity 1: every new key evicts the last */
	t = ratelimit_table_new(1, seed);
	CHECK(take(t, "x", &r, 0) && !take(t, "x", &r, 0) && take(t, "y", &r, 0) &&
		  take(t, "x", &r, 0),
	      "capacity 1 works");
	ratelimit_table_free(&t);
}

static void test_hostile_keys(void)
{
	struct ratelimit_table *t = ratelimit_table_new(1024, NULL);
	struct ratelimit_rate r = {1, 3600};
	struct ratelimit_stats st;
	char key[400];
	int admitted = 0;

	/* a flood of distinct keys: memory stays at the capacity, chains short */
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "spammer%d@example.com", i);
		admitted += take(t, key, &r, i);
	}
	ratelimit_table_stats(t, &st);
	CHECK(admitted == 20000 && st.entries == 1024 && st.evictions == 20000 - 1024,
	      "20000 keys: 1024 buckets kept, the rest evicted (%zu, %llu)", st.entries,
	      (unsigned long long)st.evictions);
	CHECK(st.longest_chain <= 12, "the longest hash chain is short (%zu)", st.longest_chain);
	/* keys with NUL bytes and binary are bytes, not strings */
	CHECK(ratelimit_table_take(t, "a\0b", 3, &r, 0) &&
		  ratelimit_table_take(t, "a\0c", 3, &r, 0),
	      "keys differing after a NUL byte are different");
	CHECK(!ratelimit_table_take(t, "a\0b", 3, &r, 0), "a binary key keeps its bucket");
	CHECK(ratelimit_table_take(t, "", 0, &r, 0) && !ratelimit_table_take(t, "", 0, &r, 0),
	      "the empty key is a key");
	/* over-long keys are cut at RATELIMIT_KEY_MAX */
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	CHECK(take(t, key, &r, 0), "a 399-byte key");
	key[300] = 'y';
	CHECK(!take(t, key, &r, 0), "one differing after byte 256 shares its bucket");
	key[100] = 'y';
	CHECK(take(t, key, &r, 0), "one differing before byte 256 does not");
	ratelimit_table_free(&t);
}

static void test_ip_keys(void)
{
	struct addr a, b;
	unsigned char ka[18], kb[18];
	size_t na, nb;

	addr_parse("2001:db8:1:2::1", &a);
	addr_parse("2001:db8:1:2:ffff:eeee:dddd:cccc", &b);
	na = ratelimit_ip_key(&a, 32, 64, ka);
	nb = ratelimit_ip_key(&b, 32, 64, kb);
	CHECK(na == 18 && na == nb && memcmp(ka, kb, na) == 0, "IPv6: one key per /64");
	addr_parse("2001:db8:1:3::1", &b);
	nb = ratelimit_ip_key(&b, 32, 64, kb);
	CHECK(na == nb && memcmp(ka, kb, na) != 0, "IPv6: the next /64 is another key");
	addr_parse("2001:db8:1:2::2", &b);
	na = ratelimit_ip_key(&a, 32, 128, ka);
	nb = ratelimit_ip_key(&b, 32, 128, kb);
	CHECK(memcmp(ka, kb, na) != 0, "IPv6 by /128: per address");
	na = ratelimit_ip_key(&a, 32, 61, ka);
	addr_parse("2001:db8:1:7::1", &b);
	nb = ratelimit_ip_key(&b, 32, 61, kb);
	CHECK(memcmp(ka, kb, na) == 0, "IPv6 by /61: a prefix inside a byte");
	addr_parse("203.0.113.10", &a);
	addr_parse("203.0.113.11", &b);
	na = ratelimit_ip_key(&a, 32, 64, ka);
	nb = ratelimit_ip_key(&b, 32, 64, kb);
	CHECK(na == 6 && nb == 6 && memcmp(ka, kb, na) != 0, "IPv4: per address by default");
	na = ratelimit_ip_key(&a, 24, 64, ka);
	nb = ratelimit_ip_key(&b, 24, 64, kb);
	CHECK(memcmp(ka, kb, na) == 0, "IPv4 by /24: one key");
	addr_parse("::ffff:203.0.113.10", &b);
	na = ratelimit_ip_key(&a, 32, 64, ka);
	nb = ratelimit_ip_key(&b, 32, 64, kb);
	CHECK(na == nb && memcmp(ka, kb, na) == 0,
	      "an IPv4-mapped IPv6 client is its IPv4 address");
	addr_parse("0.0.0.0", &a);
	addr_parse("::", &b);
	na = ratelimit_ip_key(&a, 32, 64, ka);
	nb = ratelimit_ip_key(&b, 32, 64, kb);
	CHECK(na != nb || memcmp(ka, kb, na) != 0, "0.0.0.0 and :: are different keys");
	memset(&a, 0, sizeof(a));
	CHECK(ratelimit_ip_key(&a, 32, 64, ka) == 0, "an unknown client has no key");
}

static void test_check(void)
{
	/* authscore.conf: ratelimit-ip 2/1m, ratelimit-sender 3/1m,
	 * ratelimit-user 2/1m, the default prefixes */
	const struct ratelimit_limits limits = {{2, 60}, {3, 60}, {2, 60}, 32, 64}, *c = &limits;
	struct ratelimit *rl = ratelimit_new(100);
	struct addr h1, h2, h3, other, v4;
	struct ratelimit_stats st;
	char names[64];
	unsigned b;

	addr_parse("2001:db8:5:6::1", &h1);
	addr_parse("2001:db8:5:6::2", &h2);
	addr_parse("2001:db8:5:6:1::3", &h3);
	addr_parse("2001:db8:5:7::1", &other);
	addr_parse("203.0.113.10", &v4);
	CHECK(ratelimit_check(rl, c, &h1, "a@example.com", NULL, 0) == 0 &&
		  ratelimit_check(rl, c, &h2, "b@example.com", NULL, 0) == 0,
	      "two hosts of one /64 within the IP limit");
	b = ratelimit_check(rl, c, &h3, "c@example.com", NULL, 0);
	CHECK(b == RATELIMIT_BIT(RATELIMIT_IP), "a third host of the same /64 exceeds it (%u)", b);
	CHECK(ratelimit_check(rl, c, &other, "c@example.com", NULL, 0) == 0,
	      "the next /64 is not limited");
	/* the sender: c@ has 1 left after other's message; case does not matter */
	CHECK(ratelimit_check(rl, c, &v4, "C@Example.COM", NULL, 0) == 0,
	      "sender counted once more");
	b = ratelimit_check(rl, c, &v4, "c@example.com", NULL, 0);
	CHECK(b == RATELIMIT_BIT(RATELIMIT_SENDER), "sender limit exceeded, whatever the case (%u)",
	      b);
	b = ratelimit_check(rl, c, &v4, "c@example.com", NULL, 0);
	CHECK(b == (RATELIMIT_BIT(RATELIMIT_IP) | RATELIMIT_BIT(RATELIMIT_SENDER)),
	      "both IP and sender exceeded (%u)", b);
	CHECK_STR(ratelimit_names(b, names, sizeof(names)), "ip,sender", "names of the bits");
	CHECK_STR(ratelimit_names(0, names, sizeof(names)), "", "no bits: no names");
	/* the null sender: only its client's limit */
	addr_parse("203.0.113.20", &v4);
	for (int i = 0; i < 5; i++)
		b = ratelimit_check(rl, c, &v4, "", NULL, 120000 * i);
	CHECK(b == 0, "the null sender is not limited as a sender");
	ratelimit_table_stats(ratelimit_table_of(rl, RATELIMIT_SENDER), &st);
	CHECK(st.entries == 3, "no bucket for the null sender (%zu senders)", st.entries);
	/* an authenticated user counts against its user only, from anywhere */
	ratelimit_table_stats(ratelimit_table_of(rl, RATELIMIT_IP), &st);
	{
		size_t ips = st.entries;

		CHECK(ratelimit_check(rl, c, &h3, "c@example.com", "alice", 0) == 0 &&
			  ratelimit_check(rl, c, &v4, "c@example.com", "Alice", 0) == 0,
		      "an authenticated user is not held to its address's or sender's limits");
		b = ratelimit_check(rl, c, &other, "d@example.com", "alice", 0);
		CHECK(b == RATELIMIT_BIT(RATELIMIT_USER), "alice's third message exceeds (%u)", b);
		CHECK(ratelimit_check(rl, c, &other, "d@example.com", "bob", 0) == 0,
		      "bob has his own bucket");
		ratelimit_table_stats(ratelimit_table_of(rl, RATELIMIT_IP), &st);
		CHECK(st.entries == ips, "authenticated messages add no IP bucket");
		b = ratelimit_check(rl, c, &other, "d@example.com", "alice", 30000);
		CHECK(b == 0, "half a minute later alice has a token again");
	}
	/* limits off: nothing counted */
	{
		const struct ratelimit_limits off = {{0, 0}, {0, 0}, {0, 0}, 32, 64}, *none = &off;

		for (int i = 0; i < 10; i++)
			b |= ratelimit_check(rl, none, &h1, "a@example.com", NULL, 0);
		CHECK(b == 0, "without limits nothing is exceeded");
	}
	CHECK(ratelimit_capacity(rl) == 100, "capacity per table");
	ratelimit_free(&rl);
	CHECK(rl == NULL, "ratelimit_free clears the pointer");
}

struct worker {
	struct ratelimit_table *t;
	int allowed;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct ratelimit_rate r = {1000, 7 * 86400};
	char key[32];

	for (int i = 0; i < 5000; i++) {
		w->allowed += ratelimit_table_take(w->t, "shared", 6, &r, 0);
		snprintf(key, sizeof(key), "k%d", i % 300);
		ratelimit_table_take(w->t, key, strlen(key), &r, 0);
	}
	return NULL;
}

static void test_threads(void)
{
	struct ratelimit_table *t = ratelimit_table_new(256, NULL);
	struct worker w[4];
	pthread_t th[4];
	int total = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.t = t};
		pthread_create(&th[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += w[i].allowed;
	}
	CHECK(total == 1000, "4 threads on one key: exactly the burst is let through (%d)", total);
	ratelimit_table_free(&t);
}

int main(void)
{
	test_bucket();
	test_eviction();
	test_hostile_keys();
	test_ip_keys();
	test_check();
	test_threads();
	return check_done();
}

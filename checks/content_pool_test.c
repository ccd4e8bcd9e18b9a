/*
 * content_pool_test - the in-memory pool of the bodies past the spill
 * threshold (content_pool.h, content.h's spill_pool_bytes): a scan stays
 * in memory while the pool has room and spills the chunk it would pass
 * it; a spill and a free give the scan's share back, whichever way the
 * message ends (finished, aborted, its spool file refused); a pool of 0
 * spills as before; and a message scanned in memory or from its file
 * has the same facts.  Each body is fed as an MTA feeds it, in chunks.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "content_facts.h"
#include "content.h"
#include "content_pool.h"

#define SPILL 4096
#define CTYPE CONTENT_TEST_CTYPE
/* What a scan keeps before its body: the two MIME fields and the blank line. */
#define HEAD_LEN                                                                                   \
	(sizeof("MIME-Version: 1.0\r\n") - 1 + sizeof("Content-Type:" CTYPE "\r\n") - 1 + 2)

static char spool_dir[] = "/tmp/content_pool_test.XXXXXX";

static struct content_limits limits(size_t pool)
{
	return (struct content_limits){
	    .max_bytes = 2 * 1024 * 1024,
	    .max_text = 1024 * 1024,
	    .max_parts = 100,
	    .max_depth = 20,
	    .max_urls = 200,
	    .spill_bytes = SPILL,
	    .spool_dir = spool_dir,
	    .spill_pool_bytes = pool,
	};
}

/* A body of about 28 kB: text with links, QP HTML with links, a base64
 * attachment with a double extension. */
static char *body_of(size_t *len_r)
{
	return content_test_body(250, 150, 0, 60, len_r);
}

/* A scan of body's first len bytes, in chunks; finished into out unless NULL. */
static struct content_scan *scan(struct arena *a, const struct content_limits *l, const char *body,
				 size_t len, struct content_facts *out)
{
	return content_scan_chunks(a, l, body, len, 1000, out);
}

/* Two scans: the first holds the pool, the second spills; frees give back. */
static void test_two_scans(const char *body, size_t len)
{
	struct arena *a = arena_new(8192);
	size_t share = HEAD_LEN + len - SPILL;
	struct content_limits l = limits(share + 1000); /* room for one, not two */
	int fds = open_fds();
	struct content_scan *x, *y, *z;

	x = scan(a, &l, body, len, NULL);
	CHECK(content_pool_used() == share && open_fds() == fds,
	      "the first scan stays in memory: %zu bytes of the pool (want %zu), no file",
	      content_pool_used(), share);
	y = scan(a, &l, body, len, NULL);
	CHECK(content_pool_used() == share && open_fds() == fds + 1,
	      "the second finds the pool full: it spills, and its share is given back (%zu)",
	      content_pool_used());
	content_scan_free(&x);
	CHECK(x == NULL && content_pool_used() == 0, "freeing the first gives its share back (%zu)",
	      content_pool_used());
	z = scan(a, &l, body, len, NULL);
	CHECK(content_pool_used() == share && open_fds() == fds + 1,
	      "a third, after: in memory again (%zu)", content_pool_used());
	content_scan_free(&y);
	content_scan_free(&z);
	CHECK(content_pool_used() == 0 && open_fds() == fds, "all freed: the pool empty, no file");
	arena_free(&a);
}

/* A scan that outgrows the pool spills and gives back what it held. */
static void test_spill_gives_back(const char *body, size_t len)
{
	struct arena *a = arena_new(8192);
	struct content_limits l = limits(10 * 1024);
	int fds = open_fds();
	struct content_scan *c = content_scan_new(a, &l);
	size_t o;

	content_scan_header(c, "MIME-Version", " 1.0");
	content_scan_header(c, "Content-Type", CTYPE);
	for (o = 0; HEAD_LEN + o + 1000 <= SPILL + 10 * 1024; o += 1000)
		content_scan_body(c, (const unsigned char *)body + o, 1000);
	CHECK(content_pool_used() == HEAD_LEN + o - SPILL && open_fds() == fds,
	      "in memory while it fits: %zu bytes of the pool", content_pool_used());
	content_scan_body(c, (const unsigned char *)body + o, 1000);
	CHECK(content_pool_used() == 0 && open_fds() == fds + 1,
	      "the chunk that does not fit: spilled, the share given back (%zu)",
	      content_pool_used());
	content_scan_body(c, (const unsigned char *)body + o + 1000, len - o - 1000);
	CHECK(content_pool_used() == 0, "and the rest goes to its file, not the pool");
	content_scan_free(&c);
	CHECK(open_fds() == fds && content_pool_used() == 0, "freed: no file, the pool empty");
	arena_free(&a);
}

/* Pool 0: every body past spill_bytes to a file, as before the pool. */
static void test_pool_zero(const char *body, size_t len)
{
	struct arena *a = arena_new(8192);
	struct content_limits l = limits(0);
	int fds = open_fds();
	struct content_scan *c = scan(a, &l, body, SPILL / 2, NULL), *d;

	CHECK(open_fds() == fds && content_pool_used() == 0,
	      "pool 0: a body under spill_bytes stays in memory");
	d = scan(a, &l, body, len, NULL);
	CHECK(open_fds() == fds + 1 && content_pool_used() == 0,
	      "pool 0: one past spill_bytes spills, and nothing is taken");
	content_scan_free(&c);
	content_scan_free(&d);
	CHECK(open_fds() == fds, "freed: no file");
	arena_free(&a);
}

/* The facts of a message scanned in memory (the pool) and from its file. */
static void test_same_facts(const char *body, size_t len)
{
	struct arena *a = arena_new(8192);
	struct content_limits pooled = limits(1024 * 1024), spilled = limits(0);
	struct content_facts fm, fs;
	int fds = open_fds();
	struct content_scan *m = scan(a, &pooled, body, len, &fm);
	struct content_scan *s;

	CHECK(content_pool_used() == HEAD_LEN + len - SPILL,
	      "a finished scan holds its share until it is freed (the rawbody points into it)");
	s = scan(a, &spilled, body, len, &fs);
	CHECK(open_fds() == fds, "the spilled one's file closed at its scan");
	CHECK(fm.scanned && fm.part_count == 3 && fm.url_count > 30 && fm.double_extension &&
		  fm.raw_len == len,
	      "in memory: scanned whole (%zu parts, %zu links, raw %zu of %zu)", fm.part_count,
	      fm.url_count, fm.raw_len, len);
	CHECK(content_facts_same(&fm, &fs), "in memory and spilled: the same facts");
	content_scan_free(&m);
	content_scan_free(&s);
	CHECK(content_pool_used() == 0, "freed: the pool empty");
	arena_free(&a);
}

/* A message aborted before its end, and one whose spool file is refused. */
static void test_ends(const char *body, size_t len)
{
	struct arena *a = arena_new(8192);
	struct content_limits l = limits(8 * 1024), bad = limits(8 * 1024);
	struct content_facts f;
	struct content_scan *c = scan(a, &l, body, SPILL + 2000, NULL);
	/* the 1000-byte chunks that fit 8 kB past SPILL, with the header */
	size_t held = HEAD_LEN + (SPILL + 8 * 1024 - HEAD_LEN) / 1000 * 1000 - SPILL;

	CHECK(content_pool_used() > 0, "a scan in the pool, its message not ended");
	content_scan_free(&c); /* the abort callback, a reload, a closed connection */
	CHECK(content_pool_used() == 0, "aborted: its share given back");
	bad.spool_dir = "/nonexistent/authscore-spool";
	c = scan(a, &bad, body, len, &f);
	CHECK(f.scanned && f.skipped_body_bytes > 0 && content_pool_used() == held,
	      "the file refused past the pool: what is kept is scanned, its share still held (%zu "
	      "of %zu)",
	      content_pool_used(), held);
	content_scan_free(&c);
	CHECK(content_pool_used() == 0, "and given back when it is freed");
	arena_free(&a);
}

/* ------------------------------------------------ the counter, raced */

#define THREADS 8
#define ROUNDS	20000
#define LIMIT	100000

static atomic_size_t seen_max;
static atomic_uint refused;

/* Each thread holds up to four takes at once, the oldest given back
 * first: together they want more than the limit. */
static void *racer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	size_t held[4] = {0};

	for (int i = 0; i < ROUNDS; i++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 30000), used;

		content_pool_give(held[i % 4]);
		held[i % 4] = 0;
		if (!content_pool_take(n, LIMIT)) {
			refused++;
			continue;
		}
		held[i % 4] = n;
		used = content_pool_used();
		for (size_t m = atomic_load(&seen_max);
		     used > m && !atomic_compare_exchange_weak(&seen_max, &m, used);)
			;
	}
	for (int i = 0; i < 4; i++)
		content_pool_give(held[i]);
	return NULL;
}

static void test_counter(void)
{
	pthread_t t[THREADS];

	CHECK(content_pool_take(0, 0) == 1 && content_pool_used() == 0, "nothing: always taken");
	CHECK(content_pool_take(10, 9) == 0 && content_pool_used() == 0, "more than the limit: no");
	CHECK(content_pool_take(10, 10) == 1 && content_pool_take(1, 10) == 0 &&
		  content_pool_take(SIZE_MAX, SIZE_MAX) == 0 && content_pool_used() == 10,
	      "up to the limit, not a byte past it, no wrap-around");
	content_pool_give(10);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, racer, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(content_pool_used() == 0 && seen_max <= LIMIT && seen_max > 0 && refused > 0,
	      "%d threads racing: never past the limit (max %zu of %d, %u refused), all given back",
	      THREADS, (size_t)seen_max, LIMIT, (unsigned)refused);
}

int main(void)
{
	size_t len;
	char *body;

	content_init();
	if (mkdtemp(spool_dir) == NULL) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	body = body_of(&len);
	CHECK(len > 20000 && len < 64 * 1024, "a body of %zu bytes", len);
	test_counter();
	test_two_scans(body, len);
	test_spill_gives_back(body, len);
	test_pool_zero(body, len);
	test_same_facts(body, len);
	test_ends(body, len);
	free(body);
	rmdir(spool_dir);
	return check_done();
}

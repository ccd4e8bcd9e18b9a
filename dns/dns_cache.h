/*
 * dns_cache - the answers of the process's resolver, kept for their TTL.
 *
 * libunbound caches too, but reaching its cache costs a round trip through
 * its worker thread and two pipes (write, poll, read and four fcntl for
 * each crossing): about 20 per message for the ~19 lookups of a message,
 * more system calls than the milter protocol itself.  This table answers a
 * repeated question in the calling thread with one mutex and a hash lookup.
 *
 * Keys are (name, RR type); names compare case-insensitively (RFC 4343),
 * without a final dot.  Values are opaque to the cache: the owner gives
 * ref/unref functions, the cache holds one reference per value it keeps
 * and hands the caller a new one on a hit.  Bounded: at most `capacity`
 * entries; inserting into a full table drops the least recently used.
 * Only what the owner decides to put in is kept (answers with a TTL; never
 * failures), and never longer than its TTL.  Time is passed in by the
 * caller (milliseconds, any monotonic origin) so tests control it.
 * Thread-safe.
 */
#ifndef AUTHSCORE_DNS_CACHE_H
#define AUTHSCORE_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct dns_cache;

struct dns_cache_value_ops {
	void (*ref)(void *value);
	void (*unref)(void *value);
};

struct dns_cache *dns_cache_new(size_t capacity, const struct dns_cache_value_ops *ops);
void dns_cache_free(struct dns_cache **cp);

/* A value with one reference for the caller, or NULL (absent, expired).
 * *ttl_left_r (may be NULL) gets the seconds left, rounded up. */
void *dns_cache_get(struct dns_cache *c, const char *name, int rrtype, uint64_t now_ms,
		    unsigned *ttl_left_r);
/* Keep value for ttl seconds (0: not kept); replaces an entry of the same
 * key.  Names longer than a DNS name are not kept. */
void dns_cache_put(struct dns_cache *c, const char *name, int rrtype, void *value, unsigned ttl,
		   uint64_t now_ms);

struct dns_cache_stats {
	size_t entries;
	uint64_t hits, misses, evictions;
};
void dns_cache_stats(struct dns_cache *c, struct dns_cache_stats *out);

#endif

/*
 * ratelimit - token buckets per client network, envelope sender and SMTP
 * AUTH user, so that the server cannot be used to flood.
 *
 * A limit is COUNT messages per PERIOD (struct ratelimit_rate); its
 * bucket holds at most COUNT tokens (the burst), refills continuously at
 * COUNT/PERIOD, and a message takes one token.  A message that finds no
 * token takes none: a client that keeps retrying is let through again once
 * the refill allows, whatever it tried in between.
 *
 * A ratelimit_table is a fixed-capacity hash table of buckets keyed by
 * bytes (a keyed SipHash, so hostile keys cannot lengthen the chains),
 * with least-recently-used eviction when full: an idle bucket has refilled
 * and forgets nothing when evicted.  Memory: the capacity's slots are
 * allocated on first use; keys are capped at RATELIMIT_KEY_MAX bytes.
 * One mutex per table, held only for the O(1) lookup and update.
 *
 * struct ratelimit is the daemon's set of tables (one per kind of limit),
 * owned by main and shared by every runtime snapshot, so its state
 * survives a reload; the limits themselves come from the configuration of
 * each call.  The clock is the caller's (milliseconds, monotonic), so
 * tests can drive time.  Thread-safe.
 */
#ifndef AUTHSCORE_RATELIMIT_H
#define AUTHSCORE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "ratelimit_result.h"

/* A key longer than this (RFC 5321 §4.5.3.1.3: a path is at most 256
 * octets) is cut: hostile keys that share their first 256 bytes share a
 * bucket, which only slows their sender down. */
#define RATELIMIT_KEY_MAX 256

/* COUNT messages per PERIOD; count 0: no limit. */
struct ratelimit_rate {
	unsigned count;
	unsigned period_s;
};

/* The limits of one configuration (authscore.conf's ratelimit-* keys;
 * conf.h embeds this as its `ratelimit`). */
struct ratelimit_limits {
	struct ratelimit_rate ip;     /* per client address or network */
	struct ratelimit_rate sender; /* per MAIL FROM address */
	struct ratelimit_rate user;   /* per SMTP AUTH name */
	unsigned ipv4_prefix;	      /* bits of an IPv4 client that make its key */
	unsigned ipv6_prefix;
};

struct ratelimit_table;

/* seed: 16 bytes for the hash key, or NULL for a random one. */
struct ratelimit_table *ratelimit_table_new(size_t capacity, const unsigned char *seed);
void ratelimit_table_free(struct ratelimit_table **tp);
/* Take a token from the key's bucket: 1 when there was one, 0 when the
 * limit is exceeded.  A rate with count 0 is no limit (always 1, nothing
 * stored). */
int ratelimit_table_take(struct ratelimit_table *t, const void *key, size_t len,
			 const struct ratelimit_rate *rate, int64_t now_ms);
struct ratelimit_stats {
	size_t entries, capacity;
	uint64_t evictions;
	size_t longest_chain; /* walks the table: for tests */
};
void ratelimit_table_stats(struct ratelimit_table *t, struct ratelimit_stats *st);

/* The bucket key of a client address: IPv4 by ipv4_prefix bits, IPv6 by
 * ipv6_prefix bits (other bits zeroed).  Returns its length, 0 for an
 * unknown address.  out: at least 18 bytes. */
size_t ratelimit_ip_key(const struct addr *a, unsigned ipv4_prefix, unsigned ipv6_prefix,
			unsigned char *out);

struct ratelimit;

struct ratelimit *ratelimit_new(size_t capacity_per_table);
void ratelimit_free(struct ratelimit **rlp);
/* Count one message against the limits, and return the
 * bits of those it exceeds.  An authenticated message (auth_user not NULL)
 * counts against its user only; any other against its client network and
 * its envelope sender (not the null sender "": bounces from everywhere
 * would share one bucket).  Addresses and user names compare without
 * case. */
unsigned ratelimit_check(struct ratelimit *rl, const struct ratelimit_limits *lim,
			 const struct addr *client, const char *mail_from, const char *auth_user,
			 int64_t now_ms);
size_t ratelimit_capacity(const struct ratelimit *rl);
struct ratelimit_table *ratelimit_table_of(struct ratelimit *rl, enum ratelimit_kind kind);
/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ratelimit_now_ms(void);

#endif

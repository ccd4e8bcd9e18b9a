/*
 * dns - the process's one libunbound resolver (see dns.h for the contract).
 *
 * Ownership of a query: two references, the caller's and the one held by
 * the answer in flight.  The unbound callback drops the second; so does a
 * successful ub_cancel(), which guarantees the callback never runs (unbound
 * removes a query from its table before calling back, so cancel and
 * callback exclude each other).  A timed-out query therefore stays valid
 * until both sides are done with it, whichever comes last.
 *
 * Answers: each classified answer is a struct dns_entry, shared by
 * reference between the queries that asked and the answer cache
 * (dns_cache.c), which keeps those with a TTL so that a repeated question
 * is answered in the caller's thread without crossing into libunbound.
 * Failures are never cached.
 *
 * Locking: one mutex guards every query's state; it is never held while
 * calling into libunbound, so no lock order exists between the two.  The
 * cache has its own lock and is never called with ours held.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "dns.h"
#include "dns_cache.h"
#include "dns_health.h"
#include "log.h"
#include "mem.h"

/* Entries kept by the answer cache (~200 bytes each plus records), and the
 * longest an answer is kept whatever its TTL says: a listing a DNSBL drops
 * should not outlive an hour here. */
#define DNS_CACHE_ENTRIES 20000
#define DNS_CACHE_MAX_TTL 3600

struct dns {
	struct ub_ctx *ctx;
	struct dns_cache *cache;
	unsigned timeout_ms;
	pthread_t thread;
	int wake[2]; /* writing here stops the event thread */
	pthread_mutex_t lock;
	struct dns_query *prefetches; /* in flight, nobody waiting: freed by dns_free if
				       * libunbound never calls back */
};

/* A classified answer, shared read-only once built. */
struct dns_entry {
	atomic_int refs;
	int rrtype;
	struct dns_answer answer;
};

struct dns_query {
	struct dns *dns;
	struct dns_entry *entry; /* the answer's records, when one arrived */
	char *name;		 /* asked of libunbound: the cache key of its answer */
	struct dns_query *prefetch_prev, *prefetch_next; /* on dns->prefetches */
	int prefetch;
	pthread_cond_t cond;
	int refs;
	int in_flight; /* unbound still owns a callback for this query */
	int answered;
	int health_told; /* dns_health has heard of this query's outcome */
	int async_id;
	int rrtype;
	struct timespec deadline;
	struct dns_answer answer;
};

static const struct dns_cache_value_ops entry_ops;
static void query_unref_locked(struct dns_query *q);
static void prefetch_unlink(struct dns *dns, struct dns_query *q);

static const char *const status_names[] = {
	[DNS_OK] = "ok",
	[DNS_NXDOMAIN] = "nxdomain",
	[DNS_NODATA] = "nodata",
	[DNS_TEMPFAIL] = "tempfail",
};

const char *dns_status_name(enum dns_status status)
{
	return status_names[status];
}

/* Is "addr[@port]" a loopback address?  unbound refuses those by default. */
static int is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "::1", 3) == 0;
}

static int dns_configure(struct dns *dns, const struct dns_config *cfg, char **error_r)
{
	int err, loopback = 0;

	/* Threads, not a forked helper process: answers arrive in our thread. */
	if ((err = ub_ctx_async(dns->ctx, 1)) != 0)
		goto fail;
	for (const char *const *f = cfg->forwarders; f != NULL && *f != NULL; f++) {
		loopback |= is_loopback(*f);
		if ((err = ub_ctx_set_fwd(dns->ctx, *f)) != 0) {
			*error_r = xasprintf("dns forwarder %s: %s", *f, ub_strerror(err));
			return -1;
		}
	}
	for (const char *const *s = cfg->stubs; s != NULL && *s != NULL; s++) {
		char *copy = xstrdup(*s), *save = NULL;
		char *zone = strtok_r(copy, " \t", &save);

		err = 0;
		for (char *addr; err == 0 && (addr = strtok_r(NULL, " \t", &save)) != NULL;) {
			loopback |= is_loopback(addr);
			err = ub_ctx_set_stub(dns->ctx, zone, addr, 0);
		}
		free(copy);
		if (err != 0) {
			*error_r = xasprintf("dns stub %s: %s", *s, ub_strerror(err));
			return -1;
		}
	}
	if (loopback && (err = ub_ctx_set_option(dns->ctx, "do-not-query-localhost:", "no")) != 0)
		goto fail;
	/* QNAME minimisation asks for a name one label at a time from the zone
	 * cut down: measured here, a cold DNSBL lookup took 4 rounds and a DKIM
	 * key 6 instead of 1.  The names a mail filter asks (reversed client
	 * addresses under a list's zone, keys and policies of the sender's
	 * domain) tell the servers nothing they would not learn from the full
	 * query, and every round is on the message's critical path. */
	if ((err = ub_ctx_set_option(dns->ctx, "qname-minimisation:", "no")) != 0)
		goto fail;
	if (cfg->trust_anchor_file != NULL &&
	    (err = ub_ctx_add_ta_autr(dns->ctx, cfg->trust_anchor_file)) != 0)
		goto fail;
	/* A zone we send elsewhere is not one unbound may answer itself as a
	 * reserved name (RFC 6761 test., the RFC 5737 reverse zones).  Removing
	 * a local zone finalizes the context, so this comes last. */
	for (const char *const *s = cfg->stubs; s != NULL && *s != NULL; s++) {
		char *zone = xstrndup(*s, strcspn(*s, " \t"));

		err = ub_ctx_zone_remove(dns->ctx, zone);
		free(zone);
		if (err != 0)
			goto fail;
	}
	return 0;
fail:
	*error_r = xasprintf("dns: %s", ub_strerror(err));
	return -1;
}

static void *dns_thread(void *arg)
{
	struct dns *dns = arg;
	struct pollfd fds[2] = {
		{.fd = ub_fd(dns->ctx), .events = POLLIN},
		{.fd = dns->wake[0], .events = POLLIN},
	};

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_panic("dns: poll: %s", strerror(errno));
		}
		if (fds[1].revents != 0)
			break;
		if (fds[0].revents != 0)
			ub_process(dns->ctx);
	}
	return NULL;
}

struct dns *dns_new(const struct dns_config *cfg, char **error_r)
{
	struct dns *dns = xcalloc(1, sizeof(*dns));

	*error_r = NULL;
	dns->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	pthread_mutex_init(&dns->lock, NULL);
	dns->wake[0] = dns->wake[1] = -1;
	dns->cache = dns_cache_new(DNS_CACHE_ENTRIES, &entry_ops);
	if ((dns->ctx = ub_ctx_create()) == NULL) {
		*error_r = xstrdup("dns: cannot create the libunbound context");
		goto fail;
	}
	if (dns_configure(dns, cfg, error_r) < 0)
		goto fail;
	if (pipe(dns->wake) < 0) {
		*error_r = xasprintf("dns: pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&dns->thread, NULL, dns_thread, dns) != 0) {
		*error_r = xstrdup("dns: cannot start the resolver thread");
		goto fail;
	}
	return dns;
fail:
	if (dns->wake[0] >= 0) {
		close(dns->wake[0]);
		close(dns->wake[1]);
	}
	if (dns->ctx != NULL)
		ub_ctx_delete(dns->ctx);
	dns_cache_free(&dns->cache);
	pthread_mutex_destroy(&dns->lock);
	free(dns);
	return NULL;
}

void dns_free(struct dns **dnsp)
{
	struct dns *dns = *dnsp;

	if (dns == NULL)
		return;
	if (write(dns->wake[1], "x", 1) < 0)
		log_warn("dns: cannot wake the resolver thread: %s", strerror(errno));
	pthread_join(dns->thread, NULL);
	close(dns->wake[0]);
	close(dns->wake[1]);
	ub_ctx_delete(dns->ctx); /* no callback runs after this */
	while (dns->prefetches != NULL) {
		struct dns_query *q = dns->prefetches;

		prefetch_unlink(dns, q);
		query_unref_locked(q); /* the reference the callback would have dropped */
	}
	dns_cache_free(&dns->cache);
	pthread_mutex_destroy(&dns->lock);
	xfree(dnsp);
}

/* Wire-format name at data[*pos] to presentation form (no final dot). */
static char *name_decode(const unsigned char *data, size_t len, size_t *pos)
{
	char out[1025];
	size_t o = 0, p = *pos;

	while (p < len && data[p] != 0) {
		size_t label = data[p++];

		if (label > 63 || p + label > len)
			return NULL; /* compression or truncation: not valid rdata here */
		if (o != 0)
			out[o++] = '.';
		for (size_t i = 0; i < label; i++) {
			unsigned char c = data[p + i];

			if (o + 5 >= sizeof(out))
				return NULL;
			if (c == '.' || c == '\\')
				o += (size_t)snprintf(out + o, sizeof(out) - o, "\\%c", c);
			else if (c <= ' ' || c >= 0x7f)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "\\%03u", c);
			else
				out[o++] = (char)c;
		}
		p += label;
	}
	if (p >= len)
		return NULL;
	*pos = p + 1;
	out[o] = '\0';
	return xstrdup(out);
}

static int rr_decode(int rrtype, const unsigned char *data, size_t len, struct dns_rr *rr)
{
	size_t pos = 0;

	switch (rrtype) {
	case DNS_T_A:
		if (len != 4)
			return -1;
		memcpy(&rr->u.a, data, 4);
		rr->len = 4;
		return 0;
	case DNS_T_AAAA:
		if (len != 16)
			return -1;
		memcpy(&rr->u.aaaa, data, 16);
		rr->len = 16;
		return 0;
	case DNS_T_TXT: {
		char *text = xmalloc(len + 1);
		size_t o = 0;

		while (pos < len) {
			size_t n = data[pos++];

			if (pos + n > len) {
				free(text);
				return -1;
			}
			memcpy(text + o, data + pos, n);
			o += n;
			pos += n;
		}
		text[o] = '\0';
		rr->u.text = text;
		rr->len = o;
		return 0;
	}
	case DNS_T_MX:
		if (len < 3)
			return -1;
		rr->u.mx.preference = (unsigned)data[0] << 8 | data[1];
		pos = 2;
		if ((rr->u.mx.exchange = name_decode(data, len, &pos)) == NULL)
			return -1;
		rr->len = strlen(rr->u.mx.exchange);
		return 0;
	case DNS_T_PTR:
	case DNS_T_CNAME:
		if ((rr->u.name = name_decode(data, len, &pos)) == NULL)
			return -1;
		rr->len = strlen(rr->u.name);
		return 0;
	default:
		rr->u.raw = xmalloc(len ? len : 1);
		memcpy(rr->u.raw, data, len);
		rr->len = len;
		return 0;
	}
}

static void rr_release(int rrtype, struct dns_rr *rr)
{
	switch (rrtype) {
	case DNS_T_A:
	case DNS_T_AAAA:
		break;
	case DNS_T_MX:
		free(rr->u.mx.exchange);
		break;
	default:
		free(rr->u.raw); /* every other member is one malloc'd pointer */
		break;
	}
}

static void answer_tempfail(struct dns_answer *ans, const char *why)
{
	ans->status = DNS_TEMPFAIL;
	ans->why = why;
}

/* Classify an unbound result once: the checks only see dns_status. */
static void answer_classify(struct dns_answer *ans, int err, struct ub_result *res)
{
	if (err != 0) {
		answer_tempfail(ans, ub_strerror(err));
		return;
	}
	ans->rcode = res->rcode;
	ans->secure = res->secure;
	ans->ttl = res->ttl > 0 ? (unsigned)res->ttl : 0; /* negative answers: from the SOA */
	if (res->bogus) {
		answer_tempfail(ans, "DNSSEC bogus");
	} else if (res->rcode == 3) {
		ans->status = DNS_NXDOMAIN;
	} else if (res->rcode != 0) {
		answer_tempfail(ans, res->rcode == 2 ? "SERVFAIL" : "DNS error");
	} else if (!res->havedata) {
		ans->status = DNS_NODATA;
	} else {
		size_t n = 0;

		while (res->data[n] != NULL)
			n++;
		ans->rr = xcalloc(n, sizeof(*ans->rr));
		for (size_t i = 0; i < n; i++) {
			if (rr_decode(res->qtype, (unsigned char *)res->data[i], (size_t)res->len[i],
				      &ans->rr[ans->count]) == 0)
				ans->count++;
		}
		if (ans->count == 0)
			answer_tempfail(ans, "malformed answer");
		else
			ans->status = DNS_OK;
	}
}

static void entry_ref(void *p)
{
	atomic_fetch_add_explicit(&((struct dns_entry *)p)->refs, 1, memory_order_relaxed);
}

static void entry_unref(void *p)
{
	struct dns_entry *e = p;

	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < e->answer.count; i++)
		rr_release(e->rrtype, &e->answer.rr[i]);
	free(e->answer.rr);
	free(e);
}

static const struct dns_cache_value_ops entry_ops = {entry_ref, entry_unref};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void query_unref_locked(struct dns_query *q)
{
	if (--q->refs > 0)
		return;
	if (q->entry != NULL)
		entry_unref(q->entry);
	free(q->name);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static void prefetch_unlink(struct dns *dns, struct dns_query *q)
{
	if (q->prefetch_prev != NULL)
		q->prefetch_prev->prefetch_next = q->prefetch_next;
	else
		dns->prefetches = q->prefetch_next;
	if (q->prefetch_next != NULL)
		q->prefetch_next->prefetch_prev = q->prefetch_prev;
	q->prefetch = 0;
}

static void dns_callback(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;
	struct dns *dns = q->dns;
	struct dns_entry *e = xcalloc(1, sizeof(*e));
	enum dns_status status;
	const char *why;
	char name[256];
	int tell;

	atomic_init(&e->refs, 1);
	e->rrtype = q->rrtype;
	answer_classify(&e->answer, err, res);
	if (res != NULL)
		ub_resolve_free(res);
	/* Kept even when the asker has timed out: the next one gains. */
	if (e->answer.status != DNS_TEMPFAIL)
		dns_cache_put(dns->cache, q->name, q->rrtype, e,
			      e->answer.ttl < DNS_CACHE_MAX_TTL ? e->answer.ttl : DNS_CACHE_MAX_TTL,
			      now_ms());
	/* A late failure after our own timeout was counted then; a late
	 * answer still says DNS works. */
	snprintf(name, sizeof(name), "%s", q->name);
	status = e->answer.status;
	why = e->answer.why;
	pthread_mutex_lock(&dns->lock);
	tell = !q->health_told || status != DNS_TEMPFAIL;
	q->health_told = 1;
	q->in_flight = 0;
	if (q->prefetch)
		prefetch_unlink(dns, q);
	if (!q->answered) {
		q->entry = e; /* our reference passes to the query */
		q->answer = e->answer;
		e = NULL;
		q->answered = 1;
		pthread_cond_signal(&q->cond);
	}
	query_unref_locked(q);
	pthread_mutex_unlock(&dns->lock);
	if (e != NULL)
		entry_unref(e);
	if (tell)
		dns_health_record(status == DNS_TEMPFAIL, 0, why, name);
}

struct dns_query *dns_start(struct dns *dns, const char *name, int rrtype, unsigned deadline_ms)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	pthread_condattr_t attr;
	unsigned ms = deadline_ms ? deadline_ms : dns->timeout_ms, ttl_left;
	int async_id = -1, err;

	q->dns = dns;
	q->rrtype = rrtype;
	if ((q->entry = dns_cache_get(dns->cache, name, rrtype, now_ms(), &ttl_left)) != NULL) {
		q->answer = q->entry->answer;
		q->answer.ttl = ttl_left;
		q->answered = 1;
		q->refs = 1;
		pthread_cond_init(&q->cond, NULL); /* destroyed with the query, never waited on */
		return q;
	}
	q->name = xstrdup(name);
	q->refs = 2;
	q->in_flight = 1;
	q->async_id = -1;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &q->deadline);
	q->deadline.tv_sec += ms / 1000;
	q->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (q->deadline.tv_nsec >= 1000000000L) {
		q->deadline.tv_sec++;
		q->deadline.tv_nsec -= 1000000000L;
	}
	err = ub_resolve_async(dns->ctx, name, rrtype, 1 /* IN */, q, dns_callback, &async_id);
	pthread_mutex_lock(&dns->lock);
	if (err != 0) {
		answer_tempfail(&q->answer, ub_strerror(err));
		q->answered = 1;
		q->in_flight = 0;
		q->refs--;
	}
	q->async_id = async_id;
	pthread_mutex_unlock(&dns->lock);
	if (err != 0) {
		log_warn("dns: cannot start a query for %s: %s", name, ub_strerror(err));
		dns_health_record(1, 0, ub_strerror(err), name);
	}
	return q;
}

void dns_prefetch(struct dns *dns, const char *name, int rrtype)
{
	struct dns_query *q = dns_start(dns, name, rrtype, 0);

	/* Let the answer arrive into the cache: drop our reference without
	 * cancelling (dns_query_free would); the callback drops the other, or
	 * dns_free() does when the process stops first. */
	pthread_mutex_lock(&dns->lock);
	if (q->in_flight) {
		q->answered = 1;
		q->prefetch = 1;
		q->prefetch_next = dns->prefetches;
		if (dns->prefetches != NULL)
			dns->prefetches->prefetch_prev = q;
		dns->prefetches = q;
	}
	query_unref_locked(q);
	pthread_mutex_unlock(&dns->lock);
}

/* Give up on a query unbound still holds: after a successful cancel the
 * callback never runs, so its reference is ours to drop.  Called unlocked. */
static void query_cancel(struct dns_query *q)
{
	struct dns *dns = q->dns;
	int async_id, cancelled;

	pthread_mutex_lock(&dns->lock);
	async_id = q->in_flight ? q->async_id : -1;
	pthread_mutex_unlock(&dns->lock);
	if (async_id < 0)
		return;
	cancelled = ub_cancel(dns->ctx, async_id) == 0;
	pthread_mutex_lock(&dns->lock);
	if (cancelled && q->in_flight) {
		q->in_flight = 0;
		query_unref_locked(q); /* the caller still holds its own reference */
	}
	pthread_mutex_unlock(&dns->lock);
}

const struct dns_answer *dns_wait(struct dns_query *q)
{
	struct dns *dns = q->dns;
	int timed_out = 0;

	pthread_mutex_lock(&dns->lock);
	while (!q->answered) {
		if (pthread_cond_timedwait(&q->cond, &dns->lock, &q->deadline) == ETIMEDOUT) {
			if (!q->answered) {
				answer_tempfail(&q->answer, "timeout");
				q->answer.timed_out = 1;
				q->answered = 1;
				q->health_told = 1;
				timed_out = 1;
			}
		}
	}
	pthread_mutex_unlock(&dns->lock);
	if (timed_out) {
		query_cancel(q);
		dns_health_record(1, 1, "timeout", q->name);
	}
	return &q->answer;
}

int dns_done(struct dns_query *q)
{
	int done;

	pthread_mutex_lock(&q->dns->lock);
	done = q->answered;
	pthread_mutex_unlock(&q->dns->lock);
	return done;
}

void dns_query_free(struct dns_query **qp)
{
	struct dns_query *q = *qp;
	struct dns *dns;

	if (q == NULL)
		return;
	dns = q->dns;
	query_cancel(q);
	pthread_mutex_lock(&dns->lock);
	q->answered = 1; /* a late callback must not touch the answer we free with the query */
	query_unref_locked(q);
	pthread_mutex_unlock(&dns->lock);
	*qp = NULL;
}

const struct dns_answer *dns_lookup(struct dns *dns, const char *name, int rrtype,
				    unsigned deadline_ms, struct dns_query **query_r)
{
	*query_r = dns_start(dns, name, rrtype, deadline_ms);
	return dns_wait(*query_r);
}

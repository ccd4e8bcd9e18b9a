/*
 * dnsbl - DNS block- and allow-lists, RFC 5782 (see dnsbl.h).
 *
 * A query set holds one DNS query per list, all started by dnsbl_*_start()
 * so they run in one round; dnsbl_finish() waits for each under its own
 * deadline and classifies the answer.  The latency of an answer is taken
 * when this module first sees it arrived (dns_done() right after the start,
 * then at finish, then after each wait): exact for answers that come while
 * something here looks, an upper bound for answers already in when
 * dnsbl_finish() begins (dns.h keeps no arrival time).
 *
 * The warning limiter is process-wide: a small table of (zone, kind, last
 * warning) under a mutex held only to read and stamp an entry.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dnsbl.h"
#include "log.h"
#include "mem.h"
#include "metrics_dns.h"

#define DNSBL_NAME_MAX	     253 /* RFC 1035 §2.3.4, in presentation form */
#define DNSBL_LABEL_MAX	     63
#define DNSBL_WARN_SLOTS     64
#define DNSBL_DEFAULT_WARN_S 600
#define DNSBL_LOOPBACK_NET   0x7f000000u /* 127.0.0.0/8, RFC 5782 §2.1 */
#define DNSBL_LOOPBACK_MASK  0xff000000u
#define IP4(a, b, c, d)	     (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

struct dnsbl_entry {
	const struct dnsbl_list *list;
	char *name;		 /* the query name, or NULL when not asked */
	const char *skip_reason; /* why it was not asked */
	struct dns_query *query;
	struct timespec started;
	int seen; /* the answer's arrival was noted in ms */
	unsigned ms;
};

struct dnsbl_query {
	enum dnsbl_kind kind;
	char *subject;
	size_t count;
	struct dnsbl_entry *entries;
};

/* Refusal codes of lists that use their own (their documentation's
 * "query refused" / "blocked" return codes).  Matched on the zone's end. */
static const struct {
	const char *suffix;
	uint32_t code;
} dnsbl_known_blocked[] = {
    {"dnswl.org", IP4(127, 0, 0, 255)}, /* list.dnswl.org: over the free query limit */
    {"uribl.com", IP4(127, 0, 0, 1)},	/* URIBL: query refused */
    {"surbl.org", IP4(127, 0, 0, 1)},	/* SURBL: access blocked */
    /* Spamhaus DBL (and its DQS zone): "IP queries prohibited", the answer
     * to a name that is an address */
    {"dbl.spamhaus.org", IP4(127, 0, 1, 255)},
    {"dbl.dq.spamhaus.net", IP4(127, 0, 1, 255)},
};

/* Spamhaus: .252 typing error in the zone name (DQS key), .254 query through
 * a public or open resolver, .255 too many queries; .253 is reserved. */
static const uint32_t dnsbl_generic_blocked[] = {
    IP4(127, 255, 255, 252),
    IP4(127, 255, 255, 253),
    IP4(127, 255, 255, 254),
    IP4(127, 255, 255, 255),
};

enum dnsbl_warn_kind { DNSBL_WARN_BLOCKED, DNSBL_WARN_RANGE };

static struct {
	char zone[DNSBL_NAME_MAX + 1];
	enum dnsbl_warn_kind kind;
	time_t last;
} dnsbl_warned[DNSBL_WARN_SLOTS];
static size_t dnsbl_warned_count;
static unsigned dnsbl_warn_interval = DNSBL_DEFAULT_WARN_S;
static pthread_mutex_t dnsbl_warn_lock = PTHREAD_MUTEX_INITIALIZER;

void dnsbl_set_warn_interval(unsigned seconds)
{
	pthread_mutex_lock(&dnsbl_warn_lock);
	dnsbl_warn_interval = seconds;
	pthread_mutex_unlock(&dnsbl_warn_lock);
}

/* Is a warning about zone due now?  Stamps it if so.  A full table
 * forgets its oldest entry. */
static int dnsbl_warn_due(const char *zone, enum dnsbl_warn_kind kind)
{
	struct timespec now;
	size_t i, oldest = 0;
	int due = 1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&dnsbl_warn_lock);
	for (i = 0; i < dnsbl_warned_count; i++) {
		if (dnsbl_warned[i].kind == kind && strcasecmp(dnsbl_warned[i].zone, zone) == 0)
			break;
		if (dnsbl_warned[i].last < dnsbl_warned[oldest].last)
			oldest = i;
	}
	if (i < dnsbl_warned_count) {
		if (now.tv_sec - dnsbl_warned[i].last < (time_t)dnsbl_warn_interval)
			due = 0;
	} else if (dnsbl_warned_count < DNSBL_WARN_SLOTS) {
		i = dnsbl_warned_count++;
	} else {
		i = oldest;
	}
	if (due) {
		snprintf(dnsbl_warned[i].zone, sizeof(dnsbl_warned[i].zone), "%s", zone);
		dnsbl_warned[i].kind = kind;
		dnsbl_warned[i].last = now.tv_sec;
	}
	pthread_mutex_unlock(&dnsbl_warn_lock);
	return due;
}

/* Does zone equal suffix or end in "." suffix? */
static int dnsbl_zone_is(const char *zone, const char *suffix)
{
	size_t zl = strlen(zone), sl = strlen(suffix);

	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (zl < sl || strncasecmp(zone + zl - sl, suffix, sl) != 0)
		return 0;
	return zl == sl || zone[zl - sl - 1] == '.';
}

size_t dnsbl_default_blocked(const char *zone, uint32_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(dnsbl_known_blocked) / sizeof(dnsbl_known_blocked[0]); i++)
		if (n < max && dnsbl_zone_is(zone, dnsbl_known_blocked[i].suffix))
			out[n++] = dnsbl_known_blocked[i].code;
	for (size_t i = 0; i < sizeof(dnsbl_generic_blocked) / sizeof(dnsbl_generic_blocked[0]);
	     i++)
		if (n < max)
			out[n++] = dnsbl_generic_blocked[i];
	return n;
}

/* Append "." zone (its final dot dropped) to the name in out[len]. */
static int dnsbl_append_zone(char *out, size_t size, size_t len, const char *zone)
{
	size_t zl = strlen(zone);
	int n;

	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (zl == 0)
		return -1;
	n = snprintf(out + len, size - len, ".%.*s", (int)zl, zone);
	if (n < 0 || (size_t)n >= size - len || len + (size_t)n > DNSBL_NAME_MAX)
		return -1;
	return 0;
}

int dnsbl_ip_name(const struct addr *client, const char *zone, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (client->family == AF_INET) {
		const unsigned char *b = (const unsigned char *)&client->u.v4;
		int n = snprintf(out, size, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);

		if (n < 0 || (size_t)n >= size) {
			out[0] = '\0';
			return -1;
		}
		len = (size_t)n;
	} else if (client->family == AF_INET6) {
		/* RFC 5782 §2.4: 32 nibbles, least significant first. */
		if (size < 64)
			return -1;
		for (int i = 15; i >= 0; i--) {
			out[len++] = hex[client->u.v6.s6_addr[i] & 0xf];
			out[len++] = '.';
			out[len++] = hex[client->u.v6.s6_addr[i] >> 4];
			out[len++] = '.';
		}
		out[--len] = '\0';
	} else {
		return -1;
	}
	if (dnsbl_append_zone(out, size, len, zone) < 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* A domain fit to ask about: labels of 1 to 63 octets, no spaces or
 * control characters.  Written lower case without a final dot. */
static int dnsbl_domain_name(const char *domain, const char *zone, char *out, size_t size)
{
	size_t len = strlen(domain), label = 0;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (c <= ' ' || c >= 0x7f || ++label > DNSBL_LABEL_MAX) {
			return -1;
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0)
		return -1;
	return dnsbl_append_zone(out, size, len, zone);
}

static unsigned dnsbl_elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - since->tv_sec) * 1000 +
	     (now.tv_nsec - since->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (unsigned)ms;
}

/* Note the arrival time of every answer that has come in. */
static void dnsbl_note_arrivals(struct dnsbl_query *q)
{
	for (size_t i = 0; i < q->count; i++) {
		struct dnsbl_entry *e = &q->entries[i];

		if (e->query != NULL && !e->seen && dns_done(e->query)) {
			e->ms = dnsbl_elapsed_ms(&e->started);
			e->seen = 1;
		}
	}
}

static struct dnsbl_query *dnsbl_start(struct dns *dns, enum dnsbl_kind kind, const char *subject,
				       const struct addr *client, const struct dnsbl_list *lists,
				       size_t count, unsigned timeout_ms)
{
	struct dnsbl_query *q = xcalloc(1, sizeof(*q));
	char name[DNSBL_NAME_MAX + 2];

	q->kind = kind;
	q->subject = xstrdup(subject);
	q->entries = xcalloc(count ? count : 1, sizeof(*q->entries));
	for (size_t i = 0; i < count; i++) {
		struct dnsbl_entry *e;
		int ok;

		if (lists[i].kind != kind)
			continue;
		e = &q->entries[q->count++];
		e->list = &lists[i];
		if (kind == DNSBL_KIND_IP)
			ok = dnsbl_ip_name(client, lists[i].zone, name, sizeof(name)) == 0;
		else
			ok = dnsbl_domain_name(subject, lists[i].zone, name, sizeof(name)) == 0;
		if (!ok) {
			e->skip_reason = kind == DNSBL_KIND_DOMAIN && *subject != '\0'
					     ? "query name too long or not a domain name"
					     : "nothing to ask";
			continue;
		}
		e->name = xstrdup(name);
		clock_gettime(CLOCK_MONOTONIC, &e->started);
		e->query = dns_start(dns, e->name, DNS_T_A, timeout_ms);
	}
	dnsbl_note_arrivals(q);
	return q;
}

struct dnsbl_query *dnsbl_ip_start(struct dns *dns, const struct addr *client,
				   const struct dnsbl_list *lists, size_t count,
				   unsigned timeout_ms)
{
	char text[ADDR_STRLEN];

	if (addr_format(client, text, sizeof(text)) == NULL)
		text[0] = '\0';
	return dnsbl_start(dns, DNSBL_KIND_IP, text, client, lists, count, timeout_ms);
}

struct dnsbl_query *dnsbl_domain_start(struct dns *dns, const char *domain,
				       const struct dnsbl_list *lists, size_t count,
				       unsigned timeout_ms)
{
	return dnsbl_start(dns, DNSBL_KIND_DOMAIN, domain ? domain : "", NULL, lists, count,
			   timeout_ms);
}

static int dnsbl_is_blocked(const struct dnsbl_list *list, const uint32_t *defaults,
			    size_t ndefaults, uint32_t code)
{
	const uint32_t *set = list->blocked_count ? list->blocked : defaults;
	size_t n = list->blocked_count ? list->blocked_count : ndefaults;

	if (n > DNSBL_MAX_BLOCKED)
		n = DNSBL_MAX_BLOCKED;
	for (size_t i = 0; i < n; i++)
		if (set[i] == code)
			return 1;
	return 0;
}

static void dnsbl_warn(const struct dnsbl_list *list, enum dnsbl_warn_kind kind, uint32_t code)
{
	char text[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = htonl(code)};

	if (!dnsbl_warn_due(list->zone, kind))
		return;
	inet_ntop(AF_INET, &in, text, sizeof(text));
	if (kind == DNSBL_WARN_BLOCKED)
		log_warn("dnsbl: %s refuses our queries (answer %s): its answers are ignored "
			 "(a public resolver? over its query limit? a wrong key in the zone name?)",
			 list->zone, text);
	else
		log_warn("dnsbl: %s answered %s, outside 127.0.0.0/8 (RFC 5782 §2.1): treated as "
			 "an error (is the list dead, its zone a wildcard?)",
			 list->zone, text);
}

/* Classify one answer into r (RFC 5782 §2.1, §2.3). */
static void dnsbl_classify(const struct dnsbl_list *list, const struct dns_answer *ans,
			   struct dnsbl_result *r)
{
	uint32_t defaults[DNSBL_MAX_BLOCKED];
	size_t ndefaults = 0;
	int blocked = 0, out_of_range = 0;
	uint32_t first_blocked = 0, first_bad = 0;

	switch (ans->status) {
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		r->status = DNSBL_NOT_LISTED;
		return;
	case DNS_TEMPFAIL:
		r->status = DNSBL_ERROR;
		r->reason = ans->timed_out ? "timeout"
			    : ans->why	   ? ans->why
					   : "temporary DNS error";
		return;
	case DNS_OK:
		break;
	}
	if (list->blocked_count == 0)
		ndefaults = dnsbl_default_blocked(list->zone, defaults, DNSBL_MAX_BLOCKED);
	for (size_t i = 0; i < ans->count; i++) {
		uint32_t code = ntohl(ans->rr[i].u.a.s_addr);

		if (r->code_count < DNSBL_MAX_CODES)
			r->codes[r->code_count++] = code;
		if (dnsbl_is_blocked(list, defaults, ndefaults, code)) {
			if (!blocked)
				first_blocked = code;
			blocked = 1;
		} else if ((code & DNSBL_LOOPBACK_MASK) != DNSBL_LOOPBACK_NET) {
			if (!out_of_range)
				first_bad = code;
			out_of_range = 1;
		}
	}
	if (blocked) {
		/* Whatever else came with a refusal is not the list's data. */
		r->status = DNSBL_BLOCKED;
		r->reason = "the list refused the query";
		dnsbl_warn(list, DNSBL_WARN_BLOCKED, first_blocked);
	} else if (out_of_range) {
		r->status = DNSBL_ERROR;
		r->reason = "answer outside 127.0.0.0/8";
		dnsbl_warn(list, DNSBL_WARN_RANGE, first_bad);
	} else if (ans->count == 0) {
		r->status = DNSBL_NOT_LISTED;
	} else {
		r->status = DNSBL_LISTED;
	}
}

static void dnsbl_query_free(struct dnsbl_query **qp)
{
	struct dnsbl_query *q = *qp;

	if (q == NULL)
		return;
	for (size_t i = 0; i < q->count; i++) {
		dns_query_free(&q->entries[i].query);
		free(q->entries[i].name);
	}
	free(q->entries);
	free(q->subject);
	xfree(qp);
}

size_t dnsbl_finish(struct dnsbl_query **qp, struct arena *a, struct dnsbl_result *out, size_t max)
{
	struct dnsbl_query *q = *qp;
	size_t n;

	if (q == NULL)
		return 0;
	dnsbl_note_arrivals(q);
	n = q->count < max ? q->count : max;
	for (size_t i = 0; i < n; i++) {
		struct dnsbl_entry *e = &q->entries[i];
		struct dnsbl_result *r = &out[i];
		const struct dns_answer *ans;

		memset(r, 0, sizeof(*r));
		r->list = e->list;
		r->zone = arena_strdup(a, e->list->zone);
		r->subject = arena_strdup(a, q->subject);
		if (e->query == NULL) {
			r->status = DNSBL_NOT_LISTED;
			r->reason = e->skip_reason;
			continue;
		}
		ans = dns_wait(e->query);
		metrics_dns(METRICS_DNS_DNSBL, e->list->zone, ans->status, ans->timed_out);
		dnsbl_classify(e->list, ans, r);
		if (!e->seen) {
			e->ms = dnsbl_elapsed_ms(&e->started);
			e->seen = 1;
			dnsbl_note_arrivals(q);
		}
		r->ms = e->ms;
	}
	dnsbl_query_free(qp);
	return n;
}

void dnsbl_cancel(struct dnsbl_query **qp)
{
	dnsbl_query_free(qp);
}

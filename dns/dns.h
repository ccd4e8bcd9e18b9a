/*
 * dns - the one resolver of the process, over libunbound.
 *
 * One struct dns per process: a libunbound context (asynchronous, caching,
 * in threads, never forked) and one thread that calls ub_process() when
 * answers arrive.  Any thread may start queries; each query has a deadline
 * and is waited for with dns_wait(), or dropped with dns_query_free(), which
 * cancels it if it is still in flight.  Start every query as soon as its
 * input is known and wait as late as possible: lookups then overlap.
 *
 * Answers are classified once, here (RFC 8601 §2.7 leaves the rest to the
 * checks): records, NXDOMAIN, NODATA, or a temporary error (SERVFAIL, other
 * rcodes, a DNSSEC-bogus answer, a timeout, a resolver failure).  Record
 * data is decoded for A, AAAA, TXT (character-strings joined), MX, PTR and
 * CNAME; other types keep their raw rdata.
 *
 * Thread-safety: dns_start/dns_wait/dns_query_free/dns_lookup may be called
 * from any thread; a struct dns_query belongs to the thread that started it.
 * Tests replace this module with tests/fake_dns.c (same symbols).
 */
#ifndef AUTHSCORE_DNS_H
#define AUTHSCORE_DNS_H

#include <netinet/in.h>
#include <stddef.h>

enum dns_status {
	DNS_OK,	      /* one or more records */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_NODATA,   /* the name exists, no record of that type */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, resolver error: try again later */
};

/* RR types used by the checks (numeric, to keep resolver headers out). */
enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
};

struct dns_rr {
	size_t len; /* length of data (text: without the final NUL) */
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			unsigned preference;
			char *exchange;
		} mx;
		char *name; /* PTR, CNAME: presentation form, no final dot */
		char *text; /* TXT: character-strings concatenated, NUL-terminated */
		unsigned char *raw;
	} u;
};

struct dns_answer {
	enum dns_status status;
	int rcode;	   /* DNS rcode as received, when there was one */
	int timed_out;	   /* status is DNS_TEMPFAIL because the deadline passed */
	int secure;	   /* DNSSEC validated */
	unsigned ttl;	   /* of the answer's records */
	size_t count;	   /* records in rr[] */
	struct dns_rr *rr; /* count records, in the order received */
	const char *why;   /* for DNS_TEMPFAIL: a short reason for logs */
};

struct dns_config {
	const char *const *forwarders; /* NULL-terminated "addr[@port]"; NULL: full recursion */
	const char *const *stubs;      /* NULL-terminated "zone addr[@port]..." */
	const char *trust_anchor_file; /* NULL: no DNSSEC validation */
	unsigned timeout_ms;	       /* default deadline of a query */
};

struct dns;
struct dns_query;

/* Start-up; on error returns NULL and sets *error_r to a static or
 * malloc'd message the caller logs (fatal at start-up). */
struct dns *dns_new(const struct dns_config *cfg, char **error_r);
void dns_free(struct dns **dnsp);

/* Start a lookup; deadline_ms of 0 means the configured default.  Never
 * fails: a query that cannot be started is answered DNS_TEMPFAIL. */
struct dns_query *dns_start(struct dns *dns, const char *name, int rrtype, unsigned deadline_ms);
/* Block until the answer or the deadline; the answer lives as long as the
 * query.  Calling it again returns the same answer at once. */
const struct dns_answer *dns_wait(struct dns_query *q);
/* Has the answer arrived (non-blocking)? */
int dns_done(struct dns_query *q);
void dns_query_free(struct dns_query **qp);

/* Ask now for an answer a later dns_start() is likely to want, so that it
 * finds the answer cached or in flight: nothing to wait for or free.  For
 * a dependent lookup whose name is known early (the A record that a HELO
 * name's "v=spf1 a -all" asks for), this takes a DNS round off the path. */
void dns_prefetch(struct dns *dns, const char *name, int rrtype);

/* dns_start + dns_wait; the caller frees *query_r. */
const struct dns_answer *dns_lookup(struct dns *dns, const char *name, int rrtype,
				    unsigned deadline_ms, struct dns_query **query_r);

const char *dns_status_name(enum dns_status status);

#endif

/*
 * fake_dns - milter/dns.h answered from zone text (see fake_dns.h).
 *
 * Records live in one array behind a mutex.  Each query copies what it
 * answers into memory it owns, so an answer outlives fake_dns_reset().
 * Empty non-terminals (a name with nothing but names below it) answer
 * NODATA, as a real zone does (RFC 8020), so tree walks see real answers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "fake_dns.h"
#include "log.h"
#include "mem.h"

#define FAKE_DEFAULT_TIMEOUT_MS 5000
#define FAKE_TTL		300
#define FAKE_MAX_CNAME		8
#define FAKE_NAME_MAX		1024

/* Pseudo types: properties of a name rather than records. */
enum { FAKE_T_SERVFAIL = -1, FAKE_T_TIMEOUT = -2, FAKE_T_DELAY = -3 };

struct fake_record {
	char *name; /* lower case, no final dot */
	int type;
	unsigned number; /* MX preference; DELAY milliseconds */
	char *text;	 /* TXT data; MX exchange; PTR, CNAME target */
	size_t text_len; /* TXT: may hold NULs (\000) */
	struct in_addr a;
	struct in6_addr aaaa;
};

struct dns {
	int unused;
};

struct dns_query {
	int rrtype;
	struct dns_answer answer;
};

static const struct {
	const char *name;
	int type;
} fake_types[] = {
	{"A", DNS_T_A},
	{"AAAA", DNS_T_AAAA},
	{"TXT", DNS_T_TXT},
	{"MX", DNS_T_MX},
	{"PTR", DNS_T_PTR},
	{"CNAME", DNS_T_CNAME},
	{"SERVFAIL", FAKE_T_SERVFAIL},
	{"TIMEOUT", FAKE_T_TIMEOUT},
	{"DELAY", FAKE_T_DELAY},
};

static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_record *records;
static size_t records_count, records_size;
static unsigned queries_count;

/* Lower case, one final dot dropped; the caller frees. */
static char *fake_name(const char *name, size_t len)
{
	char *s;

	if (len > 0 && name[len - 1] == '.')
		len--;
	s = xstrndup(name, len);
	for (char *p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *token_end(const char *p)
{
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	return p;
}

/* One or more "character-strings", joined (RFC 7208 §3.3); unquoted data
 * is taken whole, as one string. */
static char *fake_parse_txt(const char *p, size_t len, const char *line, size_t *len_r)
{
	const char *end = p + len;
	char *out;
	size_t n = 0;

	if (*p != '"') {
		*len_r = len;
		return xstrndup(p, len);
	}
	out = xmalloc(len + 1);
	for (; p < end; p = skip_space(p)) {
		if (*p != '"')
			log_panic("fake_dns: quoted string expected: %s", line);
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				log_panic("fake_dns: unterminated string: %s", line);
			if (*p == '\\' && isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3])) {
				out[n++] =
				    (char)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
				p += 3;
			} else if (*p == '\\' && p[1] != '\0') {
				out[n++] = *++p;
			} else {
				out[n++] = *p;
			}
		}
		p++;
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

static void fake_add(const struct fake_record *r)
{
	if (records_count == records_size) {
		records_size = records_size ? records_size * 2 : 32;
		records = xrealloc(records, records_size * sizeof(*records));
	}
	records[records_count++] = *r;
}

static void fake_parse_line(const char *line)
{
	struct fake_record r = {0};
	const char *p = skip_space(line), *end, *data;
	char type[16], *endnum;
	size_t i;

	if (*p == '\0')
		return;
	end = token_end(p);
	r.name = fake_name(p, (size_t)(end - p));
	p = skip_space(end);
	end = token_end(p);
	if ((size_t)(end - p) >= sizeof(type))
		log_panic("fake_dns: bad type: %s", line);
	memcpy(type, p, (size_t)(end - p));
	type[end - p] = '\0';
	for (i = 0; i < sizeof(fake_types) / sizeof(fake_types[0]); i++)
		if (strcasecmp(type, fake_types[i].name) == 0)
			break;
	if (i == sizeof(fake_types) / sizeof(fake_types[0]))
		log_panic("fake_dns: unknown type: %s", line);
	r.type = fake_types[i].type;
	data = skip_space(end);
	end = data + strlen(data);
	while (end > data && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;

	switch (r.type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		char addr[64];

		if ((size_t)(end - data) >= sizeof(addr))
			log_panic("fake_dns: bad address: %s", line);
		memcpy(addr, data, (size_t)(end - data));
		addr[end - data] = '\0';
		if (inet_pton(r.type == DNS_T_A ? AF_INET : AF_INET6, addr,
			      r.type == DNS_T_A ? (void *)&r.a : (void *)&r.aaaa) != 1)
			log_panic("fake_dns: bad address: %s", line);
		break;
	}
	case DNS_T_TXT:
		r.text = fake_parse_txt(data, (size_t)(end - data), line, &r.text_len);
		break;
	case DNS_T_MX:
	case FAKE_T_DELAY:
		r.number = (unsigned)strtoul(data, &endnum, 10);
		if (endnum == data)
			log_panic("fake_dns: number expected: %s", line);
		if (r.type == FAKE_T_DELAY)
			break;
		data = skip_space(endnum);
		/* FALLTHROUGH */
	case DNS_T_PTR:
	case DNS_T_CNAME:
		if (end <= data || token_end(data) != end)
			log_panic("fake_dns: one name expected: %s", line);
		r.text = fake_name(data, (size_t)(end - data));
		break;
	default: /* SERVFAIL, TIMEOUT: no data */
		break;
	}
	fake_add(&r);
}

void fake_dns_load(const char *zone_text)
{
	const char *p = zone_text;

	pthread_mutex_lock(&zone_lock);
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char *line = xstrndup(p, len);
		int quoted = 0;

		/* A '#' outside a quoted string starts a comment. */
		for (char *c = line; *c != '\0'; c++) {
			if (*c == '\\' && quoted && c[1] != '\0')
				c++;
			else if (*c == '"')
				quoted = !quoted;
			else if (*c == '#' && !quoted) {
				*c = '\0';
				break;
			}
		}
		fake_parse_line(line);
		free(line);
		p += len;
		if (*p == '\n')
			p++;
	}
	pthread_mutex_unlock(&zone_lock);
}

void fake_dns_reset(void)
{
	pthread_mutex_lock(&zone_lock);
	for (size_t i = 0; i < records_count; i++) {
		free(records[i].name);
		free(records[i].text);
	}
	xfree(&records);
	records_count = records_size = 0;
	queries_count = 0;
	pthread_mutex_unlock(&zone_lock);
}

unsigned fake_dns_queries(void)
{
	unsigned n;

	pthread_mutex_lock(&zone_lock);
	n = queries_count;
	pthread_mutex_unlock(&zone_lock);
	return n;
}

/* Does any record own name, or a name below it (an empty non-terminal)? */
static int fake_name_exists(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < records_count; i++) {
		const char *owner = records[i].name;
		size_t olen = strlen(owner);

		if (records[i].type < 0)
			continue;
		if (strcmp(owner, name) == 0)
			return 1;
		if (olen > len && owner[olen - len - 1] == '.' &&
		    strcmp(owner + olen - len, name) == 0)
			return 1;
	}
	return 0;
}

static void fake_copy_rr(struct dns_rr *rr, const struct fake_record *r)
{
	switch (r->type) {
	case DNS_T_A:
		rr->u.a = r->a;
		rr->len = sizeof(r->a);
		break;
	case DNS_T_AAAA:
		rr->u.aaaa = r->aaaa;
		rr->len = sizeof(r->aaaa);
		break;
	case DNS_T_MX:
		rr->u.mx.preference = r->number;
		rr->u.mx.exchange = xstrdup(r->text);
		rr->len = strlen(r->text);
		break;
	case DNS_T_TXT:
		rr->u.text = xmalloc(r->text_len + 1);
		memcpy(rr->u.text, r->text, r->text_len + 1);
		rr->len = r->text_len;
		break;
	default: /* PTR, CNAME: one string */
		rr->u.text = xstrdup(r->text);
		rr->len = strlen(r->text);
		break;
	}
}

static void fake_tempfail(struct dns_answer *ans, int timed_out, const char *why)
{
	ans->status = DNS_TEMPFAIL;
	ans->rcode = timed_out ? 0 : 2; /* SERVFAIL */
	ans->timed_out = timed_out;
	ans->why = why;
}

/* Fill q->answer for name; returns the DELAY to apply, in milliseconds. */
static unsigned fake_answer(struct dns_query *q, const char *qname)
{
	struct dns_answer *ans = &q->answer;
	char *name = fake_name(qname, strlen(qname));
	unsigned delay = 0;

	ans->ttl = FAKE_TTL;
	for (int hops = 0;; hops++) {
		const char *cname = NULL;
		int servfail = 0, timeout = 0;

		ans->count = 0;
		for (size_t i = 0; i < records_count; i++) {
			const struct fake_record *r = &records[i];

			if (strcmp(r->name, name) != 0)
				continue;
			if (r->type == FAKE_T_SERVFAIL)
				servfail = 1;
			else if (r->type == FAKE_T_TIMEOUT)
				timeout = 1;
			else if (r->type == FAKE_T_DELAY)
				delay += r->number;
			else if (r->type == q->rrtype)
				ans->count++;
			else if (r->type == DNS_T_CNAME)
				cname = r->text;
		}
		if (timeout || servfail) {
			fake_tempfail(ans, timeout, timeout ? "timeout" : "SERVFAIL");
			break;
		}
		if (ans->count > 0) {
			size_t n = 0;

			ans->status = DNS_OK;
			ans->rr = xcalloc(ans->count, sizeof(*ans->rr));
			for (size_t i = 0; i < records_count; i++)
				if (records[i].type == q->rrtype &&
				    strcmp(records[i].name, name) == 0)
					fake_copy_rr(&ans->rr[n++], &records[i]);
			break;
		}
		if (cname != NULL) {
			if (hops == FAKE_MAX_CNAME) {
				fake_tempfail(ans, 0, "CNAME chain too long");
				break;
			}
			free(name);
			name = xstrdup(cname);
			continue;
		}
		if (fake_name_exists(name)) {
			ans->status = DNS_NODATA;
		} else {
			ans->status = DNS_NXDOMAIN;
			ans->rcode = 3;
		}
		break;
	}
	free(name);
	return delay;
}

/* Free the records of q's answer and clear it. */
static void fake_release(struct dns_query *q)
{
	for (size_t i = 0; i < q->answer.count; i++) {
		if (q->rrtype == DNS_T_MX)
			free(q->answer.rr[i].u.mx.exchange);
		else if (q->rrtype != DNS_T_A && q->rrtype != DNS_T_AAAA)
			free(q->answer.rr[i].u.text);
	}
	free(q->answer.rr);
	q->answer = (struct dns_answer){0};
}

static void fake_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

struct dns *dns_new(const struct dns_config *cfg, char **error_r)
{
	return xcalloc(1, sizeof(struct dns));
}

void dns_free(struct dns **dnsp)
{
	xfree(dnsp);
}

/* "S" per dns_start, "W" per dns_wait, in call order: tests read it to see
 * that a module starts every lookup before it waits for any. */
static char trace[4096];

static void trace_add(char c)
{
	size_t n;

	pthread_mutex_lock(&zone_lock);
	n = strlen(trace);
	if (n + 1 < sizeof(trace)) {
		trace[n] = c;
		trace[n + 1] = '\0';
	}
	pthread_mutex_unlock(&zone_lock);
}

const char *fake_dns_trace(void)
{
	return trace;
}

void fake_dns_trace_reset(void)
{
	trace[0] = '\0';
}

struct dns_query *dns_start(struct dns *dns, const char *name, int rrtype, unsigned deadline_ms)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	trace_add('S');
	unsigned delay;

	if (deadline_ms == 0)
		deadline_ms = FAKE_DEFAULT_TIMEOUT_MS;
	q->rrtype = rrtype;
	pthread_mutex_lock(&zone_lock);
	queries_count++;
	if (strlen(name) >= FAKE_NAME_MAX) {
		fake_tempfail(&q->answer, 0, "name too long");
		delay = 0;
	} else {
		delay = fake_answer(q, name);
	}
	pthread_mutex_unlock(&zone_lock);

	/* Answered at once, but a DELAY holds the caller as a slow server
	 * would, up to its deadline. */
	if (delay > 0) {
		fake_sleep_ms(delay < deadline_ms ? delay : deadline_ms);
		if (delay >= deadline_ms) {
			fake_release(q);
			fake_tempfail(&q->answer, 1, "timeout");
		}
	}
	return q;
}

const struct dns_answer *dns_wait(struct dns_query *q)
{
	trace_add('W');
	return &q->answer;
}

int dns_done(struct dns_query *q)
{
	return 1;
}

void dns_query_free(struct dns_query **qp)
{
	if (*qp == NULL)
		return;
	fake_release(*qp);
	xfree(qp);
}

/* The real prefetch only warms the cache this fake does not have: asking
 * nothing keeps the tests' query counts and traces exact. */
void dns_prefetch(struct dns *dns, const char *name, int rrtype)
{
	(void)dns;
	(void)name;
	(void)rrtype;
}

const struct dns_answer *dns_lookup(struct dns *dns, const char *name, int rrtype,
				    unsigned deadline_ms, struct dns_query **query_r)
{
	*query_r = dns_start(dns, name, rrtype, deadline_ms);
	return dns_wait(*query_r);
}

const char *dns_status_name(enum dns_status status)
{
	static const char *const names[] = {
	    [DNS_OK] = "ok",
	    [DNS_NXDOMAIN] = "nxdomain",
	    [DNS_NODATA] = "nodata",
	    [DNS_TEMPFAIL] = "tempfail",
	};

	if ((unsigned)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}

/*
 * spf - RFC 7208 check_host() over libspf2 and our resolver (see spf.h).
 *
 * Each evaluation builds its own libspf2 server on a DNS layer whose hook
 * is the evaluation's context (struct spf_eval): deadline, counts of
 * DNS-querying terms and void lookups (RFC 7208 §4.6.4), what went wrong.
 * The layer answers libspf2's lookup (a, mx, ptr, exists, %{p}), get_spf
 * (the checked domain's record, an include's, a redirect's) and get_exp
 * (exp= text).  Past a limit or the deadline it answers "try again" at
 * once, libspf2 stops, and the outcome is fixed up from the context.
 * spf_params strings are only read; outcome strings go to the caller's
 * arena.  spf_init() sets libspf2's global log handlers; all else is per
 * evaluation, so evaluations may run in parallel threads.
 */
#include "config.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <spf2/spf.h>

#include "arena.h"
#include "dns.h"
#include "domain.h"
#include "log.h"
#include "mem.h"
#include "spf.h"
#include "spf_record.h"

/*
 * libspf2 1.2.10 quirks, each seen in the library and worked around here
 * or in spf_record.c:
 * - an include: counts DNS terms afresh in the included record, and an
 *   11th term is noticed only at the next mechanism: terms are counted by
 *   the layer, across the whole evaluation (RFC 7208 §4.6.4);
 * - there is no void-lookup limit: the layer counts NXDOMAIN/NODATA;
 * - more than 10 PTR names make the ptr mechanism a permerror, where
 *   §4.6.4 says to ignore the rest: the layer hands over the first ten;
 * - more than 10 MX records: it checks ten hosts before its permerror,
 *   and a match among them passes; the layer stops at the MX answer;
 * - SPF_request_query_mailfrom() passes loopback clients unconditionally,
 *   which RFC 7208 does not: the record is fetched and interpreted here;
 * - a record that does not parse, or whose lookup fails, comes back
 *   SPF_RESULT_INVALID: our get_spf sets the result itself;
 * - its parser accepts what RFC 7208 rejects (bad domain-specs, "/032",
 *   bad macros, duplicate or empty modifiers, bytes after a NUL -- it
 *   sees a C string) and rejects what it allows (/0, modifier names with
 *   ".", the ',' and '/' macro delimiters); it runs redirect= where it
 *   stands: every record goes through spf_record_parse() and libspf2
 *   compiles spf_record_render()'s text instead;
 * - it counts a record's mechanisms in an unsigned char: past 255 the
 *   count wraps and the later terms are never seen (300 ip4 terms, the
 *   280th matching, gave neutral); spf_record_render() gives it only the
 *   terms evaluation can reach, ip4/ip6 runs reduced to one; and it
 *   refuses a domain-spec's literal text over 255 characters, so a p
 *   macro beside such text is expanded there, not left to libspf2;
 * - explanations: spaces become garbage and URL escaping is wrong, so the
 *   exp= text is expanded by spf_record_explain();
 * - it does not cut an expanded name to 253 characters (§7.3) and asks
 *   for names DNS cannot hold: the layer does both (an impossible name is
 *   answered "no such name", RFC 7208 §4.3 by analogy).
 */
#define SPF_MAX_DNS_TERMS    10	   /* RFC 7208 §4.6.4 */
#define SPF_MAX_VOID_LOOKUPS 2	   /* RFC 7208 §4.6.4 */
#define SPF_MAX_FOLLOW	     10	   /* address lookups per mx or ptr (§4.6.4, libspf2's cap) */
#define SPF_MAX_RR	     100   /* records handed to libspf2 per answer */
#define SPF_DEFAULT_DEADLINE 20000 /* ms; RFC 7208 §4.6.4: at least 20 seconds */
#define SPF_MAX_SENDER	     512
#define SPF_REASON_MAX	     200
#define SPF_EXP_MAX	     512
#ifdef __SANITIZE_ADDRESS__
#define SPF_THREAD_STACK (1024 * 1024) /* ASan's redzones grow frames */
#else
#define SPF_THREAD_STACK (256 * 1024)
#endif

/* What a lookup is for: it decides what is counted (RFC 7208 §4.6.4). */
enum spf_kind {
	SPF_KIND_RECORD, /* the checked domain's own record: counted as void only */
	SPF_KIND_TERM,	 /* a DNS-querying term: counted, void counted */
	SPF_KIND_FOLLOW, /* an address of an MX or PTR name: neither */
	SPF_KIND_EXP,	 /* exp= text and its macros: neither, and no error */
};

enum spf_limit { SPF_LIMIT_NONE, SPF_LIMIT_TERMS, SPF_LIMIT_VOIDS, SPF_LIMIT_MX };

/* One evaluation's DNS context, the DNS layer's hook. */
struct spf_eval {
	struct dns *dns;
	SPF_request_t *request;
	uint64_t deadline; /* CLOCK_MONOTONIC, ms */
	unsigned lookup_timeout_ms;

	unsigned terms, voids, records;
	enum spf_limit limit;
	int in_exp;	     /* expanding an explanation */
	int deadline_passed; /* a lookup was refused for want of time */
	int timed_out;	     /* a query ran out of time */
	int tempfail;	     /* a lookup that mattered failed temporarily */
	char why[64];	     /* the first temporary failure */

	/* The names of the last mx or ptr answer, which libspf2 looks up in
	 * order next: those lookups are part of that term, not terms.
	 * follow_any: the mx had a /0 prefix (SPF_RECORD_ANY_ADDRESS).
	 * follow_ptr: they are PTR names, validated (§5.5). */
	char *follow[SPF_MAX_FOLLOW];
	size_t follow_count, follow_next;
	int follow_any, follow_ptr;

	char *exp_domain, *exp_text; /* last explanation, to ask once */

	/* What macros expand to (RFC 7208 §7.2), for spf_record. */
	struct addr client;
	const char *sender, *local, *sender_domain, *helo;
	const char *p_domain; /* the current domain while expanding */
	char *validated;      /* p, once computed for explanations */
	int validated_done;
};

/* libspf2's results, one to one; its SPF_RESULT_INVALID is decided apart. */
static const struct {
	SPF_result_t from;
	enum spf_result to;
} spf_result_map[] = {
	{SPF_RESULT_NEUTRAL, SPF_NEUTRAL},
	{SPF_RESULT_PASS, SPF_PASS},
	{SPF_RESULT_FAIL, SPF_FAIL},
	{SPF_RESULT_SOFTFAIL, SPF_SOFTFAIL},
	{SPF_RESULT_NONE, SPF_NONE},
	{SPF_RESULT_TEMPERROR, SPF_TEMPERROR},
	{SPF_RESULT_PERMERROR, SPF_PERMERROR},
};

static const struct {
	ns_type ns;
	int dns;
} spf_types[] = {
	{ns_t_a, DNS_T_A},	   {ns_t_aaaa, DNS_T_AAAA}, {ns_t_mx, DNS_T_MX},
	{ns_t_ptr, DNS_T_PTR}, {ns_t_txt, DNS_T_TXT},
};

/* libspf2 calls its error handler for broken invariants and expects it
 * not to return; the others go to our log. */
static void spf_log_error(const char *file, int line, const char *msg) __attribute__((noreturn));
static void spf_log_error(const char *file, int line, const char *msg)
{
	log_panic("libspf2 %s:%d: %s", file ? file : "?", line, msg);
}

static void spf_log_warning(const char *file, int line, const char *msg)
{
	log_info("libspf2: %s", msg);
}

static void spf_log_debug(const char *file, int line, const char *msg)
{
	log_debug("libspf2: %s", msg);
}

void spf_init(void)
{
	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_debug;
	SPF_debug_handler = spf_log_debug;
}

static uint64_t spf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Copy of d without one final dot; the caller frees. */
static char *spf_domain_copy(const char *d)
{
	size_t len = strlen(d);

	if (len > 0 && d[len - 1] == '.')
		len--;
	return xstrndup(d, len);
}

/* Outside text (records, explanations) into the arena: printable ASCII
 * only, capped, so it is safe in a header or an SMTP reply. */
static char *spf_text(struct arena *a, const char *s, size_t cap)
{
	size_t len = strlen(s);
	char *t;

	if (len > cap)
		len = cap;
	t = arena_strndup(a, s, len);
	for (char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return t;
}

static void spf_follow_clear(struct spf_eval *ev)
{
	for (size_t i = 0; i < ev->follow_count; i++)
		xfree(&ev->follow[i]);
	ev->follow_count = ev->follow_next = 0;
	ev->follow_any = ev->follow_ptr = 0;
}

/* Keep the names of an mx or ptr answer: libspf2 looks up the first ten,
 * in order, before its next term. */
static void spf_follow_set(struct spf_eval *ev, int rrtype, const struct dns_answer *ans)
{
	spf_follow_clear(ev);
	if (ans->status != DNS_OK)
		return;
	ev->follow_ptr = rrtype == DNS_T_PTR;
	for (size_t i = 0; i < ans->count && i < SPF_MAX_FOLLOW; i++)
		ev->follow[ev->follow_count++] =
		    xstrdup(rrtype == DNS_T_MX ? ans->rr[i].u.mx.exchange : ans->rr[i].u.name);
}

static enum spf_kind spf_classify(struct spf_eval *ev, const char *name, int rrtype)
{
	if (ev->in_exp || rrtype == DNS_T_TXT)
		return SPF_KIND_EXP;
	if ((rrtype == DNS_T_A || rrtype == DNS_T_AAAA) && ev->follow_next < ev->follow_count &&
	    strcasecmp(ev->follow[ev->follow_next], name) == 0) {
		ev->follow_next++;
		return SPF_KIND_FOLLOW;
	}
	/* a, mx, ptr, exists -- and a %{p} macro's PTR query, which cannot be
	 * told from a ptr term's and so is counted as one (§4.6.4 counts the
	 * p macro's PTR lookup too). */
	spf_follow_clear(ev);
	return SPF_KIND_TERM;
}

/*
 * The name to ask for: without a final dot, cut from the left to 253
 * characters (RFC 7208 §7.3), in presentation form for the resolver
 * (octets outside printable ASCII, and backslashes, as \DDD).  Returns -1
 * for a name DNS cannot hold -- empty, an empty label, a label over 63
 * octets -- which the caller answers "no such name" (RFC 7208 §4.3 by
 * analogy; the openspf suite accepts that or permerror).
 */
static int spf_name_prepare(const char *name, char *out, size_t size)
{
	size_t len = strlen(name), label = 0, o = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	while (len > 253) {
		const char *dot = memchr(name, '.', len);

		if (dot == NULL)
			return -1;
		len -= (size_t)(dot - name) + 1;
		name = dot + 1;
	}
	if (len == 0)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63)
				return -1;
			label = 0;
			if (i < len)
				out[o++] = '.';
			continue;
		}
		label++;
		if (o + 5 >= size)
			return -1;
		if (c <= ' ' || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%03u", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Is a DNS error in this lookup "no match" rather than a temperror?  The
 * PTR query of a ptr term (or of a p macro: they look the same here) and
 * the address lookups of its names (RFC 7208 §5.5). */
static int spf_error_is_no_match(const struct spf_eval *ev, int rrtype, enum spf_kind kind)
{
	return (kind == SPF_KIND_TERM && rrtype == DNS_T_PTR) ||
	       (kind == SPF_KIND_FOLLOW && ev->follow_ptr);
}

/*
 * Ask one question for the evaluation.  NULL means answer "try again"
 * without asking: the deadline has gone or a limit was just passed.
 * Otherwise the caller frees *qp (which stays NULL for a name that
 * cannot exist: that is answered NXDOMAIN without a query).
 */
static const struct dns_answer *spf_query(struct spf_eval *ev, const char *name, int rrtype,
					  enum spf_kind kind, struct dns_query **qp)
{
	static const struct dns_answer no_such_name = {.status = DNS_NXDOMAIN, .rcode = 3};
	static const struct dns_answer no_answer = {.status = DNS_NODATA};
	const struct dns_answer *ans;
	char qname[253 * 4 + 1];
	uint64_t now = spf_now_ms();
	unsigned wait;
	int deadline_bound;

	*qp = NULL;
	if (ev->limit != SPF_LIMIT_NONE)
		return NULL;
	if (now >= ev->deadline) {
		ev->deadline_passed = 1;
		return NULL;
	}
	if (kind == SPF_KIND_TERM) {
		if (ev->terms == SPF_MAX_DNS_TERMS) {
			ev->limit = SPF_LIMIT_TERMS;
			return NULL;
		}
		ev->terms++;
	}
	wait = (unsigned)(ev->deadline - now);
	deadline_bound = ev->lookup_timeout_ms == 0 || ev->lookup_timeout_ms >= wait;
	if (!deadline_bound)
		wait = ev->lookup_timeout_ms;
	if (spf_name_prepare(name, qname, sizeof(qname)) < 0)
		ans = &no_such_name;
	else
		ans = dns_lookup(ev->dns, qname, rrtype, wait, qp);

	/* §5.5: a DNS error looking up the PTR names fails the ptr
	 * mechanism, and one looking up a name's addresses leaves that
	 * name unvalidated (so too for the p macro, §7.3: "unknown").  Not
	 * a timeout that is the evaluation's deadline: that ends it. */
	if (ans->status == DNS_TEMPFAIL && spf_error_is_no_match(ev, rrtype, kind) &&
	    !(ans->timed_out && deadline_bound)) {
		log_debug("spf: %s %s: %s, taken as no match (RFC 7208 section 5.5)",
			  rrtype == DNS_T_PTR ? "PTR" : "address of PTR name", name,
			  ans->why ? ans->why : "DNS error");
		dns_query_free(qp);
		return &no_answer;
	}
	if (ans->status == DNS_TEMPFAIL && kind != SPF_KIND_EXP) {
		if (!ev->tempfail)
			snprintf(ev->why, sizeof(ev->why), "%s", ans->why ? ans->why : "");
		ev->tempfail = 1;
		ev->timed_out |= ans->timed_out;
	}
	if ((ans->status == DNS_NXDOMAIN || ans->status == DNS_NODATA) &&
	    (kind == SPF_KIND_TERM || kind == SPF_KIND_RECORD) &&
	    ++ev->voids > SPF_MAX_VOID_LOOKUPS) {
		ev->limit = SPF_LIMIT_VOIDS;
		dns_query_free(qp);
		return NULL;
	}
	/* §4.6.4: more than ten MX records make the mx mechanism a
	 * permerror.  libspf2 checks ten hosts first, so a shuffled answer
	 * could pass: stop it here. */
	if (kind == SPF_KIND_TERM && rrtype == DNS_T_MX && ans->status == DNS_OK &&
	    ans->count > SPF_MAX_FOLLOW) {
		ev->limit = SPF_LIMIT_MX;
		dns_query_free(qp);
		return NULL;
	}
	if (kind == SPF_KIND_TERM && (rrtype == DNS_T_MX || rrtype == DNS_T_PTR))
		spf_follow_set(ev, rrtype, ans);
	return ans;
}

static SPF_dns_rr_t *spf_rr_new(SPF_dns_server_t *layer, const char *name, ns_type type, int ttl,
				SPF_dns_stat_t herrno)
{
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(layer, name, type, ttl, herrno);

	if (rr == NULL)
		log_panic("spf: out of memory");
	return rr;
}

static void spf_rr_set(SPF_dns_rr_t *rr, int i, const void *data, size_t len)
{
	if (SPF_dns_rr_buf_realloc(rr, i, len) != SPF_E_SUCCESS)
		log_panic("spf: out of memory");
	memcpy(rr->rr[i], data, len);
}

/* Our answer as libspf2's: herrno and records of the type asked.  With
 * any_address, addresses are answered as the client's own (see
 * SPF_RECORD_ANY_ADDRESS). */
static SPF_dns_rr_t *spf_rr_from(struct spf_eval *ev, SPF_dns_server_t *layer, const char *name,
				 ns_type type, int rrtype, const struct dns_answer *ans,
				 int any_address)
{
	/* §4.6.4: past ten PTR names, "all records other than the first 10
	 * MUST be ignored"; libspf2 would give permerror. */
	size_t max = rrtype == DNS_T_PTR ? SPF_MAX_FOLLOW : SPF_MAX_RR;
	SPF_dns_rr_t *rr;
	size_t n = 0;

	if (ans == NULL || ans->status == DNS_TEMPFAIL)
		return spf_rr_new(layer, name, type, 0, TRY_AGAIN);
	if (ans->status == DNS_NXDOMAIN)
		return spf_rr_new(layer, name, type, (int)ans->ttl, HOST_NOT_FOUND);
	if (ans->status == DNS_NODATA || ans->count == 0)
		return spf_rr_new(layer, name, type, (int)ans->ttl, NO_DATA);

	rr = spf_rr_new(layer, name, type, (int)ans->ttl, NETDB_SUCCESS);
	if (any_address && (rrtype == DNS_T_A || rrtype == DNS_T_AAAA)) {
		if (rrtype == DNS_T_A && ev->client.family == AF_INET)
			spf_rr_set(rr, (int)n++, &ev->client.u.v4, sizeof(ev->client.u.v4));
		else if (rrtype == DNS_T_AAAA && ev->client.family == AF_INET6)
			spf_rr_set(rr, (int)n++, &ev->client.u.v6, sizeof(ev->client.u.v6));
		rr->num_rr = (int)n;
		return rr;
	}
	for (size_t i = 0; i < ans->count && n < max; i++) {
		const struct dns_rr *r = &ans->rr[i];
		const char *s;

		switch (rrtype) {
		case DNS_T_A:
			spf_rr_set(rr, (int)n++, &r->u.a, sizeof(r->u.a));
			continue;
		case DNS_T_AAAA:
			spf_rr_set(rr, (int)n++, &r->u.aaaa, sizeof(r->u.aaaa));
			continue;
		case DNS_T_MX:
			s = r->u.mx.exchange;
			break;
		default: /* PTR, TXT */
			s = r->u.text;
			break;
		}
		spf_rr_set(rr, (int)n++, s, strlen(s) + 1);
	}
	rr->num_rr = (int)n;
	return rr;
}

/* Remove SPF_RECORD_ANY_ADDRESS from the end of name; 1 if it was there. */
static int spf_strip_any(const char *name, char *out, size_t size)
{
	size_t len = strlen(name), mark = sizeof(SPF_RECORD_ANY_ADDRESS) - 1;
	int any = len > mark && strcasecmp(name + len - mark, SPF_RECORD_ANY_ADDRESS) == 0;

	if (any)
		len -= mark;
	snprintf(out, size, "%.*s", (int)len, name);
	return any;
}

static SPF_dns_rr_t *spf_layer_lookup(SPF_dns_server_t *layer, const char *qname, ns_type type,
				      int should_cache)
{
	struct spf_eval *ev = layer->hook;
	const struct dns_answer *ans;
	struct dns_query *q;
	SPF_dns_rr_t *rr;
	enum spf_kind kind;
	char name[1024];
	int rrtype = 0, any, any_address;

	for (size_t i = 0; i < sizeof(spf_types) / sizeof(spf_types[0]); i++)
		if (spf_types[i].ns == type)
			rrtype = spf_types[i].dns;
	/* Nothing else is asked by 1.2.10; the obsolete SPF type (RFC 7208
	 * §3.1) is answered "no data" without a query. */
	if (rrtype == 0)
		return spf_rr_new(layer, qname, type, 0, NO_DATA);
	any = spf_strip_any(qname, name, sizeof(name));
	kind = spf_classify(ev, name, rrtype);
	any_address = (kind == SPF_KIND_TERM && any) || (kind == SPF_KIND_FOLLOW && ev->follow_any);
	ans = spf_query(ev, name, rrtype, kind, &q);
	if (kind == SPF_KIND_TERM && rrtype == DNS_T_MX)
		ev->follow_any = any;
	rr = spf_rr_from(ev, layer, qname, type, rrtype, ans, any_address);
	dns_query_free(&q);
	return rr;
}

/* One final dot dropped: the current domain as macros see it. */
static void spf_domain_trim(const char *d, char *out, size_t size)
{
	size_t len = strlen(d);

	if (len > 0 && d[len - 1] == '.')
		len--;
	snprintf(out, size, "%.*s", (int)len, d);
}

/* The reverse-lookup name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
static void spf_reverse_name(const struct addr *a, char *out, size_t size)
{
	size_t o = 0;

	if (a->family == AF_INET) {
		const unsigned char *b = (const unsigned char *)&a->u.v4;

		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < size; i--)
		o += (size_t)snprintf(out + o, size - o, "%x.%x.", a->u.v6.s6_addr[i] & 0xf,
				      a->u.v6.s6_addr[i] >> 4);
	snprintf(out + o, size - o, "ip6.arpa");
}

static int spf_name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (d == 0 || n < d || strcasecmp(name + n - d, domain) != 0)
		return 0;
	return n == d || name[n - d - 1] == '.';
}

/*
 * The p macro (RFC 7208 §7.3): a name of the client, from its PTR
 * records (at most ten, §4.6.4), whose addresses include the client,
 * preferring the current domain or one below it (§5.5's validation).
 * NULL means "unknown".  Its PTR query counts as a DNS term, as the
 * libspf2-expanded p macro's does, except while explaining (§6.2 lookups
 * are not counted); the address lookups are part of it.
 */
static char *spf_find_validated(struct spf_eval *ev)
{
	const struct dns_answer *ans;
	struct dns_query *q;
	char rev[80], *names[SPF_MAX_FOLLOW], *found = NULL;
	size_t n = 0;

	spf_reverse_name(&ev->client, rev, sizeof(rev));
	ans = spf_query(ev, rev, DNS_T_PTR, ev->in_exp ? SPF_KIND_EXP : SPF_KIND_TERM, &q);
	for (size_t i = 0; ans != NULL && ans->status == DNS_OK && i < ans->count; i++)
		if (n < SPF_MAX_FOLLOW)
			names[n++] = xstrdup(ans->rr[i].u.name);
	dns_query_free(&q);
	spf_follow_clear(ev);
	for (size_t i = 0; i < n; i++) {
		int rrtype = ev->client.family == AF_INET ? DNS_T_A : DNS_T_AAAA, match = 0;

		if (found != NULL && spf_name_within(found, ev->p_domain))
			break;
		ans = spf_query(ev, names[i], rrtype, SPF_KIND_EXP, &q);
		for (size_t k = 0; ans != NULL && ans->status == DNS_OK && k < ans->count; k++)
			match |= rrtype == DNS_T_A
				     ? memcmp(&ans->rr[k].u.a, &ev->client.u.v4, 4) == 0
				     : memcmp(&ans->rr[k].u.aaaa, &ev->client.u.v6, 16) == 0;
		dns_query_free(&q);
		if (match && (found == NULL || spf_name_within(names[i], ev->p_domain))) {
			free(found);
			found = xstrdup(names[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return found;
}

static const char *spf_validated_name(void *ctx)
{
	struct spf_eval *ev = ctx;

	if (!ev->in_exp) { /* rare: a record's P or p with ',' '/' delimiters */
		free(ev->validated);
		ev->validated = spf_find_validated(ev);
		ev->validated_done = 0;
		return ev->validated;
	}
	if (!ev->validated_done) {
		ev->validated = spf_find_validated(ev);
		ev->validated_done = 1;
	}
	return ev->validated;
}

static void spf_env(struct spf_eval *ev, const char *domain, struct spf_macro_env *env)
{
	SPF_request_t *req = ev->request;

	ev->p_domain = domain;
	*env = (struct spf_macro_env){
	    .sender = ev->sender,
	    .local = ev->local,
	    .sender_domain = ev->sender_domain,
	    .domain = domain,
	    .helo = ev->helo,
	    .receiver = req ? SPF_request_get_rec_dom(req) : NULL,
	    .client = ev->client,
	    .now = time(NULL),
	    .validated_name = spf_validated_name,
	    .ctx = ev,
	};
}

static SPF_errcode_t spf_get_spf_error(SPF_response_t *resp, SPF_result_t result, SPF_errcode_t err,
				       const char *why, const char *domain)
{
	resp->result = result;
	resp->err = err;
	return SPF_response_add_error(resp, err, "%s at %s", why, domain);
}

/* The record of spf_request->cur_dom, for the check itself or for an
 * include:/redirect= (a DNS-querying term).  On failure the response
 * says why; libspf2 makes an include's failure a permerror, or a
 * temperror for SPF_E_DNS_ERROR (RFC 7208 §5.2). */
static SPF_errcode_t spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
				       SPF_response_t *resp, SPF_record_t **recp)
{
	struct spf_eval *ev = server->resolver->hook;
	const char *domain = req->cur_dom;
	const struct dns_answer *ans;
	struct dns_query *q;
	const struct dns_rr *spf = NULL;
	struct spf_record *record;
	struct spf_macro_env env;
	char why[SPF_RECORD_WHY_MAX], current[256], *text;
	size_t found = 0;
	SPF_errcode_t err;

	*recp = NULL;
	ans = spf_query(ev, domain, DNS_T_TXT, ev->records++ == 0 ? SPF_KIND_RECORD : SPF_KIND_TERM,
			&q);
	if (ans == NULL || ans->status == DNS_TEMPFAIL) {
		dns_query_free(&q);
		return spf_get_spf_error(resp, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR, "DNS error",
					 domain);
	}
	/* §4.5 selects on the record's bytes: one with a NUL is still an SPF
	 * record, and an invalid one (libspf2 would see it cut short). */
	for (size_t i = 0; ans->status == DNS_OK && i < ans->count; i++) {
		if (spf_record_is_spf(ans->rr[i].u.text, ans->rr[i].len)) {
			spf = &ans->rr[i];
			found++;
		}
	}
	if (found != 1) {
		dns_query_free(&q);
		if (found == 0)
			return spf_get_spf_error(resp, SPF_RESULT_NONE, SPF_E_NOT_SPF,
						 "no SPF record", domain);
		return spf_get_spf_error(resp, SPF_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS,
					 "multiple SPF records", domain); /* §4.5 */
	}
	/* Far past what a DNS answer should carry (RFC 7208 §3.4). */
	if (spf->len > SPF_RECORD_MAX_LEN) {
		dns_query_free(&q);
		return spf_get_spf_error(resp, SPF_RESULT_PERMERROR, SPF_E_BIG_STRING,
					 "SPF record too long", domain);
	}
	record = spf_record_parse(spf->u.text, spf->len, why);
	dns_query_free(&q);
	if (record == NULL) /* §4.6: a syntax error anywhere */
		return spf_get_spf_error(resp, SPF_RESULT_PERMERROR, SPF_E_SYNTAX, why, domain);
	spf_domain_trim(domain, current, sizeof(current));
	spf_env(ev, current, &env);
	text = spf_record_render(record, &env);
	spf_record_free(&record);
	if (text == NULL)
		return spf_get_spf_error(resp, SPF_RESULT_PERMERROR, SPF_E_BIG_STRING,
					 "SPF record too long after macro expansion", domain);
	err = SPF_record_compile(server, resp, recp, text);
	free(text);
	/* libspf2 refusing our rendering of a valid record: none known
	 * (spf_record_test's random records) */
	if (err != SPF_E_SUCCESS) {
		if (*recp != NULL)
			SPF_record_free(*recp);
		*recp = NULL;
		resp->result = SPF_RESULT_PERMERROR;
		resp->err = err;
		return err;
	}
	return SPF_E_SUCCESS;
}

/* exp= text, macros expanded, or NULL: RFC 7208 §6.2 drops the
 * explanation on any DNS error, no record, several, or a syntax error. */
static char *spf_exp_fetch(struct spf_eval *ev, const char *domain)
{
	const struct dns_answer *ans;
	struct dns_query *q;
	struct spf_macro_env env;
	char current[256];
	char *out = NULL;

	ev->in_exp = 1;
	ans = spf_query(ev, domain, DNS_T_TXT, SPF_KIND_EXP, &q);
	if (ans != NULL && ans->status == DNS_OK && ans->count == 1) {
		spf_domain_trim(ev->request && ev->request->cur_dom ? ev->request->cur_dom : "",
				current, sizeof(current));
		spf_env(ev, current, &env);
		out = spf_record_explain(ans->rr[0].u.text, ans->rr[0].len, &env);
	}
	dns_query_free(&q);
	ev->in_exp = 0;
	return out;
}

/* libspf2 asks for the explanation whenever a record ends in fail,
 * softfail or neutral, includes too; ask DNS once per name.  An empty
 * string means none (the server's default explanation is empty too). */
static SPF_errcode_t spf_layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
				       size_t *buflenp)
{
	struct spf_eval *ev = server->resolver->hook;
	const char *text;
	size_t len;

	if (ev->exp_domain == NULL || strcasecmp(ev->exp_domain, domain) != 0) {
		char *name = xstrdup(domain);

		xfree(&ev->exp_domain);
		xfree(&ev->exp_text);
		ev->exp_domain = name;
		ev->exp_text = spf_exp_fetch(ev, name);
	}
	text = ev->exp_text ? ev->exp_text : "";
	len = strlen(text) + 1;
	if (*buflenp < len) {
		char *nbuf = realloc(*bufp, len);

		if (nbuf == NULL)
			return SPF_E_NO_MEMORY;
		*bufp = nbuf;
		*buflenp = len;
	}
	memcpy(*bufp, text, len);
	return SPF_E_SUCCESS;
}

/* The first error libspf2 recorded (a syntax error's words), or NULL. */
static const char *spf_first_error(SPF_response_t *resp)
{
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *e = SPF_response_message(resp, i);

		if (SPF_error_errorp(e) && SPF_error_message(e) != NULL)
			return SPF_error_message(e);
	}
	return NULL;
}

/* libspf2's header comment without its "receiver: " prefix. */
static const char *spf_comment(SPF_request_t *req, SPF_response_t *resp)
{
	const char *c = SPF_response_get_header_comment(resp);
	const char *rec = SPF_request_get_rec_dom(req);
	size_t len = rec ? strlen(rec) : 0;

	if (c == NULL)
		return NULL;
	if (len > 0 && strncmp(c, rec, len) == 0 && strncmp(c + len, ": ", 2) == 0)
		c += len + 2;
	return c;
}

static void spf_finish_outcome(struct spf_eval *ev, SPF_request_t *req, SPF_response_t *resp,
			       struct arena *a, struct spf_outcome *out)
{
	SPF_result_t r = SPF_response_result(resp);
	const char *detail = NULL;

	out->result = SPF_PERMERROR;
	for (size_t i = 0; i < sizeof(spf_result_map) / sizeof(spf_result_map[0]); i++)
		if (spf_result_map[i].from == r)
			out->result = spf_result_map[i].to;
	/* libspf2's "(invalid)": the record could not be had or read. */
	if (r == SPF_RESULT_INVALID)
		out->result = ev->tempfail || ev->deadline_passed ? SPF_TEMPERROR
								  : SPF_PERMERROR;
	if (ev->limit != SPF_LIMIT_NONE)
		out->result = SPF_PERMERROR;

	switch (out->result) {
	case SPF_PERMERROR:
		if (ev->limit == SPF_LIMIT_VOIDS)
			out->reason = "too many void lookups";
		else if (ev->limit == SPF_LIMIT_MX)
			out->reason = "more than 10 MX records";
		else if (ev->limit == SPF_LIMIT_TERMS ||
			 SPF_response_errcode(resp) == SPF_E_BIG_DNS)
			out->reason = "too many DNS lookups";
		else if ((detail = spf_first_error(resp)) == NULL)
			detail = SPF_strerror(SPF_response_errcode(resp));
		break;
	case SPF_TEMPERROR:
		if (ev->deadline_passed || ev->timed_out)
			out->reason = "DNS timeout";
		else if (ev->tempfail)
			out->reason =
			    arena_printf(a, "DNS error%s%s", ev->why[0] ? ": " : "", ev->why);
		else
			detail = SPF_strerror(SPF_response_errcode(resp));
		break;
	case SPF_NONE:
		out->reason = "no SPF record";
		break;
	default:
		detail = spf_comment(req, resp);
		break;
	}
	if (detail != NULL)
		out->reason = spf_text(a, detail, SPF_REASON_MAX);
	if (out->result == SPF_FAIL) {
		const char *exp = SPF_response_get_explanation(resp);

		if (exp != NULL && exp[0] != '\0')
			out->explanation = spf_text(a, exp, SPF_EXP_MAX);
	}
}

/* Run check_host() for domain with libspf2 on our DNS layer. */
static void spf_run(struct spf_eval *ev, const struct spf_params *p, const char *domain,
		    const char *local, const char *env_from, struct arena *a,
		    struct spf_outcome *out)
{
	SPF_dns_server_t layer = {
	    .destroy = NULL, /* ours, on this stack */
	    .lookup = spf_layer_lookup,
	    .get_spf = spf_layer_get_spf,
	    .get_exp = spf_layer_get_exp,
	    .name = "authscore",
	    .hook = ev,
	};
	SPF_server_t *server;
	SPF_request_t *req;
	SPF_response_t *resp = NULL, *scratch = NULL;
	SPF_record_t *record = NULL;

	server = SPF_server_new_dns(&layer, 0);
	if (server == NULL)
		log_panic("spf: out of memory");
	/* No default explanation: only a record's exp= gives one. */
	if (SPF_server_set_explanation(server, "", &scratch) != SPF_E_SUCCESS)
		log_panic("spf: cannot clear the default explanation");
	SPF_response_free(scratch);
	SPF_server_set_sanitize(server, 1);
	SPF_server_set_max_dns_mech(server, SPF_MAX_DNS_TERMS);
	SPF_server_set_max_dns_mx(server, SPF_MAX_FOLLOW);
	SPF_server_set_max_dns_ptr(server, SPF_MAX_FOLLOW);

	req = SPF_request_new(server);
	if (req == NULL)
		log_panic("spf: out of memory");
	ev->request = req;
	/* RFC 7208 §5: an IPv4-mapped IPv6 client is an IPv4 client.
	 * addr_parse() stores it so already; a hand-made addr may not. */
	ev->client = p->client;
	if (ev->client.family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ev->client.u.v6)) {
		struct in_addr v4;

		memcpy(&v4, &ev->client.u.v6.s6_addr[12], sizeof(v4));
		ev->client.family = AF_INET;
		ev->client.u.v4 = v4;
	}
	if (ev->client.family == AF_INET)
		SPF_request_set_ipv4(req, ev->client.u.v4);
	else
		SPF_request_set_ipv6(req, ev->client.u.v6);
	ev->sender = env_from;
	ev->local = local;
	ev->sender_domain = domain;
	ev->helo = p->helo && p->helo[0] ? p->helo : "unknown";
	/* env_from first: set_helo_dom() would otherwise make one up. */
	if (SPF_request_set_env_from(req, env_from) != 0 ||
	    SPF_request_set_helo_dom(req, ev->helo) != 0)
		log_panic("spf: out of memory");

	/* SPF_request_query_mailfrom() less its pass for loopback clients,
	 * which RFC 7208 does not have. */
	resp = SPF_response_new(req);
	if (resp == NULL)
		log_panic("spf: out of memory");
	req->cur_dom = domain;
	if (SPF_server_get_record(server, req, resp, &record) == SPF_E_SUCCESS) {
		resp->spf_record_exp = record;
		SPF_record_interpret(record, req, resp, 0);
		SPF_record_free(record);
		resp->spf_record_exp = NULL;
	}
	req->cur_dom = NULL;

	spf_finish_outcome(ev, req, resp, a, out);
	SPF_response_free(resp);
	SPF_request_free(req);
	SPF_server_free(server);
	ev->request = NULL;
}

/* Always 0: every failure is an outcome.  Reasons are static text or in a. */
int spf_evaluate(struct dns *dns, const struct spf_params *p, struct arena *a,
		 struct spf_outcome *out)
{
	struct spf_eval ev = {.dns = dns, .lookup_timeout_ms = p->lookup_timeout_ms};
	const char *identity = p->scope == SPF_SCOPE_HELO ? NULL : p->sender;
	const char *at;
	char *domain = NULL, *local = NULL, *env_from = NULL;

	memset(out, 0, sizeof(*out));
	out->scope = p->scope;
	out->result = SPF_NONE;
	ev.deadline = spf_now_ms() + (p->deadline_ms ? p->deadline_ms : SPF_DEFAULT_DEADLINE);

	/* RFC 7208 §2.3, §2.4: HELO checks, and MAIL FROM checks of the null
	 * sender, check postmaster@<HELO>. */
	if (identity == NULL || identity[0] == '\0') {
		domain = spf_domain_copy(p->helo ? p->helo : "");
		if (!domain_valid(domain, DOMAIN_HOSTLIKE)) {
			out->reason = p->scope == SPF_SCOPE_HELO
					  ? "HELO is not a domain name"
					  : "null sender, HELO is not a domain name";
			goto done;
		}
	} else {
		if (strlen(identity) > SPF_MAX_SENDER) {
			out->reason = "malformed sender";
			goto done;
		}
		at = strrchr(identity, '@');
		domain = spf_domain_copy(at ? at + 1 : identity);
		/* RFC 7208 §4.3: no local-part means "postmaster". */
		if (at != NULL && at != identity)
			local = xstrndup(identity, (size_t)(at - identity));
		if (!domain_valid(domain, DOMAIN_HOSTLIKE)) {
			out->reason = "malformed sender domain";
			goto done;
		}
	}
	if (p->client.family != AF_INET && p->client.family != AF_INET6) {
		out->reason = "client address unknown";
		goto done;
	}
	out->domain = arena_strdup(a, domain);
	env_from = xasprintf("%s@%s", local ? local : "postmaster", domain);
	spf_run(&ev, p, domain, local ? local : "postmaster", env_from, a, out);

done:
	out->dns_queries = ev.terms;
	out->void_lookups = ev.voids;
	log_debug("spf: %s %s: %s (%s; %u terms, %u void)", spf_scope_name(p->scope),
		  out->domain ? out->domain : "-", spf_result_name(out->result),
		  out->reason ? out->reason : "", out->dns_queries, out->void_lookups);
	spf_follow_clear(&ev);
	xfree(&ev.exp_domain);
	xfree(&ev.exp_text);
	xfree(&ev.validated);
	free(domain);
	free(local);
	free(env_from);
	return 0;
}

/*
 * The checks started with spf_start() run on a pool of worker threads:
 * creating two threads per message (MAIL FROM and HELO) cost more than the
 * evaluations themselves with a warm cache.  A check waits in the queue
 * only when every worker is busy and the pool is at SPF_POOL_MAX; a worker
 * idle for SPF_POOL_IDLE_S exits, so a burst does not keep its threads.
 * A check abandoned by spf_cancel() while it runs is freed by its worker.
 */
#define SPF_POOL_MAX 64
#define SPF_POOL_IDLE_S 30

enum spf_check_state { CHECK_QUEUED, CHECK_RUNNING, CHECK_DONE };

struct spf_check {
	struct spf_check *next; /* in the pool's queue */
	enum spf_check_state state;
	int abandoned;		/* spf_cancel() while running: the worker frees it */
	pthread_cond_t done;	/* signalled when state becomes CHECK_DONE */
	struct dns *dns;
	struct spf_params params;
	char *helo, *sender; /* the params' copies */
	struct arena *arena; /* the outcome's strings until spf_finish() */
	struct spf_outcome out;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct spf_check *head, *tail;
	unsigned queued;       /* checks in the queue, not yet taken by a worker */
	unsigned threads, idle; /* idle: waiting for work (a signalled one still counts) */
} spf_pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};

static void spf_check_release(struct spf_check *c)
{
	pthread_cond_destroy(&c->done);
	arena_free(&c->arena);
	free(c->helo);
	free(c->sender);
	free(c);
}

static void *spf_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&spf_pool.lock);
	for (;;) {
		struct spf_check *c;
		struct timespec until;
		int err;

		while (spf_pool.head == NULL) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += SPF_POOL_IDLE_S;
			spf_pool.idle++;
			err = pthread_cond_timedwait(&spf_pool.work, &spf_pool.lock, &until);
			spf_pool.idle--;
			if (err == ETIMEDOUT && spf_pool.head == NULL) {
				spf_pool.threads--;
				pthread_mutex_unlock(&spf_pool.lock);
				return NULL;
			}
		}
		c = spf_pool.head;
		if ((spf_pool.head = c->next) == NULL)
			spf_pool.tail = NULL;
		spf_pool.queued--;
		c->state = CHECK_RUNNING;
		pthread_mutex_unlock(&spf_pool.lock);

		spf_evaluate(c->dns, &c->params, c->arena, &c->out);

		pthread_mutex_lock(&spf_pool.lock);
		c->state = CHECK_DONE;
		if (c->abandoned)
			spf_check_release(c);
		else
			pthread_cond_signal(&c->done);
	}
}

static void spf_pool_unqueue_locked(struct spf_check *c)
{
	struct spf_check *prev = NULL;

	for (struct spf_check **p = &spf_pool.head; *p != NULL; prev = *p, p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			if (spf_pool.tail == c)
				spf_pool.tail = prev;
			spf_pool.queued--;
			return;
		}
	}
}

/* Queue c; start a worker when none is idle.  Returns -1 when the check
 * must run inline (no worker exists and none can be started). */
static int spf_pool_submit(struct spf_check *c)
{
	int start, err = 0;
	pthread_t thread;
	pthread_attr_t attr;

	pthread_mutex_lock(&spf_pool.lock);
	c->state = CHECK_QUEUED;
	if (spf_pool.tail != NULL)
		spf_pool.tail->next = c;
	else
		spf_pool.head = c;
	spf_pool.tail = c;
	spf_pool.queued++;
	/* A worker woken for an earlier check still counts as idle until it
	 * runs: compare the whole queue with the idle workers, or a burst of
	 * checks would all wait for the few workers that were idle. */
	start = spf_pool.queued > spf_pool.idle && spf_pool.threads < SPF_POOL_MAX;
	if (start)
		spf_pool.threads++;
	else
		pthread_cond_signal(&spf_pool.work);
	pthread_mutex_unlock(&spf_pool.lock);
	if (!start)
		return 0;

	if ((err = pthread_attr_init(&attr)) == 0) {
		pthread_attr_setstacksize(&attr, SPF_THREAD_STACK);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&thread, &attr, spf_worker, NULL);
		pthread_attr_destroy(&attr);
	}
	if (err == 0)
		return 0;
	log_warn("spf: cannot start a worker thread: %s", strerror(err));
	pthread_mutex_lock(&spf_pool.lock);
	spf_pool.threads--;
	if (spf_pool.threads > 0) {
		pthread_mutex_unlock(&spf_pool.lock); /* a running worker will take it */
		return 0;
	}
	spf_pool_unqueue_locked(c); /* no worker at all: the caller runs it */
	pthread_mutex_unlock(&spf_pool.lock);
	return -1;
}

struct spf_check *spf_start(struct dns *dns, const struct spf_params *p)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	c->dns = dns;
	c->params = *p;
	c->helo = p->helo ? xstrdup(p->helo) : NULL;
	c->sender = p->sender ? xstrdup(p->sender) : NULL;
	c->params.helo = c->helo;
	c->params.sender = c->sender;
	c->arena = arena_new(1024);
	pthread_cond_init(&c->done, NULL);
	/* RFC 7208 §2.3 recommends "v=spf1 a -all" for a HELO name: its
	 * address record is asked beside the TXT record, not after it. */
	if (p->scope == SPF_SCOPE_HELO && p->helo != NULL && p->helo[0] != '\0' &&
	    p->client.family != 0)
		dns_prefetch(dns, p->helo, p->client.family == AF_INET ? DNS_T_A : DNS_T_AAAA);

	if (spf_pool_submit(c) < 0) {
		spf_evaluate(c->dns, &c->params, c->arena, &c->out);
		c->state = CHECK_DONE;
	}
	return c;
}

void spf_finish(struct spf_check **cp, struct arena *a, struct spf_outcome *out)
{
	struct spf_check *c = *cp;

	if (c == NULL)
		log_panic("spf_finish: no check");
	pthread_mutex_lock(&spf_pool.lock);
	while (c->state != CHECK_DONE)
		pthread_cond_wait(&c->done, &spf_pool.lock);
	pthread_mutex_unlock(&spf_pool.lock);
	*out = c->out;
	out->domain = arena_strdup(a, c->out.domain);
	out->reason = arena_strdup(a, c->out.reason);
	out->explanation = arena_strdup(a, c->out.explanation);
	spf_check_release(c);
	*cp = NULL;
}

int spf_pool_quiet(void)
{
	int quiet;

	pthread_mutex_lock(&spf_pool.lock);
	quiet = spf_pool.queued == 0 && spf_pool.idle == spf_pool.threads;
	pthread_mutex_unlock(&spf_pool.lock);
	return quiet;
}

void spf_cancel(struct spf_check **cp)
{
	struct spf_check *c = *cp;
	int release = 1;

	if (c == NULL)
		return;
	pthread_mutex_lock(&spf_pool.lock);
	if (c->state == CHECK_QUEUED) {
		spf_pool_unqueue_locked(c); /* never started */
	} else if (c->state == CHECK_RUNNING) {
		c->abandoned = 1;
		release = 0;
	}
	pthread_mutex_unlock(&spf_pool.lock);
	if (release)
		spf_check_release(c);
	*cp = NULL;
}

/*
 * dmarc - RFC 9989 policy discovery, record parsing and evaluation (see
 * dmarc.h).  Section numbers are RFC 9989's (= draft-ietf-dmarc-dmarcbis-41).
 *
 * Why not libopendmarc's parser: 1.4.2's opendmarc_policy_store_dmarc()
 * (checked in dmarc_test.c) rejects a whole record for one bad value in any
 * tag, historic ones too ("p=reject; ri=abc" is an error, so the domain's
 * reject would become "no policy"), where §4.8 says such syntax errors fall
 * back to defaults; it refuses a missing p= even with a valid rua= (§4.10.1:
 * act as p=none); it takes "v=dmarc1" and "p=reject; v=DMARC1" (§4.7: the
 * value is case-sensitive and v must come first); and it knows no psd, np or
 * t.  The tag-value grammar is small, so it is parsed here, against §4.8.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dmarc.h"
#include "log.h"
#include "mem.h"
#include "metrics_dns.h"

#define DMARC_WALK_MAX 8 /* §4.10: at most eight queries */
#define DMARC_SKIP_TO  7 /* §4.10 step 4: long names are cut to 7 labels */
/* The size cap on a record we parse: what one TXT RR can hold.  Its RDATA
 * has a 16-bit length (RFC 1035 §3.2.1), and dns.c joins its strings with no
 * cap of its own, so a record from DNS never exceeds this: any record DNS
 * delivers is parsed.  Only longer text (not from DNS) is refused. */
#define DMARC_RECORD_MAX 65535
#define DMARC_DOMAIN_MAX 253
#define DMARC_REASON_MAX 1024

struct dmarc_discovery {
	char *domain;			   /* lower case, no trailing dot; NULL if invalid */
	const char *invalid;		   /* why domain is not usable, or NULL */
	unsigned nnames;		   /* names walked, longest first */
	const char *names[DMARC_WALK_MAX]; /* point into domain */
	unsigned labels[DMARC_WALK_MAX];
	struct dns_query *q[DMARC_WALK_MAX];
	struct dns_query *exists_q; /* NULL for an org-domain-only walk */
};

/* ---- record parsing (§4.7, §4.8) ---- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* dmarc-value = %x20-3A / %x3C-7E: anything else is a syntax error. */
static int value_chars_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c > 0x7e || c == ';')
			return 0;
	}
	return n > 0;
}

static int word_is(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(v, word, n) == 0;
}

/* The parse state of the tags whose errors matter (§4.10.1). */
enum tag_state { TAG_ABSENT, TAG_OK, TAG_BAD };

struct parse_state {
	struct dmarc_record *r;
	struct arena *a;
	enum tag_state p, sp, np;
	int rua_valid; /* at least one syntactically valid URI */
};

static int parse_request(const char *v, size_t n, enum dmarc_policy *out)
{
	static const struct {
		const char *word;
		enum dmarc_policy policy;
	} requests[] = {
	    {"none", DMARC_POLICY_NONE},
	    {"quarantine", DMARC_POLICY_QUARANTINE},
	    {"reject", DMARC_POLICY_REJECT},
	};

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		if (word_is(v, n, requests[i].word)) {
			*out = requests[i].policy;
			return 0;
		}
	return -1;
}

static void tag_p(struct parse_state *st, const char *v, size_t n)
{
	st->p = parse_request(v, n, &st->r->p) == 0 ? TAG_OK : TAG_BAD;
}

static void tag_sp(struct parse_state *st, const char *v, size_t n)
{
	st->sp = parse_request(v, n, &st->r->sp) == 0 ? TAG_OK : TAG_BAD;
}

static void tag_np(struct parse_state *st, const char *v, size_t n)
{
	st->np = parse_request(v, n, &st->r->np) == 0 ? TAG_OK : TAG_BAD;
}

/* dmarc-rors; a bad value keeps the default, relaxed (§4.8). */
static void tag_adkim(struct parse_state *st, const char *v, size_t n)
{
	if (word_is(v, n, "s"))
		st->r->adkim_strict = 1;
}

static void tag_aspf(struct parse_state *st, const char *v, size_t n)
{
	if (word_is(v, n, "s"))
		st->r->aspf_strict = 1;
}

static void tag_t(struct parse_state *st, const char *v, size_t n)
{
	if (word_is(v, n, "y"))
		st->r->testing = 1;
}

/* dmarc-psd: y, n or u (the default, as is any bad value). */
static void tag_psd(struct parse_state *st, const char *v, size_t n)
{
	if (word_is(v, n, "y"))
		st->r->psd = 1;
	else if (word_is(v, n, "n"))
		st->r->psd = 0;
}

/* A URI (RFC 3986 scheme ":" something) with an optional obsolete "!size"
 * (§4.8 obs-dmarc-report-size).  Only its syntax is checked here. */
static int uri_valid(const char *u, size_t n)
{
	const char *bang = memchr(u, '!', n);
	size_t i;

	if (bang != NULL) {
		size_t k = (size_t)(bang - u) + 1, digits = 0;

		while (k < n && isdigit((unsigned char)u[k]))
			k++, digits++;
		if (k < n && strchr("kmgtKMGT", u[k]) != NULL)
			k++;
		if (digits == 0 || k != n)
			return 0;
		n = (size_t)(bang - u);
	}
	if (n == 0 || !isalpha((unsigned char)u[0]))
		return 0;
	for (i = 1; i < n && u[i] != ':'; i++)
		if (!isalnum((unsigned char)u[i]) && u[i] != '+' && u[i] != '-' && u[i] != '.')
			return 0;
	if (i >= n - 1) /* no ':' or nothing after it */
		return 0;
	for (i++; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == ',')
			return 0;
	return 1;
}

/* Every URI is checked (one valid URI keeps the record, §4.10.1), but rua
 * keeps only the first whole ones that fit the bounds of dmarc.h: the list
 * may be as long as the record and is only used for reports. */
static void tag_rua(struct parse_state *st, const char *v, size_t n)
{
	const char *p = v, *end = v + n;
	size_t keep = 0;
	unsigned uris = 0;
	int full = 0;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma != NULL ? comma : end;
		const char *s = p;

		while (s < e && is_wsp(*s))
			s++;
		while (e > s && is_wsp(e[-1]))
			e--;
		if (uri_valid(s, (size_t)(e - s)))
			st->rua_valid = 1;
		if (e > s && !full) {
			full = uris == DMARC_RUA_URIS_MAX || (size_t)(e - v) > DMARC_RUA_LEN_MAX;
			if (!full) {
				keep = (size_t)(e - v);
				uris++;
			}
		}
		p = comma != NULL ? comma + 1 : end;
	}
	st->r->rua = keep > 0 ? arena_strndup(st->a, v, keep) : NULL;
}

/* The tags we act on (§4.7, Table 2); ruf and fo are for failure reports,
 * pct, rf and ri are historic (§9.3): all ignored, as unknown tags are. */
static const struct dmarc_tag {
	const char *name;
	void (*parse)(struct parse_state *st, const char *v, size_t n);
} dmarc_tags[] = {
    {"p", tag_p},	{"sp", tag_sp}, {"np", tag_np},	  {"adkim", tag_adkim},
    {"aspf", tag_aspf}, {"t", tag_t},	{"psd", tag_psd}, {"rua", tag_rua},
};

#define DMARC_NTAGS (sizeof(dmarc_tags) / sizeof(dmarc_tags[0]))

/* dmarc-version = "v" equals %s"DMARC1", first, then a separator or the
 * end.  Returns the position after it, or NULL. */
static const char *skip_version(const char *p, const char *end)
{
	if (p >= end || (*p != 'v' && *p != 'V'))
		return NULL;
	for (p++; p < end && is_wsp(*p); p++)
		;
	if (p >= end || *p != '=')
		return NULL;
	for (p++; p < end && is_wsp(*p); p++)
		;
	if ((size_t)(end - p) < 6 || memcmp(p, "DMARC1", 6) != 0)
		return NULL;
	p += 6;
	while (p < end && is_wsp(*p))
		p++;
	if (p < end && *p != ';')
		return NULL;
	return p;
}

static void parse_tag(struct parse_state *st, const char *s, const char *e, unsigned *seen)
{
	const char *name = s, *v;
	size_t name_len;

	while (s < e && isalpha((unsigned char)*s))
		s++;
	name_len = (size_t)(s - name);
	while (s < e && is_wsp(*s))
		s++;
	if (name_len == 0 || s >= e || *s != '=')
		return; /* not a tag: a syntax error, ignored (§4.8) */
	for (s++; s < e && is_wsp(*s); s++)
		;
	v = s;
	for (size_t i = 0; i < DMARC_NTAGS; i++) {
		if (!word_is(name, name_len, dmarc_tags[i].name))
			continue;
		/* A repeated tag: the first one counts. */
		if ((*seen & (1u << i)) != 0)
			return;
		*seen |= 1u << i;
		if (value_chars_ok(v, (size_t)(e - v)))
			dmarc_tags[i].parse(st, v, (size_t)(e - v));
		else if (dmarc_tags[i].parse == tag_p || dmarc_tags[i].parse == tag_sp ||
			 dmarc_tags[i].parse == tag_np)
			dmarc_tags[i].parse(st, "", 0); /* marks it bad */
		return;
	}
}

int dmarc_record_parse(const char *text, size_t len, struct arena *a, struct dmarc_record *out)
{
	struct parse_state st = {.r = out, .a = a};
	const char *p, *end = text + len;
	unsigned seen = 0;

	p = skip_version(text, end);
	if (p == NULL)
		return -1;
	out->p = out->sp = out->np = DMARC_POLICY_UNSET;
	out->adkim_strict = out->aspf_strict = out->testing = 0;
	out->psd = -1;
	out->rua = NULL;
	out->invalid = NULL;
	out->raw = arena_strndup(a, text, len > DMARC_RECORD_MAX ? DMARC_RECORD_MAX : len);
	if (len > DMARC_RECORD_MAX) { /* not from DNS: see DMARC_RECORD_MAX */
		out->invalid = arena_printf(a, "record longer than %d bytes", DMARC_RECORD_MAX);
		return 0;
	}
	while (p < end) {
		const char *semi, *s, *e;

		p++; /* the ';' */
		semi = memchr(p, ';', (size_t)(end - p));
		e = semi != NULL ? semi : end;
		for (s = p; s < e && is_wsp(*s); s++)
			;
		while (e > s && is_wsp(e[-1]))
			e--;
		if (s < e)
			parse_tag(&st, s, e, &seen);
		p = semi != NULL ? semi : end;
	}

	/* §4.10.1: no valid p, or a bad sp or np: p=none when rua= has a
	 * valid URI, else the record cannot be applied. */
	if (st.p != TAG_OK || st.sp == TAG_BAD || st.np == TAG_BAD) {
		const char *what = st.p == TAG_ABSENT ? "no p="
				   : st.p == TAG_BAD  ? "an invalid p="
				   : st.sp == TAG_BAD ? "an invalid sp="
						      : "an invalid np=";

		if (st.rua_valid) {
			out->p = DMARC_POLICY_NONE;
			out->sp = out->np = DMARC_POLICY_UNSET;
		} else {
			out->p = out->sp = out->np = DMARC_POLICY_UNSET;
			out->invalid = arena_printf(a, "record has %s and no valid rua=", what);
		}
	}
	return 0;
}

/* ---- discovery (§4.10) ---- */

static unsigned count_labels(const char *d)
{
	unsigned n = 1;

	for (; *d != '\0'; d++)
		if (*d == '.')
			n++;
	return n;
}

/* The name made of the last `keep` labels of d. */
static const char *last_labels(const char *d, unsigned keep)
{
	unsigned n = count_labels(d);

	while (n > keep) {
		d = strchr(d, '.') + 1;
		n--;
	}
	return d;
}

static const char *domain_check(const char *d)
{
	size_t len = strlen(d);

	if (len == 0)
		return "empty domain";
	if (len > DMARC_DOMAIN_MAX)
		return "domain longer than 253 characters";
	if (d[0] == '.' || strstr(d, "..") != NULL || d[len - 1] == '.')
		return "domain with an empty label";
	for (const char *p = d; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p >= 0x7f)
			return "domain with a space, control or 8-bit character";
	return NULL;
}

static struct dmarc_discovery *discover_start(struct dns *dns, const char *domain,
					      unsigned timeout_ms, int want_existence)
{
	struct dmarc_discovery *d = xcalloc(1, sizeof(*d));
	size_t len = domain != NULL ? strlen(domain) : 0;
	unsigned x;

	d->domain = xstrdup(domain != NULL ? domain : "");
	if (len > 0 && d->domain[len - 1] == '.')
		d->domain[len - 1] = '\0';
	for (char *p = d->domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	d->invalid = domain_check(d->domain);
	if (d->invalid != NULL)
		return d;

	/* §4.10 steps 1-7: the domain itself; then, below 8 labels, its
	 * parent, at 8 or more the name cut to 7 labels; then one label less
	 * each time down to the last label.  At most 8 names. */
	x = count_labels(d->domain);
	d->names[0] = d->domain;
	d->labels[0] = x;
	d->nnames = 1;
	for (unsigned n = x > DMARC_SKIP_TO ? DMARC_SKIP_TO : x - 1; n >= 1; n--) {
		d->names[d->nnames] = last_labels(d->domain, n);
		d->labels[d->nnames] = n;
		d->nnames++;
	}
	if (d->nnames > DMARC_WALK_MAX)
		log_panic("dmarc: tree walk of %s has %u names", d->domain, d->nnames);

	/* Every query at once: one round trip, not up to eight in a row. */
	for (unsigned i = 0; i < d->nnames; i++) {
		char name[DMARC_DOMAIN_MAX + 8];

		snprintf(name, sizeof(name), "_dmarc.%s", d->names[i]);
		d->q[i] = dns_start(dns, name, DNS_T_TXT, timeout_ms);
	}
	/* §3.2.13, A.4: non-existent = NXDOMAIN; any type tells. */
	if (want_existence)
		d->exists_q = dns_start(dns, d->domain, DNS_T_A, timeout_ms);
	return d;
}

struct dmarc_discovery *dmarc_discover_start(struct dns *dns, const char *domain,
					     unsigned timeout_ms)
{
	return discover_start(dns, domain, timeout_ms, 1);
}

struct dmarc_discovery *dmarc_orgdomain_start(struct dns *dns, const char *domain,
					      unsigned timeout_ms)
{
	return discover_start(dns, domain, timeout_ms, 0);
}

void dmarc_discover_cancel(struct dmarc_discovery **dp)
{
	struct dmarc_discovery *d = *dp;

	if (d == NULL)
		return;
	for (unsigned i = 0; i < d->nnames; i++)
		dns_query_free(&d->q[i]);
	dns_query_free(&d->exists_q);
	xfree(&d->domain);
	xfree(dp);
}

/* §4.10 steps 2/6: the one record at a name that starts with v=DMARC1.
 * Returns 1 and fills *r, 0 when there is none, -2 when several (all
 * discarded). */
static int record_at(const struct dns_answer *ans, struct arena *a, struct dmarc_record *r)
{
	struct dmarc_record tmp;
	int found = 0;

	if (ans->status != DNS_OK)
		return 0;
	for (size_t i = 0; i < ans->count; i++) {
		memset(&tmp, 0, sizeof(tmp));
		if (dmarc_record_parse(ans->rr[i].u.text, ans->rr[i].len, a, &tmp) != 0)
			continue;
		if (found++ == 0)
			*r = tmp;
	}
	return found > 1 ? -2 : found;
}

static void copy_record_fields(struct dmarc_record *out, const struct dmarc_record *r)
{
	out->p = r->p;
	out->sp = r->sp;
	out->np = r->np;
	out->adkim_strict = r->adkim_strict;
	out->aspf_strict = r->aspf_strict;
	out->testing = r->testing;
	out->psd = r->psd;
	out->rua = r->rua;
	out->raw = r->raw;
	out->invalid = r->invalid;
}

/* The answers in walk order, into recs[] and have[], up to a psd=y/psd=n
 * stop (§4.10 steps 2 and 6; *stop gets its index) or the first temporary
 * failure, whose index it returns: past it, nothing is known.  -1 for none. */
static int read_answers(struct dmarc_discovery *d, struct arena *a, struct dmarc_record *recs,
			int *have, int *stop, const char **note)
{
	for (unsigned i = 0; i < d->nnames; i++) {
		const struct dns_answer *ans = dns_wait(d->q[i]);
		int n;

		metrics_dns(METRICS_DNS_DMARC, NULL, ans->status, ans->timed_out);

		if (ans->status == DNS_TEMPFAIL) {
			*note =
			    arena_printf(a, "DNS temporary failure at _dmarc.%s (%s)", d->names[i],
					 ans->why != NULL ? ans->why : "no reason given");
			return (int)i;
		}
		memset(&recs[i], 0, sizeof(recs[i]));
		n = record_at(ans, a, &recs[i]);
		if (n == -2 && *note == NULL)
			*note = arena_printf(a, "several DMARC records at _dmarc.%s, all ignored",
					     d->names[i]);
		have[i] = n == 1;
		if (have[i] && recs[i].psd >= 0) {
			*stop = (int)i;
			break;
		}
	}
	return -1;
}

/* §4.10.2: longest to shortest, psd=n is the Organizational Domain; psd=y
 * (not at the start) makes it the name one label below (*psd_at gets its
 * index); otherwise the record with the fewest labels; with no record, the
 * domain itself. */
static const char *org_domain(const struct dmarc_discovery *d, const struct dmarc_record *recs,
			      const int *have, unsigned last, int *psd_at)
{
	const char *org = NULL;
	int fewest = -1;

	for (unsigned i = 0; i <= last && org == NULL; i++) {
		if (!have[i])
			continue;
		if (recs[i].psd == 0)
			org = d->names[i];
		else if (recs[i].psd == 1 && i != 0) {
			*psd_at = (int)i;
			org = last_labels(d->domain, d->labels[i] + 1);
		} else
			fewest = (int)i;
	}
	if (org == NULL)
		org = fewest >= 0 ? d->names[fewest] : d->domain;
	return org;
}

/* §4.10.1: the index of the Author Domain's record, else the Organizational
 * Domain's, else the Public Suffix Domain's; -1 for none. */
static int policy_record(const struct dmarc_discovery *d, const int *have, unsigned last,
			 const char *org, int psd_at)
{
	if (have[0])
		return 0;
	for (unsigned i = 1; i <= last; i++)
		if (have[i] && strcmp(d->names[i], org) == 0)
			return (int)i;
	return psd_at;
}

/* §3.2.13: non-existent means NXDOMAIN.  If that query failed, an answer at
 * _dmarc.<domain> other than NXDOMAIN still proves the domain exists (RFC
 * 8020).  1, 0, or -1 for unknown. */
static int domain_exists(struct dmarc_discovery *d)
{
	const struct dns_answer *ans = dns_wait(d->exists_q);
	const struct dns_answer *own = dns_wait(d->q[0]);

	metrics_dns(METRICS_DNS_DMARC, NULL, ans->status, ans->timed_out);

	if (ans->status == DNS_NXDOMAIN)
		return 0;
	if (ans->status != DNS_TEMPFAIL)
		return 1;
	if (own->status == DNS_OK || own->status == DNS_NODATA)
		return 1;
	return -1;
}

void dmarc_discover_finish(struct dmarc_discovery **dp, struct arena *a, struct dmarc_record *out)
{
	struct dmarc_discovery *d = *dp;
	struct dmarc_record recs[DMARC_WALK_MAX];
	int have[DMARC_WALK_MAX] = {0};
	int stop = -1, tempfail, psd_at = -1, policy_at;
	const char *org = NULL, *note = NULL;
	unsigned last;

	memset(out, 0, sizeof(*out));
	out->psd = -1;
	out->domain_exists = -1;
	if (d == NULL)
		log_panic("dmarc_discover_finish: no discovery");
	if (d->invalid != NULL) {
		out->error = DMARC_PERMERROR;
		out->why = arena_printf(a, "Author Domain \"%s\": %s", d->domain, d->invalid);
		goto done;
	}
	out->queries = d->nnames;

	tempfail = read_answers(d, a, recs, have, &stop, &note);
	last = tempfail >= 0 ? (unsigned)tempfail : stop >= 0 ? (unsigned)stop : d->nnames - 1;

	/* The policy depends on every name up to the stop unless the Author
	 * Domain has its own record (§4.10.1). */
	if (tempfail == 0 || (tempfail > 0 && !have[0])) {
		out->error = DMARC_TEMPERROR;
		out->why = note;
		goto done;
	}
	if (tempfail < 0) {
		org = org_domain(d, recs, have, last, &psd_at);
		out->org_domain = arena_strdup(a, org);
	}
	policy_at = policy_record(d, have, last, org, psd_at);
	if (policy_at >= 0) {
		out->found = 1;
		out->record_domain = arena_strdup(a, d->names[policy_at]);
		copy_record_fields(out, &recs[policy_at]);
		if (out->invalid != NULL) {
			out->error = DMARC_PERMERROR;
			note = arena_printf(a, "DMARC record at _dmarc.%s: %s", d->names[policy_at],
					    out->invalid);
		}
	}
	out->why = note;
	if (d->exists_q != NULL)
		out->domain_exists = domain_exists(d);
done:
	dmarc_discover_cancel(dp);
}

/* ---- evaluation (§4.4, §4.10.1, §5.3) ---- */

enum align { ALIGN_NO, ALIGN_YES, ALIGN_UNKNOWN };

/* §4.4, §3.2.10: strict = identical (case-insensitive, RFC 4343); relaxed =
 * the same Organizational Domain.  *how gets the words for the reason. */
static enum align align_domain(const char *id, const char *id_org, const char *author,
			       const char *author_org, int strict, struct arena *a,
			       const char **how)
{
	if (strcasecmp(id, author) == 0) {
		*how = strict ? "strict" : "relaxed: identical";
		return ALIGN_YES;
	}
	if (strict) {
		*how = "strict";
		return ALIGN_NO;
	}
	if (author_org == NULL || id_org == NULL) {
		*how = arena_printf(a, "relaxed: Organizational Domain of %s unknown",
				    author_org == NULL ? author : id);
		return ALIGN_UNKNOWN;
	}
	if (strcasecmp(id_org, author_org) == 0) {
		*how = arena_printf(a, "relaxed: %s and %s share %s", id, author, author_org);
		return ALIGN_YES;
	}
	*how =
	    arena_printf(a, "relaxed: %s is under %s, %s under %s", id, id_org, author, author_org);
	return ALIGN_NO;
}

static enum dmarc_policy lower_one_step(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

/* §4.10.1 and the sp/np tags of §4.7: p for the record's own domain; for a
 * subdomain sp when it exists, np when it does not, each falling back (np
 * to sp to p).  Returns UNSET when existence is unknown and matters. */
static enum dmarc_policy policy_for(const struct dmarc_record *r, const char *author,
				    const char **which)
{
	enum dmarc_policy sp_eff, np_eff;

	if (strcasecmp(author, r->record_domain) == 0) {
		*which = "p";
		return r->p;
	}
	sp_eff = r->sp != DMARC_POLICY_UNSET ? r->sp : r->p;
	np_eff = r->np != DMARC_POLICY_UNSET ? r->np : sp_eff;
	if (r->domain_exists == 0) {
		*which = r->np != DMARC_POLICY_UNSET   ? "np"
			 : r->sp != DMARC_POLICY_UNSET ? "sp"
						       : "p";
		return np_eff;
	}
	*which = r->sp != DMARC_POLICY_UNSET ? "sp" : "p";
	if (r->domain_exists == 1 || sp_eff == np_eff)
		return sp_eff;
	return DMARC_POLICY_UNSET;
}

/* SPF: the MAIL FROM identity only, and only a pass (§4.4.2).  Sets
 * out->spf_aligned, writes the words for the reason; 1 if alignment could
 * not be decided. */
static int spf_alignment(const struct dmarc_inputs *in, struct arena *a, struct dmarc_outcome *out,
			 struct buf *why)
{
	const struct dmarc_record *r = in->record;
	const char *author = in->author_domain;
	const char *how;
	enum align al;

	if (in->spf_mfrom == NULL || in->spf_mfrom->scope != SPF_SCOPE_MFROM) {
		buf_puts(why, "no SPF result for MAIL FROM");
		return 0;
	}
	if (in->spf_mfrom->result != SPF_PASS || in->spf_mfrom->domain == NULL) {
		buf_printf(why, "SPF %s for %s", spf_result_name(in->spf_mfrom->result),
			   in->spf_mfrom->domain != NULL ? in->spf_mfrom->domain : "(none)");
		return 0;
	}
	al = align_domain(in->spf_mfrom->domain, in->spf_org_domain, author, r->org_domain,
			  r->aspf_strict, a, &how);
	out->spf_aligned = al == ALIGN_YES;
	buf_printf(why, "SPF %s %s (%s)", al == ALIGN_YES ? "aligned" : "domain",
		   in->spf_mfrom->domain,
		   al == ALIGN_YES ? how : arena_printf(a, "not aligned with %s, %s", author, how));
	return al == ALIGN_UNKNOWN;
}

/* DKIM: any passing signature's d= (§4.4.1).  Sets out->dkim_aligned and
 * its domain, writes the words for the reason; 1 if the alignment of one
 * could not be decided. */
static int dkim_alignment(const struct dmarc_inputs *in, struct arena *a, struct dmarc_outcome *out,
			  struct buf *why)
{
	const struct dmarc_record *r = in->record;
	const char *author = in->author_domain;
	int unknown = 0;

	if (in->dkim == NULL || in->dkim->count == 0)
		buf_puts(why, "; no DKIM signature");
	for (size_t i = 0; in->dkim != NULL && i < in->dkim->count; i++) {
		const struct dkim_sig *s = &in->dkim->sig[i];
		const char *d = s->domain != NULL ? s->domain : "(none)";
		const char *how;
		enum align al;

		if (s->result != DKIM_PASS || s->domain == NULL) {
			buf_printf(why, "; DKIM d=%s %s", d, dkim_result_name(s->result));
			continue;
		}
		al = align_domain(s->domain,
				  in->dkim_org_domains != NULL ? in->dkim_org_domains[i] : NULL,
				  author, r->org_domain, r->adkim_strict, a, &how);
		unknown |= al == ALIGN_UNKNOWN;
		if (al == ALIGN_YES && !out->dkim_aligned) {
			out->dkim_aligned = 1;
			out->dkim_aligned_domain = arena_strdup(a, s->domain);
		}
		buf_printf(why, "; DKIM d=%s %s (%s)", d, al == ALIGN_YES ? "aligned" : "passed",
			   al == ALIGN_YES
			       ? how
			       : arena_printf(a, "not aligned with %s, %s", author, how));
	}
	return unknown;
}

void dmarc_evaluate(const struct dmarc_inputs *in, struct arena *a, struct dmarc_outcome *out)
{
	const struct dmarc_record *r = in->record;
	const char *author = in->author_domain;
	const char *which = "p";
	struct buf why;
	int unknown = 0;

	memset(out, 0, sizeof(*out));
	out->header_from = author;
	if (r->error != DMARC_NONE) {
		out->result = r->error;
		out->reason = r->why != NULL ? r->why : "DMARC policy discovery failed";
		return;
	}
	if (!r->found) {
		out->result = DMARC_NONE;
		out->reason =
		    arena_printf(a, "no DMARC record for %s (RFC 9989 section 4.10.1)", author);
		return;
	}
	out->published = r->p;

	buf_init(&why, DMARC_REASON_MAX);

	unknown |= spf_alignment(in, a, out, &why);
	unknown |= dkim_alignment(in, a, out, &why);

	out->policy = policy_for(r, author, &which);
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_PASS;
	} else if (unknown) {
		/* §5.3.6: a query that did not complete: neither pass nor fail. */
		out->result = DMARC_TEMPERROR;
		buf_printf(&why, "; undecided: %s",
			   r->why != NULL ? r->why : "DNS temporary failure");
	} else if (out->policy == DMARC_POLICY_UNSET) {
		out->result = DMARC_TEMPERROR;
		buf_printf(&why,
			   "; whether %s exists is unknown (DNS temporary failure) and sp "
			   "and np differ",
			   author);
	} else {
		out->result = DMARC_FAIL;
	}
	/* §5.3.6: without a pass or fail the policy cannot be applied. */
	if (out->result == DMARC_TEMPERROR)
		out->policy = DMARC_POLICY_UNSET;
	if (out->policy != DMARC_POLICY_UNSET) {
		enum dmarc_policy before = out->policy;

		/* §4.7 t=y: one level below the policy. */
		if (r->testing)
			out->policy = lower_one_step(out->policy);
		buf_printf(&why, "; policy %s (%s= of %s", dmarc_policy_name(out->policy), which,
			   r->record_domain);
		if (out->policy != before)
			buf_printf(&why, ", lowered from %s by t=y", dmarc_policy_name(before));
		buf_puts(&why, ")");
	}
	if (out->result == DMARC_FAIL)
		out->reason = arena_printf(a, "no aligned identifier: %s", buf_str(&why));
	else
		out->reason = arena_strdup(a, buf_str(&why));
	buf_release(&why);
}

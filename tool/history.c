/*
 * history - explain, replay and stats over stored records (see history.h).
 *
 * One evaluation path for all three: eval_record() decodes the stored
 * facts, runs the ruleset with the header-reading rules skipped, and
 * applies the configuration's actions with verdict_decide(), exactly as
 * message.c does at end of message.  Counting by name (sending domains,
 * addresses, rule names, DNS lists) uses struct tally, a small
 * open-addressing table of malloc'd keys.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "history.h"
#include "mem.h"
#include "record_facts.h"
#include "utc.h"
#include "verdict.h"

#define NACTIONS    6
#define TOP_N	    10
#define OVERLAP_MAX 1024  /* rules: above this, no co-occurrence matrix */
#define LATENCY_MAX 10000 /* ms: one bucket per ms below, one above */

/* ------------------------------------------------------------------ tally */

struct tally_item {
	char *key;
	uint64_t n;
	void *data; /* per key, owned by the user of the tally */
};

struct tally {
	struct tally_item *items;
	size_t size, used;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct tally_item *tally_get(struct tally *t, const char *key)
{
	size_t i;

	if (t->used * 2 >= t->size) {
		struct tally old = *t;

		t->size = old.size == 0 ? 64 : old.size * 2;
		t->items = xcalloc(t->size, sizeof(*t->items));
		t->used = 0;
		for (size_t j = 0; j < old.size; j++)
			if (old.items[j].key != NULL) {
				i = hash_str(old.items[j].key) & (t->size - 1);
				while (t->items[i].key != NULL)
					i = (i + 1) & (t->size - 1);
				t->items[i] = old.items[j];
				t->used++;
			}
		free(old.items);
	}
	i = hash_str(key) & (t->size - 1);
	while (t->items[i].key != NULL && strcmp(t->items[i].key, key) != 0)
		i = (i + 1) & (t->size - 1);
	if (t->items[i].key == NULL) {
		t->items[i].key = xstrdup(key);
		t->used++;
	}
	return &t->items[i];
}

static uint64_t tally_count(const struct tally *t, const char *key)
{
	size_t i;

	if (t->size == 0)
		return 0;
	i = hash_str(key) & (t->size - 1);
	while (t->items[i].key != NULL && strcmp(t->items[i].key, key) != 0)
		i = (i + 1) & (t->size - 1);
	return t->items[i].key != NULL ? t->items[i].n : 0;
}

static void tally_add(struct tally *t, const char *key, uint64_t n)
{
	tally_get(t, key != NULL ? key : "(none)")->n += n;
}

static int item_cmp(const void *a, const void *b)
{
	const struct tally_item *x = *(const struct tally_item *const *)a;
	const struct tally_item *y = *(const struct tally_item *const *)b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The items, most counted first (ties by key); malloc'd, *n_r of them. */
static struct tally_item **tally_sorted(const struct tally *t, size_t *n_r)
{
	struct tally_item **v = xcalloc(t->used + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < t->size; i++)
		if (t->items[i].key != NULL)
			v[n++] = &t->items[i];
	qsort(v, n, sizeof(*v), item_cmp);
	*n_r = n;
	return v;
}

static void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->size; i++) {
		free(t->items[i].key);
		free(t->items[i].data);
	}
	free(t->items);
	memset(t, 0, sizeof(*t));
}

/* -------------------------------------------------------------- evaluate */

static int action_index(const char *name)
{
	for (int i = 0; i < NACTIONS; i++)
		if (name != NULL && strcmp(verdict_action_name((enum verdict_action)i), name) == 0)
			return i;
	return -1;
}

struct eval {
	struct facts f;
	struct rules_verdict rv;
	struct verdict v;
	unsigned char *matched; /* rules_count() flags */
};

/* Returns 0, or -1 with *error_r when the stored facts do not decode. */
static int name_in(const char *name, const char *const *names, size_t n);

/* Header contents are not stored: a rule that reads them (hdr[i]) is fixed
 * to what it did when the message came (its name among the stored hits),
 * and to "not matched" when it did not fire or did not exist then.  NULL
 * when the ruleset has no such rule. */
static const unsigned char *fixed_rules(const struct history_rules *hr, const unsigned char *hdr,
					const struct facts *f, struct arena *a)
{
	size_t n = rules_count(hr->rs);
	unsigned char *fixed = NULL;

	for (size_t i = 0; i < n; i++) {
		struct rules_rule rr;

		if (!hdr[i])
			continue;
		if (fixed == NULL)
			fixed = arena_alloc(a, n + 1);
		rules_rule(hr->rs, i, &rr);
		fixed[i] = name_in(rr.name, f->rules_hit, f->rules_hit_count) ||
				   name_in(rr.name, f->monitors_hit, f->monitors_hit_count)
			       ? RULES_FIXED_YES
			       : RULES_FIXED_NO;
	}
	return fixed;
}

/* facts: already decoded, or NULL to decode r->facts_json */
static int eval_record(const struct history_rules *hr, const unsigned char *skip,
		       const struct history_record *r, const struct facts *facts, struct arena *a,
		       struct eval *e, const char **error_r)
{
	size_t n = rules_count(hr->rs);

	memset(e, 0, sizeof(*e));
	if (facts != NULL)
		e->f = *facts;
	else if (r->facts_json == NULL)
		return *error_r = "the record has no facts (written before facts were stored)", -1;
	else if (record_facts_decode(r->facts_json, strlen(r->facts_json), a, &e->f, error_r) < 0)
		return -1;
	e->matched = arena_alloc(a, n + 1);
	memset(e->matched, 0, n + 1);
	/* e->f keeps the stored score and hits: verdict_decide reads rv */
	rules_evaluate_except(hr->rs, &e->f, a, fixed_rules(hr, skip, &e->f, a), e->matched,
			      &e->rv);
	verdict_decide(hr->conf, &e->f, &e->rv, a, &e->v);
	return 0;
}

static unsigned char *header_rules(const struct ruleset *rs)
{
	unsigned char *skip = xcalloc(rules_count(rs) + 1, 1);

	rules_header_rules(rs, skip);
	return skip;
}

/* Why the action was chosen, in words. */
static const char *action_why(const struct history_rules *hr, const struct eval *e, struct arena *a)
{
	const struct verdict *v = &e->v;
	double t;

	if (e->f.skipped != NULL)
		return arena_printf(a, "no checks ran (%s): accepted as is", e->f.skipped);
	if (v->by_rules && e->rv.forced_by != NULL)
		return arena_printf(a, "rule %s forces %s", e->rv.forced_by,
				    rules_action_name(e->rv.action));
	if (v->by_rules)
		return arena_printf(a, "score %.2f reaches the %s threshold %g", e->rv.score,
				    rules_action_name(e->rv.action), e->rv.threshold);
	if (v->action != VERDICT_ACCEPT)
		return arena_printf(a,
				    "%s (configured action; the rules' %s at score %.2f does "
				    "not override it)%s%s",
				    v->why != NULL ? v->why : "protocol result",
				    rules_action_name(e->rv.action), e->rv.score,
				    v->text != NULL ? ": " : "", v->text != NULL ? v->text : "");
	t = rules_threshold(hr->rs, RULES_TAG);
	if (t < 0)
		return arena_printf(a, "score %.2f, no tag threshold, no protocol action",
				    e->rv.score);
	return arena_printf(a, "score %.2f is below the tag threshold %g; no protocol action",
			    e->rv.score, t);
}

static int name_in(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

int history_domain_match(const struct history_record *r, const char *domain)
{
	const char *cand[] = {r->header_from, r->spf_domain, r->policy_domain};
	size_t dl = strlen(domain);

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		size_t n = cand[i] != NULL ? strlen(cand[i]) : 0;

		if (n == dl && strcasecmp(cand[i], domain) == 0)
			return 1;
		if (n > dl && cand[i][n - dl - 1] == '.' &&
		    strcasecmp(cand[i] + n - dl, domain) == 0)
			return 1;
	}
	return 0;
}

static const char *nonempty(const char *s, const char *dflt)
{
	return s != NULL && *s != '\0' ? s : dflt;
}

static void codes_str(const struct dnsbl_result *r, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->code_count && i < DNSBL_MAX_CODES && len + 17 < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u.%u.%u.%u", i ? "," : "",
					r->codes[i] >> 24, r->codes[i] >> 16 & 255,
					r->codes[i] >> 8 & 255, r->codes[i] & 255);
}

/* --------------------------------------------------------------- explain */

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (n == 0 || s[0] > 0xf4)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 are written as \udcXX, as
 * record.c writes them. */
static void json_str(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
		size_t n = utf8_len(p);

		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else if (n == 0)
			fprintf(out, "\\udc%02x", *p);
		else {
			fwrite(p, 1, n, out);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', out);
}

static void explain_list(FILE *out, const struct dnsbl_result *r, const char *identity)
{
	char codes[DNSBL_MAX_CODES * 17];

	codes_str(r, codes, sizeof(codes));
	fprintf(out, "  %s%s about %s%s%s: %s%s%s (%u ms)%s%s\n", nonempty(r->zone, "?"),
		r->list != NULL && r->list->allow ? " (allow-list)" : "", nonempty(r->subject, "?"),
		identity != NULL ? ", the " : "", identity != NULL ? identity : "",
		r->status == DNSBL_NOT_LISTED ? "not listed" : dnsbl_status_name(r->status),
		codes[0] != '\0' ? " " : "", codes, r->ms, r->reason != NULL ? ": " : "",
		r->reason != NULL ? r->reason : "");
}

static void explain_spf(FILE *out, const char *what, const struct spf_outcome *o)
{
	fprintf(out, "SPF, %s identity (domain %s): %s", what, nonempty(o->domain, "none"),
		spf_result_name(o->result));
	if (o->reason != NULL)
		fprintf(out, " - %s", o->reason);
	fprintf(out, "; %u DNS-querying terms, %u void lookups", o->dns_queries, o->void_lookups);
	if (o->explanation != NULL)
		fprintf(out, "; explanation: %s", o->explanation);
	fputc('\n', out);
}

/* The envelope and what the client said. */
static void explain_message(FILE *out, const struct history_record *r, const struct facts *f)
{
	char tb[64];

	fprintf(out, "message: queue id %s, Message-ID %s, %s\n", nonempty(r->queue_id, "(none)"),
		nonempty(r->message_id, "(none)"), utc_str(r->time, tb, sizeof(tb)));
	fprintf(out, "client: %s%s%s%s, HELO %s\n", f->client_ip,
		f->client_host != NULL ? " (" : "", f->client_host != NULL ? f->client_host : "",
		f->client_host != NULL ? ")" : "", nonempty(f->helo, "(none)"));
	fprintf(out, "envelope: MAIL FROM <%s>, %zu recipient(s)", f->mail_from ? f->mail_from : "",
		f->rcpt_count);
	for (size_t i = 0; i < f->rcpt_count && i < FACTS_MAX_RCPTS && f->rcpts[i] != NULL; i++)
		fprintf(out, "%s%s", i == 0 ? ": " : ", ", f->rcpts[i]);
	fprintf(out,
		"\nsize: %zu header bytes in %zu fields, %zu body bytes; TLS %s; SMTP AUTH %s\n",
		f->header_bytes, f->header_count, f->body_bytes, nonempty(f->tls_version, "none"),
		nonempty(f->auth_user, "none"));
	if (f->skipped != NULL)
		fprintf(out, "checks skipped: %s\n", f->skipped);
}

static void explain_dkim(FILE *out, const struct facts *f)
{
	fprintf(out, "DKIM: %zu signature(s) verified", f->dkim.count);
	if (f->dkim.skipped > 0)
		fprintf(out, ", %u more not verified (over the maximum)", f->dkim.skipped);
	fputc('\n', out);
	for (size_t i = 0; i < f->dkim.count; i++) {
		const struct dkim_sig *s = &f->dkim.sig[i];

		fprintf(out, "  d=%s s=%s a=%s", nonempty(s->domain, "?"),
			nonempty(s->selector, "?"), nonempty(s->algorithm, "?"));
		if (s->key_bits > 0)
			fprintf(out, " key %u bits", s->key_bits);
		fprintf(out, ": %s%s%s\n", dkim_result_name(s->result), s->reason ? " - " : "",
			s->reason ? s->reason : "");
	}
}

static void explain_dmarc(FILE *out, const struct facts *f)
{
	const struct dmarc_record *dr = &f->dmarc_record;
	const struct dmarc_outcome *d = &f->dmarc;

	fprintf(out, "DMARC: From domain %s (%u From field(s))%s%s\n",
		nonempty(f->from_domain, "(none)"), f->from_fields,
		f->from_error ? "; From unusable: " : "", f->from_error ? f->from_error : "");
	if (dr->found) {
		fprintf(out, "  policy record at %s: %s\n", nonempty(dr->record_domain, "?"),
			nonempty(dr->raw, "?"));
		fprintf(out,
			"  p=%s sp=%s np=%s, adkim %s, aspf %s, testing %s; organizational "
			"domain %s; %u tree-walk queries\n",
			dmarc_policy_name(dr->p), dmarc_policy_name(dr->sp),
			dmarc_policy_name(dr->np), dr->adkim_strict ? "strict" : "relaxed",
			dr->aspf_strict ? "strict" : "relaxed", dr->testing ? "yes (t=y)" : "no",
			nonempty(dr->org_domain, "unknown"), dr->queries);
		if (dr->invalid != NULL)
			fprintf(out, "  record unusable: %s\n", dr->invalid);
	} else {
		fprintf(out, "  no policy record found%s%s\n", dr->why ? ": " : "",
			dr->why ? dr->why : "");
	}
	fprintf(out, "  SPF identifier %s: %s (%s alignment)\n",
		nonempty(f->spf_mfrom.domain, "(none)"), d->spf_aligned ? "aligned" : "not aligned",
		dr->aspf_strict ? "strict" : "relaxed");
	fprintf(out, "  DKIM identifier: %s%s (%s alignment)\n",
		d->dkim_aligned ? "aligned by d=" : "none aligned",
		d->dkim_aligned ? nonempty(d->dkim_aligned_domain, "?") : "",
		dr->adkim_strict ? "strict" : "relaxed");
	fprintf(out, "  result: %s; policy for this message: %s%s%s\n",
		dmarc_result_name(d->result), dmarc_policy_name(d->policy), d->reason ? "; " : "",
		d->reason ? d->reason : "");
	if (f->dmarc_override != NULL && f->arc_override_by != NULL)
		fprintf(out, "  not enforced: %s (ARC sealer %s saw %s)\n", f->dmarc_override,
			f->arc_override_by, nonempty(f->arc_override_why, "a pass"));
	else if (f->dmarc_override != NULL)
		fprintf(out, "  not enforced: %s\n", f->dmarc_override);
	if (f->arc.result != ARC_NONE)
		fprintf(out, "  ARC chain: %s, %zu set%s\n", arc_result_name(f->arc.result),
			f->arc.set_count, f->arc.set_count == 1 ? "" : "s");
}

/* iprev, GeoIP and the DNS lists' answers. */
static void explain_client_checks(FILE *out, const struct facts *f)
{
	fprintf(out, "iprev: %s%s%s%s%s\n", iprev_result_name(f->iprev.result),
		f->iprev.name ? " " : "", f->iprev.name ? f->iprev.name : "",
		f->iprev.reason ? " - " : "", f->iprev.reason ? f->iprev.reason : "");
	fprintf(out, "GeoIP: country %s, AS%u%s%s\n", nonempty(f->geoip.country, "unknown"),
		f->geoip.asn, f->geoip.asn_org ? " " : "",
		f->geoip.asn_org ? f->geoip.asn_org : "");
	fprintf(out, "DNS lists: %zu IP, %zu domain answer(s)\n", f->ip_list_count,
		f->domain_list_count);
	for (size_t i = 0; i < f->ip_list_count; i++)
		explain_list(out, &f->ip_lists[i], NULL);
	for (size_t i = 0; i < f->domain_list_count; i++) {
		static const char *const ids[] = {"MAIL FROM domain", "From domain", "HELO name",
						  "DKIM domain", "link domain"};
		unsigned id = f->domain_lists[i].identity;

		explain_list(out, &f->domain_lists[i].r,
			     id < sizeof(ids) / sizeof(ids[0]) ? ids[id] : NULL);
	}
}

/* The rules that fired now, those read header contents that are not
 * stored, and whether the hits stored at the time are the same. */
static void explain_rules(FILE *out, const struct history_rules *hr, const unsigned char *skip,
			  const struct history_record *r, const struct eval *e)
{
	const struct facts *f = &e->f;
	size_t n = rules_count(hr->rs);
	size_t nskip = 0;
	int same;

	fprintf(out, "rules (stored facts re-evaluated with %s):\n", hr->name);
	for (size_t i = 0; i < n; i++) {
		struct rules_rule rr;

		rules_rule(hr->rs, i, &rr);
		if (!e->matched[i] || rr.hidden)
			continue;
		fprintf(out, "  %-20s %s%+g%s%s%s%s\n", rr.name, rr.monitor ? "monitor " : "",
			rr.score, rr.action != RULES_ACCEPT ? " forces " : "",
			rr.action != RULES_ACCEPT ? rules_action_name(rr.action) : "",
			rr.description ? "  " : "", rr.description ? rr.description : "");
	}
	fprintf(out, "  score %.2f\n", e->rv.score);
	for (size_t i = 0, k = 0; i < n; i++)
		if (skip[i]) {
			struct rules_rule rr;

			rules_rule(hr->rs, i, &rr);
			fprintf(out, "%s%s",
				k++ == 0 ? "  read header or body contents (header, body, rawbody, "
					   "uri), which are not stored (counted as they fired when "
					   "the message came): "
					 : ", ",
				rr.name);
			nskip++;
		}
	if (nskip > 0)
		fputc('\n', out);
	/* the stored hits, as recorded at the time */
	same = e->rv.hit_count == f->rules_hit_count &&
	       (e->rv.score - f->score < 1e-9 && f->score - e->rv.score < 1e-9);
	for (size_t i = 0; same && i < e->rv.hit_count; i++)
		same = name_in(e->rv.hits[i], f->rules_hit, f->rules_hit_count);
	fprintf(out, "  at the time: score %.2f, rules %s", f->score, nonempty(r->rules, "(none)"));
	fprintf(out, "%s\n", same ? " (the same)" : " - the rules changed since");
}

static void explain_text(FILE *out, const struct history_rules *hr, const unsigned char *skip,
			 const struct history_record *r, const struct eval *e, struct arena *a)
{
	const struct facts *f = &e->f;

	explain_message(out, r, f);
	explain_spf(out, "MAIL FROM", &f->spf_mfrom);
	explain_spf(out, "HELO", &f->spf_helo);
	explain_dkim(out, f);
	explain_dmarc(out, f);
	explain_client_checks(out, f);
	history_explain_content(out, f);
	explain_rules(out, hr, skip, r, e);
	fprintf(out, "thresholds:");
	for (enum rules_action t = RULES_TAG; t <= RULES_REJECT; t++) {
		double th = rules_threshold(hr->rs, t);

		if (th < 0)
			fprintf(out, " %s none", rules_action_name(t));
		else
			fprintf(out, " %s %g", rules_action_name(t), th);
	}
	fputc('\n', out);
	fprintf(out, "action: %s at the time; %s now: %s\n", nonempty(r->action, "?"),
		verdict_action_name(e->v.action), action_why(hr, e, a));
}

static void explain_json(FILE *out, const struct history_rules *hr, const unsigned char *skip,
			 const struct history_record *r, const struct eval *e, struct arena *a,
			 const char *error)
{
	size_t n = rules_count(hr->rs);
	const char *line = record_encode(r, a);
	int first = 1;

	fputs("{\"record\":", out);
	fputs(line != NULL ? line : "null", out);
	if (error != NULL) {
		fputs(",\"error\":", out);
		json_str(out, error);
		fputs("}\n", out);
		return;
	}
	fputs(",\"rules_file\":", out);
	json_str(out, hr->name);
	fputs(",\"hits\":[", out);
	for (size_t i = 0; i < n; i++) {
		struct rules_rule rr;

		rules_rule(hr->rs, i, &rr);
		if (!e->matched[i] || rr.hidden)
			continue;
		fprintf(out, "%s{\"name\":", first ? "" : ",");
		first = 0;
		json_str(out, rr.name);
		fprintf(out, ",\"score\":%.17g,\"monitor\":%s,\"forces\":", rr.score,
			rr.monitor ? "true" : "false");
		json_str(out, rr.action != RULES_ACCEPT ? rules_action_name(rr.action) : NULL);
		fputs(",\"description\":", out);
		json_str(out, rr.description);
		fputc('}', out);
	}
	fputs("],\"header_rules\":[", out);
	first = 1;
	for (size_t i = 0; i < n; i++)
		if (skip[i]) {
			struct rules_rule rr;

			rules_rule(hr->rs, i, &rr);
			fputs(first ? "" : ",", out);
			first = 0;
			json_str(out, rr.name);
		}
	fprintf(out, "],\"score\":%.17g,\"stored_score\":%.17g,\"thresholds\":{", e->rv.score,
		e->f.score);
	for (enum rules_action t = RULES_TAG; t <= RULES_REJECT; t++) {
		double th = rules_threshold(hr->rs, t);

		fprintf(out, "%s\"%s\":", t == RULES_TAG ? "" : ",", rules_action_name(t));
		if (th < 0)
			fputs("null", out);
		else
			fprintf(out, "%g", th);
	}
	fputs("},\"stored_action\":", out);
	json_str(out, r->action);
	fputs(",\"action\":", out);
	json_str(out, verdict_action_name(e->v.action));
	fputs(",\"forced_by\":", out);
	json_str(out, e->v.by_rules ? e->rv.forced_by : NULL);
	fputs(",\"why\":", out);
	json_str(out, action_why(hr, e, a));
	fputs("}\n", out);
}

int history_explain(FILE *out, const struct history_rules *hr, const struct history_record *r,
		    int json)
{
	struct arena *a = arena_new(16384);
	unsigned char *skip = header_rules(hr->rs);
	struct eval e;
	const char *error = NULL;
	int rc = eval_record(hr, skip, r, NULL, a, &e, &error);
	char tb[64];

	if (json)
		explain_json(out, hr, skip, r, &e, a, rc < 0 ? error : NULL);
	else if (rc == 0)
		explain_text(out, hr, skip, r, &e, a);
	else
		fprintf(out,
			"message: queue id %s, Message-ID %s, %s\nclient %s, MAIL FROM <%s>, From "
			"domain %s\nSPF %s, DMARC %s, score %.2f, rules %s, action %s\n"
			"cannot explain further: %s\n",
			nonempty(r->queue_id, "(none)"), nonempty(r->message_id, "(none)"),
			utc_str(r->time, tb, sizeof(tb)), nonempty(r->client_ip, "?"),
			nonempty(r->mail_from, ""), nonempty(r->header_from, "(none)"),
			nonempty(r->spf_result, "?"), nonempty(r->dmarc_result, "?"), r->score,
			nonempty(r->rules, "(none)"), nonempty(r->action, "?"), error);
	free(skip);
	arena_free(&a);
	return rc;
}

/* ---------------------------------------------------------------- replay */

struct sample {
	char *queue_id, *message_id, *rules_before, *rules_after;
	int64_t time;
	int before, after;
	double score_before, score_after;
};

struct history_replay {
	struct history_rules next;
	unsigned char *skip_next;
	size_t nrules;
	struct history_replay_counts c;
	uint64_t *hits, *hits_reject, *hits_overlap, *pair; /* per rule of next; pair: n * n */
	struct tally before_hits;			    /* stored hits by name */
	uint64_t header_fired; /* stored hits include a rule that reads headers */
	uint64_t unknown_before;
	struct sample *samples;
	size_t sample_count, sample_max;
	const char *first_error;
	char error_buf[160];
};

struct history_replay *history_replay_new(const struct history_rules *next, size_t sample_max)
{
	struct history_replay *rp = xcalloc(1, sizeof(*rp));
	size_t n = rules_count(next->rs);

	rp->next = *next;
	rp->nrules = n;
	rp->skip_next = header_rules(next->rs);
	rp->hits = xcalloc(n + 1, sizeof(uint64_t));
	rp->hits_reject = xcalloc(n + 1, sizeof(uint64_t));
	rp->hits_overlap = xcalloc(n + 1, sizeof(uint64_t));
	if (n <= OVERLAP_MAX)
		rp->pair = xcalloc(n * n + 1, sizeof(uint64_t));
	rp->sample_max = sample_max;
	rp->samples = xcalloc(sample_max + 1, sizeof(*rp->samples));
	return rp;
}

static char *join_hits(const char *const *names, size_t n)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	p = s = xmalloc(len);
	*s = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", names[i]);
	return s;
}

void history_replay_add(struct history_replay *rp, const struct history_record *r,
			const struct facts *facts)
{
	struct arena *a = arena_new(16384);
	struct eval e;
	const struct facts *stored = &e.f; /* score and hits as recorded */
	const char *error = NULL;
	int before = action_index(r->action), after, scoring = 0;

	rp->c.records++;
	if (eval_record(&rp->next, rp->skip_next, r, facts, a, &e, &error) < 0) {
		rp->c.not_replayable++;
		if (rp->first_error == NULL) {
			snprintf(rp->error_buf, sizeof(rp->error_buf), "%s", error);
			rp->first_error = rp->error_buf;
		}
		arena_free(&a);
		return;
	}
	rp->c.replayed++;
	after = (int)e.v.action;
	if (before < 0)
		rp->unknown_before++;
	else
		rp->c.before[before]++;
	rp->c.after[after]++;
	for (size_t i = 0; i < stored->rules_hit_count; i++)
		tally_add(&rp->before_hits, stored->rules_hit[i], 1);
	for (size_t i = 0; i < stored->monitors_hit_count; i++)
		tally_add(&rp->before_hits, stored->monitors_hit[i], 1);
	for (size_t i = 0; i < rp->nrules; i++) {
		struct rules_rule rr;

		if (!e.matched[i])
			continue;
		rules_rule(rp->next.rs, i, &rr);
		if (!rr.hidden && !rr.monitor)
			scoring++;
	}
	for (size_t i = 0; i < rp->nrules; i++) {
		struct rules_rule rr;

		if (!e.matched[i])
			continue;
		rules_rule(rp->next.rs, i, &rr);
		if (rr.hidden)
			continue;
		rp->hits[i]++;
		if (e.v.action == VERDICT_REJECT || e.v.action == VERDICT_DISCARD)
			rp->hits_reject[i]++;
		if (scoring > (rr.monitor ? 0 : 1))
			rp->hits_overlap[i]++;
		if (rp->pair != NULL)
			for (size_t j = 0; j < rp->nrules; j++)
				if (j != i && e.matched[j])
					rp->pair[i * rp->nrules + j]++;
	}
	/* a rule that reads headers matched only when it fired then (fixed_rules) */
	for (size_t j = 0; j < rp->nrules; j++)
		if (rp->skip_next[j] && e.matched[j]) {
			rp->header_fired++;
			break;
		}
	if (before != after) {
		rp->c.changed++;
		if (rp->sample_count < rp->sample_max) {
			struct sample *s = &rp->samples[rp->sample_count++];

			s->queue_id = xstrdup(nonempty(r->queue_id, "-"));
			s->message_id = xstrdup(nonempty(r->message_id, "-"));
			s->time = r->time;
			s->before = before;
			s->after = after;
			s->score_before = stored->score;
			s->score_after = e.rv.score;
			s->rules_before = join_hits(stored->rules_hit, stored->rules_hit_count);
			s->rules_after = join_hits(e.rv.hits, e.rv.hit_count);
		}
	}
	arena_free(&a);
}

void history_replay_counts(const struct history_replay *rp, struct history_replay_counts *out)
{
	*out = rp->c;
}

long long history_replay_hits(const struct history_replay *rp, const char *name)
{
	for (size_t i = 0; i < rp->nrules; i++) {
		struct rules_rule rr;

		rules_rule(rp->next.rs, i, &rr);
		if (strcmp(rr.name, name) == 0)
			return (long long)rp->hits[i];
	}
	return -1;
}

static double pct(uint64_t a, uint64_t b)
{
	return b == 0 ? 0.0 : 100.0 * (double)a / (double)b;
}

/* What was replayed, and the rules of the new file that cannot be. */
static void replay_print_coverage(const struct history_replay *rp, FILE *out)
{
	const struct history_replay_counts *c = &rp->c;
	size_t nskip = 0;

	fprintf(out, "replay of %" PRIu64 " stored message(s) with %s (DNS and mail untouched)\n",
		c->records, rp->next.name);
	fprintf(out, "  replayed %" PRIu64 ", not replayable %" PRIu64, c->replayed,
		c->not_replayable);
	if (rp->first_error != NULL)
		fprintf(out, " (e.g. %s)", rp->first_error);
	fprintf(out, "\n");
	for (size_t i = 0; i < rp->nrules; i++)
		nskip += rp->skip_next[i];
	if (nskip > 0) {
		fprintf(out,
			"  rules that read header or body contents (header, body, rawbody, uri: "
			"not stored, so not replayable: each counts as it fired when the message "
			"came):");
		for (size_t i = 0; i < rp->nrules; i++)
			if (rp->skip_next[i]) {
				struct rules_rule rr;

				rules_rule(rp->next.rs, i, &rr);
				fprintf(out, " %s", rr.name);
			}
		fprintf(out, "\n  %" PRIu64 " message(s) had such a rule fire when received\n",
			rp->header_fired);
	}
}

/* The actions before and after, and a sample of the messages changed. */
static void replay_print_actions(const struct history_replay *rp, FILE *out)
{
	const struct history_replay_counts *c = &rp->c;
	char tb[64];

	fprintf(out, "actions (stored -> replayed):\n");
	for (int i = 0; i < NACTIONS; i++)
		if (c->before[i] != 0 || c->after[i] != 0)
			fprintf(out, "  %-10s %8" PRIu64 " -> %8" PRIu64 "  (%+" PRId64 ")\n",
				verdict_action_name((enum verdict_action)i), c->before[i],
				c->after[i], (int64_t)(c->after[i] - c->before[i]));
	if (rp->unknown_before > 0)
		fprintf(out, "  (%" PRIu64 " stored with an unknown action)\n", rp->unknown_before);
	fprintf(out, "  rejected: %.1f%% -> %.1f%%\n",
		pct(c->before[VERDICT_REJECT] + c->before[VERDICT_DISCARD], c->replayed),
		pct(c->after[VERDICT_REJECT] + c->after[VERDICT_DISCARD], c->replayed));
	fprintf(out, "changed: %" PRIu64 " message(s)%s\n", c->changed,
		c->changed > rp->sample_count ? " (a sample below)" : "");
	for (size_t i = 0; i < rp->sample_count; i++) {
		const struct sample *s = &rp->samples[i];

		fprintf(out, "  %s %s %s: %s -> %s, score %.2f -> %.2f, rules [%s] -> [%s]\n",
			utc_str(s->time, tb, sizeof(tb)), s->queue_id, s->message_id,
			s->before >= 0 ? verdict_action_name((enum verdict_action)s->before) : "?",
			verdict_action_name((enum verdict_action)s->after), s->score_before,
			s->score_after, s->rules_before, s->rules_after);
	}
}

/* The visible rule rule i fired with most often (*best_j), and how often;
 * 0 when none, or when the pairs were not counted (too many rules). */
static uint64_t replay_best_pair(const struct history_replay *rp, size_t i, size_t *best_j)
{
	uint64_t best = 0;

	if (rp->pair != NULL)
		for (size_t j = 0; j < rp->nrules; j++) {
			struct rules_rule other;

			rules_rule(rp->next.rs, j, &other);
			if (other.hidden || rp->pair[i * rp->nrules + j] <= best)
				continue;
			best = rp->pair[i * rp->nrules + j];
			*best_j = j;
		}
	return best;
}

static void replay_print_rules(const struct history_replay *rp, FILE *out)
{
	fprintf(out, "rules (hits stored -> replayed; share of its replayed hits rejected; share "
		     "with another rule firing, and the rule it fires with most):\n");
	for (size_t i = 0; i < rp->nrules; i++) {
		struct rules_rule rr;
		uint64_t before, best;
		size_t best_j = 0;

		rules_rule(rp->next.rs, i, &rr);
		if (rr.hidden)
			continue;
		before = tally_count(&rp->before_hits, rr.name);
		fprintf(out,
			"  %-20s %s%+-6g %8" PRIu64 " -> %8" PRIu64 "  reject %5.1f%%  overlap "
			"%5.1f%%",
			rr.name, rr.monitor ? "monitor " : "", rr.score, before, rp->hits[i],
			pct(rp->hits_reject[i], rp->hits[i]),
			pct(rp->hits_overlap[i], rp->hits[i]));
		if ((best = replay_best_pair(rp, i, &best_j)) > 0) {
			struct rules_rule other;

			rules_rule(rp->next.rs, best_j, &other);
			fprintf(out, "  most with %s (%" PRIu64 ")", other.name, best);
		}
		fprintf(out, "%s\n", rp->skip_next[i] ? "  [reads headers: as stored]" : "");
	}
}

/* Rules that fired then and are gone from the new file. */
static void replay_print_gone(const struct history_replay *rp, FILE *out)
{
	size_t n;
	struct tally_item **v = tally_sorted(&rp->before_hits, &n);
	int header = 0;

	for (size_t i = 0; i < n; i++) {
		int known = 0;

		for (size_t j = 0; j < rp->nrules && !known; j++) {
			struct rules_rule rr;

			rules_rule(rp->next.rs, j, &rr);
			known = strcmp(rr.name, v[i]->key) == 0;
		}
		if (known || v[i]->n == 0)
			continue;
		if (!header++)
			fprintf(out, "rules that fired then and are not in %s:\n", rp->next.name);
		fprintf(out, "  %-20s %8" PRIu64 " -> gone\n", v[i]->key, v[i]->n);
	}
	free(v);
}

void history_replay_print(const struct history_replay *rp, FILE *out)
{
	replay_print_coverage(rp, out);
	replay_print_actions(rp, out);
	replay_print_rules(rp, out);
	replay_print_gone(rp, out);
}

void history_replay_free(struct history_replay **rpp)
{
	struct history_replay *rp = *rpp;

	if (rp == NULL)
		return;
	for (size_t i = 0; i < rp->sample_count; i++) {
		free(rp->samples[i].queue_id);
		free(rp->samples[i].message_id);
		free(rp->samples[i].rules_before);
		free(rp->samples[i].rules_after);
	}
	free(rp->samples);
	free(rp->skip_next);
	free(rp->hits);
	free(rp->hits_reject);
	free(rp->hits_overlap);
	free(rp->pair);
	tally_free(&rp->before_hits);
	free(rp);
	*rpp = NULL;
}

/* ----------------------------------------------------------------- stats */

struct list_stats {
	uint64_t asked, status[DNSBL_ERROR + 1], timeouts, ms_sum;
	uint32_t ms[LATENCY_MAX + 1]; /* a bucket per millisecond; the last: longer */
	struct tally blocked_codes;
};

struct history_stats {
	struct history_rules hr;
	uint64_t records, no_facts, actions[NACTIONS + 1];
	struct tally rules, monitors, spf, spf_helo, dkim, dmarc, fail_domains, fail_ips, lists;
	int64_t first, last;
};

struct history_stats *history_stats_new(const struct history_rules *hr)
{
	struct history_stats *st = xcalloc(1, sizeof(*st));

	st->hr = *hr;
	return st;
}

static void stats_list(struct history_stats *st, const struct dnsbl_result *r, const char *kind)
{
	char key[300];
	struct tally_item *it;
	struct list_stats *ls;

	snprintf(key, sizeof(key), "%s %s", nonempty(r->zone, "?"), kind);
	it = tally_get(&st->lists, key);
	if (it->data == NULL)
		it->data = xcalloc(1, sizeof(struct list_stats));
	ls = it->data;
	it->n++;
	ls->asked++;
	ls->status[r->status <= DNSBL_ERROR ? r->status : DNSBL_ERROR]++;
	if (r->status == DNSBL_ERROR && r->reason != NULL && strstr(r->reason, "timeout") != NULL)
		ls->timeouts++;
	ls->ms_sum += r->ms;
	ls->ms[r->ms < LATENCY_MAX ? r->ms : LATENCY_MAX]++;
	if (r->status == DNSBL_BLOCKED) {
		char codes[DNSBL_MAX_CODES * 17];

		codes_str(r, codes, sizeof(codes));
		tally_add(&ls->blocked_codes, nonempty(codes, "?"), 1);
	}
}

void history_stats_add(struct history_stats *st, const struct history_record *r,
		       const struct facts *facts)
{
	struct arena *a = arena_new(16384);
	struct facts f;
	const char *error, *dkim = "none";
	int ai = action_index(r->action);

	if (st->records == 0 || r->time < st->first)
		st->first = r->time;
	if (st->records == 0 || r->time > st->last)
		st->last = r->time;
	st->records++;
	st->actions[ai >= 0 ? ai : NACTIONS]++;
	tally_add(&st->spf, r->spf_result, 1);
	tally_add(&st->spf_helo, r->spf_helo_result, 1);
	tally_add(&st->dmarc, r->dmarc_result, 1);
	/* a message's DKIM: pass when one signature passed, else the first result */
	for (size_t i = 0; i < r->dkim_count; i++)
		if (i == 0 || (r->dkim[i].result != NULL && strcmp(r->dkim[i].result, "pass") == 0))
			dkim = nonempty(r->dkim[i].result, "?");
	tally_add(&st->dkim, dkim, 1);
	if (r->dmarc_result != NULL && strcmp(r->dmarc_result, "fail") == 0) {
		tally_add(&st->fail_domains, r->header_from, 1);
		tally_add(&st->fail_ips, r->client_ip, 1);
	}
	if (facts != NULL)
		f = *facts;
	else if (r->facts_json == NULL ||
		 record_facts_decode(r->facts_json, strlen(r->facts_json), a, &f, &error) < 0)
		facts = NULL;
	else
		facts = &f;
	if (facts == NULL) {
		st->no_facts++;
		/* the rules column still says what fired */
		for (const char *p = r->rules; p != NULL && *p != '\0';) {
			size_t n = strcspn(p, ",");
			char *name = arena_strndup(a, p, n);

			tally_add(&st->rules, name, 1);
			p += n + (p[n] == ',');
		}
		arena_free(&a);
		return;
	}
	for (size_t i = 0; i < f.rules_hit_count; i++)
		tally_add(&st->rules, f.rules_hit[i], 1);
	for (size_t i = 0; i < f.monitors_hit_count; i++)
		tally_add(&st->monitors, f.monitors_hit[i], 1);
	for (size_t i = 0; i < f.ip_list_count; i++)
		stats_list(st, &f.ip_lists[i], "(IP)");
	for (size_t i = 0; i < f.domain_list_count; i++)
		stats_list(st, &f.domain_lists[i].r, "(domain)");
	arena_free(&a);
}

static void print_mix(FILE *out, const char *title, const struct tally *t, uint64_t total)
{
	size_t n;
	struct tally_item **v = tally_sorted(t, &n);

	fprintf(out, "%s:", title);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s %" PRIu64 " (%.1f%%)%s", v[i]->key, v[i]->n, pct(v[i]->n, total),
			i + 1 < n ? "," : "");
	fputc('\n', out);
	free(v);
}

static double rule_score(const struct ruleset *rs, const char *name, int *known)
{
	for (size_t i = 0; i < rules_count(rs); i++) {
		struct rules_rule rr;

		rules_rule(rs, i, &rr);
		if (strcmp(rr.name, name) == 0) {
			*known = 1;
			return rr.score;
		}
	}
	*known = 0;
	return 0;
}

static unsigned percentile(const struct list_stats *ls, double p)
{
	uint64_t want = (uint64_t)((double)ls->asked * p + 0.999999), seen = 0;

	for (unsigned ms = 0; ms <= LATENCY_MAX; ms++)
		if ((seen += ls->ms[ms]) >= want && want > 0)
			return ms;
	return 0;
}

/* The period, the actions and the results' mix. */
static void stats_print_results(const struct history_stats *st, FILE *out)
{
	char t1[64], t2[64];

	fprintf(out, "%" PRIu64 " message(s)", st->records);
	if (st->records > 0)
		fprintf(out, " from %s to %s", utc_str(st->first, t1, sizeof(t1)),
			utc_str(st->last, t2, sizeof(t2)));
	fprintf(out, "\nactions:");
	for (int i = 0; i <= NACTIONS; i++)
		if (st->actions[i] > 0)
			fprintf(out, " %s %" PRIu64 " (%.1f%%)",
				i < NACTIONS ? verdict_action_name((enum verdict_action)i)
					     : "unknown",
				st->actions[i], pct(st->actions[i], st->records));
	fputc('\n', out);
	print_mix(out, "SPF (MAIL FROM)", &st->spf, st->records);
	print_mix(out, "SPF (HELO)", &st->spf_helo, st->records);
	print_mix(out, "DKIM (per message: pass if any signature passed)", &st->dkim, st->records);
	print_mix(out, "DMARC", &st->dmarc, st->records);
}

/* The rules' and the monitors' hits, scored with the current rules. */
static void stats_print_rules(const struct history_stats *st, FILE *out)
{
	size_t n;
	struct tally_item **v;

	fprintf(out, "rules (hits; score contribution with the scores of %s):\n", st->hr.name);
	v = tally_sorted(&st->rules, &n);
	for (size_t i = 0; i < n; i++) {
		int known;
		double s = rule_score(st->hr.rs, v[i]->key, &known);

		if (known)
			fprintf(out, "  %-20s %8" PRIu64 " hits (%.1f%%)  %+g each, %+.1f in all\n",
				v[i]->key, v[i]->n, pct(v[i]->n, st->records), s,
				s * (double)v[i]->n);
		else
			fprintf(out,
				"  %-20s %8" PRIu64 " hits (%.1f%%)  not in the rules file now\n",
				v[i]->key, v[i]->n, pct(v[i]->n, st->records));
	}
	free(v);
	v = tally_sorted(&st->monitors, &n);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-20s %8" PRIu64 " hits (monitor)\n", v[i]->key, v[i]->n);
	free(v);
}

/* The TOP_N most counted keys of t, under title. */
static void print_top(FILE *out, const char *title, const struct tally *t)
{
	size_t n;
	struct tally_item **v = tally_sorted(t, &n);

	fprintf(out, "%s:\n", title);
	for (size_t i = 0; i < n && i < TOP_N; i++)
		fprintf(out, "  %8" PRIu64 "  %s\n", v[i]->n, v[i]->key);
	free(v);
}

/* Each list's "blocked" answers by code; v: the lists, sorted. */
static void stats_print_blocked(struct tally_item *const *v, size_t n, FILE *out)
{
	int any = 0;

	fprintf(out, "\"blocked\" answers (the list refused to answer us):");
	for (size_t i = 0; i < n; i++) {
		const struct list_stats *ls = v[i]->data;
		size_t m;
		struct tally_item **codes;

		if (ls->status[DNSBL_BLOCKED] == 0)
			continue;
		codes = tally_sorted(&ls->blocked_codes, &m);
		fprintf(out, "\n  %s: %" PRIu64 " (", v[i]->key, ls->status[DNSBL_BLOCKED]);
		for (size_t j = 0; j < m; j++)
			fprintf(out, "%s%s x%" PRIu64, j ? ", " : "", codes[j]->key, codes[j]->n);
		fputc(')', out);
		free(codes);
		any = 1;
	}
	fprintf(out, "%s\n", any ? "" : " none");
}

static void stats_print_lists(const struct history_stats *st, FILE *out)
{
	size_t n;
	struct tally_item **v;

	fprintf(out,
		"DNS lists (answers per list; latency from the query's start to its answer):\n");
	v = tally_sorted(&st->lists, &n);
	for (size_t i = 0; i < n; i++) {
		const struct list_stats *ls = v[i]->data;

		fprintf(out,
			"  %s: asked %" PRIu64 ", listed %" PRIu64 " (%.1f%%), not listed %" PRIu64
			", blocked %" PRIu64 ", errors %" PRIu64 " (timeouts %" PRIu64
			"); latency avg %.1f ms, p50 %u ms, p95 %u ms\n",
			v[i]->key, ls->asked, ls->status[DNSBL_LISTED],
			pct(ls->status[DNSBL_LISTED], ls->asked), ls->status[DNSBL_NOT_LISTED],
			ls->status[DNSBL_BLOCKED], ls->status[DNSBL_ERROR], ls->timeouts,
			ls->asked ? (double)ls->ms_sum / (double)ls->asked : 0.0,
			percentile(ls, 0.5), percentile(ls, 0.95));
	}
	stats_print_blocked(v, n, out);
	free(v);
}

void history_stats_print(const struct history_stats *st, FILE *out)
{
	stats_print_results(st, out);
	stats_print_rules(st, out);
	print_top(out, "top From domains failing DMARC", &st->fail_domains);
	print_top(out, "top client addresses failing DMARC", &st->fail_ips);
	stats_print_lists(st, out);
	if (st->no_facts > 0)
		fprintf(out,
			"(%" PRIu64 " record(s) without usable facts: counted in actions, "
			"results and rules, not in the DNS lists)\n",
			st->no_facts);
}

void history_stats_free(struct history_stats **stp)
{
	struct history_stats *st = *stp;

	if (st == NULL)
		return;
	tally_free(&st->rules);
	tally_free(&st->monitors);
	tally_free(&st->spf);
	tally_free(&st->spf_helo);
	tally_free(&st->dkim);
	tally_free(&st->dmarc);
	tally_free(&st->fail_domains);
	tally_free(&st->fail_ips);
	for (size_t i = 0; i < st->lists.size; i++)
		if (st->lists.items[i].data != NULL)
			tally_free(&((struct list_stats *)st->lists.items[i].data)->blocked_codes);
	tally_free(&st->lists);
	free(st);
	*stp = NULL;
}

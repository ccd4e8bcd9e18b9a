/*
 * rules_eval - evaluate a loaded ruleset against one message's facts (see
 * rules.h).
 *
 * Rules are evaluated once each, in the order fixed at load (every rule
 * after the rules it refers to), so a reference is a lookup in `matched`.
 * Tests read struct facts directly.  The semantics every fact shares:
 * positive operators (==, in, =~, &, the bare fact) hold when any value of
 * the fact matches any value of the test; negative ones (!=, not in, !~)
 * are their negation; a fact that is absent has no value.  A DNS list that
 * refused us or failed answers no question about its codes, so both a code
 * test and its negation are false then (only `blocked` and `error` match).
 *
 * Memory: only the caller's arena, PCRE2's match data included (through a
 * general context whose allocator is that arena).  Thread-safe on a shared
 * ruleset.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "log.h"
#include "rules_int.h"

struct eval {
	const struct ruleset *rs;
	const struct facts *f;
	struct arena *a;
	unsigned char *matched;
	pcre2_match_data *md;
	pcre2_match_context *mc;
};

static void *re_alloc(PCRE2_SIZE size, void *arena)
{
	return arena_alloc(arena, size);
}

static void re_free(void *p, void *arena)
{
	/* freed with the arena */
}

static int re_match_len(struct eval *e, const struct rule_test *t, const char *s, size_t len)
{
	int rc;

	if (e->md == NULL) {
		pcre2_general_context *gc = pcre2_general_context_create(re_alloc, re_free, e->a);

		e->mc = pcre2_match_context_create(gc);
		e->md = pcre2_match_data_create(1, gc);
		pcre2_set_match_limit(e->mc, RULES_MATCH_LIMIT);
		pcre2_set_depth_limit(e->mc, RULES_DEPTH_LIMIT);
		pcre2_set_heap_limit(e->mc, RULES_HEAP_LIMIT_KIB);
	}
	rc = pcre2_match(t->re, (PCRE2_SPTR)s, len, 0, 0, e->md, e->mc);
	if (rc >= 0)
		return 1;
	if (rc != PCRE2_ERROR_NOMATCH) {
		PCRE2_UCHAR msg[128];

		pcre2_get_error_message(rc, msg, sizeof(msg));
		log_warn("rule %s: regex not matched: %s", t->rule, (const char *)msg);
	}
	return 0;
}

/* ---- value kinds ---- */

static int enum_value(const struct facts *f, enum rule_fact fact)
{
	switch (fact) {
	case FACT_SPF:
		return (int)f->spf_mfrom.result;
	case FACT_SPF_HELO:
		return (int)f->spf_helo.result;
	case FACT_DMARC:
		return (int)f->dmarc.result;
	case FACT_DMARC_POLICY:
		return (int)f->dmarc.policy;
	case FACT_IPREV:
		return (int)f->iprev.result;
	case FACT_ARC:
		return (int)f->arc.result;
	default:
		return -1;
	}
}

static int enum_in(const struct rule_test *t, int v)
{
	for (size_t i = 0; i < t->val_count; i++)
		if ((uint64_t)v == t->vals[i].lo)
			return 1;
	return 0;
}

static int test_enum(const struct eval *e, const struct rule_test *t)
{
	const struct facts *f = e->f;
	int any = 0;

	if (t->fact == FACT_DKIM) {
		int seen = 0;

		for (size_t i = 0; i < f->dkim.count && !any; i++) {
			const struct dkim_sig *s = &f->dkim.sig[i];

			if (t->arg != NULL &&
			    (s->domain == NULL || strcasecmp(s->domain, t->arg) != 0))
				continue;
			seen = 1;
			any = enum_in(t, (int)s->result);
		}
		if (!seen)
			any = enum_in(t, DKIM_NONE);
	} else {
		any = enum_in(t, enum_value(f, t->fact));
	}
	return t->op == OP_EQ || t->op == OP_IN ? any : !any;
}

static int code_matches(const struct dnsbl_result *r, const struct rule_test *t,
			const struct rule_value *v)
{
	if (t->op == OP_PRESENT)
		return r->status == DNSBL_LISTED;
	switch (v->state) {
	case CODE_LISTED:
		return r->status == DNSBL_LISTED;
	case CODE_UNLISTED:
		return r->status == DNSBL_NOT_LISTED;
	case CODE_BLOCKED:
		return r->status == DNSBL_BLOCKED;
	case CODE_ERROR:
		return r->status == DNSBL_ERROR;
	default:
		break;
	}
	if (r->status != DNSBL_LISTED)
		return 0;
	for (size_t i = 0; i < r->code_count && i < DNSBL_MAX_CODES; i++) {
		uint32_t c = r->codes[i];

		if (t->op == OP_MASK		? (c & v->care) != 0
		    : v->state == CODE_WILDCARD ? (c & v->care) == v->lo
						: c >= v->lo && c <= v->hi)
			return 1;
	}
	return 0;
}

static int zone_is(const char *zone, const char *want)
{
	size_t n = zone == NULL ? 0 : strlen(zone);

	/* "zen.spamhaus.org." is the same zone */
	if (n > 0 && zone[n - 1] == '.')
		n--;
	return zone != NULL && strlen(want) == n && strncasecmp(zone, want, n) == 0;
}

static const char *string_one(const struct facts *f, const struct rule_test *t, size_t *i);

static int test_codes(const struct eval *e, const struct rule_test *t)
{
	const struct facts *f = e->f;
	int any = 0, unknown = 0, states = 0;
	int domain = t->fact == FACT_DBL || t->fact == FACT_URIBL;
	size_t n = domain ? f->domain_list_count : f->ip_list_count;

	for (size_t i = 0; i < t->val_count; i++)
		states |= t->vals[i].state >= CODE_LISTED;
	for (size_t i = 0; i < n && !any; i++) {
		const struct dnsbl_result *r;

		if (domain) {
			int id = (int)f->domain_lists[i].identity;

			/* dbl(zone) means the sender's identities; the links'
			 * domains are asked for by uribl(zone) or dbl(zone, uri) */
			if (t->ident != RULE_IDENT_ANY ? id != t->ident : id == IDENT_URI)
				continue;
			r = &f->domain_lists[i].r;
		} else {
			r = &f->ip_lists[i];
		}
		if (!zone_is(r->zone != NULL   ? r->zone
			     : r->list != NULL ? r->list->zone
					       : NULL,
			     t->arg))
			continue;
		if (r->status == DNSBL_BLOCKED || r->status == DNSBL_ERROR)
			unknown = 1;
		if (t->op == OP_PRESENT || t->op == OP_MASK) {
			any = code_matches(r, t, t->vals);
			continue;
		}
		for (size_t v = 0; v < t->val_count && !any; v++)
			any = code_matches(r, t, &t->vals[v]);
	}
	if (t->op == OP_NE || t->op == OP_NOT_IN)
		return !any && !(unknown && !states);
	return any;
}

/* The i-th value of a string fact (*i advances), or NULL after the last;
 * *len_r: its length. */
static const char *string_next(const struct facts *f, const struct rule_test *t, size_t *i,
			       size_t *len_r)
{
	const char *s = NULL;

	if (t->fact >= FACT_BODY && t->fact <= FACT_ATTACHMENT_TYPE)
		return rules_content_next(f, t, i, len_r);
	s = string_one(f, t, i);
	if (s != NULL)
		*len_r = strlen(s);
	return s;
}

static const char *string_one(const struct facts *f, const struct rule_test *t, size_t *i)
{
	const char *s = NULL;

	switch (t->fact) {
	case FACT_RCPT: {
		size_t n = f->rcpt_count < FACTS_MAX_RCPTS ? f->rcpt_count : FACTS_MAX_RCPTS;

		while (*i < n && f->rcpts != NULL && (s = f->rcpts[(*i)++]) == NULL)
			;
		return s;
	}
	case FACT_ARC_SEALER: /* every set's, oldest first */
		while (*i < f->arc.set_count && *i < ARC_MAX_SETS && f->arc.sets != NULL)
			if ((s = f->arc.sets[(*i)++].seal_domain) != NULL)
				return s;
		return NULL;
	case FACT_HEADER:
		while (*i < f->header_count && *i < FACTS_MAX_HEADERS && f->headers != NULL) {
			const struct header_field *h = &f->headers[(*i)++];

			if (h->name != NULL && strcasecmp(h->name, t->arg) == 0)
				return h->value != NULL ? h->value : "";
		}
		return NULL;
	default:
		break;
	}
	if ((*i)++ > 0)
		return NULL;
	switch (t->fact) {
	case FACT_CLIENT_HOST:
		return f->client_host;
	case FACT_HELO:
		return f->helo;
	case FACT_MAIL_FROM:
		return f->mail_from;
	case FACT_MAIL_FROM_DOMAIN:
		return f->mail_from_domain;
	case FACT_FROM_DOMAIN:
		return f->from_domain;
	case FACT_FROM_ERROR:
		return f->from_error;
	case FACT_DMARC_OVERRIDE:
		return f->dmarc_override;
	case FACT_AUTH:
		return f->auth_user;
	case FACT_TLS:
		return f->tls_version;
	case FACT_GEOIP_COUNTRY:
		return f->geoip.country;
	default:
		return NULL;
	}
}

static int test_string(struct eval *e, const struct rule_test *t)
{
	size_t i = 0, len = 0;
	int any = 0, multi = t->fact == FACT_RCPT || t->fact == FACT_HEADER ||
			     t->fact == FACT_URI || t->fact == FACT_URI_DOMAIN ||
			     t->fact == FACT_ATTACHMENT_NAME || t->fact == FACT_ATTACHMENT_TYPE ||
			     t->fact == FACT_ARC_SEALER;
	const char *s;

	while (!any && (s = string_next(e->f, t, &i, &len)) != NULL) {
		switch (t->op) {
		case OP_PRESENT:
			/* a header is there even when empty; a single value must
			 * say something ("" is the null sender) */
			any = multi || *s != '\0';
			break;
		case OP_MATCH:
		case OP_NOT_MATCH:
			any = re_match_len(e, t, s, len);
			break;
		case OP_LT:
		case OP_LE:
		case OP_GT:
		case OP_GE: {
			int have = rules_tls_rank(s), want = (int)t->vals[0].lo;

			any = have != 0 && (t->op == OP_LT   ? have < want
					    : t->op == OP_LE ? have <= want
					    : t->op == OP_GT ? have > want
							     : have >= want);
			break;
		}
		default:
			for (size_t v = 0; v < t->val_count && !any; v++)
				any = strcasecmp(s, t->vals[v].s) == 0;
			break;
		}
	}
	if (t->op == OP_NE || t->op == OP_NOT_IN || t->op == OP_NOT_MATCH)
		return !any;
	return any;
}

static int test_number(const struct eval *e, const struct rule_test *t)
{
	const struct facts *f = e->f;
	uint64_t x;
	int any = 0;

	switch (t->fact) {
	case FACT_GEOIP_ASN:
		x = f->geoip.asn;
		break;
	case FACT_RCPT_COUNT:
		x = f->rcpt_count;
		break;
	case FACT_MIME_PARTS:
		x = rules_content_number(f, FACT_MIME_PARTS);
		break;
	default: /* FACT_SIZE */
		x = (uint64_t)f->header_bytes + (uint64_t)f->body_bytes;
		break;
	}
	switch (t->op) {
	case OP_LT:
		return x < t->vals[0].lo;
	case OP_LE:
		return x <= t->vals[0].lo;
	case OP_GT:
		return x > t->vals[0].lo;
	case OP_GE:
		return x >= t->vals[0].lo;
	default:
		break;
	}
	for (size_t v = 0; v < t->val_count && !any; v++)
		any = x >= t->vals[v].lo && x <= t->vals[v].hi;
	return t->op == OP_NE || t->op == OP_NOT_IN ? !any : any;
}

static int test_addr(const struct eval *e, const struct rule_test *t)
{
	int any = 0;

	for (size_t v = 0; v < t->val_count && !any && e->f->client.family != 0; v++)
		any = cidr_contains(&t->vals[v].net, &e->f->client);
	return t->op == OP_NE || t->op == OP_NOT_IN ? !any : any;
}

static int eval_test(struct eval *e, const struct rule_test *t)
{
	switch (t->fact) {
	case FACT_SPF:
	case FACT_SPF_HELO:
	case FACT_DKIM:
	case FACT_DMARC:
	case FACT_DMARC_POLICY:
	case FACT_IPREV:
	case FACT_ARC:
		return test_enum(e, t);
	case FACT_DNSBL:
	case FACT_DNSWL:
	case FACT_DBL:
	case FACT_URIBL:
		return test_codes(e, t);
	case FACT_HTML_ONLY:
	case FACT_LINK_TEXT_MISMATCH:
	case FACT_DOUBLE_EXTENSION:
	case FACT_ARCHIVE_EXECUTABLE:
		return rules_content_flag(e->f, (enum rule_fact)t->fact);
	case FACT_MIME_PARTS:
	case FACT_GEOIP_ASN:
	case FACT_RCPT_COUNT:
	case FACT_SIZE:
		return test_number(e, t);
	case FACT_CLIENT:
		return test_addr(e, t);
	case FACT_AUTHENTICATED:
		return e->f->auth_user != NULL && e->f->auth_user[0] != '\0';
	case FACT_RATELIMIT:
		return e->f->ratelimit != 0;
	case FACT_RATELIMIT_IP:
		return (e->f->ratelimit & RATELIMIT_BIT(RATELIMIT_IP)) != 0;
	case FACT_RATELIMIT_SENDER:
		return (e->f->ratelimit & RATELIMIT_BIT(RATELIMIT_SENDER)) != 0;
	case FACT_RATELIMIT_USER:
		return (e->f->ratelimit & RATELIMIT_BIT(RATELIMIT_USER)) != 0;
	default:
		return test_string(e, t);
	}
}

/* Recursion only over parentheses and not, which the parser caps. */
static int eval_node(struct eval *e, uint32_t n)
{
	const struct rule_node *node = &e->rs->nodes[n];

	switch (node->kind) {
	case NODE_TRUE:
		return 1;
	case NODE_FALSE:
		return 0;
	case NODE_AND:
		for (uint32_t i = 0; i < node->n; i++)
			if (!eval_node(e, e->rs->kids[node->arg + i]))
				return 0;
		return 1;
	case NODE_OR:
		for (uint32_t i = 0; i < node->n; i++)
			if (eval_node(e, e->rs->kids[node->arg + i]))
				return 1;
		return 0;
	case NODE_NOT:
		return !eval_node(e, node->arg);
	case NODE_RULE:
		return e->matched[node->arg];
	default:
		return eval_test(e, &e->rs->tests[node->arg]);
	}
}

/* discard and reject rank together; the first in the file wins a tie */
static int severity(int action)
{
	static const int rank[] = {
	    [RULES_ACCEPT] = 0,	  [RULES_TAG] = 1,    [RULES_QUARANTINE] = 2,
	    [RULES_TEMPFAIL] = 3, [RULES_REJECT] = 4, [RULES_DISCARD] = 4,
	};

	return rank[action];
}

void rules_evaluate(const struct ruleset *rs, const struct facts *f, struct arena *a,
		    struct rules_verdict *out)
{
	rules_evaluate_except(rs, f, a, NULL, NULL, out);
}

void rules_evaluate_except(const struct ruleset *rs, const struct facts *f, struct arena *a,
			   const unsigned char *fixed, unsigned char *matched_r,
			   struct rules_verdict *out)
{
	struct eval e = {rs, f, a, NULL, NULL, NULL};
	const struct rule *forced = NULL;
	size_t hits = 0, monitors = 0;

	memset(out, 0, sizeof(*out));
	out->action = RULES_ACCEPT;
	out->threshold = rules_threshold(rs, RULES_TAG);
	if (rs == NULL || rs->rule_count == 0)
		return;
	e.matched = arena_alloc(a, rs->rule_count);
	for (size_t i = 0; i < rs->rule_count; i++) {
		uint32_t r = rs->order[i];

		e.matched[r] = fixed != NULL && fixed[r] != RULES_EVALUATE
				   ? fixed[r] == RULES_FIXED_YES
				   : (unsigned char)eval_node(&e, rs->rules[r].root);
		if (e.matched[r] && !rs->rules[r].hidden) {
			if (rs->rules[r].monitor)
				monitors++;
			else
				hits++;
		}
	}
	if (matched_r != NULL)
		memcpy(matched_r, e.matched, rs->rule_count);
	out->hits = arena_alloc(a, (hits + 1) * sizeof(*out->hits));
	out->hit_scores = arena_alloc(a, (hits + 1) * sizeof(*out->hit_scores));
	out->monitors = arena_alloc(a, (monitors + 1) * sizeof(*out->monitors));
	for (size_t r = 0; r < rs->rule_count; r++) {
		const struct rule *rule = &rs->rules[r];

		if (!e.matched[r] || rule->hidden)
			continue;
		if (rule->monitor) {
			out->monitors[out->monitor_count++] = rule->name;
			continue;
		}
		out->hits[out->hit_count] = rule->name;
		out->hit_scores[out->hit_count++] = rule->score;
		out->score += rule->score;
		if (rule->action != RULES_ACCEPT &&
		    (forced == NULL || severity(rule->action) > severity(forced->action)))
			forced = rule;
	}
	if (forced != NULL) {
		out->action = (enum rules_action)forced->action;
		out->text = forced->text;
		out->forced_by = forced->name;
		out->threshold = rules_threshold(rs, out->action);
		return;
	}
	/* sums of decimal scores are inexact: 0.1 + 0.2 must reach 0.3 */
	for (int i = 2; i >= 0; i--) {
		static const enum rules_action by_score[] = {RULES_TAG, RULES_QUARANTINE,
							     RULES_REJECT};

		if (rs->threshold[i] >= 0 && out->score >= rs->threshold[i] - 1e-9) {
			out->action = by_score[i];
			out->threshold = rs->threshold[i];
			return;
		}
	}
}

const char *rules_action_name(enum rules_action a)
{
	static const char *const names[] = {
	    [RULES_ACCEPT] = "accept",	       [RULES_TAG] = "tag",
	    [RULES_QUARANTINE] = "quarantine", [RULES_REJECT] = "reject",
	    [RULES_TEMPFAIL] = "tempfail",     [RULES_DISCARD] = "discard",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/*
 * report_agg - group history records into aggregate-report rows (see
 * report_agg.h).
 *
 * Mapping to the schema (dmarc-aggregate-2.0.xsd), done before grouping so
 * that records which differ only in spelling share a row:
 *   SPF result:  none pass fail softfail policy neutral temperror permerror
 *                as is (any case); hardfail -> fail; error, temperr ->
 *                temperror; missing -> none; anything else -> permerror
 *                (we cannot tell what it meant: an error, not "no record").
 *   DKIM result: none pass fail policy neutral temperror permerror as is;
 *                hardfail -> fail; softfail -> fail (DKIM has none);
 *                invalid, permerr -> permerror; error, temperr ->
 *                temperror; missing -> none; anything else -> permerror.
 *   SPF scope:   "mfrom" kept, anything else omitted (the 2.0 schema only
 *                has mfrom; a HELO-only result for the null sender is the
 *                MAIL FROM identity postmaster@HELO, RFC 7208 §2.4).
 *   disposition: the applied none|quarantine|reject; "pass" when DMARC
 *                passed and nothing was applied under an enforcing
 *                policy (RFC 9990 ActionDispositionType).
 *   override:    the five RFC 9990 types kept; the removed "forwarded"
 *                -> trusted_forwarder, anything else -> other.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "mem.h"
#include "report_agg.h"

#define KEY_MAX (64 * 1024)

struct slot {
	uint64_t hash;
	const char *key;
	void *val;
};

struct table {
	struct slot *slots;
	size_t size, used;
};

struct report_agg {
	struct arena *arena;
	struct table domains_by_name, rows_by_key;
	struct report_domain **domains;
	size_t domain_count, domain_size;
	int sorted;
	uint64_t skipped;
	struct buf key;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void *table_get(const struct table *t, const char *key, uint64_t h)
{
	if (t->size == 0)
		return NULL;
	for (size_t i = h & (t->size - 1);; i = (i + 1) & (t->size - 1)) {
		if (t->slots[i].key == NULL)
			return NULL;
		if (t->slots[i].hash == h && strcmp(t->slots[i].key, key) == 0)
			return t->slots[i].val;
	}
}

static void table_put(struct table *t, const char *key, uint64_t h, void *val)
{
	size_t i;

	if ((t->used + 1) * 10 >= t->size * 7) {
		struct table bigger = {xcalloc(t->size ? t->size * 2 : 64, sizeof(struct slot)),
				       t->size ? t->size * 2 : 64, 0};

		for (size_t j = 0; j < t->size; j++)
			if (t->slots[j].key != NULL)
				table_put(&bigger, t->slots[j].key, t->slots[j].hash,
					  t->slots[j].val);
		free(t->slots);
		*t = bigger;
	}
	for (i = h & (t->size - 1); t->slots[i].key != NULL; i = (i + 1) & (t->size - 1))
		;
	t->slots[i] = (struct slot){h, key, val};
	t->used++;
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(s, *list) == 0)
			return 1;
	return 0;
}

static const char *enum_value(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(s, *list) == 0)
			return *list;
	return NULL;
}

const char *report_agg_spf_result(const char *result)
{
	static const char *const valid[] = {"none",	 "pass",      "fail",
					    "softfail",	 "policy",    "neutral",
					    "temperror", "permerror", NULL};
	static const char *const temp[] = {"error", "temperr", NULL};
	const char *v;

	if (result == NULL || *result == '\0')
		return "none";
	if ((v = enum_value(result, valid)) != NULL)
		return v;
	if (strcasecmp(result, "hardfail") == 0)
		return "fail";
	return in_list(result, temp) ? "temperror" : "permerror";
}

const char *report_agg_dkim_result(const char *result)
{
	static const char *const valid[] = {"none",    "pass",	    "fail",	 "policy",
					    "neutral", "temperror", "permerror", NULL};
	static const char *const fail[] = {"hardfail", "softfail", NULL};
	static const char *const temp[] = {"error", "temperr", NULL};
	const char *v;

	if (result == NULL || *result == '\0')
		return "none";
	if ((v = enum_value(result, valid)) != NULL)
		return v;
	if (in_list(result, fail))
		return "fail";
	return in_list(result, temp) ? "temperror" : "permerror";
}

const char *report_agg_policy(const char *p)
{
	static const char *const valid[] = {"none", "quarantine", "reject", NULL};

	return p == NULL ? NULL : enum_value(p, valid);
}

static const char *map_override(const char *o)
{
	static const char *const valid[] = {"local_policy",	"mailing_list",	     "other",
					    "policy_test_mode", "trusted_forwarder", NULL};
	const char *v;

	if (o == NULL || *o == '\0')
		return NULL;
	if ((v = enum_value(o, valid)) != NULL)
		return v;
	return strcasecmp(o, "forwarded") == 0 ? "trusted_forwarder" : "other";
}

static char *lower_dup(struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s != NULL ? s : "");

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

struct report_agg *report_agg_new(void)
{
	struct report_agg *agg = xcalloc(1, sizeof(*agg));

	agg->arena = arena_new(64 * 1024);
	buf_init(&agg->key, KEY_MAX);
	return agg;
}

void report_agg_free(struct report_agg **aggp)
{
	struct report_agg *agg = *aggp;

	if (agg == NULL)
		return;
	for (size_t i = 0; i < agg->domain_count; i++)
		free(agg->domains[i]->rows);
	free(agg->domains);
	free(agg->domains_by_name.slots);
	free(agg->rows_by_key.slots);
	buf_release(&agg->key);
	arena_free(&agg->arena);
	free(agg);
	*aggp = NULL;
}

static void key_add(struct buf *k, const char *s)
{
	/* length-prefixed: no value can fake a field boundary */
	buf_printf(k, "%zu:%s|", s ? strlen(s) : (size_t)-1, s ? s : "");
}

/* What makes two records one row: the policy domain and every field of the
 * row, in k. */
static void row_key(struct buf *k, const char *name, const struct report_row *row)
{
	buf_reset(k);
	key_add(k, name);
	key_add(k, row->source_ip);
	key_add(k, row->disposition);
	key_add(k, row->dkim_eval);
	key_add(k, row->spf_eval);
	key_add(k, row->override);
	key_add(k, row->header_from);
	key_add(k, row->envelope_from);
	key_add(k, row->spf_domain);
	key_add(k, row->spf_scope);
	key_add(k, row->spf_result);
	for (size_t i = 0; i < row->dkim_count; i++) {
		key_add(k, row->dkim[i].domain);
		key_add(k, row->dkim[i].selector);
		key_add(k, row->dkim[i].result);
	}
}

static const char *envelope_domain(struct arena *a, const struct history_record *r)
{
	const char *at;

	if (r->mail_from == NULL || r->mail_from[0] == '\0')
		/* null sender: the MAIL FROM identity is postmaster@HELO */
		return r->helo != NULL && r->helo[0] != '\0' ? lower_dup(a, r->helo) : NULL;
	at = strrchr(r->mail_from, '@');
	return lower_dup(a, at != NULL ? at + 1 : r->mail_from);
}

static const char *applicable_policy(const struct history_record *r, const char *domain,
				     const char *header_from)
{
	if (strcmp(domain, header_from) != 0 && report_agg_policy(r->sp) != NULL)
		return report_agg_policy(r->sp);
	return report_agg_policy(r->p);
}

static struct report_domain *domain_for(struct report_agg *agg, const struct history_record *r,
					const char *name)
{
	uint64_t h = hash_str(name);
	struct report_domain *d = table_get(&agg->domains_by_name, name, h);

	if (d == NULL) {
		d = arena_alloc(agg->arena, sizeof(*d));
		d->policy.domain = name;
		d->policy.last_time = INT64_MIN;
		table_put(&agg->domains_by_name, name, h, d);
		if (agg->domain_count == agg->domain_size) {
			agg->domain_size = agg->domain_size ? agg->domain_size * 2 : 16;
			agg->domains =
			    xrealloc(agg->domains, agg->domain_size * sizeof(*agg->domains));
		}
		agg->domains[agg->domain_count++] = d;
		agg->sorted = 0;
	}
	if (r->time >= d->policy.last_time) {
		struct report_policy *p = &d->policy;

		p->last_time = r->time;
		p->p = report_agg_policy(r->p);
		if (p->p == NULL)
			p->p = "none"; /* p is required; an invalid one is treated as none */
		p->sp = report_agg_policy(r->sp);
		p->np = report_agg_policy(r->np);
		p->adkim_strict = r->adkim_strict;
		p->aspf_strict = r->aspf_strict;
		p->testing = r->testing;
		p->discovery = r->discovery != NULL && strcasecmp(r->discovery, "psl") == 0
				   ? "psl"
				   : "treewalk";
		p->rua = r->rua != NULL ? arena_strdup(agg->arena, r->rua) : NULL;
	}
	return d;
}

int report_agg_add(struct report_agg *agg, const struct history_record *r)
{
	struct arena *a = agg->arena;
	struct report_row row = {0}, *found;
	struct report_domain *d;
	const char *name, *policy;
	uint64_t h;

	if (r->policy_domain == NULL || r->policy_domain[0] == '\0') {
		agg->skipped++;
		return 0;
	}
	name = lower_dup(a, r->policy_domain);
	d = domain_for(agg, r, name);

	row.source_ip = r->client_ip != NULL ? r->client_ip : "";
	row.header_from = lower_dup(a, r->header_from);
	row.envelope_from = envelope_domain(a, r);
	row.dkim_eval = r->dkim_aligned ? "pass" : "fail";
	row.spf_eval = r->spf_aligned ? "pass" : "fail";
	row.disposition = report_agg_policy(r->disposition);
	if (row.disposition == NULL)
		row.disposition = "none";
	policy = applicable_policy(r, name, row.header_from);
	if (strcmp(row.disposition, "none") == 0 && r->dmarc_result != NULL &&
	    strcasecmp(r->dmarc_result, "pass") == 0 && policy != NULL &&
	    strcmp(policy, "none") != 0)
		row.disposition = "pass";
	row.override = map_override(r->override);
	if (r->spf_domain != NULL && r->spf_domain[0] != '\0') {
		row.spf_domain = lower_dup(a, r->spf_domain);
		row.spf_scope =
		    r->spf_scope == NULL || strcasecmp(r->spf_scope, "mfrom") == 0 ? "mfrom" : NULL;
		row.spf_result = report_agg_spf_result(r->spf_result);
	}
	row.dkim_count = r->dkim_count < RECORD_MAX_DKIM ? r->dkim_count : RECORD_MAX_DKIM;
	for (size_t i = 0; i < row.dkim_count; i++) {
		row.dkim[i].domain = lower_dup(a, r->dkim[i].domain);
		row.dkim[i].selector = r->dkim[i].selector != NULL ? r->dkim[i].selector : "";
		row.dkim[i].result = report_agg_dkim_result(r->dkim[i].result);
	}

	row_key(&agg->key, name, &row);
	d->messages++;
	if (agg->key.overflow) {
		/* a pathological record (64 KiB of identifiers): its own row */
		buf_reset(&agg->key);
		buf_printf(&agg->key, "overflow:%p:%llu", (void *)d,
			   (unsigned long long)d->messages);
	}
	h = hash_str(buf_str(&agg->key));
	if ((found = table_get(&agg->rows_by_key, buf_str(&agg->key), h)) != NULL) {
		found->count++;
		return 1;
	}
	found = arena_alloc(a, sizeof(*found));
	*found = row;
	found->source_ip = arena_strdup(a, row.source_ip);
	for (size_t i = 0; i < row.dkim_count; i++)
		found->dkim[i].selector = arena_strdup(a, row.dkim[i].selector);
	found->count = 1;
	table_put(&agg->rows_by_key, arena_strdup(a, buf_str(&agg->key)), h, found);
	if ((d->row_count & (d->row_count - 1)) == 0) /* 0, 1, 2, 4...: grow at powers of two */
		d->rows =
		    xrealloc(d->rows, (d->row_count ? d->row_count * 2 : 1) * sizeof(*d->rows));
	d->rows[d->row_count++] = found;
	return 1;
}

static int domain_cmp(const void *x, const void *y)
{
	const struct report_domain *const *a = x, *const *b = y;

	return strcmp((*a)->policy.domain, (*b)->policy.domain);
}

size_t report_agg_domain_count(struct report_agg *agg)
{
	if (!agg->sorted && agg->domain_count > 0)
		qsort(agg->domains, agg->domain_count, sizeof(*agg->domains), domain_cmp);
	agg->sorted = 1;
	return agg->domain_count;
}

const struct report_domain *report_agg_domain(struct report_agg *agg, size_t i)
{
	return i < report_agg_domain_count(agg) ? agg->domains[i] : NULL;
}

uint64_t report_agg_skipped(const struct report_agg *agg)
{
	return agg->skipped;
}

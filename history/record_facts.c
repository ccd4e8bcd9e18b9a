/*
 * record_facts - decode stored facts (see record_facts.h).
 *
 * One table per JSON object (struct fd_table): a row is a member's key,
 * its kind, its offset in the struct being filled and, for nested objects
 * and arrays, the table of what is inside.  The decoder walks the parsed
 * object once and looks every member up in its table; a member the table
 * does not name is skipped (a newer milter wrote it).  Adding a fact to
 * facts_encode() in record.c is adding one row below, and the round-trip
 * test in history_test.c fails until it is added.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "ratelimit_result.h"
#include "record_facts.h"
#include "record_int.h"

enum fd_kind {
	FD_STR,	    /* const char * */
	FD_CHARS,   /* char[max] (NUL included), e.g. client_ip, geoip.country */
	FD_INT,	    /* int in min..max */
	FD_UINT,    /* unsigned (uint32_t) in 0..max */
	FD_SIZE,    /* size_t in 0..max */
	FD_DBL,	    /* double, finite */
	FD_ENUM,    /* an enum written by its name function */
	FD_OBJ,	    /* a nested struct: sub table, at off */
	FD_ARR,	    /* an array of structs: pointer at off, count at count_off */
	FD_STRS,    /* an array of strings: pointer at off, count at count_off */
	FD_CODES,   /* DNS list codes: "a.b.c.d" strings into uint32_t[max] */
	FD_ALLOW,   /* the list's allow flag, in a struct dnsbl_list of our own */
	FD_FLAGS,   /* unsigned bits: a set of an enum's names (struct fd_enum) */
	FD_IGNORED, /* written for humans, derived on decode */
	FD_BITS,    /* bit-fields, written as a set of names (struct fd_bits) */
};

#define NO_COUNT SIZE_MAX

struct fd_enum {
	const char *(*name)(int v);
	int count;
};

/* Bit-fields have no offsetof: a set of names and a setter per struct. */
struct fd_bits {
	const char *const *names;
	int count;
	void (*set)(char *base, int bit);
};

struct fd_table;

struct fd_field {
	const char *key;
	enum fd_kind kind;
	size_t off;
	long long min, max; /* FD_INT range; FD_UINT, FD_SIZE max; FD_CHARS size;
			     * FD_ARR, FD_STRS, FD_CODES most elements */
	const void *sub;    /* FD_ENUM: struct fd_enum; FD_OBJ, FD_ARR: struct fd_table */
	size_t count_off;   /* FD_ARR, FD_STRS, FD_CODES: size_t count, or NO_COUNT */
};

struct fd_table {
	const struct fd_field *fields;
	size_t count;
	size_t size; /* of one element (FD_ARR) */
};

#define TABLE(rows, type)                                                                          \
	{                                                                                          \
		rows, sizeof(rows) / sizeof(rows[0]), sizeof(type)                                 \
	}

/* ------------------------------------------------------------------ enums */

static const char *spf_result_n(int v)
{
	return spf_result_name((enum spf_result)v);
}
static const char *spf_scope_n(int v)
{
	return spf_scope_name((enum spf_scope)v);
}
static const char *dkim_result_n(int v)
{
	return dkim_result_name((enum dkim_result)v);
}
static const char *dmarc_result_n(int v)
{
	return dmarc_result_name((enum dmarc_result)v);
}
static const char *dmarc_policy_n(int v)
{
	return dmarc_policy_name((enum dmarc_policy)v);
}
static const char *arc_result_n(int v)
{
	return arc_result_name((enum arc_result)v);
}
static const char *iprev_result_n(int v)
{
	return iprev_result_name((enum iprev_result)v);
}
static const char *dnsbl_status_n(int v)
{
	return dnsbl_status_name((enum dnsbl_status)v);
}
static const char *identity_n(int v)
{
	/* the names record.c writes */
	static const char *const names[] = {
	    [IDENT_MAIL_FROM] = "mail_from", [IDENT_FROM] = "from", [IDENT_HELO] = "helo",
	    [IDENT_DKIM] = "dkim",	     [IDENT_URI] = "uri",
	};

	return names[v];
}

static const struct fd_enum spf_results = {spf_result_n, SPF_PERMERROR + 1};
static const struct fd_enum spf_scopes = {spf_scope_n, SPF_SCOPE_HELO + 1};
static const struct fd_enum dkim_results = {dkim_result_n, DKIM_PERMERROR + 1};
static const struct fd_enum dmarc_results = {dmarc_result_n, DMARC_PERMERROR + 1};
static const struct fd_enum dmarc_policies = {dmarc_policy_n, DMARC_POLICY_REJECT + 1};
static const struct fd_enum iprev_results = {iprev_result_n, IPREV_PERMERROR + 1};
static const struct fd_enum dnsbl_statuses = {dnsbl_status_n, DNSBL_ERROR + 1};
static const struct fd_enum identities = {identity_n, IDENT_URI + 1};
static const char *ratelimit_kind_n(int v)
{
	return ratelimit_kind_name((enum ratelimit_kind)v);
}
static const struct fd_enum ratelimit_kinds = {ratelimit_kind_n, RATELIMIT_KINDS};

/* ----------------------------------------------------------------- tables */

#define STR(k, base, m)                                                                            \
	{                                                                                          \
		k, FD_STR, offsetof(base, m), 0, 0, NULL, NO_COUNT                                 \
	}
#define INT(k, base, m, lo, hi)                                                                    \
	{                                                                                          \
		k, FD_INT, offsetof(base, m), lo, hi, NULL, NO_COUNT                               \
	}
#define UINT(k, base, m)                                                                           \
	{                                                                                          \
		k, FD_UINT, offsetof(base, m), 0, UINT32_MAX, NULL, NO_COUNT                       \
	}
#define SIZE(k, base, m)                                                                           \
	{                                                                                          \
		k, FD_SIZE, offsetof(base, m), 0, (1LL << 48), NULL, NO_COUNT                      \
	}
#define ENUM(k, base, m, e)                                                                        \
	{                                                                                          \
		k, FD_ENUM, offsetof(base, m), 0, 0, &e, NO_COUNT                                  \
	}
#define OBJ(k, base, m, t)                                                                         \
	{                                                                                          \
		k, FD_OBJ, offsetof(base, m), 0, 0, &t, NO_COUNT                                   \
	}

/* A DNS list answer; in domain_lists the same members sit in .r. */
#define DNSBL_ROWS(base, pre)                                                                      \
	STR("zone", base, pre zone), STR("subject", base, pre subject),                            \
	    ENUM("status", base, pre status, dnsbl_statuses),                                      \
	    {"codes",	      FD_CODES, offsetof(base, pre codes),     0,                          \
	     DNSBL_MAX_CODES, NULL,	offsetof(base, pre code_count)},                           \
	    {"allow", FD_ALLOW, offsetof(base, pre list), 0, 1, NULL, NO_COUNT},                   \
	    UINT("ms", base, pre ms), STR("reason", base, pre reason)

static const struct fd_field ip_list_rows[] = {
    {"identity", FD_IGNORED, 0, 0, 0, NULL, NO_COUNT}, /* not written for IP lists */
    DNSBL_ROWS(struct dnsbl_result, ),
};
static const struct fd_field domain_list_rows[] = {
    ENUM("identity", struct domain_listing, identity, identities),
    DNSBL_ROWS(struct domain_listing, r.),
};
static const struct fd_field iprev_rows[] = {
    ENUM("result", struct iprev_outcome, result, iprev_results),
    STR("name", struct iprev_outcome, name),
    STR("reason", struct iprev_outcome, reason),
};
static const struct fd_field geoip_rows[] = {
    {"country", FD_CHARS, offsetof(struct geoip_result, country), 0,
     sizeof(((struct geoip_result *)0)->country), NULL, NO_COUNT},
    UINT("asn", struct geoip_result, asn),
    STR("asn_org", struct geoip_result, asn_org),
};
static const struct fd_field spf_rows[] = {
    ENUM("result", struct spf_outcome, result, spf_results),
    ENUM("scope", struct spf_outcome, scope, spf_scopes),
    STR("domain", struct spf_outcome, domain),
    STR("reason", struct spf_outcome, reason),
    STR("explanation", struct spf_outcome, explanation),
    UINT("dns_queries", struct spf_outcome, dns_queries),
    UINT("void_lookups", struct spf_outcome, void_lookups),
};
static const struct fd_field dkim_rows[] = {
    ENUM("result", struct dkim_sig, result, dkim_results),
    STR("domain", struct dkim_sig, domain),
    STR("selector", struct dkim_sig, selector),
    STR("algorithm", struct dkim_sig, algorithm),
    STR("b8", struct dkim_sig, b8),
    STR("reason", struct dkim_sig, reason),
    UINT("key_bits", struct dkim_sig, key_bits),
};
static const struct fd_field dmarc_record_rows[] = {
    INT("found", struct dmarc_record, found, 0, 1),
    ENUM("error", struct dmarc_record, error, dmarc_results),
    STR("record_domain", struct dmarc_record, record_domain),
    STR("org_domain", struct dmarc_record, org_domain),
    ENUM("p", struct dmarc_record, p, dmarc_policies),
    ENUM("sp", struct dmarc_record, sp, dmarc_policies),
    ENUM("np", struct dmarc_record, np, dmarc_policies),
    INT("adkim_strict", struct dmarc_record, adkim_strict, 0, 1),
    INT("aspf_strict", struct dmarc_record, aspf_strict, 0, 1),
    INT("testing", struct dmarc_record, testing, 0, 1),
    INT("psd", struct dmarc_record, psd, -1, 1),
    STR("rua", struct dmarc_record, rua),
    STR("raw", struct dmarc_record, raw),
    STR("invalid", struct dmarc_record, invalid),
    INT("domain_exists", struct dmarc_record, domain_exists, -1, 1),
    UINT("queries", struct dmarc_record, queries),
    STR("why", struct dmarc_record, why),
};
static const struct fd_field dmarc_rows[] = {
    ENUM("result", struct dmarc_outcome, result, dmarc_results),
    STR("header_from", struct dmarc_outcome, header_from),
    ENUM("policy", struct dmarc_outcome, policy, dmarc_policies),
    ENUM("published", struct dmarc_outcome, published, dmarc_policies),
    INT("spf_aligned", struct dmarc_outcome, spf_aligned, 0, 1),
    INT("dkim_aligned", struct dmarc_outcome, dkim_aligned, 0, 1),
    STR("dkim_aligned_domain", struct dmarc_outcome, dkim_aligned_domain),
    STR("reason", struct dmarc_outcome, reason),
};

/* The body (issue 19): parts, links' hosts and domains, counts, flags. */
static const char *const part_flag_names[] = {"attachment", "in_archive"};
static void part_flag_set(char *base, int bit)
{
	struct content_part *p = (struct content_part *)base;

	if (bit == 0)
		p->attachment = 1;
	else
		p->in_archive = 1;
}
static const struct fd_bits part_flags = {part_flag_names, 2, part_flag_set};

static const char *const content_flag_names[] = {"html_only", "link_text_mismatch",
						 "double_extension", "archive_executable"};
static void content_flag_set(char *base, int bit)
{
	struct content_facts *c = (struct content_facts *)base;

	switch (bit) {
	case 0:
		c->html_only = 1;
		break;
	case 1:
		c->link_text_mismatch = 1;
		break;
	case 2:
		c->double_extension = 1;
		break;
	default:
		c->archive_executable = 1;
		break;
	}
}
static const struct fd_bits content_flags = {content_flag_names, 4, content_flag_set};

static const struct fd_field part_rows[] = {
    STR("type", struct content_part, type),
    STR("sniffed", struct content_part, sniffed),
    STR("charset", struct content_part, charset),
    STR("encoding", struct content_part, encoding),
    STR("filename", struct content_part, filename),
    SIZE("size", struct content_part, size),
    UINT("depth", struct content_part, depth),
    {"flags", FD_BITS, 0, 0, 0, &part_flags, NO_COUNT},
};
static const struct fd_table part_table = TABLE(part_rows, struct content_part);

#define C struct content_facts
static const struct fd_field content_rows[] = {
    INT("scanned", C, scanned, 0, 1),
    SIZE("text_len", C, text_len),
    SIZE("raw_len", C, raw_len),
    {"parts", FD_ARR, offsetof(C, parts), 0, RECORD_FACTS_MAX_PARTS, &part_table,
     offsetof(C, part_count)},
    SIZE("url_count", C, url_count),
    {"hosts", FD_STRS, offsetof(C, hosts), 0, RECORD_FACTS_MAX_HOSTS, NULL,
     offsetof(C, host_count)},
    {"domains", FD_STRS, offsetof(C, domains), 0, RECORD_FACTS_MAX_HOSTS, NULL,
     offsetof(C, domain_count)},
    {"flags", FD_BITS, 0, 0, 0, &content_flags, NO_COUNT},
    SIZE("skipped_parts", C, skipped_parts),
    SIZE("skipped_urls", C, skipped_urls),
    SIZE("skipped_text_bytes", C, skipped_text_bytes),
};
#undef C
static const struct fd_table content_table = TABLE(content_rows, struct content_facts);

static const struct fd_table ip_list_table = TABLE(ip_list_rows, struct dnsbl_result);
static const struct fd_table domain_list_table = TABLE(domain_list_rows, struct domain_listing);
static const struct fd_table iprev_table = TABLE(iprev_rows, struct iprev_outcome);
static const struct fd_table geoip_table = TABLE(geoip_rows, struct geoip_result);
static const struct fd_table spf_table = TABLE(spf_rows, struct spf_outcome);
static const struct fd_table dkim_table = TABLE(dkim_rows, struct dkim_sig);
static const struct fd_enum arc_results = {arc_result_n, ARC_TEMPERROR + 1};
static const struct fd_field arc_set_rows[] = {
    UINT("instance", struct arc_set, instance),
    STR("seal_domain", struct arc_set, seal_domain),
    STR("seal_selector", struct arc_set, seal_selector),
    STR("cv", struct arc_set, cv),
    STR("ams_domain", struct arc_set, ams_domain),
    INT("ams_valid", struct arc_set, ams_valid, 0, 1),
};
static const struct fd_table arc_set_table = TABLE(arc_set_rows, struct arc_set);
static const struct fd_field arc_rows[] = {
    ENUM("result", struct arc_outcome, result, arc_results),
    STR("reason", struct arc_outcome, reason),
    UINT("oldest_pass", struct arc_outcome, oldest_pass),
    {"sets", FD_ARR, offsetof(struct arc_outcome, sets), 0, ARC_MAX_SETS, &arc_set_table,
     offsetof(struct arc_outcome, set_count)},
};
static const struct fd_table arc_table = TABLE(arc_rows, struct arc_outcome);
static const struct fd_table dmarc_record_table = TABLE(dmarc_record_rows, struct dmarc_record);
static const struct fd_table dmarc_table = TABLE(dmarc_rows, struct dmarc_outcome);

#define F struct facts
static const struct fd_field facts_rows[] = {
    {"family", FD_IGNORED, 0, 0, 0, NULL, NO_COUNT}, /* derived from client_ip */
    {"client_ip", FD_CHARS, offsetof(F, client_ip), 0, ADDR_STRLEN, NULL, NO_COUNT},
    STR("client_host", F, client_host),
    STR("helo", F, helo),
    STR("auth_user", F, auth_user),
    STR("tls_version", F, tls_version),
    {"ip_lists", FD_ARR, offsetof(F, ip_lists), 0, RECORD_FACTS_MAX_LISTS, &ip_list_table,
     offsetof(F, ip_list_count)},
    {"domain_lists", FD_ARR, offsetof(F, domain_lists), 0, RECORD_FACTS_MAX_LISTS,
     &domain_list_table, offsetof(F, domain_list_count)},
    OBJ("iprev", F, iprev, iprev_table),
    OBJ("geoip", F, geoip, geoip_table),
    STR("queue_id", F, queue_id),
    STR("mail_from", F, mail_from),
    STR("mail_from_domain", F, mail_from_domain),
    SIZE("rcpt_count", F, rcpt_count),
    /* rules read rcpts[0 .. min(rcpt_count, FACTS_MAX_RCPTS)): the array
     * always has FACTS_MAX_RCPTS entries, NULL past those stored */
    {"rcpts", FD_STRS, offsetof(F, rcpts), 0, FACTS_MAX_RCPTS, NULL, NO_COUNT},
    STR("message_id", F, message_id),
    SIZE("header_bytes", F, header_bytes),
    SIZE("body_bytes", F, body_bytes),
    SIZE("header_count", F, header_count),
    STR("skipped", F, skipped),
    {"ratelimit", FD_FLAGS, offsetof(F, ratelimit), 0, 0, &ratelimit_kinds, NO_COUNT},
    OBJ("spf_mfrom", F, spf_mfrom, spf_table),
    OBJ("spf_helo", F, spf_helo, spf_table),
    UINT("from_fields", F, from_fields),
    STR("from_domain", F, from_domain),
    STR("from_error", F, from_error),
    {"dkim", FD_ARR, offsetof(F, dkim.sig), 0, RECORD_FACTS_MAX_DKIM, &dkim_table,
     offsetof(F, dkim.count)},
    UINT("dkim_skipped", F, dkim.skipped),
    OBJ("dmarc_record", F, dmarc_record, dmarc_record_table),
    OBJ("dmarc", F, dmarc, dmarc_table),
    STR("dmarc_override", F, dmarc_override),
    OBJ("content", F, content, content_table),
    OBJ("arc", F, arc, arc_table),
    STR("arc_override_by", F, arc_override_by),
    STR("arc_override_why", F, arc_override_why),
    {"score", FD_DBL, offsetof(F, score), 0, 0, NULL, NO_COUNT},
    {"rules_hit", FD_STRS, offsetof(F, rules_hit), 0, RECORD_FACTS_MAX_NAMES, NULL,
     offsetof(F, rules_hit_count)},
    {"monitors_hit", FD_STRS, offsetof(F, monitors_hit), 0, RECORD_FACTS_MAX_NAMES, NULL,
     offsetof(F, monitors_hit_count)},
};
#undef F
static const struct fd_table facts_table = TABLE(facts_rows, struct facts);

/* ---------------------------------------------------------------- decoder */

struct fd {
	struct arena *a;
	const char *error;
};

static int fail(struct fd *d, const char *why)
{
	if (d->error == NULL)
		d->error = why;
	return -1;
}

static int integer(const struct jval *v, long long min, long long max, long long *out)
{
	char *end;

	if (v->type == J_BOOL) {
		*out = v->boolean;
		return min <= *out && *out <= max ? 0 : -1;
	}
	if (v->type != J_NUM)
		return -1;
	errno = 0;
	*out = strtoll(v->str, &end, 10);
	return errno != 0 || *end != '\0' || *out < min || *out > max ? -1 : 0;
}

/* "127.0.0.2" into host order; strictly four decimal octets. */
static int code_parse(const char *s, uint32_t *out)
{
	unsigned o[4];
	char tail;

	if (sscanf(s, "%3u.%3u.%3u.%3u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4 || o[0] > 255 ||
	    o[1] > 255 || o[2] > 255 || o[3] > 255)
		return -1;
	*out = (uint32_t)o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
	return 0;
}

static int decode_object(struct fd *d, const struct jval *obj, const struct fd_table *t,
			 char *base);

/* One decoder per kind of field (the table below): v into the member of
 * base that f names; -1 with d->error set. */
typedef int fd_decoder(struct fd *d, const struct fd_field *f, const struct jval *v, char *base);

static int decode_str(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	if (v->type != J_STR)
		return fail(d, "a string fact is not a string");
	*(const char **)(base + f->off) = v->str;
	return 0;
}

static int decode_chars(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	if (v->type != J_STR || strlen(v->str) >= (size_t)f->max)
		return fail(d, "a short string fact is too long or not a string");
	memcpy(base + f->off, v->str, strlen(v->str) + 1);
	return 0;
}

static int decode_int(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	long long n;

	if (integer(v, f->min, f->max, &n) < 0)
		return fail(d, "a flag fact is out of range");
	*(int *)(base + f->off) = (int)n;
	return 0;
}

static int decode_uint(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	long long n;

	if (integer(v, 0, f->max, &n) < 0)
		return fail(d, "a count fact is out of range");
	*(unsigned *)(base + f->off) = (unsigned)n;
	return 0;
}

static int decode_size(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	long long n;

	if (integer(v, 0, f->max, &n) < 0)
		return fail(d, "a size fact is out of range");
	*(size_t *)(base + f->off) = (size_t)n;
	return 0;
}

static int decode_dbl(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	char *end;
	double x;

	if (v->type != J_NUM)
		return fail(d, "a number fact is not a number");
	x = strtod(v->str, &end);
	if (*end != '\0' || !isfinite(x))
		return fail(d, "a number fact is not finite");
	*(double *)(base + f->off) = x;
	return 0;
}

static int decode_enum(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	const struct fd_enum *e = f->sub;

	if (v->type != J_STR)
		return fail(d, "a result fact is not a string");
	for (int i = 0; i < e->count; i++)
		if (strcmp(e->name(i), v->str) == 0) {
			*(int *)(base + f->off) = i; /* every enum of facts.h is int-sized */
			return 0;
		}
	return fail(d, "a result fact has an unknown name");
}

static int decode_obj(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	if (v->type != J_OBJ)
		return fail(d, "a nested fact is not an object");
	return decode_object(d, v, f->sub, base + f->off);
}

static int decode_arr(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	const struct fd_table *t = f->sub;
	char *elems;
	size_t i = 0;

	if (v->type != J_ARR || v->count > (size_t)f->max)
		return fail(d, "a list fact is not an array or too long");
	elems = arena_alloc(d->a, (v->count + 1) * t->size);
	memset(elems, 0, (v->count + 1) * t->size);
	for (const struct jval *k = v->kids; k != NULL; k = k->next, i++) {
		if (k->type != J_OBJ)
			return fail(d, "a list element is not an object");
		if (decode_object(d, k, t, elems + i * t->size) < 0)
			return -1;
	}
	*(void **)(base + f->off) = elems;
	*(size_t *)(base + f->count_off) = v->count;
	return 0;
}

static int decode_strs(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	size_t size = f->count_off == NO_COUNT ? (size_t)f->max : v->count;
	const char **names;
	size_t i = 0;

	if (v->type != J_ARR || v->count > (size_t)f->max)
		return fail(d, "a list of names is not an array or too long");
	names = arena_alloc(d->a, (size + 1) * sizeof(*names));
	memset(names, 0, (size + 1) * sizeof(*names));
	for (const struct jval *k = v->kids; k != NULL; k = k->next) {
		if (k->type != J_STR)
			return fail(d, "a name in a list is not a string");
		names[i++] = k->str;
	}
	*(const char ***)(base + f->off) = names;
	if (f->count_off != NO_COUNT)
		*(size_t *)(base + f->count_off) = v->count;
	return 0;
}

static int decode_codes(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	uint32_t *codes = (uint32_t *)(base + f->off);
	size_t i = 0;

	if (v->type != J_ARR || v->count > (size_t)f->max)
		return fail(d, "DNS list codes are not an array of at most 8");
	for (const struct jval *k = v->kids; k != NULL; k = k->next)
		if (k->type != J_STR || code_parse(k->str, &codes[i++]) < 0)
			return fail(d, "a DNS list code is not an IPv4 address");
	*(size_t *)(base + f->count_off) = v->count;
	return 0;
}

static int decode_allow(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	struct dnsbl_list *l = arena_alloc(d->a, sizeof(*l));
	long long n;

	if (integer(v, 0, 1, &n) < 0)
		return fail(d, "\"allow\" is not 0 or 1");
	memset(l, 0, sizeof(*l));
	l->allow = (int)n;
	*(const struct dnsbl_list **)(base + f->off) = l;
	return 0;
}

static int decode_flags(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	const struct fd_enum *e = f->sub;
	unsigned bits = 0;

	if (v->type != J_ARR || v->count > (size_t)e->count)
		return fail(d, "a set of names is not an array or too long");
	for (const struct jval *k = v->kids; k != NULL; k = k->next) {
		int i = 0;

		if (k->type != J_STR)
			return fail(d, "a name in a set is not a string");
		while (i < e->count && strcmp(e->name(i), k->str) != 0)
			i++;
		if (i == e->count || (bits & (1u << i)) != 0)
			return fail(d, "a set has an unknown or repeated name");
		bits |= 1u << i;
	}
	*(unsigned *)(base + f->off) = bits;
	return 0;
}

static int decode_bits(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	const struct fd_bits *e = f->sub;
	unsigned seen = 0;

	if (v->type != J_ARR || v->count > (size_t)e->count)
		return fail(d, "a set of flags is not an array or too long");
	for (const struct jval *k = v->kids; k != NULL; k = k->next) {
		int i = 0;

		if (k->type != J_STR)
			return fail(d, "a flag in a set is not a string");
		while (i < e->count && strcmp(e->names[i], k->str) != 0)
			i++;
		if (i == e->count || (seen & (1u << i)) != 0)
			return fail(d, "a set has an unknown or repeated flag");
		seen |= 1u << i;
		e->set(base, i);
	}
	return 0;
}

static int decode_ignored(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	(void)d, (void)f, (void)v, (void)base;
	return 0;
}

static fd_decoder *const decoders[] = {
    [FD_STR] = decode_str,     [FD_CHARS] = decode_chars,     [FD_INT] = decode_int,
    [FD_UINT] = decode_uint,   [FD_SIZE] = decode_size,	      [FD_DBL] = decode_dbl,
    [FD_ENUM] = decode_enum,   [FD_OBJ] = decode_obj,	      [FD_ARR] = decode_arr,
    [FD_STRS] = decode_strs,   [FD_CODES] = decode_codes,     [FD_ALLOW] = decode_allow,
    [FD_FLAGS] = decode_flags, [FD_IGNORED] = decode_ignored, [FD_BITS] = decode_bits,
};

static int decode_field(struct fd *d, const struct fd_field *f, const struct jval *v, char *base)
{
	if ((size_t)f->kind >= sizeof(decoders) / sizeof(decoders[0]) || decoders[f->kind] == NULL)
		return fail(d, "internal: unknown field kind");
	return decoders[f->kind](d, f, v, base);
}

#define FD_MAX_ROWS 64 /* rows of one table */

static int decode_object(struct fd *d, const struct jval *obj, const struct fd_table *t, char *base)
{
	unsigned char seen[FD_MAX_ROWS] = {0};
	size_t next = 0; /* the encoder writes the rows in table order: try the next one first */

	if (t->count > FD_MAX_ROWS)
		return fail(d, "internal: a facts table is too long");
	for (const struct jval *m = obj->kids; m != NULL; m = m->next) {
		size_t i = next;

		if (i >= t->count || strcmp(t->fields[i].key, m->key) != 0)
			for (i = 0; i < t->count && strcmp(t->fields[i].key, m->key) != 0; i++)
				;
		if (i == t->count)
			continue; /* a fact a newer milter wrote */
		if (seen[i]++)
			return fail(d, "duplicate member in the facts");
		next = i + 1;
		if (m->type == J_NULL)
			continue;
		if (decode_field(d, &t->fields[i], m, base) < 0)
			return -1;
	}
	return 0;
}

/* What the tables cannot say: the address behind client_ip, the lists'
 * own zone and kind, and a rcpts array for every recipient rules may read. */
static int fixup(struct fd *d, struct facts *f)
{
	if (f->client_ip[0] != '\0' && addr_parse(f->client_ip, &f->client) < 0)
		return fail(d, "client_ip is not an address");
	for (size_t i = 0; i < f->ip_list_count; i++) {
		struct dnsbl_list *l = (struct dnsbl_list *)f->ip_lists[i].list;

		if (l != NULL) {
			l->zone = f->ip_lists[i].zone;
			l->kind = DNSBL_KIND_IP;
		}
	}
	for (size_t i = 0; i < f->domain_list_count; i++) {
		struct dnsbl_list *l = (struct dnsbl_list *)f->domain_lists[i].r.list;

		if (l != NULL) {
			l->zone = f->domain_lists[i].r.zone;
			l->kind = DNSBL_KIND_DOMAIN;
		}
	}
	if (f->rcpts == NULL) {
		f->rcpts = arena_alloc(d->a, (FACTS_MAX_RCPTS + 1) * sizeof(*f->rcpts));
		memset(f->rcpts, 0, (FACTS_MAX_RCPTS + 1) * sizeof(*f->rcpts));
	}
	f->headers = NULL; /* never stored: header_count stays for the record */
	return 0;
}

int record_facts_decode(const char *json, size_t len, struct arena *a, struct facts *out,
			const char **error_r)
{
	struct jval root;

	memset(out, 0, sizeof(*out));
	if (len >= RECORD_MAX_LINE)
		return *error_r = "facts too long", -1;
	if (record_json_parse(json, len, a, &root, error_r) < 0)
		return -1;
	return record_facts_decode_value(&root, a, out, error_r);
}

int record_facts_decode_value(const struct jval *root, struct arena *a, struct facts *out,
			      const char **error_r)
{
	struct fd d = {.a = a};

	memset(out, 0, sizeof(*out));
	out->dmarc_record.psd = -1;
	out->dmarc_record.domain_exists = -1;
	if (root->type != J_OBJ)
		return *error_r = "facts are not a JSON object", -1;
	for (const struct jval *m = root->kids; m != NULL; m = m->next)
		if (strcmp(m->key, "truncated") == 0)
			return *error_r = "facts were over the size cap when recorded", -1;
	if (decode_object(&d, root, &facts_table, (char *)out) < 0 || fixup(&d, out) < 0) {
		*error_r = d.error;
		return -1;
	}
	*error_r = NULL;
	return 0;
}

int record_facts_decode_line(const char *line, size_t len, struct arena *a,
			     struct history_record *r, struct facts *f, const char **error_r)
{
	struct jval root;

	memset(f, 0, sizeof(*f));
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= RECORD_MAX_LINE || memchr(line, '\0', len) != NULL)
		return *error_r = "empty, too long or NUL in the line", -1;
	if (record_json_parse(line, len, a, &root, error_r) < 0 ||
	    record_decode_value(&root, a, r, error_r) < 0)
		return -1;
	for (const struct jval *m = root.kids; m != NULL; m = m->next)
		if (strcmp(m->key, "facts") == 0 && m->type == J_OBJ)
			return record_facts_decode_value(m, a, f, error_r) < 0 ? 1 : 0;
	*error_r = "the record has no facts (written before facts were stored)";
	return 1;
}

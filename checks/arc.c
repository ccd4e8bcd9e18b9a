/*
 * arc - ARC (RFC 8617) chain validation (see arc.h; sealing is in
 * arc_seal.c, the parts both share in arc_int.h).
 *
 *   header  every field is kept (the AMS signs any of them); the three ARC
 *           fields are parsed at once into their instance's slot, so a
 *           duplicate, an i= outside 1..50 or a malformed field is known
 *           before the body;
 *   eoh     the structure is checked (§5.2 steps 2-3: 1..N complete, cv=
 *           none then pass, no fail); only an intact chain starts its key
 *           lookups, one query per distinct selector._domainkey.domain,
 *           all at once, beside DKIM's;
 *   body    streamed into one SHA-256 per body canonicalization in use;
 *   finish  the newest AMS (step 4), every older AMS for oldest-pass
 *           (step 5), every AS from the newest down (step 6);
 *   seal    arc_seal.c: AAR, AMS (relaxed/relaxed) and AS with i=N+1.
 *
 * Bounded: ARC_FIELDS_MAX fields and ARC_BYTES_MAX bytes of header kept
 * (past that, a chain is a fail), one ARC field at most ARC_FIELD_MAX, at
 * most ARC_MAX_SETS sets, ARC_H_MAX names in h=, and never a lookup for a
 * broken chain.  A check belongs to one thread; its memory is its own
 * arena, results are copied into the caller's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc_int.h"
#include "log.h"
#include "mem.h"

const char *const arc_kind_names[ARC_KINDS] = {
    [ARC_AAR] = "ARC-Authentication-Results",
    [ARC_AMS] = "ARC-Message-Signature",
    [ARC_AS] = "ARC-Seal",
};

static struct dns *arc_dns;

EVP_MD_CTX *arc_md_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	return md;
}

int arc_module_init(struct dns *dns, char **error_r)
{
	(void)error_r;
	arc_dns = dns;
	return 0;
}

void arc_module_deinit(void)
{
	arc_dns = NULL;
}

struct arc_check *arc_check_new(const struct arc_params *p, const char *queue_id)
{
	struct arc_check *c = xcalloc(1, sizeof(*c));

	c->p = *p;
	if (c->p.min_rsa_bits < 1024)
		c->p.min_rsa_bits = 1024; /* RFC 8301 §3.2 */
	c->queue_id = xstrdup(queue_id != NULL ? queue_id : "-");
	c->mem = arena_new(2048); /* the header fields: most mail's fit in 2-4 kB */
	return c;
}

/* The sets' slots, made when the first ARC field comes. */
static void arc_slots_make(struct arc_check *c)
{
	if (c->slot != NULL)
		return;
	c->slot = xcalloc(ARC_MAX_SETS + 1, sizeof(*c->slot));
	for (unsigned i = 0; i <= ARC_MAX_SETS; i++)
		for (int k = 0; k < ARC_KINDS; k++)
			c->slot[i].field[k] = -1;
}

/* At end of header, with no ARC field and nothing to seal: the fields kept
 * for an AMS are not needed, and a message held in its body (500 at once
 * on a busy MX) should not keep them. */
static void arc_forget_header(struct arc_check *c)
{
	free(c->fields);
	c->fields = NULL;
	c->nfields = c->fields_size = 0;
	arena_free(&c->mem);
	c->mem = arena_new(0);
}

static int arc_kind_of(const char *name)
{
	for (int k = 0; k < ARC_KINDS; k++)
		if (strcasecmp(name, arc_kind_names[k]) == 0)
			return k;
	return -1;
}

/* "i=N" of an AAR: it leads the value (RFC 8617 §4.1.1); 0 if absent. */
static unsigned arc_aar_instance(const char *v, const char **rest_r)
{
	unsigned long n = 0;
	const char *p = v;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p != 'i')
		return 0;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	if (*p++ != '=')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9' && n <= ARC_MAX_SETS; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p != ';')
		return 0;
	*rest_r = p + 1;
	return n > ARC_MAX_SETS ? ARC_MAX_SETS + 1 : (unsigned)n;
}

static unsigned arc_tag_instance(const struct arc_tag *t)
{
	unsigned long n = 0;

	if (t == NULL || t->value_len == 0 || t->value_len > 3)
		return t != NULL && t->value_len > 3 ? ARC_MAX_SETS + 1 : 0;
	for (size_t i = 0; i < t->value_len; i++) {
		if (t->value[i] < '0' || t->value[i] > '9')
			return 0;
		n = n * 10 + (unsigned long)(t->value[i] - '0');
	}
	return n > ARC_MAX_SETS ? ARC_MAX_SETS + 1 : (unsigned)n;
}

/* A domain name (d=) or selector (s=): LDH labels (and '_'), none empty
 * or over 63, at most 253 in all. */
static int arc_dns_label_ok(const struct arc_tag *t)
{
	size_t label = 0;

	if (t == NULL || t->value_len == 0 || t->value_len > 253)
		return 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char ch = t->value[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') ||
		    ++label > 63)
			return 0;
	}
	return label > 0;
}

static int arc_sig_canon(struct arc_sig *s, const struct arc_tag *c)
{
	const char *v, *slash;
	size_t hl, bl;

	s->hcanon = s->bcanon = ARC_CANON_SIMPLE;
	if (c == NULL)
		return 0;
	v = c->value;
	slash = memchr(v, '/', c->value_len);
	hl = slash != NULL ? (size_t)(slash - v) : c->value_len;
	bl = slash != NULL ? c->value_len - hl - 1 : 0;
	if (hl == 7 && strncmp(v, "relaxed", 7) == 0)
		s->hcanon = ARC_CANON_RELAXED;
	else if (!(hl == 6 && strncmp(v, "simple", 6) == 0))
		return -1;
	if (slash == NULL)
		return 0;
	if (bl == 7 && strncmp(slash + 1, "relaxed", 7) == 0)
		s->bcanon = ARC_CANON_RELAXED;
	else if (!(bl == 6 && strncmp(slash + 1, "simple", 6) == 0))
		return -1;
	return 0;
}

/* t= and x= (RFC 6376 §3.5): 1 to 12 digits, when present. */
static int arc_timestamp_ok(const struct arc_tag *t)
{
	if (t == NULL)
		return 1;
	if (t->value_len == 0 || t->value_len > 12)
		return 0;
	for (size_t i = 0; i < t->value_len; i++)
		if (t->value[i] < '0' || t->value[i] > '9')
			return 0;
	return 1;
}

/* The tags both AMS and AS carry: a=, b=, d=, s=. */
static const char *arc_sig_common(struct arc_check *c, struct arc_sig *s, const struct arc_tag *t,
				  size_t n)
{
	const struct arc_tag *a = arc_tag_find(t, n, "a"), *b = arc_tag_find(t, n, "b");
	const struct arc_tag *d = arc_tag_find(t, n, "d"), *sel = arc_tag_find(t, n, "s");
	unsigned char sig[ARC_SIG_MAX];
	long len;

	if (a == NULL || b == NULL || d == NULL || sel == NULL)
		return "a required tag (a=, b=, d=, s=) is missing";
	s->alg = arc_alg_parse(a);
	if (s->alg == ARC_ALG_NONE)
		return "unknown algorithm a=";
	len = arc_b64_decode(b->value, b->value_len, sig, sizeof(sig));
	if (len <= 0)
		return "b= is not a signature";
	s->b = arena_alloc(c->mem, (size_t)len);
	memcpy(s->b, sig, (size_t)len);
	s->b_len = (size_t)len;
	s->b_start = b->raw_start;
	s->b_end = b->raw_end;
	if (!arc_dns_label_ok(d) || !arc_dns_label_ok(sel))
		return "d= or s= is not a domain name";
	if (!arc_timestamp_ok(arc_tag_find(t, n, "t")) ||
	    !arc_timestamp_ok(arc_tag_find(t, n, "x")))
		return "t= or x= is not a timestamp";
	s->d = arena_strndup(c->mem, d->value, d->value_len);
	s->s = arena_strndup(c->mem, sel->value, sel->value_len);
	return NULL;
}

static const char *arc_sig_ams(struct arc_check *c, struct arc_sig *s, const struct arc_tag *t,
			       size_t n)
{
	const struct arc_tag *bh = arc_tag_find(t, n, "bh"), *h = arc_tag_find(t, n, "h");

	if (bh == NULL || h == NULL || h->value_len == 0)
		return "bh= or h= is missing";
	if (arc_b64_decode(bh->value, bh->value_len, s->bh, sizeof(s->bh)) != ARC_HASH_LEN)
		return "bh= is not a SHA-256 hash";
	if (arc_sig_canon(s, arc_tag_find(t, n, "c")) < 0)
		return "unknown canonicalization c=";
	s->h = arena_strndup(c->mem, h->value, h->value_len);
	return NULL;
}

static const char *arc_sig_as(struct arc_check *c, struct arc_sig *s, const struct arc_tag *t,
			      size_t n)
{
	const struct arc_tag *cv = arc_tag_find(t, n, "cv");

	if (arc_tag_find(t, n, "h") != NULL)
		return "an ARC-Seal must not have h= (RFC 8617 §4.1.3)";
	if (cv == NULL)
		return "cv= is missing";
	if (arc_tag_is(cv, "none", 1))
		s->cv = "none";
	else if (arc_tag_is(cv, "pass", 1))
		s->cv = "pass";
	else if (arc_tag_is(cv, "fail", 1))
		s->cv = "fail";
	else
		return "cv= is not none, pass or fail";
	if (arc_tag_find(t, n, "t") == NULL)
		return "t= is missing (the suite's as_fields_t_na: a seal carries its time)";
	s->hcanon = ARC_CANON_RELAXED; /* RFC 8617 §4.1.3: always relaxed, no body */
	return NULL;
}

static void arc_break(struct arc_check *c, const char *why)
{
	if (c->broken == NULL)
		c->broken = why;
}

/* Parse one ARC field into its slot; a field that cannot be placed
 * breaks the chain. */
static void arc_field_parse(struct arc_check *c, int kind, int index)
{
	const struct arc_field *f = &c->fields[index];
	struct arc_tag tags[ARC_TAGS_MAX];
	const char *why = NULL, *rest = NULL;
	struct arc_sig sig = {0};
	unsigned i;
	size_t n = 0;

	if (f->len > ARC_FIELD_MAX) {
		arc_break(
		    c, arena_printf(c->mem, "an %s field over %d bytes", f->name, ARC_FIELD_MAX));
		return;
	}
	if (kind == ARC_AAR) {
		i = arc_aar_instance(f->value, &rest);
	} else if (arc_tags_parse(f->value, f->len, tags, ARC_TAGS_MAX, &n, &why) < 0) {
		arc_break(c, arena_printf(c->mem, "%s: %s", arc_kind_names[kind], why));
		return;
	} else {
		i = arc_tag_instance(arc_tag_find(tags, n, "i"));
	}
	if (i == 0 || i > ARC_MAX_SETS) {
		arc_break(c, arena_printf(c->mem, "%s with no i= in 1..%d", arc_kind_names[kind],
					  ARC_MAX_SETS));
		return;
	}
	if (c->slot[i].field[kind] >= 0) {
		arc_break(c, arena_printf(c->mem, "two %s with i=%u", arc_kind_names[kind], i));
		/* the chain fails either way; a sealer then signs over one of
		 * the two, the same whatever their order: the smaller value */
		if (strcmp(f->value, c->fields[c->slot[i].field[kind]].value) >= 0)
			return;
	}
	c->slot[i].field[kind] = index;
	if (i > c->n)
		c->n = i;
	if (kind == ARC_AAR)
		return;
	why = arc_sig_common(c, &sig, tags, n);
	if (why == NULL)
		why =
		    kind == ARC_AMS ? arc_sig_ams(c, &sig, tags, n) : arc_sig_as(c, &sig, tags, n);
	sig.why = why;
	if (kind == ARC_AMS)
		c->slot[i].ams = sig;
	else
		c->slot[i].as = sig;
}

void arc_check_header(struct arc_check *c, const char *name, const char *value)
{
	size_t len;
	int kind;

	if (c == NULL || c->eoh_done || name == NULL || value == NULL)
		return;
	kind = arc_kind_of(name);
	if (kind >= 0) {
		c->arc_seen = 1;
		arc_slots_make(c);
	}
	len = strlen(value);
	if (c->overflow || c->nfields == ARC_FIELDS_MAX ||
	    c->bytes + len + strlen(name) > ARC_BYTES_MAX) {
		c->overflow = 1; /* not kept: a chain cannot verify without it */
		return;
	}
	if (c->nfields == c->fields_size) {
		c->fields_size = c->fields_size ? c->fields_size * 2 : 32;
		c->fields = xrealloc(c->fields, c->fields_size * sizeof(*c->fields));
	}
	c->fields[c->nfields] =
	    (struct arc_field){arena_strdup(c->mem, name), arena_strndup(c->mem, value, len), len};
	c->bytes += len + strlen(name);
	if (kind >= 0)
		arc_field_parse(c, kind, (int)c->nfields);
	c->nfields++;
}

/* §5.2 steps 2 and 3. */
static void arc_structure(struct arc_check *c)
{
	if (c->overflow)
		arc_break(c, "too many or too large header fields to verify");
	for (unsigned i = 1; i <= c->n && c->broken == NULL; i++) {
		const struct arc_slot *s = &c->slot[i];

		if (s->field[ARC_AAR] < 0 || s->field[ARC_AMS] < 0 || s->field[ARC_AS] < 0) {
			arc_break(c, arena_printf(c->mem, "ARC set i=%u is incomplete", i));
			break;
		}
		if (s->as.cv == NULL)
			continue; /* a malformed seal: a fail at finish, with its reason */
		if (strcmp(s->as.cv, "fail") == 0)
			arc_break(c, arena_printf(c->mem, "ARC-Seal i=%u says cv=fail", i));
		else if (strcmp(s->as.cv, i == 1 ? "none" : "pass") != 0)
			arc_break(c, arena_printf(c->mem, "ARC-Seal i=%u has cv=%s", i, s->as.cv));
	}
}

static struct arc_key *arc_key_find(struct arc_check *c, const char *d, const char *s)
{
	char name[ARC_NAME_MAX];

	if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d) >= sizeof(name))
		return NULL;
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcasecmp(c->keys[i].name, name) == 0)
			return &c->keys[i];
	return NULL;
}

static void arc_lookups(struct arc_check *c)
{
	char name[ARC_NAME_MAX];

	c->keys = xcalloc(2 * ARC_MAX_SETS, sizeof(*c->keys));
	for (unsigned i = 1; i <= c->n; i++) {
		struct arc_sig *sigs[2] = {&c->slot[i].ams, &c->slot[i].as};

		for (int j = 0; j < 2; j++) {
			struct arc_sig *s = sigs[j];

			if (s->why != NULL)
				continue;
			s->key = arc_key_find(c, s->d, s->s);
			if (s->key != NULL)
				continue;
			if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s->s, s->d) >=
			    sizeof(name)) {
				s->why = "d= and s= make too long a name";
				continue;
			}
			s->key = &c->keys[c->nkeys++];
			s->key->name = xstrdup(name);
			s->key->query = dns_start(arc_dns, name, DNS_T_TXT, c->p.lookup_timeout_ms);
		}
	}
}

void arc_check_eoh(struct arc_check *c)
{
	if (c == NULL || c->eoh_done)
		return;
	c->eoh_done = 1;
	if (c->p.seal)
		c->body_on[ARC_CANON_RELAXED] = 1;
	if (c->arc_seen) {
		arc_structure(c);
		if (c->broken == NULL && c->n > 0) {
			for (unsigned i = 1; i <= c->n; i++)
				if (c->slot[i].ams.why == NULL)
					c->body_on[c->slot[i].ams.bcanon] = 1;
			arc_lookups(c);
		}
	} else if (!c->p.seal)
		arc_forget_header(c);
	for (int k = 0; k < 2; k++)
		if (c->body_on[k])
			arc_body_init(&c->body[k], (enum arc_canon)k);
}

void arc_check_body(struct arc_check *c, const unsigned char *data, size_t len)
{
	if (c == NULL || !c->eoh_done || c->body_done)
		return;
	for (int k = 0; k < 2; k++)
		if (c->body_on[k])
			arc_body_update(&c->body[k], data, len);
}

static enum arc_verdict arc_key_get(struct arc_check *c, struct arc_key *k, EVP_PKEY **pkey_r,
				    const char **why_r)
{
	if (!k->done) {
		const struct dns_answer *ans = dns_wait(k->query);

		k->done = 1;
		k->status = ans->status;
		if (ans->status == DNS_OK && ans->count > 0)
			k->pkey = arc_key_parse(ans->rr[0].u.text, ans->rr[0].len,
						c->p.min_rsa_bits, &k->why);
		else if (ans->status == DNS_TEMPFAIL)
			k->why = "key lookup failed temporarily";
		else
			k->why = "no key record";
	}
	*pkey_r = k->pkey;
	*why_r = k->why;
	if (k->status == DNS_TEMPFAIL)
		return ARC_V_TEMP;
	return k->pkey != NULL ? ARC_V_OK : ARC_V_FAIL;
}

/* The field's value with b='s value left out (RFC 6376 §3.7). */
static char *arc_blank_b(struct arc_check *c, const struct arc_field *f, const struct arc_sig *s,
			 size_t *len_r)
{
	char *v = arena_alloc(c->mem, f->len + 1);

	memcpy(v, f->value, s->b_start);
	memcpy(v + s->b_start, f->value + s->b_end, f->len - s->b_end);
	*len_r = s->b_start + f->len - s->b_end;
	return v;
}

static enum arc_verdict arc_sig_check(struct arc_check *c, struct arc_sig *s, EVP_MD_CTX *md,
				      const char **why_r)
{
	unsigned char digest[ARC_HASH_LEN];
	unsigned int dlen = 0;
	EVP_PKEY *pkey;
	enum arc_verdict v;

	EVP_DigestFinal_ex(md, digest, &dlen);
	v = arc_key_get(c, s->key, &pkey, why_r);
	if (v != ARC_V_OK)
		return v;
	if (arc_alg_of_key(pkey) != s->alg) {
		*why_r = "the key is not of the signature's algorithm";
		return ARC_V_FAIL;
	}
	if (!arc_verify_digest(pkey, s->alg, digest, s->b, s->b_len)) {
		*why_r = "signature does not verify";
		return ARC_V_FAIL;
	}
	return ARC_V_OK;
}

/* RFC 6376 §5.4.2: each name in h= takes the lowest field of that name
 * not yet taken; extra (this host's new AAR, when sealing) sits above
 * every field.  A name with no field left adds nothing. */
int arc_hash_h(struct arc_check *c, EVP_MD_CTX *md, enum arc_canon canon, const char *h,
	       const struct arc_field *extra)
{
	unsigned char *used = xcalloc(c->nfields + 1, 1);
	size_t names = 0;
	int rc = 0;

	for (const char *p = h; *p != '\0' && rc == 0;) {
		const char *start = p, *e = strchr(p, ':');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		char name[128];
		size_t a = 0, b = len;

		while (a < b && strchr(" \t\r\n", start[a]) != NULL)
			a++;
		while (b > a && strchr(" \t\r\n", start[b - 1]) != NULL)
			b--;
		p = e != NULL ? e + 1 : p + len;
		if (b == a)
			continue; /* "to::date": an empty name selects nothing */
		if (++names > ARC_H_MAX || b - a >= sizeof(name)) {
			rc = -1;
			break;
		}
		memcpy(name, start + a, b - a);
		name[b - a] = '\0';
		if (strcasecmp(name, "ARC-Seal") == 0)
			rc = -1; /* RFC 8617 §4.1.2: an AMS never signs a seal */
		/* from the bottom field up; extra (slot nfields) last */
		for (size_t k = 0; k <= c->nfields && rc == 0; k++) {
			size_t i = k < c->nfields ? c->nfields - 1 - k : c->nfields;
			const struct arc_field *f = k < c->nfields ? &c->fields[i] : extra;

			if (f == NULL || used[i] || strcasecmp(f->name, name) != 0)
				continue;
			used[i] = 1;
			arc_canon_header(md, canon, f->name, f->value, f->len, 1);
			break;
		}
	}
	free(used);
	return names == 0 ? -1 : rc; /* RFC 6376 §3.5: h= names at least one field */
}

static enum arc_verdict arc_verify_ams(struct arc_check *c, unsigned i, const char **why_r)
{
	struct arc_sig *s = &c->slot[i].ams;
	const struct arc_field *f = &c->fields[c->slot[i].field[ARC_AMS]];
	EVP_MD_CTX *md;
	enum arc_verdict v;
	size_t len;
	char *blank;

	if (s->why != NULL) {
		*why_r = s->why;
		return ARC_V_FAIL;
	}
	if (memcmp(s->bh, c->bh[s->bcanon], ARC_HASH_LEN) != 0) {
		*why_r = "body hash does not match";
		return ARC_V_FAIL;
	}
	md = arc_md_new();
	if (arc_hash_h(c, md, s->hcanon, s->h, NULL) < 0) {
		EVP_MD_CTX_free(md);
		*why_r = "h= names no field, too many, or ARC-Seal";
		return ARC_V_FAIL;
	}
	blank = arc_blank_b(c, f, s, &len);
	arc_canon_header(md, s->hcanon, f->name, blank, len, 0);
	v = arc_sig_check(c, s, md, why_r);
	EVP_MD_CTX_free(md);
	return v;
}

/* RFC 8617 §5.1.1: the sets 1..i, each AAR, AMS, AS; the last AS
 * without its b= value and without CRLF; relaxed. */
void arc_hash_sets(struct arc_check *c, EVP_MD_CTX *md, unsigned upto)
{
	for (unsigned j = 1; j <= upto; j++)
		for (int k = 0; k < ARC_KINDS; k++) {
			const struct arc_field *f;

			if (c->slot[j].field[k] < 0)
				continue; /* only when sealing a broken chain */
			f = &c->fields[c->slot[j].field[k]];
			arc_canon_header(md, ARC_CANON_RELAXED, f->name, f->value, f->len, 1);
		}
}

static enum arc_verdict arc_verify_as(struct arc_check *c, unsigned i, const char **why_r)
{
	struct arc_sig *s = &c->slot[i].as;
	const struct arc_field *f;
	EVP_MD_CTX *md;
	enum arc_verdict v;
	size_t len;
	char *blank;

	if (s->why != NULL) {
		*why_r = s->why;
		return ARC_V_FAIL;
	}
	md = arc_md_new();
	arc_hash_sets(c, md, i - 1);
	f = &c->fields[c->slot[i].field[ARC_AAR]];
	arc_canon_header(md, ARC_CANON_RELAXED, f->name, f->value, f->len, 1);
	f = &c->fields[c->slot[i].field[ARC_AMS]];
	arc_canon_header(md, ARC_CANON_RELAXED, f->name, f->value, f->len, 1);
	f = &c->fields[c->slot[i].field[ARC_AS]];
	blank = arc_blank_b(c, f, s, &len);
	arc_canon_header(md, ARC_CANON_RELAXED, f->name, blank, len, 0);
	v = arc_sig_check(c, s, md, why_r);
	EVP_MD_CTX_free(md);
	return v;
}

/* Steps 4 to 6 on an intact chain; *reason_r for fail and temperror. */
static enum arc_result arc_validate(struct arc_check *c, unsigned *oldest_r, const char **reason_r)
{
	const char *why = NULL;
	enum arc_verdict v;

	*oldest_r = 0;
	v = arc_verify_ams(c, c->n, &why);
	if (v != ARC_V_OK) {
		*reason_r = arena_printf(c->mem, "ARC-Message-Signature i=%u: %s", c->n, why);
		return v == ARC_V_TEMP ? ARC_TEMPERROR : ARC_FAIL;
	}
	c->slot[c->n].ams_ok = 1;
	*oldest_r = c->n;
	for (unsigned i = c->n - 1; i >= 1; i--) {
		c->slot[i].ams_ok = arc_verify_ams(c, i, &why) == ARC_V_OK;
		if (c->slot[i].ams_ok && *oldest_r == i + 1)
			*oldest_r = i;
	}
	for (unsigned i = c->n; i >= 1; i--) {
		v = arc_verify_as(c, i, &why);
		if (v != ARC_V_OK) {
			*reason_r = arena_printf(c->mem, "ARC-Seal i=%u: %s", i, why);
			return v == ARC_V_TEMP ? ARC_TEMPERROR : ARC_FAIL;
		}
	}
	return ARC_PASS;
}

/* The AAR's recorded results, unfolded: what follows "i=N;". */
static const char *arc_aar_text(struct arena *a, const char *value)
{
	const char *rest = value;
	char *out, *o;

	if (arc_aar_instance(value, &rest) == 0)
		rest = value;
	while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n')
		rest++;
	out = o = arena_strdup(a, rest);
	for (const char *p = rest; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			*o++ = *p == '\t' ? ' ' : *p;
	*o = '\0';
	return out;
}

static void arc_outcome_sets(struct arc_check *c, struct arena *a, struct arc_outcome *out)
{
	struct arc_set *sets = arena_alloc(a, c->n * sizeof(*sets));

	for (unsigned i = 1; i <= c->n; i++) {
		const struct arc_slot *s = &c->slot[i];
		struct arc_set *o = &sets[i - 1];

		/* a malformed field's tags are "" (never NULL): the set is there,
		 * the chain has failed, and consumers print what they have */
		o->instance = i;
		o->seal_domain = arena_strdup(a, s->as.d != NULL ? s->as.d : "");
		o->seal_selector = arena_strdup(a, s->as.s != NULL ? s->as.s : "");
		o->cv = arena_strdup(a, s->as.cv != NULL ? s->as.cv : "");
		o->ams_domain = arena_strdup(a, s->ams.d != NULL ? s->ams.d : "");
		o->ams_valid = s->ams_ok;
		o->aar = arc_aar_text(a, c->fields[s->field[ARC_AAR]].value);
	}
	out->sets = sets;
	out->set_count = c->n;
}

static void arc_body_finish(struct arc_check *c)
{
	if (c->body_done)
		return;
	c->body_done = 1;
	for (int k = 0; k < 2; k++)
		if (c->body_on[k])
			arc_body_final(&c->body[k], c->bh[k]);
}

void arc_check_finish(struct arc_check *c, struct arena *a, struct arc_outcome *out)
{
	const char *reason = NULL;
	unsigned oldest = 0;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	if (!c->eoh_done)
		arc_check_eoh(c);
	arc_body_finish(c);
	if (!c->arc_seen)
		c->result = ARC_NONE;
	else if (c->broken != NULL)
		c->result = ARC_FAIL, reason = c->broken;
	else
		c->result = arc_validate(c, &oldest, &reason);
	c->finished = 1;
	out->result = c->result;
	out->reason = reason != NULL ? arena_strdup(a, reason) : NULL;
	out->oldest_pass = c->result == ARC_PASS ? oldest : 0;
	if (c->arc_seen && c->broken == NULL)
		arc_outcome_sets(c, a, out);
	if (c->result == ARC_FAIL || c->result == ARC_TEMPERROR)
		log_debug("%s: arc: %s: %s", c->queue_id, arc_result_name(c->result), reason);
}

void arc_check_free(struct arc_check **cp)
{
	struct arc_check *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nkeys; i++) {
		dns_query_free(&c->keys[i].query);
		EVP_PKEY_free(c->keys[i].pkey);
		free(c->keys[i].name);
	}
	free(c->keys);
	for (int k = 0; k < 2; k++)
		arc_body_free(&c->body[k]);
	free(c->fields);
	free(c->slot);
	free(c->queue_id);
	arena_free(&c->mem);
	free(c);
	*cp = NULL;
}

/*
 * arc_test - checks/arc.c against the public ValiMail ARC test suite
 * (tests/data/arc/, converted from its YAML by tests/arc_suite_convert.py)
 * with the suite's DNS records served by tests/fake_dns.c, and against
 * hostile chains built here by sealing with the module itself: 50 and 60
 * sets, duplicate and missing instances, i=0 and i=51, huge fields, a bad
 * seal, a short key, a replayed chain, DNS failures, Ed25519.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "arc.h"
#include "arc_canon.h"
#include "arena.h"
#include "check.h"
#include "fake_dns.h"
#include "log.h"
#include "mem.h"

#define MAX_FIELDS 400

static char data_dir[1024];

/* A message: header fields top to bottom, and a body with CRLF. */
struct msg {
	size_t n;
	char *name[MAX_FIELDS];
	char *value[MAX_FIELDS];
	char *body;
	size_t body_len;
};

static void msg_clear(struct msg *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->name[i]);
		free(m->value[i]);
	}
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static void msg_add(struct msg *m, size_t at, const char *name, const char *value)
{
	if (m->n == MAX_FIELDS)
		abort();
	memmove(&m->name[at + 1], &m->name[at], (m->n - at) * sizeof(char *));
	memmove(&m->value[at + 1], &m->value[at], (m->n - at) * sizeof(char *));
	m->name[at] = xstrdup(name);
	m->value[at] = xstrdup(value);
	m->n++;
}

static void msg_del(struct msg *m, size_t at)
{
	free(m->name[at]);
	free(m->value[at]);
	memmove(&m->name[at], &m->name[at + 1], (m->n - at - 1) * sizeof(char *));
	memmove(&m->value[at], &m->value[at + 1], (m->n - at - 1) * sizeof(char *));
	m->n--;
}

/* Text with LF line ends (as the suite's YAML): fields unfolded into
 * name and value (continuation lines kept, joined by CRLF), the body with
 * CRLF. */
static void msg_parse(struct msg *m, const char *text)
{
	const char *p = text;
	size_t cap;

	memset(m, 0, sizeof(*m));
	while (*p != '\0' && *p != '\n') {
		const char *e = strchr(p, '\n'), *colon;
		size_t len;

		if (e == NULL)
			e = p + strlen(p);
		len = (size_t)(e - p);
		if ((*p == ' ' || *p == '\t') && m->n > 0) {
			char *v = xasprintf("%s\r\n%.*s", m->value[m->n - 1], (int)len, p);

			free(m->value[m->n - 1]);
			m->value[m->n - 1] = v;
		} else if ((colon = memchr(p, ':', len)) != NULL) {
			char *name = xstrndup(p, (size_t)(colon - p));
			char *value = xstrndup(colon + 1, len - (size_t)(colon - p) - 1);

			msg_add(m, m->n, name, value);
			free(name);
			free(value);
		}
		p = *e ? e + 1 : e;
	}
	if (*p == '\n')
		p++;
	cap = 2 * strlen(p) + 1;
	m->body = xmalloc(cap);
	for (; *p; p++) {
		if (*p == '\n')
			m->body[m->body_len++] = '\r';
		m->body[m->body_len++] = *p;
	}
	m->body[m->body_len] = '\0';
}

static void msg_set_body(struct msg *m, const char *crlf_body)
{
	free(m->body);
	m->body = xstrdup(crlf_body);
	m->body_len = strlen(crlf_body);
}

static unsigned lookup_timeout_ms = 1000;

static struct arc_check *msg_feed(const struct msg *m, int seal, size_t chunk)
{
	struct arc_params p = {
	    .lookup_timeout_ms = lookup_timeout_ms, .min_rsa_bits = 1024, .seal = seal};
	struct arc_check *c = arc_check_new(&p, "TEST");

	for (size_t i = 0; i < m->n; i++)
		arc_check_header(c, m->name[i], m->value[i]);
	arc_check_eoh(c);
	if (chunk == 0)
		chunk = m->body_len ? m->body_len : 1;
	for (size_t off = 0; off < m->body_len; off += chunk)
		arc_check_body(c, (const unsigned char *)m->body + off,
			       m->body_len - off < chunk ? m->body_len - off : chunk);
	return c;
}

static enum arc_result msg_verify(const struct msg *m, struct arena *a, struct arc_outcome *out)
{
	struct arc_check *c = msg_feed(m, 0, 0);

	arc_check_finish(c, a, out);
	arc_check_free(&c);
	return out->result;
}

/* Seal m as domain/selector with key, adding the set on top; 0 or -1. */
static int msg_seal(struct msg *m, EVP_PKEY *key, const char *domain, const char *selector,
		    const char *h, time_t t, const char **error_r, struct arc_seal_headers *out_r)
{
	struct arena *a = arena_new(4096);
	struct arc_check *c = msg_feed(m, 1, 0);
	struct arc_seal_key k = {domain, selector, key};
	struct arc_seal_headers out;
	struct arc_outcome o;
	int rc;

	arc_check_finish(c, a, &o);
	if (h != NULL)
		arc_check_seal_headers(c, h);
	rc = arc_check_seal(c, &k, "mx.example.net; spf=pass smtp.mailfrom=example.com; dmarc=pass",
			    t, a, &out, error_r);
	if (rc == 0) {
		msg_add(m, 0, "ARC-Authentication-Results", out.aar);
		msg_add(m, 0, "ARC-Message-Signature", out.ams);
		msg_add(m, 0, "ARC-Seal", out.seal);
		if (out_r != NULL) {
			out_r->aar = xstrdup(out.aar);
			out_r->ams = xstrdup(out.ams);
			out_r->seal = xstrdup(out.seal);
		}
	} else {
		static char err[512];

		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
	}
	arc_check_free(&c);
	arena_free(&a);
	return rc;
}

/* ---- the public suite ---------------------------------------------- */

struct suite {
	char *data;
	size_t len, pos;
	char key[32];
	char *value;
	size_t value_len;
};

static int suite_next(struct suite *s)
{
	size_t n;
	char *nl;

	if (s->pos >= s->len)
		return 0;
	nl = memchr(s->data + s->pos, '\n', s->len - s->pos);
	if (nl == NULL || sscanf(s->data + s->pos, "%31s %zu", s->key, &n) != 2)
		return 0;
	s->value = nl + 1;
	s->value_len = n;
	s->pos = (size_t)(nl + 1 - s->data) + n + 1;
	if (s->pos > s->len + 1)
		return 0;
	s->value[n] = '\0'; /* over the record's own newline */
	return 1;
}

static char *read_file(const char *name, size_t *len_r)
{
	char path[1200];
	FILE *f;
	char *data;
	long len;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	data = xmalloc((size_t)len + 1);
	if (fread(data, 1, (size_t)len, f) != (size_t)len)
		len = 0;
	data[len] = '\0';
	fclose(f);
	*len_r = (size_t)len;
	return data;
}

/* "NAME\tVALUE" to a zone line; "TIMEOUT" as the value is a timeout. */
static void zone_add(char **zone, const char *rec)
{
	const char *tab = strchr(rec, '\t');
	char *line, *q;

	if (tab == NULL)
		return;
	if (strcmp(tab + 1, "TIMEOUT") == 0) {
		line = xasprintf("%s%.*s TIMEOUT\n", *zone, (int)(tab - rec), rec);
	} else {
		char *esc = xmalloc(4 * strlen(tab) + 1);

		q = esc;
		for (const char *p = tab + 1; *p; p++) {
			if (*p == '"' || *p == '\\')
				*q++ = '\\';
			if (*p == '\n') {
				*q++ = ' ';
				continue;
			}
			*q++ = *p;
		}
		*q = '\0';
		line = xasprintf("%s%.*s TXT \"%s\"\n", *zone, (int)(tab - rec), rec, esc);
		free(esc);
	}
	free(*zone);
	*zone = line;
}

static enum arc_result expected_cv(const char *cv)
{
	if (strcasecmp(cv, "pass") == 0)
		return ARC_PASS;
	if (strcasecmp(cv, "fail") == 0)
		return ARC_FAIL;
	return ARC_NONE;
}

static unsigned suite_passed, suite_cases, suite_deviating;

/* Where this module deliberately answers otherwise than the suite, and
 * why; each still counts as a test of that answer. */
static const struct {
	const char *name;
	enum arc_result result;
	const char *why;
} suite_deviations[] = {
    {"ams_fields_a_sha1", ARC_FAIL,
     "rsa-sha1 never verifies (RFC 8301 §3.1; the project's DKIM says the same)"},
    {"as_fields_a_sha1", ARC_FAIL, "rsa-sha1 never verifies (RFC 8301 §3.1)"},
    {"as_fields_b_512", ARC_FAIL,
     "a 512-bit RSA key never verifies (RFC 8301 §3.2: 1024 at least)"},
    {"arc_set_duplicate", ARC_FAIL,
     "two complete sets with i=1 are a broken chain: RFC 8617 §4.2.1 and §5.2 want exactly "
     "one of each field per instance (the suite predates the RFC)"},
    {"ams_fields_h_empty", ARC_FAIL,
     "an AMS with an empty h= signs no header field, not even From (RFC 6376 §3.5 "
     "needs one name): a chain over it would let anyone change From"},
};

static enum arc_result suite_deviation(const char *name, enum arc_result want, const char **why_r)
{
	for (size_t i = 0; i < sizeof(suite_deviations) / sizeof(suite_deviations[0]); i++)
		if (strcmp(suite_deviations[i].name, name) == 0) {
			*why_r = suite_deviations[i].why;
			return suite_deviations[i].result;
		}
	*why_r = NULL;
	return want;
}

static void suite_validation_case(const char *zone, const char *name, const char *message,
				  const char *cv)
{
	struct arena *a = arena_new(4096);
	struct arc_outcome out;
	struct msg m;
	const char *deviation;
	enum arc_result want = suite_deviation(name, expected_cv(cv), &deviation), got;

	fake_dns_reset();
	fake_dns_load(zone);
	msg_parse(&m, message);
	got = msg_verify(&m, a, &out);
	suite_cases++;
	suite_passed += got == want;
	suite_deviating += deviation != NULL;
	if (deviation != NULL)
		printf("# %s: the suite says %s; %s\n", name, cv, deviation);
	if (!CHECK(got == want, "suite validation %s: %s", name, arc_result_name(got)))
		printf("#   want %s; reason: %s\n", cv, out.reason ? out.reason : "-");
	/* oldest-pass: the oldest instance whose AMS, and every newer one,
	 * still verifies (the From of set 1's message was changed here) */
	if (strcmp(name, "cv_pass_i2_1_ams1_invalid") == 0)
		CHECK(out.oldest_pass == 2 && out.set_count == 2 && !out.sets[0].ams_valid &&
			  out.sets[1].ams_valid,
		      "suite %s: oldest-pass 2, AMS 1 no longer valid", name);
	if (strcmp(name, "cv_pass_i5_1") == 0)
		CHECK(out.oldest_pass == 1 && out.set_count == 5, "suite %s: oldest-pass 1 of 5",
		      name);
	msg_clear(&m);
	arena_free(&a);
}

static void test_suite_validation(void)
{
	struct suite s = {0};
	char *zone = xstrdup(""), *name = NULL, *message = NULL, *cv = NULL;

	s.data = read_file("validation.txt", &s.len);
	if (!CHECK(s.data != NULL, "tests/data/arc/validation.txt is there"))
		return;
	while (suite_next(&s)) {
		if (strcmp(s.key, "scenario") == 0) {
			free(zone);
			zone = xstrdup("");
		} else if (strcmp(s.key, "txt") == 0) {
			zone_add(&zone, s.value);
		} else if (strcmp(s.key, "case") == 0) {
			free(name);
			name = xstrdup(s.value);
		} else if (strcmp(s.key, "message") == 0) {
			free(message);
			message = xstrdup(s.value);
		} else if (strcmp(s.key, "cv") == 0) {
			free(cv);
			cv = xstrdup(s.value);
		} else if (strcmp(s.key, "end") == 0 && name && message && cv) {
			suite_validation_case(zone, name, message, cv);
			free(message);
			free(cv);
			message = cv = NULL;
		}
	}
	free(zone);
	free(name);
	free(s.data);
	printf("# suite validation: %u of %u cases as expected (%u of them by a deliberate "
	       "deviation)\n",
	       suite_passed, suite_cases, suite_deviating);
}

/* The value of tag t in a field value, whitespace dropped. */
static char *tag_value(const char *field, const char *t)
{
	struct arc_tag tags[ARC_TAGS_MAX];
	const struct arc_tag *found;
	const char *why;
	size_t n;
	char *v, *o;

	if (field == NULL || arc_tags_parse(field, strlen(field), tags, ARC_TAGS_MAX, &n, &why) < 0)
		return xstrdup("(unparsable)");
	found = arc_tag_find(tags, n, t);
	if (found == NULL)
		return xstrdup("(none)");
	v = o = xstrndup(found->value, found->value_len);
	for (const char *p = v; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	return v;
}

static void compare_tag(const char *name, const char *what, const char *got, const char *want,
			const char *t)
{
	char *g = tag_value(got, t), *w = tag_value(want, t);

	CHECK_STR(g, w, "suite signing %s: %s %s= as expected", name, what, t);
	free(g);
	free(w);
}

struct sign_case {
	char *name, *message, *t, *h, *authres, *as, *ams, *aar;
};

static void sign_case_clear(struct sign_case *k)
{
	free(k->name);
	free(k->message);
	free(k->t);
	free(k->h);
	free(k->authres);
	free(k->as);
	free(k->ams);
	free(k->aar);
	memset(k, 0, sizeof(*k));
}

/* auth-res as a field value: its lines folded */
static char *fold_lines(const char *s)
{
	char *out = xmalloc(3 * strlen(s) + 1), *o = out;
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			memcpy(o, "\r\n ", 3);
			o += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Signing cases whose seal is sealed cv=fail over a chain carrying two
 * different ARC-Seal i=1: the suite's generator hashed the copies in an
 * order of its own (RFC 8617 says nothing; the chain has failed either
 * way), so only the seal's b= differs; i=, cv=, the AMS are compared. */
static int suite_sign_deviation(const char *name)
{
	static const char *const names[] = {"duplicate_as_i1", "duplicate_as_i2",
					    "duplicate_as_i_t1", "duplicate_as_i_t2"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static void suite_sign_case(const char *zone, EVP_PKEY *key, const char *domain, const char *sel,
			    struct sign_case *k)
{
	struct arena *a = arena_new(4096);
	struct arc_seal_headers out = {0};
	struct arc_seal_key sk = {domain, sel, key};
	struct arc_outcome o;
	struct arc_check *c;
	const char *error = NULL;
	char *authres = fold_lines(k->authres ? k->authres : "");
	struct msg m;
	int rc;

	fake_dns_reset();
	fake_dns_load(zone);
	msg_parse(&m, k->message);
	c = msg_feed(&m, 1, 0);
	arc_check_finish(c, a, &o);
	arc_check_seal_headers(c, k->h);
	rc = arc_check_seal(c, &sk, authres, (time_t)strtoll(k->t ? k->t : "0", NULL, 10), a, &out,
			    &error);
	suite_cases++;
	if (CHECK(rc == 0, "suite signing %s: seals (%s)", k->name, error ? error : "ok")) {
		char *gb = tag_value(out.seal, "b"), *wb = tag_value(k->as, "b");
		char *gm = tag_value(out.ams, "b"), *wm = tag_value(k->ams, "b");

		int deviation = suite_sign_deviation(k->name);

		suite_passed += (deviation || strcmp(gb, wb) == 0) && strcmp(gm, wm) == 0;
		suite_deviating += deviation;
		if (deviation)
			printf("# %s: the seal's b= is not compared (two different i=1 seals)\n",
			       k->name);
		free(gb);
		free(wb);
		free(gm);
		free(wm);
		compare_tag(k->name, "AMS", out.ams, k->ams, "bh");
		compare_tag(k->name, "AMS", out.ams, k->ams, "b");
		compare_tag(k->name, "AS", out.seal, k->as, "cv");
		compare_tag(k->name, "AS", out.seal, k->as, "i");
		if (!suite_sign_deviation(k->name))
			compare_tag(k->name, "AS", out.seal, k->as, "b");
		if (k->aar != NULL) /* missing_ams's AAR is mis-indented in the suite */
			CHECK(strncmp(out.aar, k->aar, 4) == 0,
			      "suite signing %s: AAR i= as expected", k->name);
	}
	arc_check_free(&c);
	msg_clear(&m);
	free(authres);
	arena_free(&a);
}

static char **sign_field(struct sign_case *k, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} map[] = {
	    {"case", offsetof(struct sign_case, name)},
	    {"message", offsetof(struct sign_case, message)},
	    {"t", offsetof(struct sign_case, t)},
	    {"sig-headers", offsetof(struct sign_case, h)},
	    {"auth-res", offsetof(struct sign_case, authres)},
	    {"AS", offsetof(struct sign_case, as)},
	    {"AMS", offsetof(struct sign_case, ams)},
	    {"AAR", offsetof(struct sign_case, aar)},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].key, key) == 0)
			return (char **)((char *)k + map[i].off);
	return NULL;
}

static void test_suite_signing(void)
{
	struct suite s = {0};
	struct sign_case k = {0};
	char *zone = xstrdup(""), *domain = NULL, *sel = NULL;
	EVP_PKEY *key = NULL;
	char **f;

	suite_passed = suite_cases = suite_deviating = 0;
	s.data = read_file("sign.txt", &s.len);
	if (!CHECK(s.data != NULL, "tests/data/arc/sign.txt is there"))
		return;
	while (suite_next(&s)) {
		if (strcmp(s.key, "scenario") == 0) {
			free(zone);
			zone = xstrdup("");
		} else if (strcmp(s.key, "txt") == 0) {
			zone_add(&zone, s.value);
		} else if (strcmp(s.key, "domain") == 0) {
			free(domain);
			domain = xstrdup(s.value);
		} else if (strcmp(s.key, "sel") == 0) {
			free(sel);
			sel = xstrdup(s.value);
		} else if (strcmp(s.key, "privatekey") == 0) {
			BIO *bio = BIO_new_mem_buf(s.value, (int)s.value_len);

			EVP_PKEY_free(key);
			key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
			BIO_free(bio);
		} else if (strcmp(s.key, "end") == 0) {
			if (k.name != NULL && key != NULL && domain != NULL && sel != NULL)
				suite_sign_case(zone, key, domain, sel, &k);
			sign_case_clear(&k);
		} else if ((f = sign_field(&k, s.key)) != NULL) {
			if (strcmp(s.key, "case") == 0)
				sign_case_clear(&k);
			free(*f);
			*f = xstrdup(s.value);
		}
	}
	printf(
	    "# suite signing: %u of %u cases produce the expected seal (%u without comparing b=)\n",
	    suite_passed, suite_cases, suite_deviating);
	sign_case_clear(&k);
	EVP_PKEY_free(key);
	free(zone);
	free(domain);
	free(sel);
	free(s.data);
}

/* ---- chains built here ----------------------------------------------- */

static EVP_PKEY *rsa_key, *rsa512_key, *ed_key;
static char *zone_all;

/* "sel._domainkey.dom TXT "v=DKIM1; k=..; p=..."" for key */
static char *zone_line(EVP_PKEY *key, const char *name)
{
	struct arena *a = arena_new(4096);
	unsigned char der[4096], *p = der;
	size_t len = sizeof(der);
	const char *type = "rsa";
	char *line;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		EVP_PKEY_get_raw_public_key(key, der, &len);
		type = "ed25519";
	} else {
		len = (size_t)i2d_PUBKEY(key, &p);
	}
	line =
	    xasprintf("%s TXT \"v=DKIM1; k=%s; p=%s\"\n", name, type, arc_b64_encode(a, der, len));
	arena_free(&a);
	return line;
}

static void keys_init(void)
{
	char *l1, *l2, *l3;

	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	rsa512_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || rsa512_key == NULL || ed_key == NULL)
		abort();
	l1 = zone_line(rsa_key, "s1._domainkey.fwd.example");
	l2 = zone_line(rsa512_key, "short._domainkey.fwd.example");
	l3 = zone_line(ed_key, "ed._domainkey.list.example");
	zone_all = xasprintf("%s%s%s"
			     "temp._domainkey.fwd.example SERVFAIL\n"
			     "gone._domainkey.fwd.example TXT \"v=DKIM1; p=\"\n",
			     l1, l2, l3);
	free(l1);
	free(l2);
	free(l3);
}

static void base_msg(struct msg *m)
{
	msg_parse(m, "Received: from a.example by mx.fwd.example; Thu, 1 Jan 2026 00:00:00 +0000\n"
		     "From: Alice <alice@example.com>\n"
		     "To: list@list.example\n"
		     "Subject: hello\n"
		     "Date: Thu, 1 Jan 2026 00:00:00 +0000\n"
		     "Message-ID: <1@example.com>\n"
		     "\n"
		     "Hello,  world.  \n"
		     "\n"
		     "--\n"
		     "\n\n\n");
}

/* m sealed n times by s1._domainkey.fwd.example */
static void chain(struct msg *m, unsigned n)
{
	const char *error = NULL;

	base_msg(m);
	for (unsigned i = 0; i < n; i++)
		if (msg_seal(m, rsa_key, "fwd.example", "s1", NULL, 1700000000 + i, &error, NULL) <
		    0)
			abort();
}

static size_t find_field(const struct msg *m, const char *name, unsigned instance)
{
	char want[16];

	snprintf(want, sizeof(want), "i=%u;", instance);
	for (size_t i = 0; i < m->n; i++) {
		if (strcasecmp(m->name[i], name) != 0)
			continue;
		if (strcasecmp(name, "ARC-Authentication-Results") == 0
			? strncmp(m->value[i], want, strlen(want)) == 0
			: strstr(m->value[i], want) != NULL)
			return i;
	}
	abort();
}

static void expect(const struct msg *m, enum arc_result want, const char *reason_part,
		   const char *what)
{
	struct arena *a = arena_new(4096);
	struct arc_outcome out;
	enum arc_result got;

	fake_dns_reset();
	fake_dns_load(zone_all);
	got = msg_verify(m, a, &out);
	if (!CHECK(got == want && (reason_part == NULL ||
				   (out.reason != NULL && strstr(out.reason, reason_part) != NULL)),
		   "%s: %s", what, arc_result_name(got)))
		printf("#   want %s (%s); reason: %s\n", arc_result_name(want),
		       reason_part ? reason_part : "-", out.reason ? out.reason : "-");
	arena_free(&a);
}

static void test_built_chains(void)
{
	struct arena *a = arena_new(4096);
	struct arc_outcome out;
	struct msg m;

	base_msg(&m);
	expect(&m, ARC_NONE, NULL, "no ARC fields: none");
	msg_clear(&m);

	chain(&m, 2);
	fake_dns_reset();
	fake_dns_load(zone_all);
	msg_verify(&m, a, &out);
	CHECK(out.result == ARC_PASS && out.set_count == 2 && out.oldest_pass == 1,
	      "two sets by sealing: pass, 2 sets, oldest-pass 1 (%s)",
	      out.reason ? out.reason : "");
	CHECK(fake_dns_queries() == 1, "one key query for one sealer (%u)", fake_dns_queries());
	CHECK(out.set_count == 2 && out.sets[1].instance == 2 &&
		  strcmp(out.sets[1].cv, "pass") == 0 && strcmp(out.sets[0].cv, "none") == 0 &&
		  strcmp(out.sets[1].seal_domain, "fwd.example") == 0 && out.sets[0].ams_valid &&
		  out.sets[1].ams_valid,
	      "the sets' facts: instance, cv, sealer, AMS valid");
	CHECK(out.set_count == 2 &&
		  strcmp(out.sets[0].aar, "mx.example.net; spf=pass "
					  "smtp.mailfrom=example.com; dmarc=pass") == 0,
	      "the AAR's recorded results, without i=");

	/* the same chain fed in 1-byte and 7-byte chunks */
	for (size_t chunk = 1; chunk <= 7; chunk += 6) {
		struct arc_check *c = msg_feed(&m, 0, chunk);

		arc_check_finish(c, a, &out);
		CHECK(out.result == ARC_PASS, "body streamed in %zu-byte chunks: pass", chunk);
		arc_check_free(&c);
	}
	msg_clear(&m);
	arena_free(&a);
}

static void test_hostile(void)
{
	struct msg m;
	char *big;
	size_t at;

	/* a replayed chain: the sets intact, another body */
	chain(&m, 2);
	msg_set_body(&m, "Send money to the account below.\r\n");
	expect(&m, ARC_FAIL, "body hash", "replayed chain on another body: fail");
	msg_clear(&m);

	/* a seal with a bad b= (one character changed) */
	chain(&m, 2);
	at = find_field(&m, "ARC-Seal", 2);
	{
		char *b = strstr(m.value[at], "b=") + 2;

		*b = *b == 'A' ? 'B' : 'A';
	}
	expect(&m, ARC_FAIL, "ARC-Seal i=2: signature does not verify",
	       "a seal with a bad b=: fail");
	msg_clear(&m);

	/* a forged From after sealing breaks the newest AMS */
	chain(&m, 1);
	at = 0;
	for (size_t i = 0; i < m.n; i++)
		if (strcasecmp(m.name[i], "From") == 0)
			at = i;
	free(m.value[at]);
	m.value[at] = xstrdup(" Bank <ceo@bank.example>");
	expect(&m, ARC_FAIL, "ARC-Message-Signature i=1", "a changed From: fail");
	msg_clear(&m);

	/* duplicate instance: a second ARC-Seal i=2 */
	chain(&m, 2);
	at = find_field(&m, "ARC-Seal", 2);
	msg_add(&m, 0, "ARC-Seal", m.value[at]);
	expect(&m, ARC_FAIL, "two ARC-Seal with i=2", "duplicate instance: fail");
	CHECK(fake_dns_queries() == 0, "a broken chain costs no lookup");
	msg_clear(&m);

	/* a missing set: 3 sets, set 2 removed */
	chain(&m, 3);
	msg_del(&m, find_field(&m, "ARC-Seal", 2));
	msg_del(&m, find_field(&m, "ARC-Message-Signature", 2));
	msg_del(&m, find_field(&m, "ARC-Authentication-Results", 2));
	expect(&m, ARC_FAIL, "i=2 is incomplete", "missing set: fail");
	msg_clear(&m);

	/* a set without its AMS */
	chain(&m, 1);
	msg_del(&m, find_field(&m, "ARC-Message-Signature", 1));
	expect(&m, ARC_FAIL, "incomplete", "a set without AMS: fail");
	msg_clear(&m);

	/* instance 0 and 51 */
	chain(&m, 1);
	msg_add(&m, 0, "ARC-Authentication-Results", " i=0; mx.evil.example; dmarc=pass");
	expect(&m, ARC_FAIL, "i= in 1..50", "instance 0: fail");
	msg_clear(&m);
	chain(&m, 1);
	msg_add(&m, 0, "ARC-Seal", " a=rsa-sha256; b=AAAA; cv=pass; d=fwd.example; i=51; s=s1");
	expect(&m, ARC_FAIL, "i= in 1..50", "instance 51: fail");
	msg_clear(&m);
	chain(&m, 1);
	msg_add(&m, 0, "ARC-Seal",
		" a=rsa-sha256; b=AAAA; cv=pass; d=fwd.example; i=99999999999; s=s1");
	expect(&m, ARC_FAIL, "i= in 1..50", "instance with 11 digits: fail");
	msg_clear(&m);

	/* huge field values */
	big = xmalloc(300 * 1024);
	memset(big, 'A', 300 * 1024 - 1);
	big[300 * 1024 - 1] = '\0';
	memcpy(big, " i=1; ", 6);
	chain(&m, 1);
	msg_del(&m, find_field(&m, "ARC-Authentication-Results", 1));
	msg_add(&m, 0, "ARC-Authentication-Results", big);
	expect(&m, ARC_FAIL, "over", "a 300 KiB AAR: fail");
	msg_clear(&m);
	chain(&m, 1);
	for (int i = 0; i < 4; i++)
		msg_add(&m, m.n, "X-Filler", big);
	expect(&m, ARC_FAIL, "too many or too large", "1.2 MiB of header: fail, not unbounded");
	msg_clear(&m);
	base_msg(&m);
	for (int i = 0; i < 4; i++)
		msg_add(&m, m.n, "X-Filler", big);
	expect(&m, ARC_NONE, NULL, "1.2 MiB of header and no ARC: none");
	msg_clear(&m);
	free(big);

	/* a malformed seal: h= in an AS, a duplicate tag, no cv= */
	chain(&m, 1);
	at = find_field(&m, "ARC-Seal", 1);
	{
		char *v = xasprintf("%s; h=from", m.value[at]);

		free(m.value[at]);
		m.value[at] = v;
	}
	expect(&m, ARC_FAIL, "h=", "an ARC-Seal with h=: fail");
	msg_clear(&m);
	chain(&m, 1);
	at = find_field(&m, "ARC-Seal", 1);
	{
		char *v = xasprintf("%s; d=evil.example", m.value[at]);

		free(m.value[at]);
		m.value[at] = v;
	}
	expect(&m, ARC_FAIL, "duplicate tag", "an ARC-Seal with d= twice: fail");
	msg_clear(&m);
}

static void test_limits(void)
{
	const char *error = NULL;
	struct msg m;
	char *v, *p;
	int rc;

	chain(&m, 50);
	expect(&m, ARC_PASS, NULL, "50 sets: pass");
	fake_dns_reset();
	fake_dns_load(zone_all);
	rc = msg_seal(&m, rsa_key, "fwd.example", "s1", NULL, 1, &error, NULL);
	CHECK(rc < 0 && strstr(error, "50") != NULL, "a 51st set is refused (%s)",
	      rc < 0 ? error : "sealed");
	/* sets 51..60 copied from set 50 */
	for (unsigned i = 51; i <= 60; i++) {
		static const char *const names[] = {"ARC-Authentication-Results",
						    "ARC-Message-Signature", "ARC-Seal"};

		for (int k = 0; k < 3; k++) {
			v = xstrdup(m.value[find_field(&m, names[k], 50)]);
			p = strstr(v, "i=50");
			p[2] = (char)('0' + i / 10);
			p[3] = (char)('0' + i % 10);
			msg_add(&m, 0, names[k], v);
			free(v);
		}
	}
	expect(&m, ARC_FAIL, "1..50", "60 sets: fail");
	CHECK(fake_dns_queries() == 0, "60 sets cost no lookup");
	msg_clear(&m);
}

static void test_keys_and_dns(void)
{
	struct arena *a = arena_new(4096);
	struct arc_seal_headers h;
	struct arc_outcome out;
	const char *error = NULL;
	struct msg m;
	int rc;

	base_msg(&m);
	fake_dns_reset();
	fake_dns_load(zone_all);
	msg_seal(&m, rsa512_key, "fwd.example", "short", NULL, 1, &error, NULL);
	expect(&m, ARC_FAIL, "too short", "a 512-bit RSA key: fail");
	msg_clear(&m);

	base_msg(&m);
	msg_seal(&m, rsa_key, "fwd.example", "temp", NULL, 1, &error, NULL);
	expect(&m, ARC_TEMPERROR, "temporarily", "key lookup SERVFAIL: temperror");
	fake_dns_reset();
	fake_dns_load(zone_all);
	{
		struct arc_check *c = msg_feed(&m, 1, 0);
		struct arc_seal_key k = {"fwd.example", "s1", rsa_key};

		arc_check_finish(c, a, &out);
		rc = arc_check_seal(c, &k, "x; none", 1, a, &h, &error);

		CHECK(rc < 0 && strstr(error, "temperror") != NULL,
		      "no seal over a temperror chain (%s)", rc < 0 ? error : "sealed");
		arc_check_free(&c);
	}
	msg_clear(&m);

	base_msg(&m);
	msg_seal(&m, rsa_key, "fwd.example", "nokey", NULL, 1, &error, NULL);
	expect(&m, ARC_FAIL, "no key record", "no key record: fail");
	msg_clear(&m);
	base_msg(&m);
	msg_seal(&m, rsa_key, "fwd.example", "gone", NULL, 1, &error, NULL);
	expect(&m, ARC_FAIL, "revoked", "a revoked key: fail");
	msg_clear(&m);

	/* Ed25519 (RFC 8463) after RSA */
	chain(&m, 1);
	CHECK(msg_seal(&m, ed_key, "list.example", "ed", NULL, 2, &error, NULL) == 0,
	      "an Ed25519 seal over an RSA one");
	fake_dns_reset();
	fake_dns_load(zone_all);
	msg_verify(&m, a, &out);
	CHECK(out.result == ARC_PASS && fake_dns_queries() == 2,
	      "rsa + ed25519 chain: pass, 2 key queries (%s)", out.reason ? out.reason : "");
	msg_clear(&m);

	/* the two sealers' keys are asked for at once, at end of header, and
	 * waited for at the end; a key slower than the deadline is a
	 * temperror, never a wait past it */
	chain(&m, 1);
	msg_seal(&m, ed_key, "list.example", "ed", NULL, 2, &error, NULL);
	fake_dns_reset();
	fake_dns_load(zone_all);
	fake_dns_trace_reset();
	msg_verify(&m, a, &out);
	CHECK_STR(fake_dns_trace(), "SSWW", "both key lookups start before either is waited for");
	fake_dns_load("ed._domainkey.list.example DELAY 5000\n");
	lookup_timeout_ms = 100;
	msg_verify(&m, a, &out);
	lookup_timeout_ms = 1000;
	CHECK(out.result == ARC_TEMPERROR, "a key past its deadline: temperror (%s)",
	      out.reason ? out.reason : "");
	msg_clear(&m);

	/* a failed chain is sealed with cv=fail, then nobody seals again */
	chain(&m, 1);
	msg_set_body(&m, "changed\r\n");
	fake_dns_reset();
	fake_dns_load(zone_all);
	CHECK(msg_seal(&m, rsa_key, "fwd.example", "s1", NULL, 3, &error, &h) == 0 &&
		  strstr(h.seal, "cv=fail") != NULL,
	      "a failing chain is sealed with cv=fail");
	free((char *)h.aar);
	free((char *)h.ams);
	free((char *)h.seal);
	expect(&m, ARC_FAIL, "cv=fail", "a chain with cv=fail: fail");
	rc = msg_seal(&m, rsa_key, "fwd.example", "s1", NULL, 4, &error, NULL);
	CHECK(rc < 0 && strstr(error, "cv=fail") != NULL,
	      "a chain with cv=fail is not sealed again (%s)", rc < 0 ? error : "sealed");
	msg_clear(&m);
	arena_free(&a);
}

static size_t longest_line(const char *v)
{
	size_t longest = 0, cur = 0;

	for (; *v != '\0'; v++) {
		cur = *v == '\n' ? 0 : cur + 1;
		if (cur > longest)
			longest = cur;
	}
	return longest;
}

/* The seal's fields are folded between tags (the b= line alone is long),
 * and a huge h= is broken too: no line near RFC 5322's 998, and the chain
 * still verifies as folded. */
static void test_folding(void)
{
	static const char *const names[] = {"From",
					    "Sender",
					    "Reply-To",
					    "Subject",
					    "Date",
					    "Message-ID",
					    "To",
					    "Cc",
					    "In-Reply-To",
					    "References",
					    "MIME-Version",
					    "Content-Type",
					    "Content-Transfer-Encoding",
					    "List-Id",
					    "List-Post",
					    "List-Unsubscribe",
					    "DKIM-Signature"};
	struct arc_seal_headers h = {0};
	const char *error = NULL;
	struct msg m;

	chain(&m, 1);
	fake_dns_reset();
	fake_dns_load(zone_all);
	if (msg_seal(&m, rsa_key, "fwd.example", "s1", NULL, 5, &error, &h) < 0)
		h.ams = h.seal = xstrdup(error); /* fails below, saying why */
	CHECK(longest_line(h.ams) <= 8 + 2 + 172 + 1 && longest_line(h.seal) <= 8 + 2 + 172 + 1 &&
		  strstr(h.ams, ";\n\tb=") != NULL,
	      "a seal's fields are folded, b= on its own line (%zu, %zu: %.60s)",
	      longest_line(h.ams), longest_line(h.seal), h.ams);
	if (h.seal == h.ams)
		h.seal = NULL;
	free((char *)h.aar);
	free((char *)h.ams);
	free((char *)h.seal);
	msg_clear(&m);

	base_msg(&m);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (int k = 0; k < 8; k++)
			msg_add(&m, m.n, names[i], " x");
	memset(&h, 0, sizeof(h));
	if (msg_seal(&m, rsa_key, "fwd.example", "s1", NULL, 6, &error, &h) < 0)
		h.ams = xstrdup(error);
	CHECK(longest_line(h.ams) < 998 && strstr(h.ams, ":\n\t") != NULL,
	      "a 1,200-character h= is folded after a ':' (%zu: %.60s)", longest_line(h.ams),
	      h.ams);
	expect(&m, ARC_PASS, NULL, "and the chain verifies as folded");
	free((char *)h.aar);
	free((char *)h.ams);
	free((char *)h.seal);
	msg_clear(&m);
}

static void body_hash(enum arc_canon canon, const char *body, size_t chunk, char *out64)
{
	struct arena *a = arena_new(256);
	unsigned char hash[ARC_HASH_LEN];
	struct arc_body b;
	size_t len = strlen(body);

	arc_body_init(&b, canon);
	for (size_t off = 0; off < len; off += chunk)
		arc_body_update(&b, (const unsigned char *)body + off,
				len - off < chunk ? len - off : chunk);
	arc_body_final(&b, hash);
	arc_body_free(&b);
	strcpy(out64, arc_b64_encode(a, hash, sizeof(hash)));
	arena_free(&a);
}

static void test_canon(void)
{
	static const struct {
		enum arc_canon canon;
		const char *body, *want;
	} cases[] = {
	    /* RFC 6376 §3.4.3/§3.4.4: the empty body */
	    {ARC_CANON_SIMPLE, "", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="},
	    {ARC_CANON_RELAXED, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
	    {ARC_CANON_SIMPLE, "\r\n\r\n", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="},
	    {ARC_CANON_RELAXED, " \r\n\t\r\n", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
	    /* the suite's base message 1, with its quirks */
	    {ARC_CANON_RELAXED, "Hey gang,\r\nThis is a test message.\r\n--J.\r\n",
	     "KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ="},
	    {ARC_CANON_RELAXED, "Hey   gang,  \r\nThis is a test message.\r\n--J.\r\n\r\n\r\n",
	     "KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ="},
	    {ARC_CANON_RELAXED, "Hey gang,\r\nThis is a test message.\r\n--J.",
	     "KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ="},
	};
	char got[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t chunk = 1; chunk <= 64; chunk *= 8) {
			body_hash(cases[i].canon, cases[i].body, chunk, got);
			CHECK_STR(got, cases[i].want, "body hash %zu in %zu-byte chunks", i, chunk);
		}
	CHECK(strcmp(arc_result_name(ARC_NONE), "none") == 0 &&
		  strcmp(arc_result_name(ARC_PASS), "pass") == 0 &&
		  strcmp(arc_result_name(ARC_FAIL), "fail") == 0 &&
		  strcmp(arc_result_name(ARC_TEMPERROR), "temperror") == 0 &&
		  strcmp(arc_result_name((enum arc_result)42), "fail") == 0,
	      "arc_result_name: RFC 8601 words, fail out of range");
}

static void test_tags(void)
{
	struct arc_tag t[ARC_TAGS_MAX];
	const char *why = NULL;
	char many[1024] = "";
	size_t n;

	CHECK(arc_tags_parse(" a = b ; c=d e;", 15, t, ARC_TAGS_MAX, &n, &why) == 0 && n == 2 &&
		  t[1].value_len == 3,
	      "tag-list: FWS trimmed, inner kept, trailing ; allowed");
	CHECK(arc_tags_parse("a=1;a=2", 7, t, ARC_TAGS_MAX, &n, &why) < 0,
	      "tag-list: duplicate refused");
	CHECK(arc_tags_parse("a=1;;b=2", 8, t, ARC_TAGS_MAX, &n, &why) < 0,
	      "tag-list: empty spec refused");
	CHECK(arc_tags_parse("=1", 2, t, ARC_TAGS_MAX, &n, &why) < 0, "tag-list: no name refused");
	CHECK(arc_tags_parse("a=\x01", 3, t, ARC_TAGS_MAX, &n, &why) < 0,
	      "tag-list: control refused");
	for (int i = 0; i <= ARC_TAGS_MAX; i++)
		sprintf(many + strlen(many), "t%d=1;", i);
	CHECK(arc_tags_parse(many, strlen(many), t, ARC_TAGS_MAX, &n, &why) < 0,
	      "tag-list: %d tags refused", ARC_TAGS_MAX + 1);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	struct dns *dns;
	char *error = NULL;

	log_init("arc_test", 1);
	snprintf(data_dir, sizeof(data_dir), "%s/tests/data/arc", top ? top : ".");
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL || arc_module_init(dns, &error) < 0) {
		printf("Bail out! %s\n", error ? error : "init");
		return 1;
	}
	keys_init();
	test_tags();
	test_canon();
	test_suite_validation();
	test_suite_signing();
	test_built_chains();
	test_hostile();
	test_limits();
	test_keys_and_dns();
	test_folding();
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa512_key);
	EVP_PKEY_free(ed_key);
	free(zone_all);
	arc_module_deinit();
	dns_free(&dns);
	return check_done();
}

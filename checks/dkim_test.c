/*
 * dkim_test - dkim.c over libopendkim and the fake resolver: every row of
 * tests/data/dkim/EXPECTED.tsv (third-party signed messages and their keys,
 * see tests/data/dkim/SOURCES.md), then RFC 8301 policy, DNS failures,
 * tampering, the signature cap, parallel key lookups and hostile input.
 * Messages are fed as a milter gives them: header values without the
 * space after the colon, folded lines as in the file (LF or CRLF), the
 * body in chunks.  Data is read from $top_srcdir/tests/data/dkim.  TAP.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "arena.h"
#include "check.h"
#include "dkim.h"
#include "dkim_tags.h"
#include "dns.h"
#include "fake_dns.h"
#include "log.h"
#include "mem.h"

#define MAX_FILE (1024 * 1024)

static char data_dir[1024];
static char *all_keys; /* keys.zone files in the fake resolver's format */

static char *read_file(const char *rel, size_t *len_r)
{
	char path[2048];
	FILE *f;
	char *s = xmalloc(MAX_FILE + 1);
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, rel);
	if ((f = fopen(path, "rb")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	n = fread(s, 1, MAX_FILE, f);
	fclose(f);
	s[n] = '\0';
	if (len_r != NULL)
		*len_r = n;
	return s;
}

/* keys.zone (BIND lines "NAME. TTL IN TXT "..."", ";@ NAME. TIMEOUT|NXDOMAIN")
 * into fake_dns lines; a name not listed is NXDOMAIN there too. */
static void zone_convert(const char *bind, char **out, size_t *len, size_t *size)
{
	const char *line = bind;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);
		char name[512], ttl[32], cls[32], type[32];
		int used = 0;
		const char *add = NULL;
		char buf[16384];

		if (ll < sizeof(buf)) {
			memcpy(buf, line, ll);
			buf[ll] = '\0';
			if (sscanf(buf, ";@ %511s %31s", name, type) == 2 &&
			    strcmp(type, "TIMEOUT") == 0) {
				snprintf(buf, sizeof(buf), "%s TIMEOUT\n", name);
				add = buf;
			} else if (buf[0] != ';' && buf[0] != '\0' &&
				   sscanf(buf, "%511s %31s %31s %31s %n", name, ttl, cls, type,
					  &used) == 4 &&
				   strcmp(type, "TXT") == 0) {
				char tmp[16384];

				snprintf(tmp, sizeof(tmp), "%s TXT %s\n", name, buf + used);
				strcpy(buf, tmp);
				add = buf;
			}
		}
		if (add != NULL) {
			size_t al = strlen(add);

			while (*len + al + 1 > *size) {
				*size = *size ? *size * 2 : 65536;
				*out = xrealloc(*out, *size);
			}
			memcpy(*out + *len, add, al + 1);
			*len += al;
		}
		line = end ? end + 1 : line + ll;
	}
}

static void load_all_keys(void)
{
	size_t len = 0, size = 0;
	char *z;

	z = read_file("keys.zone", NULL);
	zone_convert(z, &all_keys, &len, &size);
	free(z);
	z = read_file("authscore/keys.zone", NULL);
	zone_convert(z, &all_keys, &len, &size);
	free(z);
}

static void use_zone(const char *zone)
{
	fake_dns_reset();
	fake_dns_load(zone);
}

/* The header fields of msg, fed as a milter gives them; returns the body. */
static const char *feed_headers(struct dkim_check *c, const char *msg, size_t len)
{
	const char *s = msg, *end = msg + len;

	/* A field: up to a line that does not start with WSP. */
	while (s < end && *s != '\r' && *s != '\n') {
		const char *colon = memchr(s, ':', (size_t)(end - s));
		const char *e = s, *vend;
		char *name, *value;

		while (e < end) {
			const char *nl = memchr(e, '\n', (size_t)(end - e));

			e = nl ? nl + 1 : end;
			if (e >= end || (*e != ' ' && *e != '\t'))
				break;
		}
		vend = e;
		if (vend > s && vend[-1] == '\n')
			vend--;
		if (vend > s && vend[-1] == '\r')
			vend--;
		if (colon == NULL || colon >= vend) {
			s = e;
			continue;
		}
		name = xstrndup(s, (size_t)(colon - s));
		colon++; /* the value as received: everything after the colon */
		value = xstrndup(colon, (size_t)(vend - colon));
		dkim_check_header(c, name, value);
		free(name);
		free(value);
		s = e;
	}
	if (s < end && *s == '\r')
		s++;
	if (s < end && *s == '\n')
		s++;
	return s;
}

/* The body in uneven chunks, splitting CRLF pairs now and then. */
static void feed_body(struct dkim_check *c, const char *s, const char *end)
{
	for (size_t chunk = 7; s < end; chunk = chunk * 3 + 1) {
		size_t n = (size_t)(end - s) < chunk ? (size_t)(end - s) : chunk;

		dkim_check_body(c, (const unsigned char *)s, n);
		s += n;
	}
}

/* Feed msg (len bytes) as a milter would, verify, results into a. */
static void verify_msg(const char *msg, size_t len, unsigned max, struct arena *a,
		       struct dkim_results *r)
{
	struct dkim_params p = {
	    .max_signatures = max, .lookup_timeout_ms = 2000, .min_rsa_bits = 1024};
	struct dkim_check *c = dkim_check_new(&p, "TEST");
	const char *body = feed_headers(c, msg, len);

	dkim_check_eoh(c);
	feed_body(c, body, msg + len);
	dkim_check_finish(c, a, r);
	dkim_check_free(&c);
}

static void verify_file(const char *rel, unsigned max, struct arena *a, struct dkim_results *r)
{
	size_t len;
	char *msg = read_file(rel, &len);

	verify_msg(msg, len, max, a, r);
	free(msg);
}

static int str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int has(const char *s, const char *sub)
{
	return s != NULL && strstr(s, sub) != NULL;
}

/*
 * Where this verifier answers differently from EXPECTED.tsv, on purpose:
 * - a signature with syntax errors (the junk signatures lack h=, bh= and
 *   b=) is `neutral`, RFC 8601 §2.7.1's word for "the signature ...
 *   contained syntax errors"; EXPECTED.tsv follows rspamd's permerror;
 * - libopendkim reads 1,024 bytes of a key record, so the 8192-bit key
 *   (EXPECTED: fail, "permerror is also defensible") is a permerror.
 */
static enum dkim_result expected_here(const char *file, const char *want, const char *d)
{
	if (strncmp(d, "junk", 4) == 0 && strcmp(want, "permerror") == 0)
		return DKIM_NEUTRAL;
	if (strstr(file, "rsa8192") != NULL)
		return DKIM_PERMERROR;
	for (int r = DKIM_NONE; r <= DKIM_PERMERROR; r++)
		if (strcmp(dkim_result_name((enum dkim_result)r), want) == 0)
			return (enum dkim_result)r;
	return (enum dkim_result) - 1;
}

static void test_expected_tsv(void)
{
	char *tsv = read_file("EXPECTED.tsv", NULL), *save = NULL;
	char cur[512] = "";
	struct arena *a = NULL;
	struct dkim_results r = {0};

	use_zone(all_keys);
	for (char *line = strtok_r(tsv, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[8] = {0}, *fs = NULL;
		int n = 0, lo, hi;

		if (line[0] == '#')
			continue;
		for (char *t = strtok_r(line, "\t", &fs); t != NULL && n < 8;
		     t = strtok_r(NULL, "\t", &fs))
			f[n++] = t;
		if (n < 6)
			continue;
		if (strcmp(cur, f[0]) != 0) {
			snprintf(cur, sizeof(cur), "%s", f[0]);
			arena_free(&a);
			a = arena_new(4096);
			verify_file(cur, 10, a, &r);
		}
		if (strcmp(f[1], "-") == 0) {
			CHECK(r.count == 0, "%s: unsigned, result none (%zu signatures)", cur,
			      r.count);
			continue;
		}
		if (sscanf(f[1], "%d-%d", &lo, &hi) != 2)
			lo = hi = atoi(f[1]);
		for (int i = lo; i <= hi; i++) {
			char d[256];
			const char *N = strchr(f[2], 'N');
			struct dkim_sig *s = (size_t)i <= r.count ? &r.sig[i - 1] : NULL;
			enum dkim_result want;

			/* "junkN.example.com": N is the signature's number */
			if (N != NULL)
				snprintf(d, sizeof(d), "%.*s%d%s", (int)(N - f[2]), f[2], i, N + 1);
			else
				snprintf(d, sizeof(d), "%s", f[2]);
			want = expected_here(cur, f[5], d);
			if (!CHECK(s != NULL && s->result == want && str_eq(s->domain, d) &&
				       str_eq(s->algorithm, f[4]),
				   "%s sig %d: d=%s a=%s %s (%s)", cur, i, d, f[4],
				   dkim_result_name(want), s && s->reason ? s->reason : "-"))
				printf("#   got: %s d=%s a=%s (%s)\n",
				       s ? dkim_result_name(s->result) : "no signature",
				       s && s->domain ? s->domain : "-",
				       s && s->algorithm ? s->algorithm : "-",
				       s && s->reason ? s->reason : "-");
		}
	}
	arena_free(&a);
	free(tsv);
}

static void test_policy(void)
{
	struct arena *a = arena_new(4096);
	struct dkim_results r;

	use_zone(all_keys);
	verify_file("authscore/rsa-sha1.eml", 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_POLICY && has(r.sig[0].reason, "rsa-sha1") &&
		  str_eq(r.sig[0].algorithm, "rsa-sha1"),
	      "RFC 8301 §3.1: rsa-sha1 is policy (%s)", r.count ? r.sig[0].reason : "-");
	CHECK(fake_dns_queries() == 0, "rsa-sha1: its key is not even asked for");

	verify_file("authscore/rsa512.eml", 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_POLICY &&
		  has(r.sig[0].reason, "RSA key of 512 bits (RFC 8301)") &&
		  r.sig[0].key_bits == 512,
	      "RFC 8301 §3.2: a 512-bit RSA key is policy (%s, %u bits)",
	      r.count ? r.sig[0].reason : "-", r.count ? r.sig[0].key_bits : 0);
	arena_free(&a);
}

#define RFC8463 "rfc8463/rfc8463-a3-signed.crlf.eml"
#define ED_KEY	"brisbane._domainkey.football.example.com"
#define RSA_KEY "test._domainkey.football.example.com"

static void test_dns_failures(void)
{
	struct arena *a = arena_new(4096);
	struct dkim_results r;

	use_zone(ED_KEY " SERVFAIL\n" RSA_KEY " SERVFAIL\n");
	verify_file(RFC8463, 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_TEMPERROR &&
		  r.sig[1].result == DKIM_TEMPERROR,
	      "SERVFAIL on the key: temperror, never fail or none (%s)",
	      r.count ? r.sig[0].reason : "-");

	use_zone(ED_KEY " TIMEOUT\n" RSA_KEY " TIMEOUT\n");
	verify_file(RFC8463, 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_TEMPERROR &&
		  has(r.sig[0].reason, "timed out"),
	      "key lookup timeout: temperror (%s)", r.count ? r.sig[0].reason : "-");

	use_zone("football.example.com TXT \"v=spf1 -all\"\n");
	verify_file(RFC8463, 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_PERMERROR &&
		  has(r.sig[0].reason, "NXDOMAIN") && r.sig[1].result == DKIM_PERMERROR,
	      "NXDOMAIN key: permerror (RFC 8601 §2.7.1) (%s)", r.count ? r.sig[0].reason : "-");

	use_zone(ED_KEY " TXT \"v=DKIM1; k=ed25519; p=\"\n" RSA_KEY " A 192.0.2.1\n");
	verify_file(RFC8463, 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_PERMERROR && has(r.sig[0].reason, "revoked"),
	      "empty p=: revoked key, permerror (RFC 6376 §3.6.1) (%s)",
	      r.count ? r.sig[0].reason : "-");
	CHECK(r.count == 2 && r.sig[1].result == DKIM_PERMERROR,
	      "NODATA at the selector: permerror (%s)", r.count > 1 ? r.sig[1].reason : "-");
	arena_free(&a);
}

static char *replace_once(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;

	if (at == NULL)
		return xstrdup(s);
	out = xmalloc(strlen(s) - strlen(from) + strlen(to) + 1);
	sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void test_tampering(void)
{
	struct arena *a = arena_new(4096);
	struct dkim_results r;
	char *msg = read_file(RFC8463, NULL), *bad;

	use_zone(all_keys);
	verify_msg(msg, strlen(msg), 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_PASS && r.sig[1].result == DKIM_PASS &&
		  str_eq(r.sig[0].b8, "9/dsDChY") && str_eq(r.sig[0].selector, "brisbane") &&
		  str_eq(r.sig[1].algorithm, "rsa-sha256") && r.sig[1].key_bits == 1024 &&
		  r.sig[0].reason == NULL,
	      "RFC 8463 A.3: ed25519 and rsa-sha256 pass, header.b, s=, a=, key bits");

	bad = replace_once(msg, "Joe.", "Joe, who rewrote this.");
	verify_msg(bad, strlen(bad), 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_FAIL && r.sig[1].result == DKIM_FAIL &&
		  str_eq(r.sig[0].reason, "body hash mismatch"),
	      "body modified: fail, body hash mismatch (%s)", r.count ? r.sig[0].reason : "-");
	free(bad);

	bad = replace_once(msg, "Is dinner ready?", "Is lunch ready?");
	verify_msg(bad, strlen(bad), 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_FAIL &&
		  str_eq(r.sig[0].reason, "signature did not verify"),
	      "signed header modified: fail, signature did not verify (%s)",
	      r.count ? r.sig[0].reason : "-");
	free(bad);

	/* The ed25519 signature's b= damaged, the RSA one intact. */
	bad = replace_once(msg, "b=9/dsDChY", "b=9/dsDChZ");
	verify_msg(bad, strlen(bad), 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_FAIL && r.sig[1].result == DKIM_PASS,
	      "two signatures, one broken: fail and pass, each its own");
	free(bad);

	bad = replace_once(msg, "\r\n\r\nHi.", "\r\n\r\n\r\n\r\nHi.");
	verify_msg(bad, strlen(bad), 5, a, &r);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_FAIL,
	      "blank lines added at the body's start: fail");
	free(bad);
	free(msg);
	arena_free(&a);
}

static void test_limits(void)
{
	struct arena *a = arena_new(4096);
	struct dkim_results r;
	int all_pass = 1;

	use_zone(all_keys);
	verify_file("authscore/fifty-sigs.eml", 5, a, &r);
	for (size_t i = 0; i < r.count; i++)
		all_pass &= r.sig[i].result == DKIM_PASS;
	CHECK(r.count == 5 && r.skipped == 45 && all_pass,
	      "50 signatures, max 5: 5 verified (all pass), 45 skipped (%zu, %u)", r.count,
	      r.skipped);
	CHECK(fake_dns_queries() == 5, "50 signatures, max 5: 5 key queries (%u)",
	      fake_dns_queries());
	CHECK(r.count == 5 && str_eq(r.sig[0].selector, "s1") && str_eq(r.sig[4].selector, "s5"),
	      "the first five from the top are the ones verified");

	verify_file("rspamd/six-sigs-over-rspamd-limit.eml", 5, a, &r);
	CHECK(r.count == 5 && r.skipped == 1 && r.sig[4].result == DKIM_NEUTRAL,
	      "six signatures, max 5: the sixth (valid) is skipped, not passed");
	arena_free(&a);
}

/*
 * The fake resolver answers inside dns_start() (a DELAY sleeps there), so
 * it cannot show lookups overlapping.  Its call trace shows the order
 * instead: every key query started at eoh, none waited for before finish.
 */

static void test_parallel(void)
{
	struct dkim_params p = {
	    .max_signatures = 5, .lookup_timeout_ms = 500, .min_rsa_bits = 1024};
	struct arena *a = arena_new(4096);
	struct dkim_results r;
	struct dkim_check *c;
	size_t len;
	char *msg = read_file(RFC8463, &len);
	const char *body;

	use_zone(all_keys);
	c = dkim_check_new(&p, "PAR");
	body = feed_headers(c, msg, len);
	fake_dns_trace_reset();
	dkim_check_eoh(c);
	CHECK(strcmp(fake_dns_trace(), "SS") == 0,
	      "eoh starts both key lookups, waits for none (%s)", fake_dns_trace());
	feed_body(c, body, msg + len);
	dkim_check_finish(c, a, &r);
	CHECK(strcmp(fake_dns_trace(), "SSWW") == 0 && r.count == 2 &&
		  r.sig[0].result == DKIM_PASS && r.sig[1].result == DKIM_PASS,
	      "finish waits once per started lookup, starts none (%s)", fake_dns_trace());
	dkim_check_free(&c);
	free(msg);
	arena_free(&a);
}

static void test_hostile(void)
{
	struct arena *a = arena_new(4096);
	struct dkim_results r;
	struct dkim_params p = {
	    .max_signatures = 5, .lookup_timeout_ms = 500, .min_rsa_bits = 1024};
	struct dkim_check *c;
	char *big = xmalloc(200001);
	static const char *const junk[] = {
	    "",
	    "v=1; a=rsa-sha256; d=; s=; b=; bh=; h=",
	    "\x01\x02\xff garbage \n\t\r\n",
	    "v=1; a=rsa-sha256; d=a.test; s=x..y; h=from; bh=AAAA; b=AAAA",
	    "v=1; a=rsa-sha256; d=a.test; s=sel; h=from; bh=!!!!; b=####; l=-5; x=1; t=99999999999",
	    "v=1; a=hmac-md5; c=weird/odd; d=a.test; s=sel; h=from; bh=AAAA; b=AAAA",
	    "v=1; a=rsa-sha256; "
	    "d=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "test; s=sel; h=from; bh=AAAA; b=AAAA",
	};

	use_zone("");
	memset(big, 'x', 200000);
	big[200000] = '\0';
	c = dkim_check_new(&p, "HOSTILE");
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		dkim_check_header(c, "DKIM-Signature", junk[i]);
	dkim_check_header(c, "Subject", big);
	dkim_check_header(c, "DKIM-Signature", big);
	dkim_check_eoh(c);
	dkim_check_body(c, (const unsigned char *)"\r\n\n\r\r\n", 6);
	dkim_check_finish(c, a, &r);
	CHECK(r.count == 5 && r.skipped == 2,
	      "hostile signatures, no From: no crash, capped (%zu, %u)", r.count, r.skipped);
	for (size_t i = 0; i < r.count; i++)
		if (r.sig[i].result == DKIM_PASS)
			CHECK(0, "hostile signature %zu passed", i);
	dkim_check_free(&c);

	/* Aborted messages: freed at any point, with queries in flight. */
	use_zone(all_keys);
	c = dkim_check_new(&p, NULL);
	dkim_check_free(&c);
	c = dkim_check_new(&p, NULL);
	dkim_check_header(c, "From", "a@b.test");
	dkim_check_eoh(c);
	dkim_check_free(&c);
	CHECK(c == NULL, "abort before and after eoh");

	/* finish without eoh, no headers at all */
	c = dkim_check_new(&p, "Q");
	dkim_check_finish(c, a, &r);
	CHECK(r.count == 0 && r.skipped == 0, "no header at all: none");
	dkim_check_free(&c);
	free(big);
	arena_free(&a);
}

static void test_domains(void)
{
	struct dkim_params p = {
	    .max_signatures = 5, .lookup_timeout_ms = 500, .min_rsa_bits = 1024};
	size_t len;
	char *msg = read_file(RFC8463, &len);
	struct dkim_check *c = dkim_check_new(&p, "D");
	const char *d[4];
	char *hdr = strstr(msg, "DKIM-Signature: ");
	char *end = strstr(hdr, "\r\nDKIM-Signature");

	use_zone(all_keys);
	*end = '\0';
	dkim_check_header(c, "DKIM-Signature", hdr + 16);
	dkim_check_header(c, "From", "Joe SixPack <joe@football.example.com>");
	dkim_check_eoh(c);
	CHECK(dkim_check_domains(c, d, 4) == 1 && str_eq(d[0], "football.example.com"),
	      "dkim_check_domains: the d= to be verified");
	dkim_check_free(&c);
	CHECK(dkim_check_domains(NULL, d, 4) == 0, "dkim_check_domains(NULL)");
	free(msg);
}

/* ---- duplicate tags (RFC 6376 §3.2) ---- */

#define DUP_HEADERS                                                                                \
	"From: Joe SixPack <joe@football.example.com>\r\n"                                         \
	"To: Suzie Q <suzie@shopping.example.net>\r\n"                                             \
	"Subject: Is dinner ready?\r\n"
#define DUP_BODY "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

static EVP_PKEY *dup_key(void)
{
	char path[2048];
	FILE *f;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/rfc8463/test.football.example.com.rsa-private.pem",
		 data_dir);
	if ((f = fopen(path, "r")) == NULL ||
	    (k = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	return k;
}

static char *b64(const unsigned char *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* The test key's public half, base64 DER, as p= publishes it. */
static char *dup_pubkey(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	char *out = b64(der, (size_t)n);

	OPENSSL_free(der);
	return out;
}

/*
 * A message signed here with the RFC 8463 A.1 RSA key (test._domainkey.
 * football.example.com), c=simple/simple, so that a signature can carry
 * tags no signing library writes.  tags is the DKIM-Signature value
 * before "b=", with "%1$s" where the body hash goes.
 */
static char *dup_sign(EVP_PKEY *k, const char *tags)
{
	unsigned char bh[32], sig[1024];
	char value[2048], *bh64, *sig64, *data, *msg;
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	SHA256((const unsigned char *)DUP_BODY, strlen(DUP_BODY), bh);
	bh64 = b64(bh, sizeof(bh));
	snprintf(value, sizeof(value), tags, bh64);
	strncat(value, "b=", sizeof(value) - strlen(value) - 1);
	/* RFC 6376 §3.7: the signed fields, then this one with b= empty and
	 * no final CRLF. */
	data = xmalloc(strlen(DUP_HEADERS) + strlen(value) + 32);
	sprintf(data, "%sDKIM-Signature: %s", DUP_HEADERS, value);
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)data, strlen(data)) != 1) {
		printf("Bail out! signing failed\n");
		exit(1);
	}
	sig64 = b64(sig, siglen);
	msg = xmalloc(strlen(value) + strlen(sig64) + strlen(DUP_HEADERS) + strlen(DUP_BODY) + 32);
	sprintf(msg, "DKIM-Signature: %s%s\r\n%s\r\n%s", value, sig64, DUP_HEADERS, DUP_BODY);
	EVP_MD_CTX_free(md);
	free(data);
	free(sig64);
	free(bh64);
	return msg;
}

#define DUP_GOOD                                                                                   \
	"v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test; "                     \
	"h=from:to:subject; bh=%1$s; "

static void test_duplicate_tags(void)
{
	static const struct {
		const char *what, *tags;
	} sigs[] = {
	    {"duplicate d= (same value)",
	     "v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test; "
	     "d=football.example.com; h=from:to:subject; bh=%1$s; "},
	    {"duplicate s= (same value)",
	     "v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test; "
	     "h=from:to:subject; s=test; bh=%1$s; "},
	    {"duplicate bh= (same value)",
	     "v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test; "
	     "h=from:to:subject; bh=%1$s; bh=%1$s; "},
	    {"duplicate unknown tag",
	     "v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test; zz=1; "
	     "h=from:to:subject; bh=%1$s; zz=1; "},
	    {"duplicate d= with folding around = and ;",
	     "v=1; a=rsa-sha256; c=simple/simple; d=football.example.com; s=test;\r\n"
	     "\td =football.example.com ; h=from:to:subject; bh=%1$s; "},
	};
	struct arena *a = arena_new(4096);
	struct dkim_results r;
	EVP_PKEY *k = dup_key();
	char *pub = dup_pubkey(k), *msg, zone[2048];

	use_zone(all_keys);
	msg = dup_sign(k, DUP_GOOD);
	verify_msg(msg, strlen(msg), 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_PASS,
	      "duplicate tags: the test's own signature passes without them (%s)",
	      r.count ? dkim_result_name(r.sig[0].result) : "-");
	free(msg);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		msg = dup_sign(k, sigs[i].tags);
		verify_msg(msg, strlen(msg), 5, a, &r);
		CHECK(r.count == 1 && r.sig[0].result == DKIM_PERMERROR &&
			  has(r.sig[0].reason, "duplicate tag"),
		      "RFC 6376 §3.2: signature with %s: permerror (%s: %s)", sigs[i].what,
		      r.count ? dkim_result_name(r.sig[0].result) : "-",
		      r.count && r.sig[0].reason ? r.sig[0].reason : "-");
		free(msg);
	}

	/* The key record is a tag-list too (§3.6.1). */
	msg = dup_sign(k, DUP_GOOD);
	snprintf(zone, sizeof(zone), RSA_KEY " TXT \"v=DKIM1; k=rsa; p=%s; p=%s\"\n", pub, pub);
	use_zone(zone);
	verify_msg(msg, strlen(msg), 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_PERMERROR &&
		  has(r.sig[0].reason, "duplicate tag"),
	      "RFC 6376 §3.2: key record with duplicate p=: permerror (%s: %s)",
	      r.count ? dkim_result_name(r.sig[0].result) : "-",
	      r.count && r.sig[0].reason ? r.sig[0].reason : "-");
	snprintf(zone, sizeof(zone), RSA_KEY " TXT \"v=DKIM1; k=rsa; k=rsa; p=%s\"\n", pub);
	use_zone(zone);
	verify_msg(msg, strlen(msg), 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_PERMERROR &&
		  has(r.sig[0].reason, "duplicate tag"),
	      "RFC 6376 §3.2: key record with duplicate k=: permerror (%s: %s)",
	      r.count ? dkim_result_name(r.sig[0].result) : "-",
	      r.count && r.sig[0].reason ? r.sig[0].reason : "-");
	snprintf(zone, sizeof(zone), RSA_KEY " TXT \"v=DKIM1; k=rsa; p=%s\"\n", pub);
	use_zone(zone);
	verify_msg(msg, strlen(msg), 5, a, &r);
	CHECK(r.count == 1 && r.sig[0].result == DKIM_PASS,
	      "the same key record without duplicates: pass");
	free(msg);
	free(pub);
	EVP_PKEY_free(k);
	arena_free(&a);
}

/* The scanner alone (dkim_tags.c), RFC 6376 §3.2 grammar. */
static void test_tag_scanner(void)
{
	static const struct {
		const char *list;
		enum dkim_tags_status want;
		const char *name; /* the repeated one */
	} cases[] = {
	    {"v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AA==; b=BB==", DKIM_TAGS_OK, NULL},
	    {"", DKIM_TAGS_OK, NULL},
	    {"a=1;", DKIM_TAGS_OK, NULL},
	    {"a=1; a=1", DKIM_TAGS_DUPLICATE, "a"},
	    {" a = 1 ;\r\n\ta\r\n =2", DKIM_TAGS_DUPLICATE, "a"},
	    {"x_1=; x_1=", DKIM_TAGS_DUPLICATE, "x_1"},
	    {"d=x; D=x", DKIM_TAGS_DUPLICATE, "D"}, /* libopendkim folds case */
	    {"ab=1; a=1; b=1; abc=1", DKIM_TAGS_OK, NULL},
	    {"b=abc=; bh=abc==", DKIM_TAGS_OK, NULL},
	    {"=1; =1; 9a=1; 9a=1; a b=1; a b=1", DKIM_TAGS_OK, NULL}, /* not tag-specs */
	    {";;;; a=1 ;;; a=2", DKIM_TAGS_DUPLICATE, "a"},
	};
	char many[64 * 8 + 16] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = NULL;
		size_t n = 0;
		enum dkim_tags_status st =
		    dkim_tags_check(cases[i].list, strlen(cases[i].list), &name, &n);

		CHECK(st == cases[i].want &&
			  (cases[i].name == NULL ||
			   (n == strlen(cases[i].name) && strncmp(name, cases[i].name, n) == 0)),
		      "tag scanner: \"%s\" -> %d", cases[i].list, (int)st);
	}
	for (int i = 0; i < DKIM_TAGS_MAX; i++)
		sprintf(many + strlen(many), "t%d=1;", i);
	CHECK(dkim_tags_check(many, strlen(many), NULL, NULL) == DKIM_TAGS_OK,
	      "tag scanner: %d distinct tags are fine", DKIM_TAGS_MAX);
	strcat(many, "z=1");
	CHECK(dkim_tags_check(many, strlen(many), NULL, NULL) == DKIM_TAGS_TOO_MANY,
	      "tag scanner: %d tags are refused", DKIM_TAGS_MAX + 1);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	struct dns *dns;
	char *error = NULL;

	log_init("dkim_test", 1);
	snprintf(data_dir, sizeof(data_dir), "%s/tests/data/dkim", top ? top : ".");
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL || dkim_module_init(dns, &error) < 0) {
		printf("Bail out! %s\n", error ? error : "init");
		return 1;
	}
	load_all_keys();
	test_expected_tsv();
	test_policy();
	test_dns_failures();
	test_tampering();
	test_limits();
	test_parallel();
	test_hostile();
	test_domains();
	test_tag_scanner();
	test_duplicate_tags();
	dkim_module_deinit();
	dns_free(&dns);
	free(all_keys);
	return check_done();
}

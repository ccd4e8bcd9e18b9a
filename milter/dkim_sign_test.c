/*
 * dkim_sign_test - the key table, the signing table and the signer:
 * configuration errors (file:line:column, and the key file named: missing,
 * group- or world-readable, not a file, not a key, a short RSA key, an
 * encrypted one), the patterns, and signatures made with RSA and Ed25519
 * keys verified by authscore's own verifier (dkim.c over the fake
 * resolver), oversigning (a From added after signing fails), x=, and the
 * header cap.  Keys are made with libcrypto in a temporary directory.  TAP.
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"
#include "conf.h"
#include "dkim.h"
#include "dkim_keys.h"
#include "dkim_sign.h"
#include "dns.h"
#include "fake_dns.h"
#include "log.h"
#include "mem.h"

static char dir[] = "/tmp/dkim_sign_test.XXXXXX";

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* A key file of the given kind and mode; returns its path (malloc'd). */
static char *write_key(const char *name, EVP_PKEY *k, unsigned mode)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "w");

	if (f == NULL || PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) {
		printf("Bail out! cannot write %s\n", p);
		exit(1);
	}
	fclose(f);
	chmod(p, mode);
	return p;
}

static void write_text(const char *name, const char *text, unsigned mode)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "w");

	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	free(p);
}

static struct conf *conf_of(const char *text)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", text, &error);

	if (c == NULL) {
		printf("Bail out! %s\n", error);
		exit(1);
	}
	return c;
}

/* The load error for a configuration (NULL: it loaded). */
static char *load_error(const char *text)
{
	struct conf *c = conf_of(text);
	char *error = NULL;
	struct dkim_keys *k = dkim_keys_load(c, &error);

	dkim_keys_free(&k);
	conf_free(&c);
	return error;
}

static void expect_error(const char *text, const char *where, const char *words, const char *what)
{
	char *e = load_error(text);

	if (!CHECK(e != NULL && strncmp(e, where, strlen(where)) == 0 && strstr(e, words) != NULL,
		   "%s: error at %s naming %s", what, where, words))
		printf("#   got: %s\n", e ? e : "(loaded)");
	free(e);
}

static void test_table_errors(const char *rsa, const char *ed)
{
	char text[4096];

	expect_error("dkim-key example.com sel\n", "t.conf:1:10:", "DOMAIN SELECTOR FILE",
		     "two values");
	expect_error("\n dkim-key exa_mple..com sel /k\n", "t.conf:2:11:", "not a domain",
		     "bad domain");
	expect_error("dkim-key example.com \"s l\" /k\n", "t.conf:1:22:", "not a selector",
		     "bad selector");
	expect_error("dkim-key example.com sel k.pem\n", "t.conf:1:26:", "absolute path",
		     "relative path");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\ndkim-key EXAMPLE.com SEL %s\n",
		 rsa, ed);
	expect_error(text, "t.conf:2:10:", "given twice", "a key twice");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\ndkim-sign example.com "
				     "example.com:sel example.com:other\n",
		 rsa);
	expect_error(text, "t.conf:2:39:", "example.com:other", "unknown key named");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\ndkim-sign ex*ample.com "
				     "example.com:sel\n",
		 rsa);
	expect_error(text, "t.conf:2:11:", "not a pattern", "bad pattern");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\ndkim-sign a@b@example.com "
				     "example.com:sel\n",
		 rsa);
	expect_error(text, "t.conf:2:11:", "local part", "two @");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\ndkim-sign * example.com:sel "
				     "example.com:sel\n",
		 rsa);
	expect_error(text, "t.conf:2:29:", "named twice", "a key twice on a line");
	expect_error("dkim-sign example.com\n", "t.conf:1:11:", "PATTERN DOMAIN:SELECTOR",
		     "no key on a line");
}

static void test_key_files(const char *rsa)
{
	char text[4096], *p;
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);

	p = path_of("missing.pem");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", p);
	expect_error(text, "t.conf:1:26:", p, "missing file named");
	free(p);
	chmod(rsa, 0644);
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", rsa);
	expect_error(text, "t.conf:1:26:", "readable or writable by group or others",
		     "world-readable key refused");
	chmod(rsa, 0640);
	expect_error(text, "t.conf:1:26:", rsa, "group-readable key refused, file named");
	chmod(rsa, 0600);
	CHECK(load_error(text) == NULL, "mode 0600 loads");
	chmod(rsa, 0400);
	CHECK(load_error(text) == NULL, "mode 0400 loads");
	chmod(rsa, 0600);
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", dir);
	expect_error(text, "t.conf:1:26:", "not a regular file", "a directory");
	write_text("junk.pem", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n", 0600);
	p = path_of("junk.pem");
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", p);
	expect_error(text, "t.conf:1:26:", "no unencrypted PEM private key", "malformed key");
	free(p);
	p = write_key("small.pem", small, 0600);
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", p);
	expect_error(text, "t.conf:1:26:", "512 bits", "short RSA key");
	free(p);
	p = path_of("enc.pem");
	{
		FILE *f = fopen(p, "w");

		PEM_write_PKCS8PrivateKey(f, small, EVP_aes_128_cbc(), "pw", 2, NULL, NULL);
		fclose(f);
		chmod(p, 0600);
	}
	snprintf(text, sizeof(text), "dkim-key example.com sel %s\n", p);
	expect_error(text, "t.conf:1:26:", "no unencrypted", "encrypted key: no prompt, an error");
	free(p);
	EVP_PKEY_free(small);
}

static void test_patterns(const char *rsa, const char *ed)
{
	char text[4096], *error = NULL;
	struct conf *c;
	struct dkim_keys *k;
	const struct dkim_privkey *out[DKIM_KEYS_MAX_PER_LINE];

	snprintf(text, sizeof(text),
		 "dkim-key example.com rsa %s\ndkim-key example.com ed %s\n"
		 "dkim-key other.test rsa %s\n"
		 "dkim-sign boss@example.com other.test:rsa\n"
		 "dkim-sign example.com example.com:rsa example.com:ed\n"
		 "dkim-sign *.example.com example.com:ed\n"
		 "dkim-sign *@*.other.test other.test:rsa\n",
		 rsa, ed, rsa);
	c = conf_of(text);
	k = dkim_keys_load(c, &error);
	if (!CHECK(k != NULL, "tables load"))
		printf("#   %s\n", error);
	CHECK(dkim_keys_count(k) == 3 && dkim_keys_signing(k), "three keys, a signing table");
	CHECK(dkim_keys_for(k, "example.com", "user@example.com", out) == 2 &&
		  out[0]->type == DKIM_KEY_RSA && out[1]->type == DKIM_KEY_ED25519 &&
		  strcmp(out[1]->alg, "ed25519-sha256") == 0,
	      "From domain: dual rsa + ed25519");
	CHECK(dkim_keys_for(k, "Example.COM", NULL, out) == 2, "domains compare in any case");
	CHECK(dkim_keys_for(k, "example.com", "Boss@example.com", out) == 1 &&
		  strcmp(out[0]->domain, "other.test") == 0,
	      "a sender address line before it wins");
	CHECK(dkim_keys_for(k, "mail.example.com", NULL, out) == 1 &&
		  strcmp(out[0]->selector, "ed") == 0,
	      "*.example.com: a subdomain");
	CHECK(dkim_keys_for(k, "badexample.com", NULL, out) == 0, "*.example.com is not a suffix match");
	CHECK(dkim_keys_for(k, "x.test", "a@lists.other.test", out) == 1,
	      "*@*.other.test: the sender's subdomain");
	CHECK(dkim_keys_for(k, "x.test", "a@other.test", out) == 0,
	      "*@*.other.test: not the domain itself");
	CHECK(dkim_keys_for(k, NULL, NULL, out) == 0, "no From domain, no sender: nothing");
	CHECK(dkim_keys_find(k, "EXAMPLE.com", "Ed") != NULL &&
		  dkim_keys_find(k, "EXAMPLE.com", "Ed")->type == DKIM_KEY_ED25519,
	      "find by domain and selector, any case");
	CHECK(dkim_keys_find(k, "example.com", "none") == NULL, "find: unknown selector");
	dkim_keys_free(&k);
	CHECK(k == NULL, "free clears the pointer");
	dkim_keys_free(&k);
	conf_free(&c);
	/* syntax only: the files need not exist */
	c = conf_of("dkim-key example.com sel /nonexistent/k.pem\ndkim-sign * example.com:sel\n");
	CHECK(dkim_keys_check(c, &error) == 0, "check: syntax without the files");
	conf_free(&c);
}

/* A message fed as a milter gives it: values with their leading blank,
 * folded with a bare LF; the body in chunks. */
static const char *msg_headers[][2] = {
    {"From", " Alice <alice@example.com>"},
    {"To", " bob@example.net"},
    {"Subject", " a folded\n\tsubject"},
    {"Date", " Sun, 06 Dec 2026 10:00:00 +0000"},
    {"Message-ID", " <1@example.com>"},
    {"X-Mailer", " test"},
};
static const char *msg_body = "Hello Bob,\r\n\r\nsee you  at  noon.\r\n\r\n\r\n";

static int sign(const struct dkim_signing *s, struct arena *a, const char *from_domain,
		const struct dkim_signature **sigs, const char **error)
{
	struct dkim_signer *g = dkim_signer_new(s, a, "T");

	for (size_t i = 0; i < sizeof(msg_headers) / sizeof(msg_headers[0]); i++)
		dkim_signer_header(g, msg_headers[i][0], msg_headers[i][1]);
	dkim_signer_eoh(g, from_domain, "alice@example.com");
	dkim_signer_body(g, (const unsigned char *)msg_body, 11);
	dkim_signer_body(g, (const unsigned char *)msg_body + 11, strlen(msg_body) - 11);
	{
		int n = dkim_signer_finish(g, sigs, error);

		dkim_signer_free(&g);
		return n;
	}
}

/* Verified by dkim.c, with the signature on top and, if asked, a From
 * field added after signing. */
static struct dkim_results verify(struct arena *a, const struct dkim_signature *sigs, int n,
				  const char *extra_from)
{
	struct dkim_params p = {.max_signatures = 5, .lookup_timeout_ms = 1000, .min_rsa_bits = 1024};
	struct dkim_check *c = dkim_check_new(&p, "V");
	struct dkim_results r;

	for (int i = 0; i < n; i++) {
		char *v = xasprintf(" %s", sigs[i].value);

		dkim_check_header(c, DKIM_SIGN_HEADER, v);
		free(v);
	}
	if (extra_from != NULL)
		dkim_check_header(c, "From", extra_from);
	for (size_t i = 0; i < sizeof(msg_headers) / sizeof(msg_headers[0]); i++)
		dkim_check_header(c, msg_headers[i][0], msg_headers[i][1]);
	dkim_check_eoh(c);
	dkim_check_body(c, (const unsigned char *)msg_body, strlen(msg_body));
	dkim_check_finish(c, a, &r);
	dkim_check_free(&c);
	return r;
}

static void test_sign_verify(const char *rsa, EVP_PKEY *rk, const char *ed, EVP_PKEY *ek)
{
	char text[4096], *error = NULL, *rr = dkim_keys_record(rk), *er = dkim_keys_record(ek), *zone;
	struct conf *c;
	struct dkim_signing *s;
	struct arena *a = arena_new(4096);
	const struct dkim_signature *sigs;
	const char *why;
	struct dkim_results r;
	int n;

	zone = xasprintf("rsa._domainkey.example.com TXT \"%s\"\ned._domainkey.example.com TXT "
			 "\"%s\"\n",
			 rr, er);
	fake_dns_reset();
	fake_dns_load(zone);
	snprintf(text, sizeof(text),
		 "dkim-key example.com rsa %s\ndkim-key example.com ed %s\n"
		 "dkim-sign example.com example.com:rsa example.com:ed\n"
		 "dkim-sign-expire-days 7\n",
		 rsa, ed);
	c = conf_of(text);
	s = dkim_signing_load(c, &error);
	if (!CHECK(s != NULL, "signing loads"))
		printf("#   %s\n", error);
	n = sign(s, a, "example.com", &sigs, &why);
	CHECK(n == 2, "two signatures (%s)", n < 0 ? why : "ok");
	if (n != 2)
		goto out;
	CHECK(strstr(sigs[0].value, "a=rsa-sha256") && strstr(sigs[1].value, "a=ed25519-sha256"),
	      "rsa-sha256 and ed25519-sha256");
	CHECK(strstr(sigs[0].value, "c=relaxed/relaxed") && strstr(sigs[0].value, "d=example.com") &&
		  strstr(sigs[0].value, "s=rsa;") && strstr(sigs[0].value, " l=") == NULL &&
		  strstr(sigs[0].value, "l=") == NULL,
	      "relaxed/relaxed, d=, s=, no l=");
	{
		const char *t = strstr(sigs[0].value, "t="), *x = strstr(sigs[0].value, "x=");

		CHECK(t != NULL && x != NULL && strtoll(x + 2, NULL, 10) - strtoll(t + 2, NULL, 10) ==
							7 * 86400,
		      "t= and x= seven days later");
	}
	CHECK(strstr(sigs[0].value, "From:") != NULL && strcasestr(sigs[0].value, ":from") != NULL,
	      "From signed and oversigned");
	r = verify(a, sigs, n, NULL);
	CHECK(r.count == 2 && r.sig[0].result == DKIM_PASS && r.sig[1].result == DKIM_PASS,
	      "authscore's verifier: both pass (%s, %s)",
	      r.count > 0 ? dkim_result_name(r.sig[0].result) : "-",
	      r.count > 1 ? dkim_result_name(r.sig[1].result) : "-");
	r = verify(a, sigs, n, " Mallory <m@evil.test>");
	CHECK(r.count == 2 && r.sig[0].result == DKIM_FAIL && r.sig[1].result == DKIM_FAIL,
	      "a From added after signing: both fail (oversigned)");
	n = sign(s, a, "example.org", &sigs, &why);
	CHECK(n == 0, "no signing-table line matches: not signed");
out:
	dkim_signing_free(&s);
	CHECK(s == NULL, "signing free clears the pointer");
	conf_free(&c);
	arena_free(&a);
	free(rr);
	free(er);
	free(zone);
}

/* bh= of a signature value, or "" */
static void tag_of(const char *sig, const char *tag, char *out, size_t size)
{
	const char *p = strstr(sig, tag);
	size_t n = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	for (p += strlen(tag); *p != '\0' && *p != ';' && n + 1 < size; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			out[n++] = *p;
	out[n] = '\0';
}

/* Odd messages, hostile bodies: our Ed25519 body canonicalization gives
 * libopendkim's bh=, and both signatures pass authscore's verifier. */
static void test_cross(const char *rsa, EVP_PKEY *rk, const char *ed, EVP_PKEY *ek)
{
	static const char *bodies[] = {
	    "", "\r\n", "\r\n\r\n\r\n", "no final line end", "a  \t b \t\r\n\t\r\n \r\n",
	    "bare\nline\nends\n\n", "lone\rCR\r\n", "x\r\n\r\n\r\ny \r\n\r\n", " lead\r\n",
	    "ends in CR\r", "\t\t\r\n  \r\n", "\x80\xff 8bit\r\n"};
	static const char *fields[][2] = {
	    {"From", " <alice@example.com>"}, {"To", " one@example.net"},
	    {"Subject", "  spaced \t out  "}, {"To", "\ttwo@example.net,\r\n\tthree@example.net"},
	    {"X-Other", " x"}, {"Content-Type", " text/plain;\n charset=us-ascii"},
	    {"DATE", " Sun, 06 Dec 2026 10:00:00 +0000"}};
	char text[4096], *error = NULL, *rr = dkim_keys_record(rk), *er = dkim_keys_record(ek), *zone;
	struct conf *c;
	struct dkim_signing *s;
	int same = 1, pass = 1;

	zone = xasprintf("rsa._domainkey.example.com TXT \"%s\"\ned._domainkey.example.com TXT \"%s\"\n",
			 rr, er);
	fake_dns_reset();
	fake_dns_load(zone);
	snprintf(text, sizeof(text),
		 "dkim-key example.com rsa %s\ndkim-key example.com ed %s\n"
		 "dkim-sign example.com example.com:rsa example.com:ed\n",
		 rsa, ed);
	c = conf_of(text);
	s = dkim_signing_load(c, &error);
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		struct arena *a = arena_new(4096);
		struct dkim_signer *g = dkim_signer_new(s, a, "X");
		const struct dkim_signature *sigs;
		const char *why;
		char bh1[128], bh2[128];
		size_t len = strlen(bodies[b]);
		struct dkim_params dp = {.max_signatures = 5, .lookup_timeout_ms = 1000, .min_rsa_bits = 1024};
		struct dkim_check *v = dkim_check_new(&dp, "V");
		struct dkim_results r;
		int n;

		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			dkim_signer_header(g, fields[i][0], fields[i][1]);
		dkim_signer_eoh(g, "example.com", NULL);
		for (size_t i = 0; i < len; i += 3) /* chunks that split CR from LF */
			dkim_signer_body(g, (const unsigned char *)bodies[b] + i, len - i < 3 ? len - i : 3);
		n = dkim_signer_finish(g, &sigs, &why);
		if (n != 2) {
			same = pass = 0;
			printf("# body %zu: %d signatures (%s)\n", b, n, n < 0 ? why : "");
			dkim_signer_free(&g);
			dkim_check_free(&v);
			arena_free(&a);
			continue;
		}
		tag_of(sigs[0].value, "bh=", bh1, sizeof(bh1));
		tag_of(sigs[1].value, "bh=", bh2, sizeof(bh2));
		if (strcmp(bh1, bh2) != 0) {
			same = 0;
			printf("# body %zu: libopendkim bh=%s, ours %s\n", b, bh1, bh2);
		}
		for (int i = 0; i < n; i++) {
			char *hv = xasprintf(" %s", sigs[i].value);

			dkim_check_header(v, DKIM_SIGN_HEADER, hv);
			free(hv);
		}
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			dkim_check_header(v, fields[i][0], fields[i][1]);
		dkim_check_eoh(v);
		dkim_check_body(v, (const unsigned char *)bodies[b], len);
		dkim_check_finish(v, a, &r);
		/* a lone CR: dkim.c's verifier reads it otherwise than
		 * libopendkim's signer; both of ours agree (bh above) */
		if (strchr(bodies[b], '\r') != NULL && strstr(bodies[b], "\r\n") != strchr(bodies[b], '\r'))
			goto next;
		if (r.count != 2 || r.sig[0].result != DKIM_PASS || r.sig[1].result != DKIM_PASS) {
			pass = 0;
			printf("# body %zu: %s %s\n", b, r.count > 0 ? dkim_result_name(r.sig[0].result) : "-",
			       r.count > 1 ? dkim_result_name(r.sig[1].result) : "-");
		}
next:
		dkim_check_free(&v);
		dkim_signer_free(&g);
		arena_free(&a);
	}
	CHECK(same, "Ed25519 body hash equals libopendkim's on every odd body");
	CHECK(pass, "rsa and ed25519 pass authscore's verifier: repeated, folded, odd-case fields");
	dkim_signing_free(&s);
	conf_free(&c);
	free(rr);
	free(er);
	free(zone);
}

/* The published record against the key, as `authscore dkim check` asks. */
static void test_record(EVP_PKEY *rk, EVP_PKEY *ek)
{
	char *rr = dkim_keys_record(rk), *er = dkim_keys_record(ek), *p = dkim_keys_public_b64(rk);
	char *folded = xasprintf("v=DKIM1;\tk = rsa ;  p=%.*s \r\n %s", 20, p, p + 20);
	char *big = xmalloc(DKIM_KEYS_RECORD_MAX + 2);
	const char *why;

	memset(big, 'A', DKIM_KEYS_RECORD_MAX + 1);
	big[DKIM_KEYS_RECORD_MAX + 1] = '\0';
	CHECK(dkim_keys_record_matches(rr, rk, &why) && dkim_keys_record_matches(er, ek, &why),
	      "record: each key matches its own record");
	CHECK(!dkim_keys_record_matches(er, rk, &why) && strstr(why, "k=") != NULL,
	      "record: an ed25519 record is not the RSA key's (k=)");
	CHECK(!dkim_keys_record_matches(rr, ek, &why), "record: nor the other way round");
	CHECK(dkim_keys_record_matches(folded, rk, &why), "record: blanks and folding inside p= are fine");
	CHECK(!dkim_keys_record_matches("v=DKIM1; k=rsa; p=", rk, &why) && strstr(why, "revoked"),
	      "record: an empty p= is a revoked key");
	CHECK(!dkim_keys_record_matches("k=rsa; v=DKIM1; p=AAAA", rk, &why) && strstr(why, "v="),
	      "record: v= not first");
	CHECK(!dkim_keys_record_matches("v=DKIM1; k=rsa; junk; p=AAAA", rk, &why),
	      "record: a tag without =");
	CHECK(!dkim_keys_record_matches(big, rk, &why) && strstr(why, "too long"),
	      "record: over the cap");
	CHECK(!dkim_keys_record_matches("", rk, &why), "record: empty text");
	free(rr);
	free(er);
	free(p);
	free(folded);
	free(big);
}

static void test_caps(const char *rsa)
{
	char text[4096], *error = NULL;
	struct conf *c;
	struct dkim_signing *s;
	struct arena *a = arena_new(4096);
	struct dkim_signer *g;
	const struct dkim_signature *sigs;
	const char *why = NULL;

	snprintf(text, sizeof(text), "dkim-key example.com rsa %s\ndkim-sign * example.com:rsa\n",
		 rsa);
	c = conf_of(text);
	s = dkim_signing_load(c, &error);
	g = dkim_signer_new(s, a, NULL);
	for (int i = 0; i < 1001; i++)
		dkim_signer_header(g, "Received", " from x by y");
	dkim_signer_eoh(g, "example.com", NULL);
	CHECK(dkim_signer_finish(g, &sigs, &why) == -1 && why != NULL && strstr(why, "too many"),
	      "1001 header fields: an error, not a signature that cannot verify");
	dkim_signer_free(&g);
	CHECK(dkim_signer_new(NULL, a, NULL) == NULL, "no signing configured: no signer");
	dkim_signing_free(&s);
	conf_free(&c);
	c = conf_of("");
	CHECK(dkim_signing_load(c, &error) == NULL && error == NULL, "no dkim lines: no signing, no error");
	conf_free(&c);
	c = conf_of("dkim-sign-expire-days 4000\ndkim-sign * a.test:s\n");
	CHECK(dkim_signing_load(c, &error) == NULL && error != NULL, "x= over ten years: an error");
	free(error);
	conf_free(&c);
	arena_free(&a);
}

int main(void)
{
	EVP_PKEY *rk, *ek;
	char *rsa, *ed, *error = NULL;
	struct dns *dns;

	log_init("dkim_sign_test", 1);
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	rk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ek = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa = write_key("rsa.pem", rk, 0600);
	ed = write_key("ed.pem", ek, 0600);
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL || dkim_module_init(dns, &error) < 0) {
		printf("Bail out! %s\n", error);
		return 1;
	}
	test_table_errors(rsa, ed);
	test_key_files(rsa);
	test_patterns(rsa, ed);
	test_sign_verify(rsa, rk, ed, ek);
	test_cross(rsa, rk, ed, ek);
	test_record(rk, ek);
	test_caps(rsa);
	dkim_module_deinit();
	dns_free(&dns);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ek);
	free(rsa);
	free(ed);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
		free(cmd);
	}
	return check_done();
}

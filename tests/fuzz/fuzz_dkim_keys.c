/*
 * fuzz_dkim_keys - libFuzzer target for milter/dkim_keys.c's parsers of
 * outside bytes: a published key record (the TXT text `authscore dkim
 * check` compares with a private key) and the dkim-key / dkim-sign lines of
 * a configuration (syntax and references, no key files), with the signing
 * table then asked about senders (From domain and MAIL FROM from the
 * input), and a message signed with Ed25519 (dkim_make.c's
 * canonicalization of hostile header fields and body bytes).  The first
 * byte picks which.
 * tests/fuzz/run-fuzz.sh builds it with clang -fsanitize=fuzzer,address,
 * undefined.  Checks that nothing crashes, hangs or leaks, and that a
 * record never matches both keys.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "conf.h"
#include "dkim_make.h"
#include "dkim_keys.h"

static EVP_PKEY *rsa, *ed;
static struct dkim_keys *table; /* every kind of pattern */
static const char table_conf[] =
    "dkim-key a.test s1 /k1\ndkim-key a.test s2 /k2\n"
    "dkim-sign boss@a.test a.test:s1\ndkim-sign *@*.b.test a.test:s2\n"
    "dkim-sign a.test a.test:s1 a.test:s2\ndkim-sign *.c.test a.test:s2\n"
    "dkim-sign *@d.test a.test:s1\n";

static void record(const char *text)
{
	const char *why = NULL;
	int r = dkim_keys_record_matches(text, rsa, &why), e;

	if (r == 0 && why == NULL)
		abort(); /* a mismatch always says why */
	e = dkim_keys_record_matches(text, ed, &why);
	if (r && e)
		abort(); /* k= cannot be both */
}

static void tables(const char *text)
{
	char *error = NULL;
	struct conf *c = conf_parse("fuzz.conf", text, &error);

	free(error);
	if (c == NULL)
		return;
	if (dkim_keys_check(c, &error) < 0 && error == NULL)
		abort(); /* an error always says what */
	free(error);
	conf_free(&c);
}

/* "FROM-DOMAIN\nMAIL-FROM": at most two keys, of the table */
static void match(char *text)
{
	const struct dkim_privkey *out[DKIM_KEYS_MAX_PER_LINE];
	char *nl = strchr(text, '\n');
	size_t n;

	if (nl != NULL)
		*nl = '\0';
	n = dkim_keys_for(table, text, nl != NULL ? nl + 1 : NULL, out);
	if (n > 2)
		abort();
	for (size_t i = 0; i < n; i++)
		if (dkim_keys_find(table, out[i]->domain, out[i]->selector) != out[i])
			abort();
}

/* "Name:value\n"... then an empty line, then the body (in two chunks),
 * signed with the Ed25519 or (the text's length odd) the RSA key */
static void ed25519(const char *text, size_t len)
{
	static const char *sign[] = {"From", "Subject", "To", NULL}, *over[] = {"From", NULL};
	struct dkim_privkey key = {.domain = "a.test", .selector = "s", .pkey = ed,
				   .type = DKIM_KEY_ED25519, .alg = "ed25519-sha256"};
	struct arena *a = arena_new(4096);
	struct dkim_make *e;
	struct dkim_make_field f[64];
	struct dkim_make_params p = {.sign = sign, .oversign = over, .t = 1, .x = 2};
	char *copy = arena_strndup(a, text, len), *s = copy, *body;
	const char *why;
	size_t n = 0;

	if (len % 2 == 1)
		key.pkey = rsa, key.type = DKIM_KEY_RSA, key.alg = "rsa-sha256";
	e = dkim_make_new(&key, a);
	body = strstr(copy, "\n\n");
	if (body != NULL)
		*body = '\0', body += 2;
	while (s != NULL && *s != '\0' && n < 64) {
		char *nl = strchr(s, '\n'), *colon;

		if (nl != NULL)
			*nl = '\0';
		if ((colon = strchr(s, ':')) != NULL) {
			*colon = '\0';
			f[n].name = s;
			f[n++].value = colon + 1;
		}
		s = nl != NULL ? nl + 1 : NULL;
	}
	if (body != NULL) {
		size_t blen = len - (size_t)(body - copy), half = blen / 2;

		dkim_make_body(e, (const unsigned char *)body, half);
		dkim_make_body(e, (const unsigned char *)body + half, blen - half);
	}
	if (dkim_make_finish(e, f, n, &p, &why) == NULL)
		abort(); /* any message can be signed */
	dkim_make_free(&e);
	arena_free(&a);
}

static void setup(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("table.conf", table_conf, &error);

	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (c == NULL || (table = dkim_keys_parse(c, &error)) == NULL)
		abort();
	conf_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (rsa == NULL)
		setup();
	if (size < 1)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 4 == 1)
		tables(text);
	else if (data[0] % 4 == 2)
		match(text);
	else if (data[0] % 4 == 3)
		ed25519(text, size - 1);
	else
		record(text);
	free(text);
	return 0;
}

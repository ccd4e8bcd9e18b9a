/*
 * arc_sealkey_test - the sealing key of `arc-seal DOMAIN SELECTOR KEYFILE`:
 * loaded when it can seal, a clear error naming the file when it cannot.
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arc_sealkey.h"
#include "dkim_keys.h"
#include "check.h"

static char dir[] = "/tmp/arc_sealkey_test.XXXXXX";

/* A copy of a test key (tests/e2e/data/keys/) with the given mode. */
static const char *copy_key(const char *name, const char *as, mode_t mode)
{
	static char path[512];
	char src[512], buf[8192];
	const char *top = getenv("top_srcdir");
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/tests/e2e/data/keys/%s", top ? top : ".", name);
	snprintf(path, sizeof(path), "%s/%s", dir, as);
	in = fopen(src, "r");
	out = fopen(path, "w");
	if (in == NULL || out == NULL) {
		printf("Bail out! cannot copy %s\n", src);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	chmod(path, mode);
	return path;
}

/* Load what `arc-seal <line>` names; *error_r as the loader left it. */
static struct arc_seal_key *load(const char *line, char **error_r)
{
	char text[1024], *cerr = NULL;
	struct conf *c;
	struct arc_seal_key *k;

	snprintf(text, sizeof(text), "arc-seal %s\n", line);
	if ((c = conf_parse("t.conf", text, &cerr)) == NULL) {
		*error_r = cerr;
		return NULL;
	}
	k = arc_sealkey_load(c, NULL, error_r);
	if (k != NULL)
		CHECK(strcmp(k->domain, "example.test") == 0 && strcmp(k->selector, "arc") == 0,
		      "the domain and selector are kept");
	conf_free(&c); /* the key outlives it */
	if (k != NULL)
		CHECK(strcmp(k->domain, "example.test") == 0, "the key owns its names");
	return k;
}

static void expect_error(const char *line, const char *want, const char *what)
{
	char *error = NULL;
	struct arc_seal_key *k = load(line, &error);

	CHECK(k == NULL && error != NULL && strstr(error, want) != NULL, "%s: %s", what,
	      error ? error : "(no error)");
	CHECK(error != NULL && strncmp(error, "t.conf:1:", 9) == 0,
	      "%s: the error names file:line:column", what);
	arc_sealkey_free(&k);
	free(error);
}

/* `arc-seal DOMAIN SELECTOR`: the key table's key of that name, shared. */
static void from_key_table(void)
{
	char text[1200], *error = NULL;
	struct dkim_keys *keys;
	struct arc_seal_key *k;
	struct conf *c;

	snprintf(text, sizeof(text), "dkim-key example.test arc %s\narc-seal example.test arc\n",
		 copy_key("rsa2048.pem", "table", 0600));
	c = conf_parse("t.conf", text, &error);
	keys = c != NULL ? dkim_keys_load(c, &error) : NULL;
	CHECK(keys != NULL, "the key table loads (%s)", error ? error : "ok");
	free(error), error = NULL;
	k = keys != NULL ? arc_sealkey_load(c, keys, &error) : NULL;
	CHECK(k != NULL && k->pkey == dkim_keys_find(keys, "example.test", "arc")->pkey,
	      "arc-seal without a file takes the key table's key (%s)", error ? error : "ok");
	dkim_keys_free(&keys);
	conf_free(&c);
	CHECK(k != NULL && EVP_PKEY_bits(k->pkey) == 2048 && strcmp(k->selector, "arc") == 0,
	      "the key outlives the table and the configuration");
	arc_sealkey_free(&k);
	free(error);
	snprintf(text, sizeof(text), "dkim-key example.test other %s\narc-seal example.test arc\n",
		 copy_key("rsa2048.pem", "table2", 0600));
	c = conf_parse("t.conf", text, &error);
	keys = c != NULL ? dkim_keys_load(c, &error) : NULL;
	k = keys != NULL ? arc_sealkey_load(c, keys, &error) : NULL;
	CHECK(k == NULL && error != NULL && strstr(error, "no dkim-key line for example.test arc") &&
		  strncmp(error, "t.conf:2:", 9) == 0,
	      "a selector the table lacks is named (%s)", error ? error : "no error");
	free(error);
	dkim_keys_free(&keys);
	conf_free(&c);
}

int main(void)
{
	char line[600], *error = NULL;
	struct arc_seal_key *k;
	struct conf *c;
	EVP_PKEY *ed;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	c = conf_parse("t.conf", "", &error);
	CHECK(c != NULL && arc_sealkey_load(c, NULL, &error) == NULL && error == NULL,
	      "no arc-seal: no key, no error");
	conf_free(&c);

	snprintf(line, sizeof(line), "example.test arc %s", copy_key("rsa2048.pem", "rsa", 0600));
	k = load(line, &error);
	CHECK(k != NULL && k->pkey != NULL && EVP_PKEY_bits(k->pkey) == 2048,
	      "RSA 2048 PKCS#8 loads (%s)", error ? error : "ok");
	arc_sealkey_free(&k);
	CHECK(k == NULL, "free clears the pointer");
	arc_sealkey_free(&k);

	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	snprintf(line, sizeof(line), "%s/ed.pem", dir);
	f = fopen(line, "w");
	PEM_write_PrivateKey(f, ed, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(line, 0600);
	EVP_PKEY_free(ed);
	snprintf(line, sizeof(line), "example.test arc %s/ed.pem", dir);
	k = load(line, &error);
	CHECK(k != NULL && EVP_PKEY_base_id(k->pkey) == EVP_PKEY_ED25519, "Ed25519 loads");
	arc_sealkey_free(&k);

	snprintf(line, sizeof(line), "example.test arc %s/none.pem", dir);
	expect_error(line, "none.pem: No such file", "a missing file, named");
	snprintf(line, sizeof(line), "example.test arc %s", copy_key("rsa2048.pem", "open", 0644));
	expect_error(line, "readable by everyone", "a key others can read");
	snprintf(line, sizeof(line), "example.test arc %s", copy_key("rsa512.pem", "weak", 0600));
	expect_error(line, "at least 1024 bits", "RSA 512 cannot seal (RFC 8301)");
	snprintf(line, sizeof(line), "example.test arc %s", copy_key("README.md", "text", 0600));
	expect_error(line, "not a PEM private key", "a file that is no key");
	expect_error("example.test arc", "no dkim-key line for example.test arc",
		     "two words and no key table: named");
	expect_error("example.test arc /k extra", "expected DOMAIN SELECTOR [KEYFILE]", "four words");
	from_key_table();
	expect_error("exa_mple..test arc /k", "is not a domain name", "a domain that is none");

	snprintf(line, sizeof(line), "rm -rf '%s'", dir);
	if (system(line) != 0)
		printf("# could not remove %s\n", dir);
	return check_done();
}

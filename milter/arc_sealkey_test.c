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

/* `arc-seal example.test arc PATH` refused for what the DKIM key reader
 * refuses, named at the file's word: column 27 of line 1. */
static void expect_file_error(const char *path, const char *want, const char *what)
{
	char line[600], *error = NULL;
	struct arc_seal_key *k;

	snprintf(line, sizeof(line), "example.test arc %s", path);
	k = load(line, &error);
	CHECK(k == NULL && error != NULL && strncmp(error, "t.conf:1:27: arc-seal: ", 23) == 0 &&
		  strstr(error, want) != NULL,
	      "%s: %s", what, error ? error : "(no error)");
	arc_sealkey_free(&k);
	free(error);
}

/* A key made here, written as PEM with the given cipher (NULL: none). */
static const char *write_key(EVP_PKEY *key, const char *as, const EVP_CIPHER *cipher)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, as);
	f = fopen(path, "w");
	if (f == NULL || key == NULL ||
	    PEM_write_PrivateKey(f, key, cipher, NULL, 0, NULL, cipher ? "secret" : NULL) != 1) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
	chmod(path, 0600);
	EVP_PKEY_free(key);
	return path;
}

/* The keys the DKIM key reader refuses, refused for sealing too, alike. */
static void refused_files(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/none.pem", dir);
	expect_file_error(path, "cannot read the key file", "a missing file");
	expect_file_error(path, "none.pem: No such file", "a missing file, named");
	expect_file_error(copy_key("rsa2048.pem", "group", 0640),
			  "readable or writable by group or others (mode 0640",
			  "a group-readable key file");
	expect_file_error(copy_key("rsa2048.pem", "open", 0644),
			  "readable or writable by group or others (mode 0644",
			  "a world-readable key file");
	expect_file_error(copy_key("rsa2048.pem", "gw", 0620),
			  "readable or writable by group or others", "a group-writable key file");
	expect_file_error(copy_key("rsa512.pem", "weak", 0600),
			  "has 512 bits; at least 1024 are needed",
			  "RSA 512 cannot seal (RFC 8301)");
	expect_file_error(write_key(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), "enc.pem",
				    EVP_aes_256_cbc()),
			  "holds no unencrypted PEM private key", "an encrypted PEM key");
	expect_file_error(write_key(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), "ec.pem", NULL),
			  "holds neither an RSA nor an Ed25519 key", "an EC key");
	expect_file_error(copy_key("README.md", "text", 0600),
			  "holds no unencrypted PEM private key", "a file that is no key");
	expect_file_error(dir, "is not a regular file", "a directory");
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
	snprintf(line, sizeof(line), "example.test arc %s", copy_key("rsa2048.pem", "ro", 0400));
	k = load(line, &error);
	CHECK(k != NULL && EVP_PKEY_base_id(k->pkey) == EVP_PKEY_RSA, "a 0400 key file loads (%s)",
	      error ? error : "ok");
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

	refused_files();
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

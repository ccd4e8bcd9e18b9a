/*
 * dkim_keys - the key table and the signing table (see dkim_keys.h).
 *
 * The keys are checked with OpenSSL's libcrypto when they are read, so a
 * bad key is a configuration error at start or reload, never a message
 * that cannot be signed later.  libopendkim is handed the PEM text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim_keys.h"
#include "domain.h"
#include "mem.h"

#define KEY_FILE_MAX (64 * 1024) /* a 16384-bit RSA key's PEM is under 13 KiB */
#define MIN_RSA_BITS 1024	 /* RFC 8301 §3.2: verifiers refuse shorter keys */

struct sign_line {
	char *local;  /* NULL: the pattern is a From domain; "*" or a local part */
	char *domain; /* "*", "name" or "*.name" */
	size_t nkeys;
	size_t keys[DKIM_KEYS_MAX_PER_LINE]; /* indexes into keys[] */
};

struct dkim_keys {
	struct dkim_privkey *keys;
	size_t nkeys;
	struct sign_line *lines;
	size_t nlines;
};

struct loader {
	const struct conf *cfg;
	const struct conf_line *line;
	char *error;
	int word;	       /* the word of line that names the key file */
	const char *directive; /* "dkim-key", "arc-seal": how errors name the line */
};

static int lerr(struct loader *l, int word, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int lerr(struct loader *l, int word, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->error = xasprintf("%s:%u:%u: %s", l->cfg->path, l->line->line, l->line->cols[word], msg);
	return -1;
}

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* One dkim-key line: its syntax, and no second key of that name. */
static int key_line(struct loader *l, struct dkim_keys *k)
{
	const struct conf_line *cl = l->line;
	struct dkim_privkey *key;

	if (cl->count != 3)
		return lerr(l, cl->count > 3 ? 3 : 0,
			    "dkim-key: expected DOMAIN SELECTOR FILE (%d value%s given)", cl->count,
			    cl->count == 1 ? "" : "s");
	if (!domain_valid(cl->words[0], DOMAIN_HOSTLIKE))
		return lerr(l, 0, "dkim-key: \"%s\" is not a domain name", cl->words[0]);
	if (!domain_valid(cl->words[1], 0))
		return lerr(l, 1, "dkim-key: \"%s\" is not a selector (RFC 6376 §3.1)",
			    cl->words[1]);
	if (cl->words[2][0] != '/')
		return lerr(l, 2, "dkim-key: the key file \"%s\" must be an absolute path",
			    cl->words[2]);
	if (dkim_keys_find(k, cl->words[0], cl->words[1]) != NULL)
		return lerr(l, 0, "dkim-key: %s %s is given twice", cl->words[0], cl->words[1]);
	k->keys = xrealloc(k->keys, (k->nkeys + 1) * sizeof(*k->keys));
	key = memset(&k->keys[k->nkeys++], 0, sizeof(*key));
	key->domain = lower_dup(cl->words[0]);
	key->selector = lower_dup(cl->words[1]);
	key->path = xstrdup(cl->words[2]);
	return 0;
}

/* "*", "name" or "*.name"; returns 0 or -1. */
static int domain_pattern(const char *p)
{
	if (strcmp(p, "*") == 0)
		return 0;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	return domain_valid(p, 0) ? 0 : -1;
}

static int sign_pattern(struct loader *l, struct sign_line *s, const char *pattern)
{
	const char *at = strrchr(pattern, '@');

	if (at == NULL) {
		if (domain_pattern(pattern) < 0)
			return lerr(l, 0,
				    "dkim-sign: \"%s\" is not a pattern (DOMAIN, *.DOMAIN, *, "
				    "LOCAL@DOMAIN or *@DOMAIN)",
				    pattern);
		s->domain = lower_dup(pattern);
		return 0;
	}
	if (at == pattern || at - pattern > 64 || memchr(pattern, '@', (size_t)(at - pattern)))
		return lerr(l, 0, "dkim-sign: \"%s\": a bad local part before the @", pattern);
	if (domain_pattern(at + 1) < 0)
		return lerr(l, 0, "dkim-sign: \"%s\": a bad domain after the @", pattern);
	s->local = xstrndup(pattern, (size_t)(at - pattern));
	s->domain = lower_dup(at + 1);
	return 0;
}

/* One dkim-sign line: a pattern and the DOMAIN:SELECTOR of known keys. */
static int sign_line(struct loader *l, struct dkim_keys *k)
{
	const struct conf_line *cl = l->line;
	struct sign_line *s;

	if (cl->count < 2)
		return lerr(l, 0, "dkim-sign: expected PATTERN DOMAIN:SELECTOR...");
	if (cl->count - 1 > DKIM_KEYS_MAX_PER_LINE)
		return lerr(l, DKIM_KEYS_MAX_PER_LINE + 1, "dkim-sign: more than %d keys on one line",
			    DKIM_KEYS_MAX_PER_LINE);
	k->lines = xrealloc(k->lines, (k->nlines + 1) * sizeof(*k->lines));
	s = memset(&k->lines[k->nlines++], 0, sizeof(*s));
	if (sign_pattern(l, s, cl->words[0]) < 0)
		return -1;
	for (int i = 1; i < cl->count; i++) {
		const char *colon = strchr(cl->words[i], ':');
		const struct dkim_privkey *key = NULL;

		if (colon != NULL) {
			char *d = xstrndup(cl->words[i], (size_t)(colon - cl->words[i]));

			key = dkim_keys_find(k, d, colon + 1);
			free(d);
		}
		if (key == NULL)
			return lerr(l, i, "dkim-sign: \"%s\" is no DOMAIN:SELECTOR of a dkim-key line",
				    cl->words[i]);
		for (size_t j = 0; j < s->nkeys; j++)
			if (s->keys[j] == (size_t)(key - k->keys))
				return lerr(l, i, "dkim-sign: %s is named twice", cl->words[i]);
		s->keys[s->nkeys++] = (size_t)(key - k->keys);
	}
	return 0;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1; /* never prompt: an encrypted key is an error */
}

/* Read the file whole, refusing what a key file must not be. */
static char *key_text(struct loader *l, const struct dkim_privkey *key)
{
	int fd = open(key->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *text;
	ssize_t n;

	if (fd < 0) {
		lerr(l, l->word, "%s: cannot read the key file %s: %s", l->directive, key->path,
		     strerror(errno));
		return NULL;
	}
	text = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		lerr(l, l->word, "%s: the key file %s is not a regular file", l->directive,
		     key->path);
	else if ((st.st_mode & 077) != 0)
		lerr(l, l->word,
		     "%s: the key file %s is readable or writable by group or others "
		     "(mode %04o; chmod 0600 it)",
		     l->directive, key->path, (unsigned)(st.st_mode & 07777));
	else if (st.st_size > KEY_FILE_MAX)
		lerr(l, l->word, "%s: the key file %s is larger than %d bytes", l->directive,
		     key->path, KEY_FILE_MAX);
	else
		text = xmalloc(KEY_FILE_MAX + 1);
	if (text != NULL) {
		n = read(fd, text, KEY_FILE_MAX + 1);
		if (n < 0 || n > KEY_FILE_MAX) {
			lerr(l, l->word, "%s: cannot read the key file %s", l->directive,
			     key->path);
			free(text);
			text = NULL;
		} else {
			text[n] = '\0';
		}
	}
	close(fd);
	return text;
}

static int key_parse(struct loader *l, struct dkim_privkey *key, char *text)
{
	BIO *bio = BIO_new_mem_buf(text, -1);
	EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;

	BIO_free(bio);
	if (pkey == NULL)
		return lerr(l, l->word, "%s: the key file %s holds no unencrypted PEM private key",
			    l->directive, key->path);
	key->pkey = pkey;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		key->type = DKIM_KEY_ED25519;
		key->alg = "ed25519-sha256";
		key->bits = 256;
		return 0;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
		return lerr(l, l->word,
			    "%s: the key file %s holds neither an RSA nor an Ed25519 key",
			    l->directive, key->path);
	key->type = DKIM_KEY_RSA;
	key->alg = "rsa-sha256";
	key->bits = (unsigned)EVP_PKEY_get_bits(pkey);
	if (key->bits < MIN_RSA_BITS)
		return lerr(l, l->word, "%s: the RSA key in %s has %u bits; at least %d are needed",
			    l->directive, key->path, key->bits, MIN_RSA_BITS);
	return 0;
}

static int key_read(struct loader *l, struct dkim_privkey *key)
{
	char *text = key_text(l, key);

	int r;

	if (text == NULL)
		return -1;
	r = key_parse(l, key, text);
	OPENSSL_cleanse(text, strlen(text)); /* the decoded key is all we keep */
	free(text);
	return r;
}

int dkim_keys_read_file(const struct conf *cfg, const struct conf_line *line, int word,
			const char *directive, struct dkim_privkey *key, char **error_r)
{
	struct loader l = {.cfg = cfg, .line = line, .word = word, .directive = directive};

	memset(key, 0, sizeof(*key));
	key->path = line->words[word];
	*error_r = NULL;
	if (key_read(&l, key) == 0)
		return 0;
	EVP_PKEY_free(key->pkey); /* key_parse keeps a key it then finds too short */
	key->pkey = NULL;
	*error_r = l.error;
	return -1;
}

/* Both tables from the configuration's lines; files read only if asked. */
static struct dkim_keys *tables(const struct conf *cfg, int read_files, char **error_r)
{
	struct dkim_keys *k = xcalloc(1, sizeof(*k));
	struct loader l = {.cfg = cfg, .word = 2, .directive = "dkim-key"};

	*error_r = NULL;
	for (size_t i = 0; i < cfg->dkim_keys.count; i++) {
		l.line = &cfg->dkim_keys.items[i];
		if (key_line(&l, k) < 0)
			goto fail;
	}
	for (size_t i = 0; i < cfg->dkim_signing.count; i++) {
		l.line = &cfg->dkim_signing.items[i];
		if (sign_line(&l, k) < 0)
			goto fail;
	}
	for (size_t i = 0; read_files && i < k->nkeys; i++) {
		l.line = &cfg->dkim_keys.items[i];
		if (key_read(&l, &k->keys[i]) < 0)
			goto fail;
	}
	return k;
fail:
	*error_r = l.error;
	dkim_keys_free(&k);
	return NULL;
}

struct dkim_keys *dkim_keys_load(const struct conf *cfg, char **error_r)
{
	return tables(cfg, 1, error_r);
}

struct dkim_keys *dkim_keys_parse(const struct conf *cfg, char **error_r)
{
	return tables(cfg, 0, error_r);
}

int dkim_keys_check(const struct conf *cfg, char **error_r)
{
	struct dkim_keys *k = tables(cfg, 0, error_r);

	if (k == NULL)
		return -1;
	dkim_keys_free(&k);
	return 0;
}

void dkim_keys_free(struct dkim_keys **kp)
{
	struct dkim_keys *k = *kp;

	if (k == NULL)
		return;
	for (size_t i = 0; i < k->nkeys; i++) {
		struct dkim_privkey *key = &k->keys[i];

		free((char *)key->domain);
		free((char *)key->selector);
		free((char *)key->path);
		EVP_PKEY_free(key->pkey);
	}
	for (size_t i = 0; i < k->nlines; i++) {
		free(k->lines[i].local);
		free(k->lines[i].domain);
	}
	free(k->keys);
	free(k->lines);
	free(k);
	*kp = NULL;
}

size_t dkim_keys_count(const struct dkim_keys *k)
{
	return k != NULL ? k->nkeys : 0;
}

int dkim_keys_signing(const struct dkim_keys *k)
{
	return k != NULL && k->nlines > 0;
}

const struct dkim_privkey *dkim_keys_find(const struct dkim_keys *k, const char *domain,
				      const char *selector)
{
	for (size_t i = 0; k != NULL && i < k->nkeys; i++)
		if (strcasecmp(k->keys[i].domain, domain) == 0 &&
		    strcasecmp(k->keys[i].selector, selector) == 0)
			return &k->keys[i];
	return NULL;
}

/* "*", "name" (that domain) or "*.name" (below it, not itself) */
static int domain_matches(const char *pattern, const char *domain)
{
	size_t plen, dlen;

	if (strcmp(pattern, "*") == 0)
		return 1;
	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, domain) == 0;
	plen = strlen(pattern + 1); /* ".name" */
	dlen = strlen(domain);
	return dlen > plen && strcasecmp(domain + dlen - plen, pattern + 1) == 0;
}

static int line_matches(const struct sign_line *s, const char *from_domain, const char *mail_from)
{
	const char *at;

	if (s->local == NULL)
		return from_domain != NULL && from_domain[0] != '\0' &&
		       domain_matches(s->domain, from_domain);
	if (mail_from == NULL || (at = strrchr(mail_from, '@')) == NULL || at[1] == '\0')
		return 0;
	if (strcmp(s->local, "*") != 0 &&
	    (strlen(s->local) != (size_t)(at - mail_from) ||
	     strncasecmp(s->local, mail_from, (size_t)(at - mail_from)) != 0))
		return 0;
	return domain_matches(s->domain, at + 1);
}

size_t dkim_keys_for(const struct dkim_keys *k, const char *from_domain, const char *mail_from,
		     const struct dkim_privkey **out)
{
	for (size_t i = 0; k != NULL && i < k->nlines; i++) {
		const struct sign_line *s = &k->lines[i];

		if (!line_matches(s, from_domain, mail_from))
			continue;
		for (size_t j = 0; j < s->nkeys; j++)
			out[j] = &k->keys[s->keys[j]];
		return s->nkeys;
	}
	return 0;
}

char *dkim_keys_public_b64(const struct evp_pkey_st *pkey)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char *b64;

	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		der = xmalloc(32);
		len = 32;
		if (EVP_PKEY_get_raw_public_key(pkey, der, &len) != 1 || len != 32) {
			free(der);
			return NULL;
		}
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		int n = i2d_PUBKEY(pkey, &der);

		if (n <= 0)
			return NULL;
		len = (size_t)n;
	} else {
		return NULL;
	}
	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519)
		free(der);
	else
		OPENSSL_free(der);
	return b64;
}

char *dkim_keys_record(const struct evp_pkey_st *pkey)
{
	char *p = dkim_keys_public_b64(pkey), *r;

	if (p == NULL)
		return NULL;
	r = xasprintf("v=DKIM1; k=%s; p=%s",
		      EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "ed25519" : "rsa", p);
	free(p);
	return r;
}

/* A tag's value, blanks (FWS) removed, into out (size bytes); 0 or -1. */
static int tag_value(const char *v, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')
			continue;
		if (o + 1 >= size)
			return -1;
		out[o++] = v[i];
	}
	out[o] = '\0';
	return 0;
}

/* The k= and p= of a record, and whether v=, if any, is DKIM1. */
static const char *record_tags(const char *record, char *k, char *p, size_t psize)
{
	const char *s = record;

	strcpy(k, "rsa"); /* RFC 6376 §3.6.1: the default */
	p[0] = '\0';
	for (int n = 0; *s != '\0'; n++) {
		const char *end = strchr(s, ';'), *eq;
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		char name[16], value[32];

		if ((eq = memchr(s, '=', len)) == NULL) {
			if (tag_value(s, len, value, sizeof(value)) < 0 || value[0] != '\0')
				return "a tag without =";
		} else if (tag_value(s, (size_t)(eq - s), name, sizeof(name)) == 0) {
			const char *v = eq + 1;
			size_t vlen = len - (size_t)(v - s);

			if (strcmp(name, "v") == 0 &&
			    (n != 0 || tag_value(v, vlen, value, sizeof(value)) < 0 ||
			     strcmp(value, "DKIM1") != 0))
				return "v= is not DKIM1 or not the first tag";
			if (strcmp(name, "k") == 0 && tag_value(v, vlen, k, 16) < 0)
				return "k= too long";
			if (strcmp(name, "p") == 0 && tag_value(v, vlen, p, psize) < 0)
				return "p= too long";
		}
		s += len + (end != NULL);
	}
	return NULL;
}

int dkim_keys_record_matches(const char *record, const struct evp_pkey_st *pkey,
			     const char **why_r)
{
	char k[16], *p, *mine;
	const char *why;
	int ok;

	*why_r = NULL;
	if (strnlen(record, DKIM_KEYS_RECORD_MAX + 1) > DKIM_KEYS_RECORD_MAX) {
		*why_r = "the record is too long";
		return 0;
	}
	p = xmalloc(DKIM_KEYS_RECORD_MAX + 1);
	if ((why = record_tags(record, k, p, DKIM_KEYS_RECORD_MAX + 1)) != NULL) {
		*why_r = why;
		free(p);
		return 0;
	}
	mine = dkim_keys_public_b64(pkey);
	ok = 0;
	if (p[0] == '\0')
		*why_r = "the key is revoked (empty p=)";
	else if (strcmp(k, EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "ed25519" : "rsa") != 0)
		*why_r = "k= is not the private key's algorithm";
	else if (mine == NULL || strcmp(mine, p) != 0)
		*why_r = "p= is not the private key's public half";
	else
		ok = 1;
	free(mine);
	free(p);
	return ok;
}

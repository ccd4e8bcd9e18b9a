/*
 * dkim_sign - signing with libopendkim, and libcrypto for Ed25519 (see
 * dkim_sign.h).
 *
 * libopendkim 2.11.0~beta2 (Debian 12) signs rsa-sha256 from a PEM
 * private key, oversigns (DKIM_OPTS_OVERSIGNHDRS) and writes t= and x=
 * itself.  It signs ed25519-sha256 too, correctly, but leaks the key it
 * loads for every such signature, so those are dkim_ed25519.c's, over the
 * same field lists.  Bare LFs are made CRLF by DKIM_LIBFLAGS_FIXCRLF.
 */
#include "config.h"

#include <opendkim/dkim.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dkim_ed25519.h"
#include "dkim_sign.h"
#include "log.h"
#include "mem.h"

#define HEADERS_MAX 1000	      /* fields a signed message may have */
#define HEADER_BYTES_MAX (1024 * 1024) /* and their bytes, all together */
#define EXPIRE_DAYS_MAX 3650

struct dkim_signing {
	struct dkim_keys *keys;
	DKIM_LIB *lib;
	unsigned expire_days;
};

/* RFC 6376 §5.4.1's list, and the fields a receiver shows or MIME reads. */
static const char *sign_fields[] = {
    "From", "Reply-To", "Subject", "Date", "To", "Cc", "Resent-Date", "Resent-From",
    "Resent-To", "Resent-Cc", "In-Reply-To", "References", "List-Id", "List-Help",
    "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
    "Message-ID", "Sender", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Content-ID", "Content-Description", NULL};
/* Oversigned (RFC 6376 §8.15): h= names each once more than the message
 * has, so none of them can be added after signing without breaking it. */
static const char *oversign_fields[] = {
    "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "MIME-Version",
    "Content-Type", "Content-Transfer-Encoding", NULL};

struct field {
	char *text; /* "Name:value", as passed */
	size_t len;
	struct dkim_ed25519_field parts; /* name and value apart, in text */
};

struct dkim_signer {
	const struct dkim_signing *s;
	struct arena *a;
	const char *id;
	struct field *fields;
	size_t nfields, fields_size, bytes;
	int overflow;
	DKIM *handles[DKIM_KEYS_MAX_PER_LINE];	/* RSA keys' */
	struct dkim_ed25519 *eds[DKIM_KEYS_MAX_PER_LINE]; /* Ed25519 keys' */
	const struct dkim_privkey *keys[DKIM_KEYS_MAX_PER_LINE];
	size_t nkeys;
	const char *error; /* the first thing that went wrong */
};

static int lib_options(DKIM_LIB *lib, unsigned expire_days)
{
	unsigned flags = DKIM_LIBFLAGS_FIXCRLF;
	uint64_t ttl = (uint64_t)expire_days * 86400;

	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
		DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, sign_fields, sizeof(char **)) !=
		DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign_fields,
			 sizeof(char **)) != DKIM_STAT_OK)
		return -1;
	if (ttl > 0 && dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl,
				    sizeof(ttl)) != DKIM_STAT_OK)
		return -1;
	return 0;
}

struct dkim_signing *dkim_signing_load(const struct conf *cfg, char **error_r)
{
	struct dkim_signing *s;

	*error_r = NULL;
	if (cfg->dkim_keys.count == 0 && cfg->dkim_signing.count == 0)
		return NULL;
	if (cfg->dkim_sign_expire_days > EXPIRE_DAYS_MAX) {
		*error_r = xasprintf("%s: dkim-sign-expire-days: at most %d", cfg->path,
				     EXPIRE_DAYS_MAX);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->expire_days = cfg->dkim_sign_expire_days;
	if ((s->keys = dkim_keys_load(cfg, error_r)) == NULL) {
		free(s);
		return NULL;
	}
	s->lib = dkim_init(NULL, NULL);
	if (s->lib == NULL || lib_options(s->lib, cfg->dkim_sign_expire_days) < 0) {
		*error_r = xstrdup("libopendkim: cannot set up signing");
		dkim_signing_free(&s);
		return NULL;
	}
	return s;
}

void dkim_signing_free(struct dkim_signing **sp)
{
	struct dkim_signing *s = *sp;

	if (s == NULL)
		return;
	if (s->lib != NULL)
		dkim_close(s->lib);
	dkim_keys_free(&s->keys);
	free(s);
	*sp = NULL;
}

const struct dkim_keys *dkim_signing_keys(const struct dkim_signing *s)
{
	return s != NULL ? s->keys : NULL;
}

struct dkim_signer *dkim_signer_new(const struct dkim_signing *s, struct arena *a,
				    const char *id)
{
	struct dkim_signer *g;

	if (s == NULL || !dkim_keys_signing(s->keys))
		return NULL;
	g = arena_alloc(a, sizeof(*g));
	memset(g, 0, sizeof(*g));
	g->s = s;
	g->a = a;
	g->id = id != NULL ? arena_strdup(a, id) : "NOQUEUE";
	return g;
}

void dkim_signer_header(struct dkim_signer *g, const char *name, const char *value)
{
	size_t nlen, vlen;
	struct field *f;

	if (g == NULL || g->overflow)
		return;
	nlen = strlen(name);
	vlen = strlen(value);
	if (g->nfields == HEADERS_MAX || g->bytes + nlen + vlen + 1 > HEADER_BYTES_MAX) {
		g->overflow = 1; /* signing what we did not keep would not verify */
		return;
	}
	if (g->nfields == g->fields_size) {
		struct field *grown;

		g->fields_size = g->fields_size ? g->fields_size * 2 : 32;
		grown = arena_alloc(g->a, g->fields_size * sizeof(*grown));
		if (g->nfields > 0)
			memcpy(grown, g->fields, g->nfields * sizeof(*grown));
		g->fields = grown;
	}
	f = &g->fields[g->nfields++];
	f->text = arena_printf(g->a, "%s:%s", name, value);
	f->len = nlen + 1 + vlen;
	f->parts.name = arena_strndup(g->a, name, nlen);
	f->parts.value = f->text + nlen + 1;
	g->bytes += f->len;
}

static void fail(struct dkim_signer *g, const char *what, DKIM_STAT st)
{
	if (g->error == NULL)
		g->error = arena_printf(g->a, "%s: %s", what, dkim_getresultstr(st));
}

static DKIM *handle(struct dkim_signer *g, const struct dkim_privkey *key)
{
	DKIM_STAT st;
	DKIM *d = dkim_sign(g->s->lib, (const unsigned char *)g->id, NULL,
			    (dkim_sigkey_t)key->pem, (const unsigned char *)key->selector,
			    (const unsigned char *)key->domain, DKIM_CANON_RELAXED,
			    DKIM_CANON_RELAXED,
			    key->type == DKIM_KEY_ED25519 ? DKIM_SIGN_ED25519SHA256
							  : DKIM_SIGN_RSASHA256,
			    -1, &st);

	if (d == NULL)
		fail(g, "dkim_sign()", st);
	return d;
}

size_t dkim_signer_eoh(struct dkim_signer *g, const char *from_domain, const char *mail_from)
{
	const struct dkim_privkey *keys[DKIM_KEYS_MAX_PER_LINE];
	size_t n;

	if (g == NULL)
		return 0;
	n = dkim_keys_for(g->s->keys, from_domain, mail_from, keys);
	if (n > 0 && g->overflow)
		g->error = "too many or too large header fields to sign";
	for (size_t i = 0; i < n && g->error == NULL; i++) {
		DKIM *d;
		DKIM_STAT st = DKIM_STAT_OK;

		if (keys[i]->type == DKIM_KEY_ED25519) {
			g->eds[g->nkeys] = dkim_ed25519_new(keys[i], g->a);
			g->keys[g->nkeys++] = keys[i];
			continue;
		}
		if ((d = handle(g, keys[i])) == NULL)
			break;
		g->handles[g->nkeys] = d;
		g->keys[g->nkeys++] = keys[i];
		for (size_t j = 0; j < g->nfields && st == DKIM_STAT_OK; j++)
			st = dkim_header(d, (unsigned char *)g->fields[j].text, g->fields[j].len);
		if (st == DKIM_STAT_OK)
			st = dkim_eoh(d);
		if (st != DKIM_STAT_OK)
			fail(g, "dkim_header()/dkim_eoh()", st);
	}
	return n;
}

void dkim_signer_body(struct dkim_signer *g, const unsigned char *data, size_t len)
{
	if (g == NULL || g->error != NULL)
		return;
	for (size_t i = 0; i < g->nkeys; i++) {
		DKIM_STAT st;

		if (g->eds[i] != NULL) {
			dkim_ed25519_body(g->eds[i], data, len);
			continue;
		}
		st = dkim_body(g->handles[i], (unsigned char *)data, len);
		if (st != DKIM_STAT_OK && st != DKIM_STAT_NORESOURCE) {
			fail(g, "dkim_body()", st);
			return;
		}
	}
}

static const char *signature_value(struct dkim_signer *g, DKIM *d)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	_Bool testkey;
	DKIM_STAT st = dkim_eom(d, &testkey);

	if (st != DKIM_STAT_OK) {
		fail(g, "dkim_eom()", st);
		return NULL;
	}
	st = dkim_getsighdr_d(d, strlen(DKIM_SIGN_HEADER) + 2, &buf, &len);
	if (st != DKIM_STAT_OK || buf == NULL) {
		fail(g, "dkim_getsighdr_d()", st);
		return NULL;
	}
	/* libopendkim folds with CRLF; a milter's header value folds with a
	 * bare LF (libmilter's smfi_insheader(3), as Postfix and Sendmail
	 * write it into the queue file), like dkim_ed25519.c's */
	{
		char *v = arena_alloc(g->a, len + 1), *o = v;

		for (size_t i = 0; i < len; i++)
			if (!(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
				*o++ = (char)buf[i];
		*o = '\0';
		return v;
	}
}

static const char *ed25519_value(struct dkim_signer *g, struct dkim_ed25519 *e)
{
	struct dkim_ed25519_field *parts = arena_alloc(g->a, (g->nfields + 1) * sizeof(*parts));
	time_t now = time(NULL);
	struct dkim_ed25519_params p = {
	    .sign = sign_fields,
	    .oversign = oversign_fields,
	    .t = (int64_t)now,
	    .x = g->s->expire_days > 0 ? (int64_t)now + (int64_t)g->s->expire_days * 86400 : 0,
	};
	const char *why, *v;

	for (size_t i = 0; i < g->nfields; i++)
		parts[i] = g->fields[i].parts;
	if ((v = dkim_ed25519_finish(e, parts, g->nfields, &p, &why)) == NULL && g->error == NULL)
		g->error = why;
	return v;
}

int dkim_signer_finish(struct dkim_signer *g, const struct dkim_signature **out,
		       const char **error_r)
{
	struct dkim_signature *sigs;

	*out = NULL;
	*error_r = NULL;
	if (g == NULL || (g->nkeys == 0 && g->error == NULL))
		return 0;
	sigs = arena_alloc(g->a, (g->nkeys + 1) * sizeof(*sigs));
	for (size_t i = 0; i < g->nkeys && g->error == NULL; i++) {
		sigs[i].key = g->keys[i];
		sigs[i].value = g->eds[i] != NULL ? ed25519_value(g, g->eds[i])
						  : signature_value(g, g->handles[i]);
	}
	if (g->error != NULL) {
		*error_r = g->error;
		return -1;
	}
	*out = sigs;
	return (int)g->nkeys;
}

void dkim_signer_free(struct dkim_signer **gp)
{
	struct dkim_signer *g = *gp;

	if (g == NULL)
		return;
	for (size_t i = 0; i < g->nkeys; i++) {
		if (g->handles[i] != NULL)
			dkim_free(g->handles[i]);
		dkim_ed25519_free(&g->eds[i]);
	}
	g->nkeys = 0;
	*gp = NULL; /* the rest is in the message's arena */
}

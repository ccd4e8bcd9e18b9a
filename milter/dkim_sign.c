/*
 * dkim_sign - the signing table applied to one message, each signature
 * made by dkim_make.c with libcrypto (see dkim_sign.h).
 *
 * Not libopendkim's signer (Debian 12's 2.11.0~beta2), though it signs
 * both algorithms correctly: it takes the private key as PEM text and
 * decodes it again for every signature, which under OpenSSL 3's decoder
 * framework cost about 1.5 ms of CPU per message (tests/bench/cost_bench.sh,
 * `sign`: 1.8 ms against 0.3 ms with the key decoded once at load), and
 * it leaks the Ed25519 key it loads for each signature (1.3 KB).  The keys
 * here are decoded once, when the key table is read (dkim_keys.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dkim_make.h"
#include "dkim_sign.h"
#include "log.h"
#include "mem.h"

#define HEADERS_MAX 1000	      /* fields a signed message may have */
#define HEADER_BYTES_MAX (1024 * 1024) /* and their bytes, all together */
#define EXPIRE_DAYS_MAX 3650

struct dkim_signing {
	struct dkim_keys *keys;
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
	struct dkim_make_field parts; /* name and value apart, in text */
};

struct dkim_signer {
	const struct dkim_signing *s;
	struct arena *a;
	const char *id;
	struct field *fields;
	size_t nfields, fields_size, bytes;
	int overflow;
	struct dkim_make *makers[DKIM_KEYS_MAX_PER_LINE]; /* one per key */
	const struct dkim_privkey *keys[DKIM_KEYS_MAX_PER_LINE];
	size_t nkeys;
	const char *error; /* the first thing that went wrong */
};

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
	return s;
}

void dkim_signing_free(struct dkim_signing **sp)
{
	struct dkim_signing *s = *sp;

	if (s == NULL)
		return;
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
		g->makers[g->nkeys] = dkim_make_new(keys[i], g->a);
		g->keys[g->nkeys++] = keys[i];
	}
	return n;
}

void dkim_signer_body(struct dkim_signer *g, const unsigned char *data, size_t len)
{
	if (g == NULL || g->error != NULL)
		return;
	for (size_t i = 0; i < g->nkeys; i++)
		dkim_make_body(g->makers[i], data, len);
}

static const char *signature_value(struct dkim_signer *g, struct dkim_make *e)
{
	struct dkim_make_field *parts = arena_alloc(g->a, (g->nfields + 1) * sizeof(*parts));
	time_t now = time(NULL);
	struct dkim_make_params p = {
	    .sign = sign_fields,
	    .oversign = oversign_fields,
	    .t = (int64_t)now,
	    .x = g->s->expire_days > 0 ? (int64_t)now + (int64_t)g->s->expire_days * 86400 : 0,
	};
	const char *why, *v;

	for (size_t i = 0; i < g->nfields; i++)
		parts[i] = g->fields[i].parts;
	if ((v = dkim_make_finish(e, parts, g->nfields, &p, &why)) == NULL && g->error == NULL)
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
		sigs[i].value = signature_value(g, g->makers[i]);
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
	for (size_t i = 0; i < g->nkeys; i++)
		dkim_make_free(&g->makers[i]);
	g->nkeys = 0;
	*gp = NULL; /* the rest is in the message's arena */
}

/*
 * fake_libmilter - libmilter's filter-side API without the socket (see
 * fake_libmilter.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_libmilter.h"

#define MACROS_MAX 16

struct smfi_str {
	void *priv;
	enum fake_milter_stage stage;
	char *macro_names[MACROS_MAX];
	char *macro_values[MACROS_MAX];
	unsigned edits;
};

static struct smfiDesc registered;
static int is_registered;

static void broken(const char *what)
{
	fprintf(stderr, "fake_libmilter: the filter broke the API: %s\n", what);
	abort();
}

int smfi_register(struct smfiDesc desc)
{
	if (desc.xxfi_name == NULL || desc.xxfi_version != SMFI_VERSION)
		broken("smfi_register: no name, or another SMFI_VERSION");
	registered = desc;
	is_registered = 1;
	return MI_SUCCESS;
}

const struct smfiDesc *fake_milter_desc(void)
{
	return is_registered ? &registered : NULL;
}

SMFICTX *fake_milter_ctx_new(void)
{
	SMFICTX *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		abort();
	return ctx;
}

void fake_milter_ctx_free(SMFICTX **ctxp)
{
	SMFICTX *ctx = *ctxp;

	if (ctx == NULL)
		return;
	if (ctx->priv != NULL)
		broken("private data left after xxfi_close");
	for (int i = 0; i < MACROS_MAX; i++) {
		free(ctx->macro_names[i]);
		free(ctx->macro_values[i]);
	}
	free(ctx);
	*ctxp = NULL;
}

void fake_milter_stage(SMFICTX *ctx, enum fake_milter_stage stage)
{
	ctx->stage = stage;
}

static int macro_find(const SMFICTX *ctx, const char *name)
{
	for (int i = 0; i < MACROS_MAX; i++)
		if (ctx->macro_names[i] != NULL && strcmp(ctx->macro_names[i], name) == 0)
			return i;
	return -1;
}

void fake_milter_macro(SMFICTX *ctx, const char *name, const char *value)
{
	int i = macro_find(ctx, name);

	if (i < 0) {
		if (value == NULL)
			return;
		for (i = 0; i < MACROS_MAX && ctx->macro_names[i] != NULL; i++)
			;
		if (i == MACROS_MAX)
			return; /* full: the macro is simply not sent */
		ctx->macro_names[i] = strdup(name);
	}
	free(ctx->macro_values[i]);
	ctx->macro_values[i] = value != NULL ? strdup(value) : NULL;
	if (value == NULL) {
		free(ctx->macro_names[i]);
		ctx->macro_names[i] = NULL;
	}
}

unsigned fake_milter_edits(const SMFICTX *ctx)
{
	return ctx->edits;
}

char *smfi_getsymval(SMFICTX *ctx, char *name)
{
	int i;

	if (ctx == NULL || name == NULL)
		broken("smfi_getsymval: NULL");
	i = macro_find(ctx, name);
	return i < 0 ? NULL : ctx->macro_values[i];
}

int smfi_setpriv(SMFICTX *ctx, void *priv)
{
	if (ctx == NULL)
		broken("smfi_setpriv: NULL context");
	ctx->priv = priv;
	return MI_SUCCESS;
}

void *smfi_getpriv(SMFICTX *ctx)
{
	if (ctx == NULL)
		broken("smfi_getpriv: NULL context");
	return ctx->priv;
}

int smfi_setsymlist(SMFICTX *ctx, int stage, char *macros)
{
	if (ctx->stage != FAKE_STAGE_NEGOTIATE)
		broken("smfi_setsymlist outside negotiation");
	if (stage < SMFIM_FIRST || stage > SMFIM_LAST || macros == NULL || macros[0] == '\0')
		broken("smfi_setsymlist: bad stage or list");
	return MI_SUCCESS;
}

/* As libmilter's smfi_setreply: rcode 4xx or 5xx, xcode matching class,
 * no CR or LF in the text.  '%' is a format character to libmilter; the
 * filter promises to neutralise it. */
int smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
	if (ctx == NULL || rcode == NULL || strlen(rcode) != 3 ||
	    (rcode[0] != '4' && rcode[0] != '5') || !isdigit((unsigned char)rcode[1]) ||
	    !isdigit((unsigned char)rcode[2]))
		broken("smfi_setreply: bad rcode");
	if (xcode != NULL && xcode[0] != rcode[0])
		broken("smfi_setreply: xcode of another class than rcode");
	if (message != NULL)
		for (const char *p = message; *p != '\0'; p++)
			if (*p == '%' || *p == '\r' || *p == '\n')
				broken("smfi_setreply: %, CR or LF in the text");
	return MI_SUCCESS;
}

static void header_check(const SMFICTX *ctx, const char *name, const char *value, int need_value)
{
	if (ctx->stage != FAKE_STAGE_EOM)
		broken("header edit outside end of message");
	if (name == NULL || name[0] == '\0' || strchr(name, ':') != NULL)
		broken("header edit: empty name or a colon in it");
	for (const char *p = name; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			broken("header edit: a blank or control in the name");
	if (need_value && value == NULL)
		broken("header edit: NULL value");
}

int smfi_addheader(SMFICTX *ctx, char *name, char *value)
{
	header_check(ctx, name, value, 1);
	ctx->edits++;
	return MI_SUCCESS;
}

int smfi_insheader(SMFICTX *ctx, int index, char *name, char *value)
{
	header_check(ctx, name, value, 1);
	if (index < 0)
		broken("smfi_insheader: negative index");
	ctx->edits++;
	return MI_SUCCESS;
}

int smfi_chgheader(SMFICTX *ctx, char *name, int index, char *value)
{
	header_check(ctx, name, value, 0);
	if (index < 1)
		broken("smfi_chgheader: index below 1 (it is 1-based)");
	ctx->edits++;
	return MI_SUCCESS;
}

int smfi_quarantine(SMFICTX *ctx, char *reason)
{
	if (ctx->stage != FAKE_STAGE_EOM)
		broken("smfi_quarantine outside end of message");
	if (reason == NULL || reason[0] == '\0')
		broken("smfi_quarantine: empty reason");
	ctx->edits++;
	return MI_SUCCESS;
}

/*
 * null_milter - the yardstick for tests/bench/milter_bench.sh: the naive
 * libmilter filter.  Every callback is registered and answers
 * SMFIS_CONTINUE (end of message too); there is no negotiate callback, so
 * libmilter asks for every stage and a reply to each: the round trips and
 * the per-connection thread any libmilter filter pays before it does any
 * work of its own.
 *
 * With -l it is the lean null filter instead: the floor for any libmilter
 * filter that reads the whole message, as authscore does.  It negotiates
 * no reply for every stage before the end of the message, no DATA, EOH or
 * unknown-command stage, and the macros of no stage but the end of message.
 * With -e it is the lean filter that also adds, at the end of the message,
 * two header fields of the sizes authscore adds (Authentication-Results at
 * the top, a result field at the end): the floor for a filter that writes
 * its verdict into the message.
 *
 * usage: null_milter [-l | -e] unix:PATH | inet:PORT@HOST
 */
#include "config.h"

#include <libmilter/mfapi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_arg(SMFICTX *ctx, char *arg)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_argv(SMFICTX *ctx, char **argv)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_stage(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_unknown(SMFICTX *ctx, const char *cmd)
{
	return SMFIS_CONTINUE;
}

static unsigned long lean_actions; /* SMFIF_ADDHDRS with -e */

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long steps = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH |
				    SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
				    SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_BODY;

	*pf0 = f0 & (SMFIF_SETSYMLIST | lean_actions);
	*pf1 = f1 & steps;
	*pf2 = *pf3 = 0;
	if ((*pf0 & SMFIF_SETSYMLIST) != 0)
		(void)smfi_setsymlist(ctx, SMFIM_EOM, "i");
	smfi_setpriv(ctx, (void *)(uintptr_t)*pf1);
	return SMFIS_CONTINUE;
}

/* No reply where the MTA granted that (the mask rides in the private
 * pointer: this filter keeps no other state); a reply where it did not. */
static sfsistat lean_reply(SMFICTX *ctx, unsigned long flag)
{
	return ((uintptr_t)smfi_getpriv(ctx) & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_connect_lean(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	return lean_reply(ctx, SMFIP_NR_CONN);
}

static sfsistat on_helo_lean(SMFICTX *ctx, char *arg)
{
	return lean_reply(ctx, SMFIP_NR_HELO);
}

static sfsistat on_mail_lean(SMFICTX *ctx, char **argv)
{
	return lean_reply(ctx, SMFIP_NR_MAIL);
}

static sfsistat on_rcpt_lean(SMFICTX *ctx, char **argv)
{
	return lean_reply(ctx, SMFIP_NR_RCPT);
}

static sfsistat on_header_lean(SMFICTX *ctx, char *name, char *value)
{
	return lean_reply(ctx, SMFIP_NR_HDR);
}

static sfsistat on_body_lean(SMFICTX *ctx, unsigned char *data, size_t len)
{
	return lean_reply(ctx, SMFIP_NR_BODY);
}

static sfsistat on_eom_edits(SMFICTX *ctx)
{
	(void)smfi_insheader(ctx, 0, "Authentication-Results",
			     " mx.example; spf=pass smtp.mailfrom=sender.example;"
			     " dkim=pass header.d=sender.example header.s=sel;"
			     " dmarc=pass header.from=sender.example; iprev=pass"
			     " policy.iprev=192.0.2.1");
	(void)smfi_addheader(ctx, "X-Authscore-Result", " accept score=-1.0 (DMARC_PASS DKIM_PASS)");
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	int edits = argc == 3 && strcmp(argv[1], "-e") == 0;
	int lean = edits || (argc == 3 && strcmp(argv[1], "-l") == 0);
	struct smfiDesc desc = {
		.xxfi_name = "null",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = 0,
		.xxfi_connect = on_connect,
		.xxfi_helo = on_arg,
		.xxfi_envfrom = on_argv,
		.xxfi_envrcpt = on_argv,
		.xxfi_header = on_header,
		.xxfi_eoh = on_stage,
		.xxfi_body = on_body,
		.xxfi_eom = on_stage,
		.xxfi_abort = on_stage,
		.xxfi_close = on_stage,
		.xxfi_unknown = on_unknown,
		.xxfi_data = on_stage,
	};

	if (lean) {
		desc.xxfi_name = "lean-null";
		desc.xxfi_negotiate = on_negotiate;
		desc.xxfi_connect = on_connect_lean;
		desc.xxfi_helo = on_helo_lean;
		desc.xxfi_envfrom = on_mail_lean;
		desc.xxfi_envrcpt = on_rcpt_lean;
		desc.xxfi_header = on_header_lean;
		desc.xxfi_eoh = NULL;  /* not asked for */
		desc.xxfi_data = NULL; /* not asked for */
		desc.xxfi_unknown = NULL;
		desc.xxfi_body = on_body_lean;
		if (edits) {
			desc.xxfi_name = "lean-null-edits";
			desc.xxfi_flags = lean_actions = SMFIF_ADDHDRS;
			desc.xxfi_eom = on_eom_edits;
		}
		argv++, argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: null_milter [-l | -e] unix:PATH|inet:PORT@HOST\n");
		return 2;
	}
	if (strncmp(argv[1], "unix:", 5) == 0)
		unlink(argv[1] + 5);
	/* the same backlog as authscore-milter, so 500 sessions meet the same queue */
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_setbacklog(128) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "null_milter: cannot set up libmilter on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}

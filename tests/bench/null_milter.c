/*
 * null_milter - the yardstick for tests/bench/milter_bench.sh: the naive
 * libmilter filter.  Every callback is registered and answers
 * SMFIS_CONTINUE (end of message too); there is no negotiate callback, so
 * libmilter asks for every stage and a reply to each: the round trips and
 * the per-connection thread any libmilter filter pays before it does any
 * work of its own.
 *
 * usage: null_milter unix:PATH | inet:PORT@HOST
 */
#include "config.h"

#include <libmilter/mfapi.h>
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

int main(int argc, char **argv)
{
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

	if (argc != 2) {
		fprintf(stderr, "usage: null_milter unix:PATH|inet:PORT@HOST\n");
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

/*
 * fuzz_milter - libFuzzer target over the milter callbacks
 * (milter/callbacks.c): commands in any order, with any arguments, macros
 * and sizes, through the same callback table libmilter is given.  A fake
 * libmilter (fake_libmilter.c) stands in for the library and checks what
 * the filter asks of it; the resolver is the fake one (tests/fake_dns.c).
 *
 * An input is lines, one command each: its first byte names it, the rest
 * are arguments separated by TAB, with escapes \n \r \t \0 \\ and "\N"
 * alone for a NULL argument:
 *	O [f0 [f1]]		negotiate (hex flags offered; default: all)
 *	C host TAB fam TAB addr	connect; fam 4, 6, L (unix), U or N (no address)
 *	H name			helo
 *	M arg...		MAIL (argv; "\N" alone: a NULL argv)
 *	R arg...		RCPT
 *	L name TAB value	a header field
 *	N			end of headers
 *	B bytes			a body chunk
 *	E			end of message
 *	A			abort
 *	Q			close (QUIT; libmilter may then see a new CONNECT)
 *	D name [TAB value]	set (or, without value, remove) a macro
 * Every run ends with close, as libmilter does.  Checked: no crash, leak or
 * undefined behaviour; no "no reply" at a stage the MTA was not told to
 * expect none; negotiation grants only what was offered; no callback still
 * counted busy; no private data left after close.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "callbacks.h"
#include "conf.h"
#include "dkim.h"
#include "fake_dns.h"
#include "fake_libmilter.h"
#include "log.h"
#include "runtime.h"
#include "spf.h"

#define ARGS_MAX 8

static const char zone[] = "pass.fuzz.test TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
			   "_dmarc.pass.fuzz.test TXT \"v=DMARC1; p=reject; rua=mailto:r@pass.fuzz.test\"\n"
			   "fuzz.test TXT \"v=spf1 include:pass.fuzz.test ~all\"\n"
			   "2.0.192.in-addr.arpa PTR client.pass.fuzz.test\n"
			   "client.pass.fuzz.test A 192.0.2.10\n";

static const char conf_text[] = "authserv-id mx.fuzz.test\n"
				"trusted-networks 127.0.0.0/8 ::1/128\n";

static void setup(void)
{
	struct dns *dns;
	struct conf *conf;
	struct runtime *rt;
	char *error = NULL;

	log_init("fuzz_milter", 1);
	log_set_level(LOG_LEVEL_ERR);
	spf_init();
	fake_dns_load(zone);
	if ((conf = conf_parse("fuzz.conf", conf_text, &error)) == NULL ||
	    (dns = runtime_dns_new(conf, &error)) == NULL || dkim_module_init(dns, &error) < 0 ||
	    (rt = runtime_load(conf, dns, NULL, &error)) == NULL) {
		fprintf(stderr, "fuzz_milter: %s\n", error);
		abort();
	}
	runtime_publish(rt);
	if (callbacks_register("fuzz") != 0 || fake_milter_desc() == NULL)
		abort();
}

/* One argument in place: unescaped, its length in *len_r; NULL for "\N". */
static char *unescape(char *arg, size_t *len_r)
{
	size_t o = 0;

	if (strcmp(arg, "\\N") == 0)
		return NULL;
	for (size_t i = 0; arg[i] != '\0'; i++) {
		char ch = arg[i];

		if (ch == '\\' && arg[i + 1] != '\0') {
			static const char from[] = "nrt0\\", to[] = "\n\r\t\0\\";
			const char *k = strchr(from, arg[++i]);

			ch = k != NULL ? to[k - from] : arg[i];
		}
		arg[o++] = ch;
	}
	arg[o] = '\0';
	*len_r = o;
	return arg;
}

/* Splits line into at most ARGS_MAX arguments, each in a buffer of its own
 * size so that ASan sees a read past its end; NULL-terminated. */
static size_t split(char *line, char **argv, size_t *lens)
{
	size_t n = 0;

	for (char *p = line; p != NULL && n < ARGS_MAX;) {
		char *tab = strchr(p, '\t'), *arg;

		if (tab != NULL)
			*tab = '\0';
		arg = unescape(p, &lens[n]);
		argv[n] = NULL;
		if (arg != NULL) {
			argv[n] = malloc(lens[n] + 1);
			memcpy(argv[n], arg, lens[n] + 1);
		}
		n++;
		p = tab != NULL ? tab + 1 : NULL;
	}
	argv[n] = NULL;
	return n;
}

static const char *arg(char **argv, size_t n, size_t i)
{
	return i < n ? argv[i] : "";
}

struct run {
	SMFICTX *ctx;
	const struct smfiDesc *d;
	unsigned long granted; /* protocol flags as negotiated */
};

static void check(const struct run *r, sfsistat s, unsigned long nr_flag)
{
	if (s != SMFIS_CONTINUE && s != SMFIS_REJECT && s != SMFIS_DISCARD && s != SMFIS_ACCEPT &&
	    s != SMFIS_TEMPFAIL && s != SMFIS_NOREPLY && s != SMFIS_SKIP)
		abort(); /* not an answer libmilter knows */
	if (s == SMFIS_NOREPLY && (nr_flag == 0 || !(r->granted & nr_flag)))
		abort(); /* the MTA waits for a reply that never comes */
	if (callbacks_busy() != 0)
		abort();
}

static void negotiate(struct run *r, char **argv, size_t n)
{
	unsigned long f0 = SMFI_CURR_ACTS, f1 = SMFI_CURR_PROT, p0, p1, p2, p3;

	if (n > 0 && argv[0] != NULL && argv[0][0] != '\0')
		f0 = strtoul(argv[0], NULL, 16);
	if (n > 1 && argv[1] != NULL && argv[1][0] != '\0')
		f1 = strtoul(argv[1], NULL, 16);
	fake_milter_stage(r->ctx, FAKE_STAGE_NEGOTIATE);
	if (r->d->xxfi_negotiate(r->ctx, f0, f1, 0, 0, &p0, &p1, &p2, &p3) != SMFIS_CONTINUE)
		abort();
	fake_milter_stage(r->ctx, FAKE_STAGE_OTHER);
	if ((p0 & ~f0) != 0 || (p1 & ~f1) != 0)
		abort(); /* libmilter would refuse the session */
	r->granted = p1;
}

static void connect_cmd(struct run *r, char **argv, size_t n)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} sa;
	const char *fam = arg(argv, n, 1), *addr = arg(argv, n, 2);
	struct sockaddr *p = &sa.sa;

	memset(&sa, 0, sizeof(sa));
	if (fam == NULL || addr == NULL)
		p = NULL;
	else if (fam[0] == '4' && inet_pton(AF_INET, addr, &sa.in.sin_addr) == 1)
		sa.in.sin_family = AF_INET;
	else if (fam[0] == '6' && inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) == 1)
		sa.in6.sin6_family = AF_INET6;
	else if (fam[0] == 'L')
		sa.un.sun_family = AF_UNIX, snprintf(sa.un.sun_path, sizeof(sa.un.sun_path), "%s", addr);
	else if (fam[0] == 'U')
		sa.sa.sa_family = AF_UNSPEC;
	else
		p = NULL; /* libmilter's SMFIA_UNKNOWN */
	check(r, r->d->xxfi_connect(r->ctx, n > 0 ? argv[0] : NULL, p), SMFIP_NR_CONN);
}

static void command(struct run *r, char *line, size_t len)
{
	char *argv[ARGS_MAX + 1];
	size_t lens[ARGS_MAX], n = len > 1 ? split(line + 1, argv, lens) : 0;
	const struct smfiDesc *d = r->d;
	SMFICTX *ctx = r->ctx;

	argv[n] = NULL;
	switch (line[0]) {
	case 'O': negotiate(r, argv, n); break;
	case 'C': connect_cmd(r, argv, n); break;
	case 'H': check(r, d->xxfi_helo(ctx, n > 0 ? argv[0] : NULL), SMFIP_NR_HELO); break;
	case 'M':
		check(r, d->xxfi_envfrom(ctx, n == 1 && argv[0] == NULL ? NULL : argv), SMFIP_NR_MAIL);
		break;
	case 'R':
		check(r, d->xxfi_envrcpt(ctx, n == 1 && argv[0] == NULL ? NULL : argv), SMFIP_NR_RCPT);
		break;
	case 'L':
		check(r, d->xxfi_header(ctx, n > 0 ? argv[0] : NULL, n > 1 ? argv[1] : NULL),
		      SMFIP_NR_HDR);
		break;
	case 'N': check(r, d->xxfi_eoh(ctx), SMFIP_NR_EOH); break;
	case 'B':
		check(r, d->xxfi_body(ctx, n > 0 ? (unsigned char *)argv[0] : NULL, n > 0 ? lens[0] : 0),
		      SMFIP_NR_BODY);
		break;
	case 'E':
		fake_milter_stage(ctx, FAKE_STAGE_EOM);
		check(r, d->xxfi_eom(ctx), 0);
		fake_milter_stage(ctx, FAKE_STAGE_OTHER);
		break;
	case 'A': d->xxfi_abort(ctx); break;
	case 'Q': d->xxfi_close(ctx); break;
	case 'D':
		if (n > 0 && argv[0] != NULL)
			fake_milter_macro(ctx, argv[0], n > 1 ? argv[1] : NULL);
		break;
	default: break;
	}
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct run r = {0};
	char *text = malloc(size + 1), *line, *next;

	if (!ready) {
		setup();
		ready = 1;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	r.ctx = fake_milter_ctx_new();
	r.d = fake_milter_desc();
	for (line = text; line != NULL && line < text + size; line = next) {
		size_t len;

		next = memchr(line, '\n', (size_t)(text + size - line));
		if (next != NULL)
			*next++ = '\0';
		len = strlen(line);
		if (len > 0)
			command(&r, line, len);
	}
	r.d->xxfi_close(r.ctx);
	fake_milter_ctx_free(&r.ctx);
	free(text);
	return 0;
}

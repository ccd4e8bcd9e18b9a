/*
 * authscore - the admin's tool.  It never listens.
 *
 *   authscore test [-c config] --ip address [--helo name] [--mail-from address]
 *                  [--rcpt address]... < message
 *
 * `test` runs the daemon's own evaluation (session, message, verdict; no
 * libmilter) on a message read from standard input, and prints the
 * Authentication-Results header and the action the daemon would take.
 * Exit status: 0 when evaluated, 1 on a configuration error, 2 on bad input.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "buf.h"
#include "conf.h"
#include "arc.h"
#include "dkim.h"
#include "dkim_cmd.h"
#include "dns.h"
#include "history.h"
#include "hsplit.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "report_cmd.h"
#include "runtime.h"
#include "rules.h"
#include "session.h"
#include "spf.h"

#define MESSAGE_MAX (64u * 1024 * 1024)

/* Every command here has a synopsis in doc/authscore.1 equal to its own
 * `--help`; tests/helpman.sh holds them to that. */
static void usage(FILE *out)
{
	fprintf(out, "usage: authscore COMMAND [options]\n"
		     "  test      Evaluate a message as the daemon would.\n"
		     "  rules     Check a rules file.\n"
		     "  report    Build and send the DMARC aggregate reports of a period.\n"
		     "  explain   Show the whole decision for a stored message.\n"
		     "  replay    Score stored messages with new rules.\n"
		     "  stats     Summarise the stored messages of a period.\n"
		     "  dkim      Make a DKIM signing key, or check its published record.\n"
		     "  -V, --version  Print the version and exit.\n"
		     "  -h, --help     Print this help and exit.\n"
		     "`authscore COMMAND --help` prints a command's options.\n");
}

static void usage_test(FILE *out)
{
	fprintf(out, "usage: authscore test [-c config] --ip address [--helo name] "
		     "[--mail-from address] [--rcpt address]... < message\n");
}

static int read_all(FILE *in, struct buf *b)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if (buf_append(b, chunk, n) < 0)
			return -1;
	return ferror(in) ? -1 : 0;
}

/* Feed the header fields to the message as Postfix hands them to the
 * daemon (util/hsplit.c); returns the offset of the body.  Where Postfix
 * reads the file otherwise than the admin may, the tool says so once. */
static size_t feed_headers(struct message *m, const char *text, size_t len)
{
	struct hsplit h;
	struct hsplit_field f;
	const char *why;
	unsigned line;
	size_t body;

	hsplit_init(&h, text, len);
	while (hsplit_next(&h, &f)) {
		if (f.truncated)
			log_warn("line %u: the %s field is longer than %d bytes: cut there, as "
				 "Postfix does (header_size_limit)",
				 f.line, f.name, HSPLIT_FIELD_MAX);
		message_header(m, f.name, f.value);
	}
	if ((why = hsplit_end(&h, &line)) != NULL)
		log_warn("line %u: %s: the header ends there and the rest is body, as Postfix "
			 "passes it to the daemon",
			 line, why);
	body = hsplit_body(&h);
	hsplit_release(&h);
	return body;
}

/* `authscore test`'s options. */
struct test_options {
	const char *config_path, *ip, *helo, *mail_from;
	const char *rcpts[256];
	size_t nrcpt;
};

/* Returns -1 to go on, or the exit status. */
static int parse_test_options(int argc, char **argv, struct test_options *t)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"ip", required_argument, NULL, 'i'},
	    {"helo", required_argument, NULL, 'h'},
	    {"mail-from", required_argument, NULL, 'f'},
	    {"rcpt", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			t->config_path = optarg;
			break;
		case 'i':
			t->ip = optarg;
			break;
		case 'h':
			t->helo = optarg;
			break;
		case 'f':
			t->mail_from = optarg;
			break;
		case 'H':
			usage_test(stdout);
			return 0;
		case 'r':
			if (t->nrcpt == sizeof(t->rcpts) / sizeof(t->rcpts[0])) {
				fprintf(stderr, "authscore test: too many --rcpt\n");
				return 2;
			}
			t->rcpts[t->nrcpt++] = optarg;
			break;
		default:
			usage_test(stderr);
			return 2;
		}
	}
	if (t->ip == NULL || optind != argc) {
		usage_test(stderr);
		return 2;
	}
	return -1;
}

/* What the milter would do to the message, one line each. */
static void print_outcome(struct message *m, const struct verdict *v,
			  const struct message_edits *edits)
{
	if (message_skipped(m) != NULL)
		printf("skipped: %s\n", message_skipped(m));
	else /* the body's facts and its links' list answers (issue 19) */
		history_explain_content(stdout, message_facts(m));
	if (edits->arc_sealed) /* above our Authentication-Results, as the milter puts them */
		printf("ARC-Seal: %s\nARC-Message-Signature: %s\nARC-Authentication-Results: %s\n",
		       edits->arc_seal.seal, edits->arc_seal.ams, edits->arc_seal.aar);
	if (edits->ar_value != NULL)
		printf("%s: %s\n", AUTHRES_HEADER, edits->ar_value);
	for (size_t i = 0; i < edits->add_count; i++)
		printf("%s: %s\n", edits->add[i].name, edits->add[i].value);
	if (edits->subject != NULL)
		printf("Subject: %s\n", edits->subject);
	for (size_t i = 0; i < edits->remove_count; i++)
		printf("removed: the sender's %s header #%u\n", edits->remove[i].name,
		       edits->remove[i].index);
	if (edits->ar_delete_count > 0)
		printf("removed: %zu forged %s header(s)\n", edits->ar_delete_count,
		       AUTHRES_HEADER);
	for (size_t i = 0; i < edits->sign_count; i++) /* outgoing mail (dkim-sign) */
		printf("%s: %s\n", edits->sign[i].name, edits->sign[i].value);
	if (v->action == VERDICT_ACCEPT)
		printf("action: accept\n");
	else if (v->action == VERDICT_TAG || v->action == VERDICT_QUARANTINE ||
		 v->action == VERDICT_DISCARD)
		printf("action: %s (%s)\n", verdict_action_name(v->action),
		       v->text ? v->text : v->why ? v->why : "");
	else
		printf("action: %s %s %s %s\n", verdict_action_name(v->action), v->rcode, v->xcode,
		       v->text);
}

static int cmd_test(int argc, char **argv)
{
	struct test_options t = {.mail_from = ""};
	const char *ip, *helo, *mail_from, *config_path;
	struct conf *conf;
	struct addr client;
	char *error = NULL;
	struct dns *dns;
	struct runtime *rt;
	struct session *s;
	struct message *m;
	struct buf msg;
	struct verdict v;
	struct message_edits edits;
	size_t body;
	int rc;

	if ((rc = parse_test_options(argc, argv, &t)) >= 0)
		return rc;
	config_path = t.config_path, ip = t.ip, helo = t.helo, mail_from = t.mail_from;
	if (addr_parse(ip, &client) < 0) {
		fprintf(stderr, "authscore test: --ip %s: not an IPv4 or IPv6 address\n", ip);
		return 2;
	}
	if (mail_from[0] == '<') {
		size_t len = strlen(mail_from);

		if (len < 2 || mail_from[len - 1] != '>') {
			fprintf(stderr, "authscore test: --mail-from %s: unbalanced <>\n", mail_from);
			return 2;
		}
		mail_from = xstrndup(mail_from + 1, len - 2);
	}
	conf = conf_load(config_path ? config_path : CONF_DEFAULT_PATH, config_path != NULL,
			 &error);
	if (conf == NULL) {
		fprintf(stderr, "authscore test: %s\n", error);
		return 1;
	}
	/* One message: its body in memory, scanned as the daemon scans it,
	 * whoever runs the tool (the daemon's spool directory is its user's). */
	free(conf->content_spool_dir);
	conf->content_spool_dir = xstrdup("none");
	log_init("authscore", 1);
	log_set_level(conf->log_level > LOG_LEVEL_WARN ? conf->log_level : LOG_LEVEL_WARN);
	buf_init(&msg, MESSAGE_MAX);
	if (read_all(stdin, &msg) < 0) {
		fprintf(stderr, "authscore test: cannot read the message (at most %u bytes)\n",
			MESSAGE_MAX);
		return 2;
	}
	spf_init();
	if ((dns = runtime_dns_new(conf, &error)) == NULL || dkim_module_init(dns, &error) < 0 ||
	    arc_module_init(dns, &error) < 0) {
		fprintf(stderr, "authscore test: %s\n", error);
		return 1;
	}
	if ((rt = runtime_load(conf, dns, NULL, &error)) == NULL) {
		fprintf(stderr, "authscore test: %s\n", error);
		return 1;
	}
	s = session_new(rt, NULL, &client);
	if (helo != NULL)
		session_helo(s, helo);
	m = message_new(s, mail_from, NULL);
	for (size_t i = 0; i < t.nrcpt; i++)
		message_rcpt(m, t.rcpts[i]);
	body = feed_headers(m, msg.data != NULL ? msg.data : "", msg.len);
	message_eoh(m);
	message_body(m, (const unsigned char *)msg.data + body, msg.len - body);
	message_eom(m, &v, &edits);
	print_outcome(m, &v, &edits);
	message_free(&m);
	session_free(&s);
	runtime_unref(&rt);
	dkim_module_deinit();
	arc_module_deinit();
	dns_free(&dns);
	buf_release(&msg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "rules") == 0)
		return rules_cmd_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		return report_cmd_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "explain") == 0 || strcmp(argv[1], "replay") == 0 ||
			  strcmp(argv[1], "stats") == 0))
		return history_cmd_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "dkim") == 0)
		return dkim_cmd_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("authscore %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}

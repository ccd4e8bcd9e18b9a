/*
 * report_cmd - `authscore report`: build and send one period's DMARC
 * aggregate reports (RFC 9990) from the history store.
 *
 *   authscore report [-c CONFIG] [--period YYYY-MM-DD | --begin T --end T]
 *                    [--domain D] [--dry-run DIR] [--history LOCATION]
 *                    [--sendmail PATH] [--schema XSD]
 *
 * The period defaults to the previous UTC day; T is UNIX seconds or
 * YYYY-MM-DD[THH:MM[:SS]] (UTC), --end exclusive.  Records are read from
 * the store an hour at a time (each hour's arena freed), aggregated, and
 * handed to report_run() with the store as ledger, report_send() as
 * sender and the configured resolver for `_report._dmarc` checks.
 * Exit status: 0 done, 1 configuration or store error, 2 usage, 3 some
 * report failed (invalid, not sent, or to be retried).
 *
 * Configuration keys read (milter/conf.c):
 *   report-org-name NAME    <org_name>; default: the report-email domain
 *   report-email ADDR       <email> and From: of the reports; default:
 *                           noreply-dmarc@ this host's fully qualified name
 *   report-relay RELAY      SMTP smarthost (host:port, smtp://, smtps://);
 *                           unset: sendmail(1)
 *   report-smtp-tls, report-smtp-auth-file, report-smtp-ca-file,
 *   report-smtp-verify      TLS and AUTH towards the relay (report_send.h)
 *   report-suppress WORD... addresses or domains never mailed
 *   history LOCATION        the store; default sqlite:STATE-DIR/history.db
 *   state-dir DIR           invalid reports are kept in DIR/reports/failed
 *   dns-* (forwarders, stubs, trust anchor, timeout) for the resolver
 */
#include "config.h"

#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "mem.h"
#include "report_agg.h"
#include "report_cmd.h"
#include "report_run.h"
#include "report_send.h"
#include "report_xml.h"
#include "runtime.h"
#include "store.h"
#include "utc.h"

#define DAY  86400
#define HOUR 3600

static void usage(FILE *out)
{
	fprintf(out,
		"usage: authscore report [-c config] [--period YYYY-MM-DD | --begin T --end T]\n"
		"                        [--domain D] [--dry-run DIR] [--history LOCATION]\n"
		"                        [--sendmail PATH] [--schema XSD]\n");
}

/* UNIX seconds, or YYYY-MM-DD[THH:MM[:SS]][Z] in UTC.  A date that does not
 * exist (2026-02-31, 2025-02-29, 24:00) is refused: timegm() would quietly
 * move it to another day, so the fields must come back unchanged. */
static int parse_time(const char *s, int64_t *t_r)
{
	struct tm tm = {0}, back;
	char *end;
	time_t t;
	int n = 0;

	if (s[strspn(s, "0123456789")] == '\0' && *s != '\0') {
		*t_r = strtoll(s, &end, 10);
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
		return -1;
	s += n;
	if (*s == 'T' || *s == ' ') {
		n = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2)
			return -1;
		s += 1 + n;
		if (*s == ':') {
			n = 0;
			if (sscanf(s + 1, "%2d%n", &tm.tm_sec, &n) != 1)
				return -1;
			s += 1 + n;
		}
	}
	if (*s == 'Z')
		s++;
	if (*s != '\0' || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	back = tm;
	t = timegm(&back);
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_year != tm.tm_year ||
	    back.tm_mon != tm.tm_mon || back.tm_mday != tm.tm_mday || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return -1;
	*t_r = (int64_t)t;
	return 0;
}

static int ledger_sent(void *arg, const char *domain, int64_t begin, int64_t end)
{
	return store_report_sent(arg, domain, begin, end);
}

static int ledger_mark(void *arg, const char *domain, int64_t begin, int64_t end,
		       const char *report_id, char **error_r)
{
	return store_mark_sent(arg, domain, begin, end, report_id, error_r);
}

static int sender_send(void *arg, const char *from, const char *const *rcpts, size_t count,
		       const char *msg, size_t len, char **error_r)
{
	return report_send(arg, from, rcpts, count, msg, len, error_r);
}

static int add_record(const struct history_record *r, void *arg)
{
	report_agg_add(arg, r);
	return 0;
}

/* With no report-email, reports come from noreply-dmarc@ this host's fully
 * qualified name (as Postfix's myhostname: the canonical name of
 * gethostname()), or of the authserv-id when that has a dot: a fresh
 * install sends its reports with no other step.  NULL when neither is a
 * domain.  The result belongs to conf (freed with it). */
static char *default_report_email(const struct conf *conf)
{
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *res = NULL;
	char host[256];
	const char *name = NULL;
	char *email;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (host[0] != '\0' && getaddrinfo(host, NULL, &hints, &res) == 0 &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL)
		name = res->ai_canonname;
	else if (conf->authserv_id != NULL && strchr(conf->authserv_id, '.') != NULL)
		name = conf->authserv_id;
	email = name != NULL ? xasprintf("noreply-dmarc@%s", name) : NULL;
	if (res != NULL)
		freeaddrinfo(res);
	return email;
}

/* What the command line asked for, beside what goes straight into the run's
 * options; the strings point into argv. */
struct cmd_args {
	const char *config_path, *period, *begin_s, *end_s;
	const char *history, *sendmail, *schema_path;
};

/* Everything report_cmd_main() opens, closed by cmd_close() whichever step
 * failed. */
struct cmd_res {
	struct conf *conf;
	struct report_schema *schema;
	struct report_agg *agg;
	struct store *store;
	struct dns *dns;
	char *error, *location, *failed_dir, *smtp_user, *smtp_password;
	int curl_up;
};

/* -1 to go on, else the exit status (0 for --help, 2 for a usage error). */
static int parse_args(int argc, char **argv, struct cmd_args *args, struct report_run_options *ro)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"period", required_argument, NULL, 'p'},
	    {"begin", required_argument, NULL, 'b'},
	    {"end", required_argument, NULL, 'e'},
	    {"domain", required_argument, NULL, 'd'},
	    {"dry-run", required_argument, NULL, 'n'},
	    {"history", required_argument, NULL, 'H'},
	    {"sendmail", required_argument, NULL, 's'},
	    {"schema", required_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			args->config_path = optarg;
			break;
		case 'p':
			args->period = optarg;
			break;
		case 'b':
			args->begin_s = optarg;
			break;
		case 'e':
			args->end_s = optarg;
			break;
		case 'd':
			ro->only_domain = optarg;
			break;
		case 'n':
			ro->dry_run_dir = optarg;
			break;
		case 'H':
			args->history = optarg;
			break;
		case 's':
			args->sendmail = optarg;
			break;
		case 'x':
			args->schema_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (args->period != NULL && (args->begin_s || args->end_s)) ||
	    (args->begin_s == NULL) != (args->end_s == NULL)) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Sets ro->now, ro->begin and ro->end; 0, or 2 (usage) with the message
 * printed. */
static int resolve_period(const struct cmd_args *args, struct report_run_options *ro)
{
	ro->now = (int64_t)time(NULL);
	if (args->period != NULL) {
		if (strlen(args->period) != 10 || parse_time(args->period, &ro->begin) < 0) {
			fprintf(stderr, "authscore report: --period %s: not a date (YYYY-MM-DD)\n",
				args->period);
			return 2;
		}
		ro->end = ro->begin + DAY;
	} else if (args->begin_s != NULL) {
		if (parse_time(args->begin_s, &ro->begin) < 0 ||
		    parse_time(args->end_s, &ro->end) < 0 || ro->end <= ro->begin) {
			fprintf(stderr, "authscore report: --begin/--end: bad times (UNIX seconds "
					"or YYYY-MM-DD[THH:MM[:SS]], dates that exist, begin "
					"before end)\n");
			return 2;
		}
	} else {
		ro->end = ro->now - ro->now % DAY; /* the previous UTC day */
		ro->begin = ro->end - DAY;
	}
	/* A period not over yet would be sent partial and then marked sent for
	 * good: the rest of its records would never be reported.  A dry run
	 * marks nothing, so it may look at today. */
	if (ro->end > ro->now && ro->dry_run_dir == NULL) {
		char end_buf[64];

		fprintf(stderr,
			"authscore report: the period is not over until %s: a report sent now "
			"would be partial and the period marked sent; run it after that (or "
			"use --dry-run to look at it now)\n",
			utc_str(ro->end, end_buf, sizeof(end_buf)));
		return 2;
	}
	return 0;
}

/* Loads the configuration, starts logging and fills the run's identity
 * (receiver, email, org name) from it; -1 with the message printed. */
static int load_conf(struct cmd_res *res, const struct cmd_args *args,
		     struct report_run_options *ro)
{
	const char *config_path = args->config_path;
	struct conf *conf;
	const char *at;

	conf = res->conf = conf_load(config_path ? config_path : CONF_DEFAULT_PATH,
				     config_path != NULL, &res->error);
	if (conf == NULL) {
		fprintf(stderr, "authscore report: %s\n", res->error);
		return -1;
	}
	log_init("authscore-report", conf->log_to_stderr != 0);
	log_set_level(conf->log_level);
	if (conf->report_email == NULL && (conf->report_email = default_report_email(conf)) != NULL)
		log_notice("report-email is not set: the reports come from %s", conf->report_email);
	if (conf->report_email == NULL || (at = strrchr(conf->report_email, '@')) == NULL ||
	    at[1] == '\0') {
		fprintf(stderr,
			"authscore report: report-email (the reports' From address) "
			"is not set in %s, and this host has no fully qualified name to "
			"make one of\n",
			conf->path ? conf->path : "the configuration");
		return -1;
	}
	ro->receiver = at + 1;
	ro->email = conf->report_email;
	ro->org_name = conf->report_org_name ? conf->report_org_name : ro->receiver;
	ro->generator = "authscore " PACKAGE_VERSION;
	ro->suppress = conf->report_suppress;
	ro->dns_timeout_ms = conf->dns_timeout_ms;
	res->failed_dir = ro->dry_run_dir != NULL ? xasprintf("%s/failed", ro->dry_run_dir)
						  : xasprintf("%s/reports/failed", conf->state_dir);
	ro->failed_dir = res->failed_dir;
	return 0;
}

/* The sender's options from the configuration, its AUTH secret read and
 * checked (not for a dry run, which sends nothing), libcurl started for a
 * relay; -1 with the message printed. */
static int set_send_options(struct cmd_res *res, const struct cmd_args *args,
			    const struct report_run_options *ro, struct report_send_options *so)
{
	const struct conf *conf = res->conf;

	so->sendmail = args->sendmail;
	so->relay = conf->report_relay;
	so->helo = NULL;
	so->tls = (enum report_tls)report_tls_parse(conf->report_smtp_tls); /* conf checked it */
	so->ca_file = conf->report_smtp_ca_file;
	so->no_verify = !conf->report_smtp_verify;
	if (conf->report_smtp_auth_file != NULL && ro->dry_run_dir == NULL) {
		if (report_send_auth_load(conf->report_smtp_auth_file, &res->smtp_user,
					  &res->smtp_password, &res->error) < 0) {
			fprintf(stderr, "authscore report: %s\n", res->error);
			return -1;
		}
		so->user = res->smtp_user;
		so->password = res->smtp_password;
	}
	if (ro->dry_run_dir == NULL && report_send_check(so, &res->error) < 0) {
		fprintf(stderr, "authscore report: %s\n", res->error);
		return -1;
	}
	if (so->relay != NULL) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "authscore report: cannot initialise libcurl\n");
			return -1;
		}
		res->curl_up = 1;
	}
	return 0;
}

/* The history store, the XSD and the resolver; -1 with the message
 * printed. */
static int open_sources(struct cmd_res *res, const struct cmd_args *args,
			struct report_run_options *ro)
{
	struct store_options sto = {0};

	res->location =
	    args->history != NULL ? xstrdup(args->history) : conf_history_location(res->conf);
	if (res->location == NULL) {
		fprintf(stderr, "authscore report: history is off (history none): nothing to "
				"report\n");
		return -1;
	}
	if ((res->schema = report_xml_schema_new(args->schema_path, &res->error)) == NULL) {
		fprintf(stderr, "authscore report: %s\n", res->error);
		return -1;
	}
	ro->schema = res->schema;
	sto.location = res->location;
	sto.spool_dir = res->conf->state_dir;
	sto.writer = 0;
	if ((res->store = store_open(&sto, &res->error)) == NULL) {
		fprintf(stderr, "authscore report: %s: %s\n", res->location, res->error);
		return -1;
	}
	if ((res->dns = runtime_dns_new(res->conf, &res->error)) == NULL) {
		fprintf(stderr, "authscore report: %s\n", res->error);
		return -1;
	}
	ro->dns = res->dns;
	return 0;
}

/* Reads the period's records into res->agg an hour at a time, so that the
 * records' arena stays small on busy days; -1 logged. */
static int aggregate_period(struct cmd_res *res, const struct report_run_options *ro)
{
	res->agg = report_agg_new();
	for (int64_t t = ro->begin; t < ro->end; t += HOUR) {
		struct arena *a = arena_new(64 * 1024);
		int64_t stop = t + HOUR < ro->end ? t + HOUR : ro->end;
		int e = store_each(res->store, t, stop, a, add_record, res->agg, &res->error);

		arena_free(&a);
		if (e < 0) {
			log_err("report: cannot read the history: %s",
				res->error ? res->error : "?");
			return -1;
		}
	}
	return 0;
}

static void cmd_close(struct cmd_res *res)
{
	report_agg_free(&res->agg);
	store_close(&res->store);
	dns_free(&res->dns);
	report_xml_schema_free(&res->schema);
	conf_free(&res->conf);
	free(res->location);
	free(res->failed_dir);
	free(res->error);
	free(res->smtp_user);
	if (res->smtp_password != NULL) {
		explicit_bzero(res->smtp_password, strlen(res->smtp_password));
		free(res->smtp_password);
	}
	if (res->curl_up)
		curl_global_cleanup();
}

int report_cmd_main(int argc, char **argv)
{
	struct cmd_args args = {0};
	struct cmd_res res = {0};
	struct report_run_options ro = {0};
	struct report_run_stats st;
	struct report_send_options so = {0};
	struct report_ledger ledger = {ledger_sent, ledger_mark, NULL};
	struct report_sender sender = {sender_send, &so};
	int rc;

	if ((rc = parse_args(argc, argv, &args, &ro)) >= 0)
		return rc;
	if ((rc = resolve_period(&args, &ro)) != 0)
		return rc;
	rc = 1;
	if (load_conf(&res, &args, &ro) < 0 || set_send_options(&res, &args, &ro, &so) < 0 ||
	    open_sources(&res, &args, &ro) < 0)
		goto out;
	ledger.arg = res.store;
	ro.ledger = &ledger;
	ro.sender = &sender;
	if (aggregate_period(&res, &ro) < 0)
		goto out;
	log_info("report: period %" PRId64 "..%" PRId64 ": %zu policy domain(s), %" PRIu64
		 " record(s) without a policy",
		 ro.begin, ro.end - 1, report_agg_domain_count(res.agg),
		 report_agg_skipped(res.agg));
	rc = report_run(&ro, res.agg, &st) != 0 ? 3 : 0;
	log_notice("report: %u domain(s): %u sent, %u written, %u already sent, %u without "
		   "destination, %u invalid, %u failed",
		   st.domains, st.sent, st.written, st.already_sent, st.no_destination, st.invalid,
		   st.failed);
out:
	cmd_close(&res);
	return rc;
}

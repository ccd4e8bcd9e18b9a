/*
 * history_cmd - the command lines of the tuning loop (doc/authscore.1):
 *
 *   authscore explain [-c CONFIG] [--history LOC] [--rules FILE] [--since DUR]
 *                     [--json] QUEUE-ID|MESSAGE-ID
 *   authscore replay  [-c CONFIG] [--history LOC] --rules NEW.rules
 *                     [--since DUR] [--domain D] [--sample N]
 *   authscore stats   [-c CONFIG] [--history LOC] [--rules FILE] [--since DUR]
 *                     [--domain D]
 *
 * DUR is N followed by s, m, h, d or w (default: explain every record,
 * replay 7d, stats 1d).  The store is the configuration's `history` (or
 * --history); the rules are the configuration's rules file, or the
 * built-in default rules, unless --rules names another.  Records are read
 * as stored lines (store_each_line), each decoded once in an arena of its
 * own, and handed to history.c.
 * Exit status: 0 done, 1 configuration, rules or store error (explain: no
 * such message), 2 usage.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "log.h"
#include "mem.h"
#include "record_facts.h"
#include "store.h"

enum history_verb { VERB_EXPLAIN, VERB_REPLAY, VERB_STATS };

static const struct {
	const char *name;
	enum history_verb verb;
	int64_t default_since; /* seconds; 0: every record */
	const char *usage;
} verbs[] = {
    {"explain", VERB_EXPLAIN, 0,
     "usage: authscore explain [-c CONFIG] [--history LOCATION] [--rules FILE] [--since DUR]\n"
     "                         [--json] QUEUE-ID|MESSAGE-ID\n"},
    {"replay", VERB_REPLAY, 7 * 86400,
     "usage: authscore replay [-c CONFIG] [--history LOCATION] --rules NEW.rules\n"
     "                        [--since DUR] [--domain D] [--sample N]\n"},
    {"stats", VERB_STATS, 86400,
     "usage: authscore stats [-c CONFIG] [--history LOCATION] [--rules FILE] [--since DUR]\n"
     "                       [--domain D]\n"},
};

/* "7d", "12h", "30m", "90s", "2w" or plain seconds. */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
	char *end;
	long long n = strtoll(s, &end, 10);

	if (end == s || n < 0 || n > 100LL * 365 * 86400)
		return -1;
	if (*end == '\0') {
		*out = n;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit && end[1] == '\0') {
			*out = n * units[i].seconds;
			return 0;
		}
	return -1;
}

struct run {
	enum history_verb verb;
	const char *id, *domain;
	int json;
	unsigned found;
	unsigned long bad;
	int plain_id; /* id can be looked for in the raw line */
	const struct history_rules *hr;
	struct history_replay *replay;
	struct history_stats *stats;
};

/* The id as given, or without/with its <> (Message-ID). */
static int id_matches(const char *stored, const char *id)
{
	size_t n = strlen(id);

	if (stored == NULL)
		return 0;
	if (strcmp(stored, id) == 0)
		return 1;
	if (stored[0] == '<' && strlen(stored) == n + 2 && strncmp(stored + 1, id, n) == 0 &&
	    stored[n + 1] == '>')
		return 1;
	return 0;
}

/* An id of plain ASCII is written as is in a stored line: a line without
 * it is skipped before it is decoded (explain over millions of records). */
static int plain_id(const char *id)
{
	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

static void explain_line(struct run *run, const char *line, size_t len)
{
	struct arena *a;
	struct history_record r;
	const char *why;

	if (run->plain_id && memmem(line, len, run->id, strlen(run->id)) == NULL)
		return;
	a = arena_new(32768);
	if (record_decode(line, len, a, &r, &why) < 0) {
		if (run->bad++ == 0)
			log_warn("history store: a stored record does not decode: %s", why);
	} else if (id_matches(r.queue_id, run->id) || id_matches(r.message_id, run->id)) {
		if (run->found++ > 0 && !run->json)
			printf("\n");
		history_explain(stdout, run->hr, &r, run->json);
	}
	arena_free(&a);
}

/* Each stored line parsed once, record and facts together (replay,
 * stats), in an arena of its own. */
static int each_line(const char *line, size_t len, void *arg)
{
	struct run *run = arg;
	struct arena *a;
	struct history_record r;
	struct facts f;
	const char *why;
	int rc;

	if (run->verb == VERB_EXPLAIN) {
		explain_line(run, line, len);
		return 0;
	}
	a = arena_new(32768);
	rc = record_facts_decode_line(line, len, a, &r, &f, &why);

	if (rc < 0) {
		if (run->bad++ == 0)
			log_warn("history store: a stored record does not decode: %s", why);
	} else if (run->domain == NULL || history_domain_match(&r, run->domain)) {
		if (run->verb == VERB_REPLAY)
			history_replay_add(run->replay, &r, rc == 0 ? &f : NULL);
		else
			history_stats_add(run->stats, &r, rc == 0 ? &f : NULL);
	}
	arena_free(&a);
	return 0;
}

static struct ruleset *load_rules(const char *path, char **error_r)
{
	return path != NULL ? rules_load(path, error_r)
			    : rules_parse("(built-in default rules)", rules_default_text, error_r);
}

/* What the command line asked for beside what goes into struct run; the
 * strings point into argv. */
struct cmd_args {
	const char *config_path, *history, *rules_path;
	size_t sample;
	int64_t since; /* seconds back from now; 0: every record */
};

/* Everything history_cmd_main() opens, closed by cmd_close() whichever
 * step failed. */
struct cmd_res {
	struct store *store;
	struct ruleset *rs;
	struct conf *conf;
	char *error, *location;
};

/* --sample N; 0, or -1 with the message printed. */
static int parse_sample(const char *verb, const char *arg, size_t *sample_r)
{
	char *end;

	*sample_r = (size_t)strtoul(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end != '\0' || *sample_r > 1000000) {
		fprintf(stderr, "authscore %s: --sample %s: not a number of messages\n", verb, arg);
		return -1;
	}
	return 0;
}

/* The options of verbs[v]; -1 to go on, else the exit status (0 for
 * --help, 2 for a usage error, its message printed). */
static int parse_args(int argc, char **argv, size_t v, struct cmd_args *args, struct run *run)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"history", required_argument, NULL, 'H'},
	    {"rules", required_argument, NULL, 'r'},
	    {"since", required_argument, NULL, 's'},
	    {"domain", required_argument, NULL, 'd'},
	    {"sample", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *since_s = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			args->config_path = optarg;
			break;
		case 'H':
			args->history = optarg;
			break;
		case 'r':
			args->rules_path = optarg;
			break;
		case 's':
			since_s = optarg;
			break;
		case 'd':
			run->domain = optarg;
			break;
		case 'n':
			if (parse_sample(verbs[v].name, optarg, &args->sample) < 0)
				return 2;
			break;
		case 'j':
			run->json = 1;
			break;
		case 'h':
			fputs(verbs[v].usage, stdout);
			return 0;
		default:
			fputs(verbs[v].usage, stderr);
			return 2;
		}
	}
	if ((run->verb == VERB_EXPLAIN) != (optind + 1 == argc) ||
	    (run->verb != VERB_EXPLAIN && optind != argc) ||
	    (run->verb == VERB_REPLAY && args->rules_path == NULL) ||
	    (run->json && run->verb != VERB_EXPLAIN) ||
	    (run->domain && run->verb == VERB_EXPLAIN)) {
		fputs(verbs[v].usage, stderr);
		return 2;
	}
	if (since_s != NULL && parse_duration(since_s, &args->since) < 0) {
		fprintf(stderr, "authscore %s: --since %s: not a duration (7d, 12h, 30m...)\n",
			verbs[v].name, since_s);
		return 2;
	}
	if (run->verb == VERB_EXPLAIN) {
		run->id = argv[optind];
		run->plain_id = plain_id(run->id);
	}
	return -1;
}

/* The configuration, the rules (into hr) and the store; -1 with the
 * message printed. */
static int open_history(struct cmd_res *res, struct cmd_args *args, const char *verb,
			struct history_rules *hr)
{
	struct store_options so = {0};
	const char *config_path = args->config_path;

	res->conf = conf_load(config_path ? config_path : CONF_DEFAULT_PATH, config_path != NULL,
			      &res->error);
	if (res->conf == NULL) {
		fprintf(stderr, "authscore %s: %s\n", verb, res->error);
		return -1;
	}
	log_init("authscore", 1);
	log_set_level(LOG_LEVEL_WARN);
	/* replay compares with the new file; explain and stats use the current one */
	if (args->rules_path == NULL)
		args->rules_path = res->conf->rules_path;
	if ((res->rs = load_rules(args->rules_path, &res->error)) == NULL) {
		fprintf(stderr, "%s\n", res->error);
		return -1;
	}
	hr->conf = res->conf;
	hr->rs = res->rs;
	hr->name = args->rules_path != NULL ? args->rules_path : "the built-in default rules";
	res->location =
	    args->history != NULL ? xstrdup(args->history) : conf_history_location(res->conf);
	if (res->location == NULL) {
		fprintf(stderr, "authscore %s: history is off (history none): no stored facts\n",
			verb);
		return -1;
	}
	so.location = res->location;
	so.spool_dir = res->conf->state_dir;
	if ((res->store = store_open(&so, &res->error)) == NULL) {
		fprintf(stderr, "authscore %s: %s: %s\n", verb, res->location, res->error);
		return -1;
	}
	return 0;
}

/* After the records are read: explain's "not found" (exit status 1), or
 * the replay's or the stats' tables. */
static int finish(const struct run *run, int64_t since)
{
	int rc = 0;

	if (run->verb == VERB_EXPLAIN && run->found == 0) {
		fprintf(stderr,
			"authscore explain: no stored message with queue id or Message-ID %s%s\n",
			run->id, since > 0 ? " in that period" : "");
		rc = 1;
	}
	if (run->replay != NULL)
		history_replay_print(run->replay, stdout);
	if (run->stats != NULL)
		history_stats_print(run->stats, stdout);
	return rc;
}

static void cmd_close(struct cmd_res *res, struct run *run)
{
	history_replay_free(&run->replay);
	history_stats_free(&run->stats);
	store_close(&res->store);
	rules_free(&res->rs);
	conf_free(&res->conf);
	free(res->location);
	free(res->error);
}

int history_cmd_main(int argc, char **argv)
{
	struct cmd_args args = {.sample = 20};
	struct cmd_res res = {0};
	struct run run = {0};
	struct history_rules hr = {0};
	int64_t now = (int64_t)time(NULL), begin;
	size_t v;
	int rc = 1;

	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(argv[0], verbs[v].name) == 0)
			break;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return 2;
	run.verb = verbs[v].verb;
	args.since = verbs[v].default_since;
	if ((rc = parse_args(argc, argv, v, &args, &run)) >= 0)
		return rc;
	begin = args.since > 0 ? now - args.since : INT64_MIN;
	rc = 1;
	if (open_history(&res, &args, verbs[v].name, &hr) < 0)
		goto out;
	run.hr = &hr;
	if (run.verb == VERB_REPLAY)
		run.replay = history_replay_new(&hr, args.sample);
	if (run.verb == VERB_STATS)
		run.stats = history_stats_new(&hr);
	if (store_each_line(res.store, begin, INT64_MAX, each_line, &run, &res.error) < 0) {
		fprintf(stderr, "authscore %s: cannot read the history: %s\n", verbs[v].name,
			res.error ? res.error : "?");
		goto out;
	}
	rc = finish(&run, args.since);
out:
	cmd_close(&res, &run);
	return rc;
}

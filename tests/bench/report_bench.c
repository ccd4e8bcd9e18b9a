/*
 * report_bench - DMARC aggregate reports from a large history: N records
 * (default 1,000,000) of one day, over 1,000 policy domains and 20,000
 * source addresses, written to an SQLite store, then `authscore report
 * --dry-run` over that day (aggregation, XML, schema validation, gzip, one
 * file per domain) as a child process, timed, with its peak memory.  The
 * baseline, in the same run: one store_each over the same records, the
 * reading alone.
 *
 *   report_bench AUTHSCORE [N]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "bench.h"

#define DAY 86400
#define BEGIN 1767225600 /* 2026-01-01T00:00:00Z */

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000000, seen = 0;
	char dir[] = "/tmp/authscore-report-bench.XXXXXX", location[256], cmd[1024], conf[256];
	struct store_options so = {.location = location, .writer = 1};
	struct store *s;
	char *error = NULL;
	double t0, t_seed, t_read, t_report;
	struct rusage ru;
	FILE *f;
	int status;
	pid_t pid;

	if (argc < 2 || n <= 0 || mkdtemp(dir) == NULL) {
		fprintf(stderr, "usage: report_bench AUTHSCORE [N]\n");
		return 1;
	}
	log_init("report_bench", 1);
	log_set_level(LOG_LEVEL_WARN);
	snprintf(location, sizeof(location), "sqlite:%s/history.db", dir);
	so.spool_dir = dir;
	so.queue_max = 100000;
	if ((s = store_open(&so, &error)) == NULL) {
		fprintf(stderr, "report_bench: %s\n", error);
		return 1;
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		char ip[32], domain[64], rua[96], uid[32];
		struct history_record r = {0};
		struct store_stats st;

		snprintf(ip, sizeof(ip), "198.51.%ld.%ld", (i / 250) % 80, i % 250 + 1);
		snprintf(domain, sizeof(domain), "d%ld.example", i % 1000);
		snprintf(rua, sizeof(rua), "mailto:dmarc@d%ld.example", i % 1000);
		snprintf(uid, sizeof(uid), "bench-%ld", i);
		r.uid = uid;
		r.time = BEGIN + (int64_t)(i % DAY);
		r.client_ip = ip;
		r.helo = "mx.sender.example";
		r.mail_from = "bounce@sender.example";
		r.header_from = domain;
		r.spf_domain = i % 3 ? domain : "sender.example";
		r.spf_scope = "mfrom";
		r.spf_result = i % 7 ? "pass" : "fail";
		r.dkim[0] = (struct record_dkim){domain, "sel", i % 5 ? "pass" : "fail"};
		r.dkim_count = 1;
		r.dmarc_result = i % 11 ? "pass" : "fail";
		r.policy_domain = domain;
		r.p = "reject";
		r.discovery = "treewalk";
		r.rua = rua;
		r.dkim_aligned = i % 5 != 0;
		r.spf_aligned = i % 3 != 0;
		r.disposition = i % 11 ? "none" : "reject";
		r.rules = "";
		r.action = i % 11 ? "accept" : "reject";
		store_append(s, &r);
		store_stats(s, &st);
		while (st.queue_depth > 90000) { /* a sustained rate, not a spill to the spool */
			usleep(1000);
			store_stats(s, &st);
		}
	}
	store_close(&s);
	t_seed = now_s() - t0;

	so.writer = 0;
	if ((s = store_open(&so, &error)) == NULL) {
		fprintf(stderr, "report_bench: %s\n", error);
		return 1;
	}
	t0 = now_s();
	if (store_each(s, BEGIN, BEGIN + DAY, NULL, count_one, &seen, &error) < 0) {
		fprintf(stderr, "report_bench: %s\n", error);
		return 1;
	}
	t_read = now_s() - t0;
	store_close(&s);

	snprintf(conf, sizeof(conf), "%s/authscore.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return 1;
	fprintf(f, "state-dir %s\nreport-email dmarc@mx.example\nlog-to stderr\n"
		   "log-level warning\n", dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/reports", dir);
	t0 = now_s();
	if ((pid = fork()) == 0) {
		execl(argv[1], argv[1], "report", "-c", conf, "--period", "2026-01-01", "--dry-run",
		      cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "report_bench: authscore report failed (status %d)\n", status);
		return 1;
	}
	t_report = now_s() - t0;
	printf("history: %ld records of one day, 1000 policy domains, 20000 source addresses\n", n);
	printf("  seeding through the writer into SQLite:  %6.1f s\n", t_seed);
	printf("  baseline: store_each over the day:       %6.1f s (%ld records)\n", t_read, seen);
	printf("  authscore report --dry-run over the day: %6.1f s, %.2fx the baseline, "
	       "peak memory %ld MB, 1000 reports validated and gzipped\n",
	       t_report, t_report / t_read, ru.ru_maxrss / 1024);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}

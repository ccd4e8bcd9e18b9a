/*
 * replay_bench - `authscore replay` and `authscore stats` over a large
 * history: N records (default 1,000,000) of the last day, each with the
 * full stored facts a daemon writes (five DNS lists, two DKIM signatures,
 * DMARC, iprev, GeoIP, the default rules' hits), written to an SQLite store
 * through the writer; then, timed as child processes, `authscore replay
 * --rules RULES --since 2d`, `authscore stats --since 2d` and `authscore
 * explain` of one queue id (a scan of every record).  The
 * baseline, in the same run: one store_each over the same records (reading
 * and decoding them, no scoring).
 *
 *   replay_bench AUTHSCORE RULES [N]
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
#include "record.h"
#include "rules.h"
#include "store.h"
#include "verdict.h"
#include "bench.h"

static struct dnsbl_list lists[] = {
    {.zone = "zen.spamhaus.org"},
    {.zone = "bl.spamcop.net"},
    {.zone = "b.barracudacentral.org"},
    {.zone = "list.dnswl.org", .allow = 1},
    {.zone = "dbl.spamhaus.org", .kind = DNSBL_KIND_DOMAIN},
};

/* The facts of message i: 1 in 50 on ZEN, 1 in 7 SPF fail, 1 in 11 DMARC
 * fail, 1 in 200 blocked by ZEN, 1 in 5 on DNSWL. */
static void bench_facts(long i, struct facts *f, struct dnsbl_result *ip, struct domain_listing *dl,
			struct dkim_sig *sig, char *domain, char *qid, char *mid)
{
	static const char *rcpts[] = {"user@mx.example"};

	memset(f, 0, sizeof(*f));
	snprintf(f->client_ip, sizeof(f->client_ip), "198.51.%ld.%ld", (i / 250) % 80, i % 250 + 1);
	addr_parse(f->client_ip, &f->client);
	snprintf(domain, 64, "d%ld.example", i % 1000);
	snprintf(qid, 32, "Q%08lX", i);
	snprintf(mid, 96, "<%ld@%s>", i, domain);
	f->client_host = "mail.sender.example";
	f->helo = "mail.sender.example";
	f->tls_version = "TLSv1.3";
	for (int k = 0; k < 4; k++)
		ip[k] = (struct dnsbl_result){.list = &lists[k],
					      .zone = lists[k].zone,
					      .subject = f->client_ip,
					      .status = DNSBL_NOT_LISTED,
					      .ms = (unsigned)(3 + i % 40)};
	if (i % 50 == 0) {
		ip[0].status = DNSBL_LISTED;
		ip[0].codes[0] = 0x7f000002;
		ip[0].code_count = 1;
	} else if (i % 200 == 1) {
		ip[0].status = DNSBL_BLOCKED;
		ip[0].codes[0] = 0x7ffffffe;
		ip[0].code_count = 1;
		ip[0].reason = "the list refused the query";
	}
	if (i % 5 == 0) {
		ip[3].status = DNSBL_LISTED;
		ip[3].codes[0] = 0x7f000a02;
		ip[3].code_count = 1;
	}
	f->ip_lists = ip;
	f->ip_list_count = 4;
	dl[0] = (struct domain_listing){
	    IDENT_FROM, {.list = &lists[4], .zone = lists[4].zone, .subject = domain, .ms = 5}};
	f->domain_lists = dl;
	f->domain_list_count = 1;
	f->iprev = (struct iprev_outcome){.result = i % 9 ? IPREV_PASS : IPREV_PERMERROR,
					  .name = "mail.sender.example"};
	memcpy(f->geoip.country, "DE", 3);
	f->geoip.asn = 64496;
	f->queue_id = qid;
	f->message_id = mid;
	f->mail_from = "bounce@sender.example";
	f->mail_from_domain = "sender.example";
	f->rcpt_count = 1;
	f->rcpts = rcpts;
	f->header_bytes = 2400;
	f->body_bytes = 18000;
	f->header_count = 22;
	f->spf_mfrom = (struct spf_outcome){.result = i % 7 ? SPF_PASS : SPF_FAIL,
					    .scope = SPF_SCOPE_MFROM,
					    .domain = "sender.example",
					    .dns_queries = 2};
	f->spf_helo = (struct spf_outcome){.result = SPF_NONE, .scope = SPF_SCOPE_HELO};
	f->from_fields = 1;
	f->from_domain = domain;
	sig[0] = (struct dkim_sig){
	    i % 11 ? DKIM_PASS : DKIM_FAIL, domain, "s1", "rsa-sha256", "abcdefgh", NULL, 2048};
	sig[1] = (struct dkim_sig){DKIM_PASS,  "esp.example", "k1", "ed25519-sha256",
				   "ijklmnop", NULL,	      256};
	f->dkim.sig = sig;
	f->dkim.count = 2;
	f->dmarc_record =
	    (struct dmarc_record){.found = 1,
				  .record_domain = domain,
				  .org_domain = domain,
				  .p = DMARC_POLICY_QUARANTINE,
				  .psd = -1,
				  .rua = "mailto:dmarc@example.net",
				  .raw = "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.net",
				  .domain_exists = 1,
				  .queries = 2};
	f->dmarc = (struct dmarc_outcome){.result = i % 11 ? DMARC_PASS : DMARC_FAIL,
					  .header_from = domain,
					  .policy = DMARC_POLICY_QUARANTINE,
					  .published = DMARC_POLICY_QUARANTINE,
					  .dkim_aligned = i % 11 != 0,
					  .dkim_aligned_domain = i % 11 ? domain : NULL};
}

static int run(char *const argv[], double *secs, long *maxrss_mb)
{
	struct rusage ru;
	double t0 = now_s();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "replay_bench: %s %s failed (status %d)\n", argv[0], argv[1],
			status);
		return -1;
	}
	*secs = now_s() - t0;
	*maxrss_mb = ru.ru_maxrss / 1024;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 3 ? atol(argv[3]) : 1000000, seen = 0, rss_replay, rss_stats, rss_explain;
	char dir[] = "/tmp/authscore-replay-bench.XXXXXX", location[256], conf[256], cmd[512];
	struct store_options so = {.location = location, .writer = 1};
	struct ruleset *rs;
	struct conf *cf;
	struct store *s;
	struct arena *a;
	char *error = NULL;
	double t0, t_seed, t_read, t_replay, t_stats, t_explain;
	int64_t now = (int64_t)time(NULL);
	FILE *f;

	if (argc < 3 || n <= 0 || mkdtemp(dir) == NULL) {
		fprintf(stderr, "usage: replay_bench AUTHSCORE RULES [N]\n");
		return 1;
	}
	log_init("replay_bench", 1);
	log_set_level(LOG_LEVEL_WARN);
	if ((cf = conf_parse("replay_bench", "", &error)) == NULL ||
	    (rs = rules_load(argv[2], &error)) == NULL) {
		fprintf(stderr, "replay_bench: %s\n", error);
		return 1;
	}
	snprintf(location, sizeof(location), "sqlite:%s/history.db", dir);
	so.spool_dir = dir;
	so.queue_max = 100000;
	if ((s = store_open(&so, &error)) == NULL) {
		fprintf(stderr, "replay_bench: %s\n", error);
		return 1;
	}
	t0 = now_s();
	a = arena_new(65536);
	for (long i = 0; i < n; i++) {
		struct facts fa;
		struct dnsbl_result ip[4];
		struct domain_listing dl[1];
		struct dkim_sig sig[2];
		char domain[64], qid[32], mid[96];
		struct rules_verdict rv;
		struct verdict v;
		struct history_record r;
		struct store_stats st;

		bench_facts(i, &fa, ip, dl, sig, domain, qid, mid);
		rules_evaluate(rs, &fa, a, &rv);
		fa.score = rv.score;
		fa.rules_hit = rv.hits;
		fa.rules_hit_count = rv.hit_count;
		fa.monitors_hit = rv.monitors;
		fa.monitors_hit_count = rv.monitor_count;
		verdict_decide(cf, &fa, &rv, a, &v);
		record_from_facts(&fa, &v, now - 3600 - i % 80000, a, &r);
		store_append(s, &r);
		if (i % 1000 == 999) {
			arena_free(&a);
			a = arena_new(65536);
		}
		store_stats(s, &st);
		while (st.queue_depth > 90000) { /* a sustained rate, not a spill to the spool */
			usleep(1000);
			store_stats(s, &st);
		}
	}
	arena_free(&a);
	store_close(&s);
	t_seed = now_s() - t0;

	so.writer = 0;
	if ((s = store_open(&so, &error)) == NULL) {
		fprintf(stderr, "replay_bench: %s\n", error);
		return 1;
	}
	t0 = now_s();
	if (store_each(s, now - 2 * 86400, INT64_MAX, NULL, count_one, &seen, &error) < 0) {
		fprintf(stderr, "replay_bench: %s\n", error);
		return 1;
	}
	t_read = now_s() - t0;
	store_close(&s);

	snprintf(conf, sizeof(conf), "%s/authscore.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return 1;
	fprintf(f, "state-dir %s\nlog-to stderr\nlog-level warning\nrules %s\n", dir, argv[2]);
	fclose(f);
	{
		char *replay[] = {argv[1], "replay",  "-c", conf, "--rules",
				  argv[2], "--since", "2d", NULL};
		char *stats[] = {argv[1], "stats", "-c", conf, "--since", "2d", NULL};

		char qid[32];
		char *explain[] = {argv[1], "explain", "-c", conf, qid, NULL};

		snprintf(qid, sizeof(qid), "Q%08lX", n / 2);
		if (run(replay, &t_replay, &rss_replay) < 0 ||
		    run(stats, &t_stats, &rss_stats) < 0 ||
		    run(explain, &t_explain, &rss_explain) < 0)
			return 1;
	}
	printf("history: %ld records of the last day with full stored facts, %s\n", n, argv[2]);
	printf("  seeding through the writer into SQLite: %6.1f s\n", t_seed);
	printf("  baseline: store_each over them:         %6.1f s (%ld records, decoded)\n", t_read,
	       seen);
	printf("  authscore replay --rules ... --since 2d: %6.1f s, %.2fx the baseline, peak "
	       "memory %ld MB\n",
	       t_replay, t_replay / t_read, rss_replay);
	printf("  authscore stats --since 2d:             %6.1f s, %.2fx the baseline, peak "
	       "memory %ld MB\n",
	       t_stats, t_stats / t_read, rss_stats);
	printf("  authscore explain QUEUE-ID (every record): %4.1f s, %.2fx the baseline, peak "
	       "memory %ld MB\n",
	       t_explain, t_explain / t_read, rss_explain);
	rules_free(&rs);
	conf_free(&cf);
	snprintf(cmd, sizeof(cmd), getenv("REPLAY_BENCH_KEEP") ? "echo kept %s" : "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}

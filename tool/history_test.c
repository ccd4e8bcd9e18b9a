/*
 * history_test - the tuning loop's logic without a store: stored facts
 * decoded back (a round trip through record_from_facts that fails when a
 * fact is encoded but not decoded), a strict decoder, a replay that flips
 * exactly the messages it should, header rules not replayable, explain's
 * words and the stats' numbers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "history.h"
#include "ratelimit.h"
#include "record.h"
#include "record_facts.h"
#include "record_int.h"
#include "rules.h"
#include "verdict.h"

static struct dnsbl_list zen = {.zone = "zen.spamhaus.org"};
static struct dnsbl_list wl = {.zone = "list.dnswl.org", .allow = 1};

/* One message's facts: listed on ZEN or not, SPF softfail or pass. */
static void sample_facts(struct facts *f, const char *qid, int listed, int softfail,
			 const char *odd)
{
	static struct dnsbl_result ip_lists[2];
	static struct domain_listing domain_lists[1];
	static struct dkim_sig sigs[2];
	static const char *rcpts[] = {"a@example.net", "b@example.net", NULL};

	memset(f, 0, sizeof(*f));
	addr_parse("203.0.113.10", &f->client);
	snprintf(f->client_ip, sizeof(f->client_ip), "203.0.113.10");
	f->client_host = "mx.example.com";
	f->helo = odd;
	f->tls_version = "TLSv1.3";
	ip_lists[0] = (struct dnsbl_result){.list = &zen,
					    .zone = "zen.spamhaus.org",
					    .subject = "203.0.113.10",
					    .status = listed ? DNSBL_LISTED : DNSBL_NOT_LISTED,
					    .codes = {0x7f000002, 0x7f00000a},
					    .code_count = listed ? 2 : 0,
					    .ms = 12};
	ip_lists[1] =
	    (struct dnsbl_result){.list = &wl,
				  .zone = "list.dnswl.org",
				  .subject = "203.0.113.10",
				  .status = listed ? DNSBL_BLOCKED : DNSBL_ERROR,
				  .codes = {0x7f0000ff},
				  .code_count = listed ? 1 : 0,
				  .ms = 2000,
				  .reason = listed ? "the list refused the query" : "timeout"};
	f->ip_lists = ip_lists;
	f->ip_list_count = 2;
	domain_lists[0] = (struct domain_listing){.identity = IDENT_FROM,
						  .r = {.zone = "dbl.spamhaus.org",
							.subject = "example.com",
							.status = DNSBL_NOT_LISTED}};
	f->domain_lists = domain_lists;
	f->domain_list_count = 1;
	f->iprev = (struct iprev_outcome){.result = IPREV_FAIL, .name = "host.example.com"};
	memcpy(f->geoip.country, "DE", 3);
	f->geoip.asn = 64496;
	f->geoip.asn_org = odd;
	f->queue_id = qid;
	f->mail_from = "u@example.com";
	f->mail_from_domain = "example.com";
	f->rcpt_count = 2;
	f->rcpts = rcpts;
	f->message_id = "<id@example.com>";
	f->header_bytes = 1234;
	f->body_bytes = 56789;
	f->header_count = 17;
	f->spf_mfrom = (struct spf_outcome){.result = softfail ? SPF_SOFTFAIL : SPF_PASS,
					    .scope = SPF_SCOPE_MFROM,
					    .domain = "example.com",
					    .reason = odd,
					    .dns_queries = 3};
	f->spf_helo = (struct spf_outcome){.result = SPF_NONE, .scope = SPF_SCOPE_HELO};
	f->from_fields = 1;
	f->from_domain = "example.com";
	sigs[0] = (struct dkim_sig){.result = DKIM_PASS,
				    .domain = "example.com",
				    .selector = "s1",
				    .algorithm = "rsa-sha256",
				    .key_bits = 2048};
	sigs[1] = (struct dkim_sig){
	    .result = DKIM_FAIL, .domain = odd, .selector = odd, .reason = "body hash"};
	f->dkim.sig = sigs;
	f->dkim.count = 2;
	f->dkim.skipped = 1;
	f->dmarc_record = (struct dmarc_record){.found = 1,
						.record_domain = "example.com",
						.org_domain = "example.com",
						.p = DMARC_POLICY_NONE,
						.np = DMARC_POLICY_QUARANTINE,
						.aspf_strict = 1,
						.psd = -1,
						.rua = "mailto:d@example.com",
						.raw = "v=DMARC1; p=none",
						.domain_exists = 1,
						.queries = 2};
	f->dmarc = (struct dmarc_outcome){.result = DMARC_PASS,
					  .header_from = "example.com",
					  .policy = DMARC_POLICY_NONE,
					  .published = DMARC_POLICY_NONE,
					  .dkim_aligned = 1,
					  .dkim_aligned_domain = "example.com",
					  .reason = "DKIM d=example.com aligned"};
}

/* What the daemon does at end of message: rules, verdict, record. */
static void daemon_record(struct facts *f, const struct conf *conf, const struct ruleset *rs,
			  struct arena *a, struct history_record *r)
{
	struct rules_verdict rv;
	struct verdict v;

	rules_evaluate(rs, f, a, &rv);
	f->score = rv.score;
	f->rules_hit = rv.hits;
	f->rules_hit_count = rv.hit_count;
	f->monitors_hit = rv.monitors;
	f->monitors_hit_count = rv.monitor_count;
	verdict_decide(conf, f, &rv, a, &v);
	record_from_facts(f, &v, 1767225600, a, r);
}

static const char odd[] = "odd \"quote\" \\ tab\t nl\n \xff\xfe caf\xc3\xa9";

static void test_round_trip(void)
{
	struct arena *a = arena_new(4096);
	struct facts f, g;
	struct history_record r, r2;
	const char *error = "x";
	struct verdict v = {.action = VERDICT_TAG};
	static const char *hits[] = {"A", "B"}, *mon[] = {"M"};
	int rc;

	sample_facts(&f, "4XyZ1", 1, 1, odd);
	f.score = 9.5;
	f.rules_hit = hits;
	f.rules_hit_count = 2;
	f.monitors_hit = mon;
	f.monitors_hit_count = 1;
	f.from_error = "two From fields";
	f.dmarc_override = "trusted_forwarder";
	f.auth_user = "someone";
	/* every optional string set, so that a key the decoder misses shows */
	f.skipped = "trusted network";
	f.iprev.reason = "no PTR";
	f.spf_mfrom.explanation = "see https://example.com/spf";
	f.dkim.sig[1].algorithm = "ed25519-sha256";
	f.dkim.sig[1].b8 = "abcdefgh";
	f.dmarc_record.invalid = "bad p=";
	f.dmarc_record.why = "two records";
	f.ip_lists[0].reason = "a reason";
	f.ratelimit = RATELIMIT_BIT(RATELIMIT_IP) | RATELIMIT_BIT(RATELIMIT_USER);
	{
		static const struct arc_set sets[2] = {
		    {.instance = 1, .seal_domain = "list.example", .seal_selector = "s1",
		     .cv = "none", .ams_domain = "list.example", .ams_valid = 0, .aar = "not stored"},
		    {.instance = 2, .seal_domain = "fwd.example", .seal_selector = "s2",
		     .cv = "pass", .ams_domain = "fwd.example", .ams_valid = 1}};

		f.arc = (struct arc_outcome){.result = ARC_PASS, .reason = "why", .sets = sets,
					     .set_count = 2, .oldest_pass = 2};
		f.arc_override_by = "fwd.example";
		f.arc_override_why = "dmarc=pass";
	}
	record_from_facts(&f, &v, 1, a, &r);
	rc = record_facts_decode(r.facts_json, strlen(r.facts_json), a, &g, &error);
	CHECK(rc == 0, "the facts record_from_facts wrote decode (%s)", error ? error : "ok");
	/* every fact the encoder writes comes back: re-encoding gives the same text */
	record_from_facts(&g, &v, 1, a, &r2);
	CHECK(strcmp(r.facts_json, r2.facts_json) == 0, "decode then encode gives the same facts");
	if (strcmp(r.facts_json, r2.facts_json) != 0)
		printf("# %s\n# %s\n", r.facts_json, r2.facts_json);
	CHECK(g.client.family == AF_INET, "the client address is parsed back");
	CHECK(g.ip_lists[0].code_count == 2 && g.ip_lists[0].codes[1] == 0x7f00000a,
	      "DNS list codes come back in host order");
	CHECK(g.ip_lists[1].list != NULL && g.ip_lists[1].list->allow == 1 &&
		  strcmp(g.ip_lists[1].list->zone, "list.dnswl.org") == 0,
	      "an allow-list is still one, with its zone");
	CHECK(g.rcpts[0] != NULL && g.rcpts[2] == NULL && g.rcpts[FACTS_MAX_RCPTS - 1] == NULL,
	      "recipients: an array rules can read up to FACTS_MAX_RCPTS");
	CHECK(g.headers == NULL && g.header_count == 17, "no header contents, the count kept");
	CHECK(strcmp(g.helo, odd) == 0, "bytes that are not UTF-8 round-trip");
	CHECK(g.ratelimit == f.ratelimit, "the rate limits exceeded come back");
	CHECK(g.arc.result == ARC_PASS && g.arc.set_count == 2 && g.arc.sets[1].instance == 2 &&
		  strcmp(g.arc.sets[1].seal_domain, "fwd.example") == 0 &&
		  strcmp(g.arc_override_by, "fwd.example") == 0 && g.arc.sets[0].aar == NULL,
	      "the ARC chain, its sealers and the override come back (not the AAR texts)");
	arena_free(&a);
}

static void test_malformed(void)
{
	static const struct {
		const char *json;
		int ok;
		const char *what;
	} cases[] = {
	    {"{}", 1, "an empty object is facts with nothing known"},
	    {"{\"future_fact\":{\"x\":[1,2]},\"helo\":\"h\"}", 1, "unknown members are skipped"},
	    {"{\"helo\":1}", 0, "a string fact that is a number"},
	    {"{\"spf_mfrom\":{\"result\":\"maybe\"}}", 0, "an unknown result name"},
	    {"{\"spf_mfrom\":\"pass\"}", 0, "a nested fact that is not an object"},
	    {"{\"ratelimit\":[\"ip\",\"ip\"]}", 0, "a rate limit named twice"},
	    {"{\"ratelimit\":[\"cpu\"]}", 0, "an unknown rate limit"},
	    {"{\"ratelimit\":[\"ip\",\"sender\",\"user\",\"x\"]}", 0, "more rate limits than exist"},
	    {"{\"helo\":\"a\",\"helo\":\"b\"}", 0, "a duplicate member"},
	    {"{\"truncated\":1}", 0, "facts truncated at record time"},
	    {"{\"ip_lists\":[{\"codes\":[\"127.0.0.256\"]}]}", 0, "a code that is not an address"},
	    {"{\"ip_lists\":[{\"codes\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}]}",
	     0, "more than 8 codes"},
	    {"{\"dmarc_record\":{\"psd\":2}}", 0, "a flag out of range"},
	    {"{\"rcpt_count\":-1}", 0, "a negative count"},
	    {"{\"rcpts\":[\"a\",2]}", 0, "a recipient that is not a string"},
	    {"{\"client_ip\":\"not an address\"}", 0, "a client_ip that does not parse"},
	    {"{\"client_ip\":\"1234567890123456789012345678901234567890123456\"}", 0,
	     "a client_ip longer than any address"},
	    {"{\"geoip\":{\"country\":\"DEU\"}}", 0, "a country of three letters"},
	    {"{\"score\":\"9\"}", 0, "a score that is a string"},
	    {"[]", 0, "not an object"},
	    {"{\"dkim\":[1]}", 0, "a signature that is not an object"},
	    {"{\"arc\":{\"result\":\"maybe\"}}", 0, "an unknown ARC result"},
	    {"{\"arc\":{\"sets\":[{\"ams_valid\":2}]}}", 0, "an ARC flag out of range"},
	    {"{\"arc\":{\"result\":\"pass\",\"sets\":[{\"seal_domain\":\"x\"}]}}", 1,
	     "an ARC chain"},
	};
	struct arena *a = arena_new(4096);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct facts f;
		const char *error = NULL;
		int rc = record_facts_decode(cases[i].json, strlen(cases[i].json), a, &f, &error);

		CHECK((rc == 0) == cases[i].ok && (rc == 0 || error != NULL), "%s: %s",
		      cases[i].what, rc == 0 ? "decoded" : error);
	}
	{
		/* 65 lists: over the cap */
		char buf[4096] = "{\"ip_lists\":[";
		struct facts f;
		const char *error = NULL;

		for (int i = 0; i < RECORD_FACTS_MAX_LISTS + 1; i++)
			strcat(buf, i ? ",{}" : "{}");
		strcat(buf, "]}");
		CHECK(record_facts_decode(buf, strlen(buf), a, &f, &error) < 0,
		      "more than %d lists is refused", RECORD_FACTS_MAX_LISTS);
	}
	arena_free(&a);
}

static const char rules_a[] =
    "actions { tag 5; quarantine 10; reject 15 }\n"
    "rule SOFT  spf == softfail  score 3  \"SPF soft fail\"\n"
    "rule ZEN   dnsbl(zen.spamhaus.org) in 127.0.0.2-127.0.0.11  score 6  \"listed on ZEN\"\n"
    "rule NOHDR header(X-Nothing) !~ /never/  score 1  \"reads headers\"\n"
    "rule USES  NOHDR and ZEN  score 0.5\n"
    "monitor rule GEO geoip.country == DE  score 1\n";
/* ZEN raised to 12: SOFT + ZEN = 15 rejects, ZEN alone (12) quarantines */
static const char rules_b[] =
    "actions { tag 5; quarantine 10; reject 15 }\n"
    "rule SOFT  spf == softfail  score 3  \"SPF soft fail\"\n"
    "rule ZEN   dnsbl(zen.spamhaus.org) in 127.0.0.2-127.0.0.11  score 12  \"listed on ZEN\"\n"
    "monitor rule ODD helo == h  score 1  \"caf\xe9 \\\"quoted\\\" \xff\"\n"
    "rule NOHDR header(X-Nothing) !~ /never/  score 1  \"reads headers\"\n"
    "rule USES  NOHDR and ZEN  score 0.5\n"
    "monitor rule GEO geoip.country == DE  score 1\n";

static char *capture(void (*fn)(void *, FILE *), void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	fn(arg, out);
	fclose(out);
	return text;
}

static void print_replay(void *rp, FILE *out)
{
	history_replay_print(rp, out);
}

static void print_stats(void *st, FILE *out)
{
	history_stats_print(st, out);
}

struct explain_arg {
	const struct history_rules *hr;
	const struct history_record *r;
	int json;
};

static void print_explain(void *arg, FILE *out)
{
	struct explain_arg *e = arg;

	history_explain(out, e->hr, e->r, e->json);
}

static void test_replay_stats_explain(void)
{
	char *error = NULL, *text;
	struct conf *conf = conf_parse("test", "", &error);
	struct ruleset *a_rs = rules_parse("a.rules", rules_a, &error);
	struct ruleset *b_rs = rules_parse("b.rules", rules_b, &error);
	struct history_rules ha = {conf, a_rs, "a.rules"}, hb = {conf, b_rs, "b.rules"};
	struct history_replay *rp = history_replay_new(&hb, 10);
	struct history_stats *st = history_stats_new(&ha);
	struct history_replay_counts c;
	struct arena *ar = arena_new(4096);
	struct history_record recs[4];
	/* qid, listed, softfail: with a.rules 0 / 6+1(NOHDR)... */
	static const struct {
		const char *qid;
		int listed, softfail;
	} msgs[] = {{"Q1CLEAN", 0, 0}, {"Q2SOFT", 0, 1}, {"Q3ZEN", 1, 0}, {"Q4BOTH", 1, 1}};

	CHECK(conf != NULL && a_rs != NULL && b_rs != NULL, "config and rules load (%s)",
	      error ? error : "ok");
	for (size_t i = 0; i < 4; i++) {
		struct facts f;

		sample_facts(&f, msgs[i].qid, msgs[i].listed, msgs[i].softfail, "h");
		if (i == 1) /* DMARC fails (p=none: nothing enforced) */
			f.dmarc.result = DMARC_FAIL;
		daemon_record(&f, conf, a_rs, ar, &recs[i]);
		history_replay_add(rp, &recs[i], NULL);
		history_stats_add(st, &recs[i], NULL);
	}
	/* as received: NOHDR fired everywhere (no such header), so Q3 = 6+1+0.5 tag, Q4 =
	 * 3+6+1+0.5 = 10.5 quarantine; replayed with b.rules, NOHDR and USES as they fired
	 * then: Q3 = 12+1.5 quarantine, Q4 = 16.5 reject */
	CHECK(strcmp(recs[2].action, "tag") == 0 && strcmp(recs[3].action, "quarantine") == 0,
	      "as received: Q3ZEN tagged, Q4BOTH quarantined (%s, %s)", recs[2].action,
	      recs[3].action);
	history_replay_counts(rp, &c);
	CHECK(c.records == 4 && c.replayed == 4 && c.not_replayable == 0, "4 replayed");
	CHECK(c.changed == 2, "exactly 2 messages change (%llu)", (unsigned long long)c.changed);
	CHECK(c.before[VERDICT_ACCEPT] == 2 && c.before[VERDICT_TAG] == 1 &&
		  c.before[VERDICT_QUARANTINE] == 1,
	      "before: 2 accept, 1 tag, 1 quarantine");
	CHECK(c.after[VERDICT_ACCEPT] == 2 && c.after[VERDICT_QUARANTINE] == 1 &&
		  c.after[VERDICT_REJECT] == 1,
	      "after: 2 accept, 1 quarantine, 1 reject");
	CHECK(history_replay_hits(rp, "ZEN") == 2 && history_replay_hits(rp, "SOFT") == 2,
	      "per-rule hits after the replay");
	CHECK(history_replay_hits(rp, "NOHDR") == 4 && history_replay_hits(rp, "USES") == 2,
	      "a rule reading headers (and one using it) counts as it fired when received");
	CHECK(history_replay_hits(rp, "GEO") == 4, "monitor rules are counted");
	CHECK(strstr(text = capture(print_replay, rp),
		     "\n  GEO                  monitor +1            4 ->        4 ") != NULL,
	      "a monitor's stored hits are its hits before");
	free(text);
	text = capture(print_replay, rp);
	CHECK(strstr(text, "Q3ZEN <id@example.com>: tag -> quarantine") != NULL,
	      "Q3ZEN listed with its ids, tag -> quarantine");
	CHECK(strstr(text, "Q4BOTH <id@example.com>: quarantine -> reject") != NULL,
	      "Q4BOTH listed, quarantine -> reject");
	CHECK(strstr(text, "Q1CLEAN") == NULL && strstr(text, "Q2SOFT") == NULL,
	      "messages that do not change are not listed");
	CHECK(strstr(text, "rules that read header or body contents (header, body, rawbody, uri: not "
			    "stored, so not replayable") !=
		      NULL &&
		  strstr(text, "came): NOHDR USES\n") != NULL,
	      "the header rules are named as not replayable");
	CHECK(strstr(text, "rejected: 0.0% -> 25.0%") != NULL, "share of rejects before -> after");
	CHECK(strstr(text, "4 message(s) had such a rule fire when received") != NULL,
	      "messages where a header rule fired then are counted");
	if (check_failed || getenv("HISTORY_TEST_SHOW") != NULL)
		fprintf(stderr, "%s", text);
	free(text);

	text = capture(print_stats, st);
	CHECK(strstr(text, "4 message(s)") != NULL, "stats: 4 messages");
	CHECK(strstr(text, "actions: accept 2 (50.0%) tag 1 (25.0%) quarantine 1 (25.0%)") != NULL,
	      "stats: actions");
	CHECK(strstr(text, "SPF (MAIL FROM): pass 2 (50.0%), softfail 2 (50.0%)") != NULL,
	      "stats: SPF mix");
	CHECK(strstr(text, "NOHDR                       4 hits (100.0%)  +1 each, +4.0 in all") !=
		  NULL,
	      "stats: hits and score contribution");
	CHECK(strstr(text, "DMARC: pass 3 (75.0%), fail 1 (25.0%)") != NULL, "stats: DMARC mix");
	CHECK(strstr(text, "failing DMARC:\n         1  example.com\ntop client addresses failing "
			   "DMARC:\n         1  203.0.113.10\n") != NULL,
	      "stats: the domains and addresses failing DMARC");
	CHECK(strstr(text, "zen.spamhaus.org (IP): asked 4, listed 2 (50.0%), not listed 2") !=
		  NULL,
	      "stats: DNSBL hit rate");
	CHECK(strstr(text, "list.dnswl.org (IP): asked 4, listed 0 (0.0%), not listed 0, blocked "
			   "2, errors 2 (timeouts 2); latency avg 2000.0 ms, p50 2000 ms") != NULL,
	      "stats: blocked, timeouts and latency per list");
	CHECK(strstr(text, "list.dnswl.org (IP): 2 (127.0.0.255 x2)") != NULL,
	      "stats: blocked answers and their codes");
	if (check_failed || getenv("HISTORY_TEST_SHOW") != NULL)
		fprintf(stderr, "%s", text);
	free(text);

	{
		/* a DMARC failure a trusted ARC sealer overrode: explain says who */
		struct facts f;
		struct history_record r;
		static const struct arc_set sets[1] = {{.instance = 1, .seal_domain = "fwd.example"}};
		struct explain_arg ea = {&hb, &r, 0};

		sample_facts(&f, "Q5ARC", 0, 0, "h");
		f.dmarc.result = DMARC_FAIL;
		f.dmarc_override = "trusted_forwarder";
		f.arc = (struct arc_outcome){.result = ARC_PASS, .sets = sets, .set_count = 1};
		f.arc_override_by = "fwd.example";
		f.arc_override_why = "dmarc=pass";
		daemon_record(&f, conf, a_rs, ar, &r);
		text = capture(print_explain, &ea);
		CHECK(strstr(text, "not enforced: trusted_forwarder (ARC sealer fwd.example saw "
				   "dmarc=pass)") != NULL &&
			  strstr(text, "ARC chain: pass, 1 set\n") != NULL,
		      "explain: the override names the ARC sealer and what it saw");
		if (check_failed || getenv("HISTORY_TEST_SHOW") != NULL)
			fprintf(stderr, "%s", text);
		free(text);
	}
	{
		struct explain_arg ea = {&hb, &recs[3], 0};

		text = capture(print_explain, &ea);
		CHECK(strstr(text, "ZEN                  +12  listed on ZEN") != NULL,
		      "explain: a fired rule, its score (current file) and description");
		CHECK(strstr(text, "zen.spamhaus.org about 203.0.113.10: listed "
				   "127.0.0.2,127.0.0.10 (12 ms)") != NULL,
		      "explain: the DNS answer used");
		CHECK(strstr(text, "DKIM identifier: aligned by d=example.com") != NULL,
		      "explain: which identifier aligned");
		CHECK(strstr(text, "the rules changed since") != NULL,
		      "explain: says the rules changed since");
		CHECK(strstr(text,
			     "action: quarantine at the time; reject now: score 16.50 reaches "
			     "the reject threshold 15") != NULL,
		      "explain: why the action");
		if (check_failed || getenv("HISTORY_TEST_SHOW") != NULL)
			fprintf(stderr, "%s", text);
		free(text);
		ea.json = 1;
		text = capture(print_explain, &ea);
		{
			struct jval root;
			const char *why = NULL;

			CHECK(record_json_parse(text, strlen(text), ar, &root, &why) == 0 &&
				  root.type == J_OBJ,
			      "explain --json: one valid JSON object (%s)", why ? why : "ok");
			CHECK(strstr(text, "\"caf\\udce9 \\\"quoted\\\" \\udcff\"") != NULL,
			      "explain --json: bytes that are not UTF-8 written as \\udcXX");
		}
		CHECK(strstr(text, "\"action\":\"reject\"") != NULL &&
			  strstr(text, "\"stored_action\":\"quarantine\"") != NULL &&
			  strstr(text, "\"header_rules\":[\"NOHDR\",\"USES\"]") != NULL,
		      "explain --json: actions and the rules that read headers");
		free(text);
	}
	history_replay_free(&rp);
	history_stats_free(&st);
	CHECK(rp == NULL && st == NULL, "free clears the pointers");
	rules_free(&a_rs);
	rules_free(&b_rs);
	conf_free(&conf);
	arena_free(&ar);
	free(error);
}

/* A record stored before facts were, or with facts over the cap. */
/* ---- the body (issue 19): stored without text or URLs ---- */

static void content_facts_fill(struct facts *f, int listed)
{
	static struct content_part parts[2];
	static struct content_url urls[1];
	static const char *hosts[] = {"login-verify.evil.example"};
	static const char *domains[] = {"evil.example"};
	static struct domain_listing dl[2];
	static const char text[] = "Your account is suspended";

	parts[0] = (struct content_part){.type = "text/html", .charset = "utf-8", .size = 900};
	parts[1] = (struct content_part){.type = "application/pdf",
					 .sniffed = "application/x-dosexec",
					 .encoding = "base64",
					 .filename = "invoice.pdf.exe",
					 .size = 4000,
					 .depth = 1,
					 .attachment = 1};
	urls[0] = (struct content_url){.url = "https://login-verify.evil.example/?u=alice",
				       .host = hosts[0],
				       .domain = domains[0],
				       .mismatch = 1};
	f->content = (struct content_facts){.scanned = 1,
					    .text = text,
					    .text_len = sizeof(text) - 1,
					    .raw = text,
					    .raw_len = sizeof(text) - 1,
					    .parts = parts,
					    .part_count = 2,
					    .urls = urls,
					    .url_count = 1,
					    .hosts = hosts,
					    .host_count = 1,
					    .domains = domains,
					    .domain_count = 1,
					    .html_only = 1,
					    .link_text_mismatch = 1,
					    .double_extension = 1,
					    .skipped_urls = 3};
	dl[0] = f->domain_lists[0];
	dl[1] = (struct domain_listing){.identity = IDENT_URI,
					.r = {.zone = "dbl.spamhaus.org",
					      .subject = "evil.example",
					      .status = listed ? DNSBL_LISTED : DNSBL_NOT_LISTED,
					      .codes = {0x7f000104},
					      .code_count = listed ? 1 : 0}};
	f->domain_lists = dl;
	f->domain_list_count = 2;
}

static const char rules_body[] =
    "actions { tag 5; quarantine 10; reject 15 }\n"
    "rule SUSPENDED body =~ /account is suspended/ score 2\n"
    "rule PHISH_LINK uri =~ /login-verify\\./ and link-text-mismatch score 3\n"
    "rule EVIL_DOMAIN uri-domain == evil.example score 1\n"
    "rule URI_DBL uribl(dbl.spamhaus.org) in 127.0.1.2-127.0.1.99 score 5\n"
    "rule DOUBLE attachment-double-extension and attachment-name =~ /\\.exe$/ score 4\n"
    "rule HTML html-only and mime-parts == 2 score 0.5\n";

static void test_content(void)
{
	struct arena *a = arena_new(4096);
	char *error = NULL, *text;
	struct conf *conf = conf_parse("test", "", &error);
	struct ruleset *rs = rules_parse("body.rules", rules_body, &error);
	struct history_rules hr = {conf, rs, "body.rules"};
	struct history_record r, r2;
	struct facts f, g;
	const char *derr = NULL;
	struct explain_arg ea = {&hr, &r, 0};

	CHECK(conf != NULL && rs != NULL, "body rules load (%s)", error ? error : "ok");
	sample_facts(&f, "QBODY", 0, 0, "h");
	content_facts_fill(&f, 1);
	daemon_record(&f, conf, rs, a, &r);
	CHECK(strcmp(r.rules, "SUSPENDED,PHISH_LINK,EVIL_DOMAIN,URI_DBL,DOUBLE,HTML") == 0,
	      "as received: every body rule fired (%s)", r.rules);
	CHECK(strstr(r.facts_json, "suspended") == NULL && strstr(r.facts_json, "u=alice") == NULL,
	      "neither the text nor the URLs are stored");
	CHECK(strstr(r.facts_json, "\"identity\":\"uri\"") != NULL &&
		  strstr(r.facts_json, "\"hosts\":[\"login-verify.evil.example\"]") != NULL,
	      "the uri identity and the links' hosts are stored");
	CHECK(record_facts_decode(r.facts_json, strlen(r.facts_json), a, &g, &derr) == 0,
	      "the body's facts decode (%s)", derr ? derr : "ok");
	record_from_facts(&g, &(struct verdict){0}, 1767225600, a, &r2);
	CHECK(strstr(r2.facts_json, "\"content\":") != NULL &&
		  strcmp(strstr(r.facts_json, "\"content\":"), strstr(r2.facts_json, "\"content\":")) ==
		      0,
	      "decode then encode gives the same body facts");
	CHECK(g.content.scanned && g.content.text == NULL && g.content.urls == NULL &&
		  g.content.url_count == 1 && g.content.part_count == 2 &&
		  g.content.parts[1].attachment && !g.content.parts[1].in_archive &&
		  strcmp(g.content.parts[1].filename, "invoice.pdf.exe") == 0 &&
		  g.content.html_only && g.content.link_text_mismatch &&
		  g.content.double_extension && !g.content.archive_executable &&
		  g.domain_lists[1].identity == IDENT_URI,
	      "parts, flags, counts and the link's listing come back; text and URLs do not");
	text = capture(print_explain, &ea);
	CHECK(strstr(text, "body: 2 part(s), 1 link(s), 25 bytes of text, HTML only") != NULL &&
		  strstr(text, "name invoice.pdf.exe (attachment)") != NULL &&
		  strstr(text, "link domains (1): evil.example") != NULL &&
		  strstr(text, "uribl(dbl.spamhaus.org) about evil.example: listed 127.0.1.4") !=
		      NULL &&
		  strstr(text, "about evil.example, the link domain: listed") != NULL,
	      "explain shows the body's facts and the link's listing");
	/* body and uri rules are fixed to what they did; the rest re-evaluated */
	CHECK(strstr(text, "(counted as they fired when the message came): SUSPENDED, "
			   "PHISH_LINK\n") != NULL,
	      "explain names the body and uri rules as not replayable");
	CHECK(strstr(text, "  EVIL_DOMAIN") != NULL && strstr(text, "  URI_DBL") != NULL &&
		  strstr(text, "  DOUBLE") != NULL && strstr(text, "  HTML") != NULL &&
		  strstr(text, "  SUSPENDED") != NULL,
	      "replayed: domains, listings, attachments and flags from the stored facts; the "
	      "body rule as it fired");
	free(text);
	{
		/* a body rule that did not exist when the message came: not matched */
		struct ruleset *rs2 = rules_parse(
		    "new.rules", "rule NEWBODY body =~ /suspended/ score 9\n", &error);
		struct history_rules h2 = {conf, rs2, "new.rules"};
		struct explain_arg e2 = {&h2, &r, 0};

		text = capture(print_explain, &e2);
		CHECK(strstr(text, "  NEWBODY") == NULL &&
			  strstr(text, "came): NEWBODY\n") != NULL && strstr(text, "score 0.00") != NULL,
		      "a new body rule replays as not matched, and says why");
		free(text);
		rules_free(&rs2);
	}
	/* an older record without content: decodes, not scanned, no body rule fires */
	{
		const char *old = "{\"client_ip\":\"203.0.113.10\",\"domain_lists\":[{\"identity\":"
				  "\"from\",\"zone\":\"dbl.spamhaus.org\",\"status\":\"none\"}]}";

		CHECK(record_facts_decode(old, strlen(old), a, &g, &derr) == 0 &&
			  !g.content.scanned && g.content.part_count == 0,
		      "a record from before the body was scanned decodes, content not scanned");
	}
	{
		const char *bad = "{\"content\":{\"scanned\":1,\"flags\":[\"html_only\",\"html_only\"]}}";
		const char *bad2 = "{\"content\":{\"parts\":[{\"flags\":[\"exe\"]}]}}";

		CHECK(record_facts_decode(bad, strlen(bad), a, &g, &derr) < 0 &&
			  record_facts_decode(bad2, strlen(bad2), a, &g, &derr) < 0,
		      "repeated or unknown body flags are refused");
	}
	rules_free(&rs);
	conf_free(&conf);
	arena_free(&a);
}

static void test_without_facts(void)
{
	char *error = NULL, *text;
	struct conf *conf = conf_parse("test", "", &error);
	struct ruleset *rs = rules_parse("a.rules", rules_a, &error);
	struct history_rules hr = {conf, rs, "a.rules"};
	struct history_record old = {.time = 1767225600,
				     .queue_id = "QOLD",
				     .client_ip = "192.0.2.1",
				     .spf_result = "fail",
				     .dmarc_result = "fail",
				     .header_from = "old.example",
				     .rules = "SOFT,ZEN",
				     .action = "tag"},
			      big = old;
	struct history_replay *rp = history_replay_new(&hr, 5);
	struct history_stats *st = history_stats_new(&hr);
	struct history_replay_counts c;
	struct explain_arg ea = {&hr, &old, 0};

	big.facts_json = "{\"truncated\":1}";
	history_replay_add(rp, &old, NULL);
	history_replay_add(rp, &big, NULL);
	history_replay_counts(rp, &c);
	CHECK(c.records == 2 && c.not_replayable == 2 && c.replayed == 0 && c.changed == 0,
	      "records without usable facts are counted as not replayable");
	history_stats_add(st, &old, NULL);
	text = capture(print_stats, st);
	CHECK(strstr(text, "SOFT                        1 hits") != NULL &&
		  strstr(text, "1 record(s) without usable facts") != NULL,
	      "stats: the rules column still counts, the record is said to lack facts");
	free(text);
	text = capture(print_explain, &ea);
	CHECK(strstr(text, "queue id QOLD") != NULL &&
		  strstr(text, "cannot explain further: the record has no facts") != NULL,
	      "explain: what the record holds, and why not more");
	free(text);
	history_replay_free(&rp);
	history_stats_free(&st);
	rules_free(&rs);
	conf_free(&conf);
	free(error);
}

static void test_domain_match(void)
{
	struct history_record r = {.header_from = "mail.example.com", .spf_domain = "bounce.test"};

	CHECK(history_domain_match(&r, "example.com"), "a subdomain of the From domain matches");
	CHECK(history_domain_match(&r, "bounce.test"), "the MAIL FROM domain matches");
	CHECK(!history_domain_match(&r, "ample.com"), "a suffix that is not a label does not");
}

int main(void)
{
	test_round_trip();
	test_malformed();
	test_replay_stats_explain();
	test_content();
	test_without_facts();
	test_domain_match();
	return check_done();
}

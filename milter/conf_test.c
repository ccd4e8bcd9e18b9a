/*
 * conf_test - configuration parsing: defaults, every value kind, every error
 * path with its file:line:column.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"

static void expect_error(const char *text, const char *want)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", text, &error);

	if (!CHECK(c == NULL && error != NULL && strcmp(error, want) == 0, "error: %s", want))
		printf("#   got: %s\n", error ? error : "(none)");
	conf_free(&c);
	free(error);
}

/* Issue 15: log-facility, dns-probe. */
static void daemon_key_checks(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", "", &error);

	CHECK(c != NULL && c->log_facility == LOG_MAIL && strcmp(c->dns_probe, ".") == 0,
	      "defaults: log-facility mail, dns-probe .");
	conf_free(&c);
	c = conf_parse("t.conf", "log-facility local5\ndns-probe example.net\n", &error);
	CHECK(c != NULL && c->log_facility == LOG_LOCAL5 &&
		  strcmp(c->dns_probe, "example.net") == 0,
	      "log-facility local5, dns-probe example.net");
	conf_free(&c);
	expect_error("\nlog-facility  kern\n",
		     "t.conf:2:15: log-facility: expected mail, daemon, user or local0 to local7, "
		     "not \"kern\"");
	expect_error("log-facility mail\nlog-facility daemon\n",
		     "t.conf:2:1: log-facility is set twice (first on line 1)");
	expect_error("dns-probe \"\"\n", "t.conf:1:11: dns-probe must not be empty");
}

/* Every default of the table (conf.c's keys[].def), as the daemon had them
 * when they were assignments in code. */
static void test_every_default(void)
{
	char *error = NULL, host[256];
	struct conf *c = conf_parse("t.conf", "", &error);

	if (!CHECK(c != NULL, "defaults parse"))
		return;
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	CHECK_STR(c->authserv_id, host, "default authserv-id: the host name");
	CHECK(c->log_to_stderr == -1, "default log-to: unset (foreground decides)");
	CHECK(c->socket_mode == 0660 && c->trusted.count == 2,
	      "default socket-mode, trusted-networks");
	CHECK(c->spf_timeout_ms == 20000 && c->iprev_trust_mta == 1,
	      "default spf-timeout, iprev-trust-mta");
	CHECK(c->log_level == LOG_LEVEL_INFO && c->log_facility == LOG_MAIL,
	      "default log-level, log-facility");
	CHECK_STR(c->dns_probe, ".", "default dns-probe");
	CHECK(c->on_spf_permerror == ACTION_ACCEPT && c->on_dkim_permerror == ACTION_ACCEPT &&
		      c->on_dmarc_permerror == ACTION_ACCEPT,
	      "default permerror actions: accept");
	CHECK(c->max_recipients == 1000 && c->result_header == 1, "default max-recipients, result-header");
	CHECK_STR(c->dmarc_reject_text, "rejected by the DMARC policy of {domain}",
		  "default dmarc-reject-text");
	CHECK_STR(c->state_dir, LOCALSTATEDIR "/lib/authscore", "default state-dir");
	CHECK(c->history_retention_days == 180 && c->report_smtp_verify == 1,
	      "default history-retention-days, report-smtp-verify");
	CHECK(c->ratelimit.ipv4_prefix == 32 && c->ratelimit.ipv6_prefix == 64 &&
		      c->ratelimit_table_size == 50000,
	      "default rate-limit prefixes and table size");
	CHECK(c->user == NULL && c->history == NULL && c->report_email == NULL,
	      "keys without a default stay unset");
	conf_free(&c);
}

/* The body's content (issue 19): sizes with k and M, counts, the switch. */
static void content_key_checks(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", "", &error);

	CHECK(c != NULL && c->content_scan == 1 && c->content_max_bytes == 2 * 1024 * 1024 &&
		  c->content_max_text == 1024 * 1024 && c->content_max_parts == 100 &&
		  c->content_max_depth == 20 && c->content_max_urls == 200,
	      "content defaults: on, 2M kept, 1M text, 100 parts, depth 20, 200 URLs");
	conf_free(&c);
	c = conf_parse("t.conf",
		       "content-scan no\ncontent-max-bytes 512k\ncontent-max-text 65536\n"
		       "content-max-parts 10\ncontent-max-depth 5\ncontent-max-urls 50\n",
		       &error);
	CHECK(c != NULL && c->content_scan == 0 && c->content_max_bytes == 512 * 1024 &&
		  c->content_max_text == 65536 && c->content_max_parts == 10 &&
		  c->content_max_depth == 5 && c->content_max_urls == 50,
	      "content keys set");
	conf_free(&c);
	expect_error("content-max-bytes 2G\n",
		     "t.conf:1:19: content-max-bytes: \"2G\" is not a size from 1k to 1024M");
	expect_error("content-max-text 100\n",
		     "t.conf:1:18: content-max-text: \"100\" is not a size from 1k to 1024M");
	expect_error("content-max-bytes 2048M\n",
		     "t.conf:1:19: content-max-bytes: \"2048M\" is not a size from 1k to 1024M");
	expect_error("content-max-bytes -1k\n",
		     "t.conf:1:19: content-max-bytes: \"-1k\" is not a size from 1k to 1024M");
}

/* Issue 19, scan cost: content-spool-memory, a size or 0. */
static void spool_memory_checks(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", "", &error);

	CHECK(c != NULL && c->content_spool_memory == 2 * 1024 * 1024,
	      "content-spool-memory: 2M by default");
	conf_free(&c);
	c = conf_parse("t.conf", "content-spool-memory 0\n", &error);
	CHECK(c != NULL && c->content_spool_memory == 0,
	      "content-spool-memory 0: every body to a file");
	conf_free(&c);
	c = conf_parse("t.conf", "content-spool-memory 64M\n", &error);
	CHECK(c != NULL && c->content_spool_memory == 64 * 1024 * 1024, "content-spool-memory 64M");
	conf_free(&c);
	expect_error("content-spool-memory 100\n",
		     "t.conf:1:22: content-spool-memory: \"100\" is not "
		     "0 or a size from 1k to 1024M");
	expect_error("content-spool-memory 00\n",
		     "t.conf:1:22: content-spool-memory: \"00\" is not "
		     "0 or a size from 1k to 1024M");
	expect_error("content-spool-memory 2G\n",
		     "t.conf:1:22: content-spool-memory: \"2G\" is not "
		     "0 or a size from 1k to 1024M");
}

int main(void)
{
	char *error = NULL;
	struct conf *c = conf_parse("t.conf", "", &error);
	struct addr a;

	CHECK(c != NULL && error == NULL, "empty file gives defaults");
	CHECK_STR(c->socket, "unix:/run/authscore/milter.sock", "default socket");
	CHECK(c->on_spf_temperror == ACTION_TEMPFAIL && c->on_spf_fail == ACTION_ACCEPT,
	      "default SPF actions: tempfail on temperror, accept on fail");
	CHECK(c->skip_authenticated == 1 && c->dns_timeout_ms == 5000, "default skip/timeout");
	addr_parse("127.0.0.1", &a);
	CHECK(conf_is_trusted(c, &a), "loopback trusted by default");
	addr_parse("203.0.113.10", &a);
	CHECK(!conf_is_trusted(c, &a), "others not trusted by default");
	CHECK(c->on_dkim_temperror == ACTION_TEMPFAIL && c->on_dmarc_temperror == ACTION_TEMPFAIL &&
		      c->on_dmarc_reject == ACTION_REJECT &&
		      c->on_dmarc_quarantine == ACTION_QUARANTINE && c->on_from_error == ACTION_REJECT,
	      "default DKIM/DMARC actions: temporary errors tempfail, policies enforced");
	CHECK(c->dkim_max_signatures == 5, "default: at most 5 signatures verified");
	conf_free(&c);
	test_every_default();
	CHECK(c == NULL, "conf_free clears the pointer");
	{
		char *list[] = {"lists.example.test", "fwd.test", NULL};

		CHECK(conf_domain_listed(list, "lists.example.test") && conf_domain_listed(list, "a.fwd.test") &&
			      !conf_domain_listed(list, "evilfwd.test") &&
			      !conf_domain_listed(list, "example.test") && !conf_domain_listed(list, NULL),
		      "override domains match the domain and its subdomains only");
	}

	c = conf_parse("t.conf",
		       "# comment\n"
		       "socket inet:8891@127.0.0.1\n"
		       "authserv-id \"mx.example.test\"   # trailing comment\n"
		       "trusted-networks 192.0.2.0/24 2001:db8:1::/48\n"
		       "dns-forwarders 127.0.0.1@5353 ::1@5353\n"
		       "dns-stub test. 127.0.0.1@5353\n"
		       "dns-stub 113.0.203.in-addr.arpa. 127.0.0.1@5353\n"
		       "dns-timeout 1500ms\r\n"
		       "spf-timeout 2m\n"
		       "on-spf-fail reject\n"
		       "on-spf-temperror accept\n"
		       "log-level debug\n"
		       "log-to stderr\n"
		       "socket-mode 0666\n"
		       "skip-authenticated no\n",
		       &error);
	if (!CHECK(c != NULL, "full config parses"))
		printf("# %s\n", error);
	else {
		CHECK_STR(c->authserv_id, "mx.example.test", "quoted value");
		CHECK(c->trusted.count == 2, "two trusted networks");
		addr_parse("2001:db8:1:2::3", &a);
		CHECK(conf_is_trusted(c, &a), "IPv6 trusted network matches");
		CHECK(c->dns_forwarders[0] && c->dns_forwarders[1] && !c->dns_forwarders[2],
		      "two forwarders");
		CHECK_STR(c->dns_stubs[1], "113.0.203.in-addr.arpa. 127.0.0.1@5353", "stubs repeat");
		CHECK(c->dns_timeout_ms == 1500 && c->spf_timeout_ms == 120000, "durations");
		CHECK(c->on_spf_fail == ACTION_REJECT && c->on_spf_temperror == ACTION_ACCEPT,
		      "actions");
		CHECK(c->log_level == LOG_LEVEL_DEBUG && c->log_to_stderr == 1, "logging");
		CHECK(c->socket_mode == 0666 && c->skip_authenticated == 0, "mode and bool");
	}
	conf_free(&c);

	expect_error("on-dmarc-quarantine reject\n",
		     "t.conf:1:21: on-dmarc-quarantine: expected accept or quarantine or tag, not "
		     "\"reject\"");
	expect_error("dmarc-reject-text \"no {dom} here\"\n",
		     "t.conf:1:23: dmarc-reject-text: unknown placeholder (only {domain} is known)");
	expect_error("bogus-key 1\n", "t.conf:1:1: unknown key \"bogus-key\"");
	expect_error("report-smtp-tls or\n",
		     "t.conf:1:17: report-smtp-tls: expected none or may or starttls or tls, not \"or\"");
	expect_error("report-smtp-tls  ssl\n",
		     "t.conf:1:18: report-smtp-tls: expected none or may or starttls or tls, not \"ssl\"");
	expect_error("\n  on-spf-fail tempfail\n",
		     "t.conf:2:15: on-spf-fail: expected accept or reject, not \"tempfail\"");
	expect_error("on-spf-temperror reject\n",
		     "t.conf:1:18: on-spf-temperror: expected accept or tempfail, not \"reject\"");
	expect_error("dns-timeout\n", "t.conf:1:12: dns-timeout needs a value");
	expect_error("dns-timeout 5x\n",
		     "t.conf:1:13: dns-timeout: \"5x\" is not a duration (e.g. 500ms, 5s, 2m; at "
		     "most 1h)");
	expect_error("dns-timeout 0\n",
		     "t.conf:1:13: dns-timeout: \"0\" is not a duration (e.g. 500ms, 5s, 2m; at "
		     "most 1h)");
	expect_error("trusted-networks 10.0.0.0/8 10.0.0.0/40\n",
		     "t.conf:1:29: trusted-networks: \"10.0.0.0/40\" is not an IPv4 or IPv6 "
		     "address or network");
	expect_error("socket /a\nsocket /b\n", "t.conf:2:1: socket is set twice (first on line 1)");
	expect_error("authserv-id a b\n", "t.conf:1:15: authserv-id takes one value");
	expect_error("authserv-id \"open\n", "t.conf:1:13: unterminated quoted string");
	expect_error("authserv-id \"\"\n", "t.conf:1:13: authserv-id must not be empty");
	expect_error("skip-authenticated maybe\n",
		     "t.conf:1:20: skip-authenticated: expected yes or no, not \"maybe\"");
	expect_error("log-level loud\n",
		     "t.conf:1:11: log-level: expected debug, info, notice, warning or error, not "
		     "\"loud\"");
	expect_error("log-to file\n", "t.conf:1:8: log-to: expected syslog or stderr, not \"file\"");
	expect_error("socket-mode 666\n",
		     "t.conf:1:13: socket-mode: \"666\" is not an octal mode such as 0660");
	expect_error("socket-mode 0666 \x01\n", "t.conf:1:18: control character 0x01");
	expect_error("socket tcp:25\n",
		     "t.conf:1:8: socket \"tcp:25\": expected unix:/path, local:/path, "
		     "inet:PORT@HOST or inet6:PORT@HOST");
	expect_error("dns-stub test.\n",
		     "t.conf:1:10: dns-stub: expected a zone and one or more addresses");
	{
		char *big = malloc(9000);

		memset(big, 'a', 8999);
		big[8999] = '\0';
		expect_error(big, "t.conf:1:1: line longer than 8191 bytes");
		free(big);
	}
	/* rate limits: off by default; COUNT/PERIOD; errors point at the bad part */
	c = conf_parse("t.conf", "", &error);
	CHECK(c != NULL && c->ratelimit.ip.count == 0 && c->ratelimit.sender.count == 0 &&
		      c->ratelimit.user.count == 0 && c->ratelimit.ipv4_prefix == 32 &&
		      c->ratelimit.ipv6_prefix == 64 && c->ratelimit_table_size == 50000,
	      "rate limits off by default; IPv4 per address, IPv6 per /64");
	conf_free(&c);
	c = conf_parse("t.conf",
		       "ratelimit-ip 100/1m\nratelimit-sender 50/h\nratelimit-user 500/2d\n"
		       "ratelimit-ipv4-prefix 24\nratelimit-ipv6-prefix 48\n"
		       "ratelimit-table-size 1000\n",
		       &error);
	CHECK(c != NULL && c->ratelimit.ip.count == 100 && c->ratelimit.ip.period_s == 60 &&
		      c->ratelimit.sender.count == 50 && c->ratelimit.sender.period_s == 3600 &&
		      c->ratelimit.user.count == 500 && c->ratelimit.user.period_s == 172800 &&
		      c->ratelimit.ipv4_prefix == 24 && c->ratelimit.ipv6_prefix == 48 &&
		      c->ratelimit_table_size == 1000,
	      "rate limits, prefixes and table size parsed");
	conf_free(&c);
	free(error);
	error = NULL;
	c = conf_parse("t.conf", "ratelimit-ip off\nratelimit-user 3/10s\n", &error);
	CHECK(c != NULL && c->ratelimit.ip.count == 0 && c->ratelimit.user.count == 3 &&
		      c->ratelimit.user.period_s == 10,
	      "ratelimit off, and seconds");
	conf_free(&c);
	expect_error("ratelimit-ip 100\n",
		     "t.conf:1:14: ratelimit-ip: \"100\": expected COUNT/PERIOD, e.g. 100/1m (s, m, "
		     "h or d), or off");
	expect_error("ratelimit-ip   0/1m\n",
		     "t.conf:1:16: ratelimit-ip: \"0/1m\": the count must be from 1 to 1000000");
	expect_error("ratelimit-sender 10x/1m\n",
		     "t.conf:1:20: ratelimit-sender: \"10x/1m\": expected COUNT/PERIOD, e.g. 100/1m "
		     "(s, m, h or d), or off");
	expect_error("ratelimit-user 10/1w\n",
		     "t.conf:1:20: ratelimit-user: \"10/1w\": the period needs a unit: s, m, h or d");
	expect_error("ratelimit-user 10/10\n",
		     "t.conf:1:21: ratelimit-user: \"10/10\": the period needs a unit: s, m, h or d");
	expect_error("# limits\nratelimit-user 10/8d\n",
		     "t.conf:2:19: ratelimit-user: \"10/8d\": the period must be from 1s to 7d");
	expect_error("ratelimit-ip 5/0s\n",
		     "t.conf:1:16: ratelimit-ip: \"5/0s\": the period must be from 1s to 7d");
	expect_error("ratelimit-ipv6-prefix 129\n",
		     "t.conf:1:23: ratelimit-ipv6-prefix: \"129\" is not a prefix length from 1 to "
		     "128");
	expect_error("ratelimit-ipv4-prefix 0\n",
		     "t.conf:1:23: ratelimit-ipv4-prefix: \"0\" is not a prefix length from 1 to 32");
	expect_error("ratelimit-ip 1/s\nratelimit-ip 2/s\n",
		     "t.conf:2:1: ratelimit-ip is set twice (first on line 1)");
	{
		char *err = NULL;
		struct conf *none = conf_load("/nonexistent/authscore.conf", 1, &err);

		CHECK(none == NULL && err != NULL &&
			      strcmp(err, "/nonexistent/authscore.conf: No such file or directory") == 0,
		      "a named file that does not exist is an error");
		free(err);
		none = conf_load("/nonexistent/authscore.conf", 0, &err);
		CHECK(none != NULL, "the default path may be absent: defaults apply");
		conf_free(&none);
	}
	{ /* monitoring: metrics-listen, log-format */
		char text[ADDR_STRLEN];

		c = conf_parse("t.conf", "", &error);
		CHECK(c->metrics_listen.port == 0 && c->log_json == 0,
		      "metrics off and kv logs by default");
		conf_free(&c);
		c = conf_parse("t.conf", "metrics-listen 9187\nlog-format json\n", &error);
		CHECK(c != NULL && c->metrics_listen.port == 9187 &&
			      strcmp(addr_format(&c->metrics_listen.addr, text, sizeof(text)),
				     "127.0.0.1") == 0 &&
			      c->log_json == 1,
		      "a bare port listens on 127.0.0.1; log-format json");
		conf_free(&c);
		c = conf_parse("t.conf", "metrics-listen [::1]:9100\n", &error);
		CHECK(c != NULL && c->metrics_listen.port == 9100 &&
			      c->metrics_listen.addr.family == AF_INET6,
		      "[IPv6]:port");
		conf_free(&c);
		c = conf_parse("t.conf", "metrics-listen 0.0.0.0:9187\nlog-format text\n", &error);
		CHECK(c != NULL && c->metrics_listen.port == 9187 && c->log_json == 0,
		      "IPv4:port; log-format text (kv's old name)");
		conf_free(&c);
		c = conf_parse("t.conf", "log-format kv\n", &error);
		CHECK(c != NULL && c->log_json == 0, "log-format kv");
		conf_free(&c);
		c = conf_parse("t.conf", "metrics-listen none\n", &error);
		CHECK(c != NULL && c->metrics_listen.port == 0, "metrics-listen none: off");
		conf_free(&c);
		expect_error("# metrics\nmetrics-listen  127.0.0.1\n",
			     "t.conf:2:17: metrics-listen: \"127.0.0.1\" is not PORT, IPv4:PORT, "
			     "[IPv6]:PORT or none");
		expect_error("metrics-listen ::1:9187\n",
			     "t.conf:1:16: metrics-listen: \"::1:9187\" is not PORT, IPv4:PORT, "
			     "[IPv6]:PORT or none");
		expect_error("metrics-listen 127.0.0.1:65536\n",
			     "t.conf:1:16: metrics-listen: \"127.0.0.1:65536\" is not PORT, "
			     "IPv4:PORT, [IPv6]:PORT or none");
		expect_error("metrics-listen localhost:9187\n",
			     "t.conf:1:16: metrics-listen: \"localhost:9187\" is not PORT, "
			     "IPv4:PORT, [IPv6]:PORT or none");
		expect_error("metrics-listen 0\n",
			     "t.conf:1:16: metrics-listen: \"0\" is not PORT, IPv4:PORT, "
			     "[IPv6]:PORT or none");
		expect_error("log-format yaml\n",
			     "t.conf:1:12: log-format: expected kv or json, not \"yaml\"");
	}
	daemon_key_checks();
	content_key_checks();
	spool_memory_checks();
	return check_done();
}

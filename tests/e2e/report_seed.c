/*
 * report_seed - put synthetic history records into a store, through the
 * store API, for tests/e2e/report.sh.
 *
 *   report_seed LOCATION DAY-START
 *
 * Writes records dated DAY-START + a few hours for three policy domains:
 * example.com (rows that must collapse, a DKIM selector full of XML
 * metacharacters, a failing row), example.org (another rua) and
 * norua.example (no rua=: no report), and one record the day after (not
 * in the period).  Exit status 0, or 1 with a message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static struct history_record rec(int64_t t, const char *ip, const char *domain,
				 const char *selector, const char *dkim, const char *rua)
{
	struct history_record r = {0};

	r.time = t;
	r.queue_id = "4ABCDEF";
	r.message_id = "<seed@example>";
	r.client_ip = ip;
	r.helo = "mx.sender.example";
	r.mail_from = "bounce@sender.example";
	r.header_from = domain;
	r.spf_domain = "sender.example";
	r.spf_scope = "mfrom";
	r.spf_result = "pass";
	r.spf_helo_result = "none";
	r.dkim[0] = (struct record_dkim){domain, selector, dkim};
	r.dkim_count = 1;
	r.dmarc_result = strcmp(dkim, "pass") == 0 ? "pass" : "fail";
	r.policy_domain = domain;
	r.p = "reject";
	r.sp = "quarantine";
	r.discovery = "treewalk";
	r.rua = rua;
	r.psd = -1;
	r.dkim_aligned = strcmp(dkim, "pass") == 0;
	r.disposition = strcmp(dkim, "pass") == 0 ? "none" : "reject";
	r.rules = "";
	r.action = strcmp(dkim, "pass") == 0 ? "accept" : "reject";
	return r;
}

int main(int argc, char **argv)
{
	struct store_options o = {0};
	struct store *s;
	char *error = NULL;
	int64_t day;
	const char *com = "mailto:dmarc@example.com,mailto:copy@reports.example.com!10m";

	if (argc != 3) {
		fprintf(stderr, "usage: report_seed LOCATION DAY-START\n");
		return 1;
	}
	day = strtoll(argv[2], NULL, 10);
	o.location = argv[1];
	if ((s = store_open(&o, &error)) == NULL) {
		fprintf(stderr, "report_seed: %s\n", error);
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		struct history_record r =
		    rec(day + 3600 + i, "192.0.2.1", "example.com", "s1", "pass", com);

		store_append(s, &r);
	}
	{
		struct history_record r[] = {
		    rec(day + 7200, "2001:db8::25", "example.com", "a<b&\"c'>", "pass", com),
		    rec(day + 7300, "198.51.100.9", "example.com", "s1", "fail", com),
		    rec(day + 7400, "203.0.113.5", "example.org", "sel]]>x", "pass",
			"mailto:reports@example.org"),
		    rec(day + 7500, "203.0.113.6", "norua.example", "s", "pass", NULL),
		    rec(day + 86400 + 10, "192.0.2.99", "example.com", "s1", "pass", com),
		};
		for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
			store_append(s, &r[i]);
	}
	store_close(&s);
	return 0;
}

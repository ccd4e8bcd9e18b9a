/*
 * message_test - header field names as an MTA may pass them to the daemon:
 * a name with trailing blanks is still that field (From, our own
 * Authentication-Results), and the sender's own X-Spam-* and
 * X-Authscore-* fields, every one removed at the index smfi_chgheader()
 * counts.  Fake resolver; no network.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "authres.h"
#include "check.h"
#include "arc.h"
#include "dkim.h"
#include "fake_dns.h"
#include "message.h"
#include "runtime.h"
#include "session.h"
#include "spf.h"

static struct runtime *rt;
static char removed[1024], added[4096]; /* of the last run: "name#index," / "name: value\n" */

/* Run one message with the given fields through the daemon's path. */
static void run(const char *const *fields, struct verdict *v, struct message_edits *e,
		unsigned *from_fields)
{
	struct addr client;
	struct session *s;
	struct message *m;

	addr_parse("203.0.113.10", &client);
	s = session_new(rt, "client.example.test", &client);
	m = message_new(s, "user@example.test", NULL);
	for (size_t i = 0; fields[i] != NULL; i += 2)
		message_header(m, fields[i], fields[i + 1]);
	message_eoh(m);
	message_body(m, (const unsigned char *)"body\r\n", 6);
	message_eom(m, v, e);
	removed[0] = added[0] = '\0';
	for (size_t i = 0; i < e->remove_count; i++)
		snprintf(removed + strlen(removed), sizeof(removed) - strlen(removed), "%s#%u,",
			 e->remove[i].name, e->remove[i].index);
	for (size_t i = 0; i < e->add_count; i++)
		snprintf(added + strlen(added), sizeof(added) - strlen(added), "%s: %s\n",
			 e->add[i].name, e->add[i].value);
	*from_fields = message_facts(m)->from_fields;
	message_free(&m);
	session_free(&s);
}

/* The fields kept for the rules: room grows with them (32, 64, ...), and
 * stops at FACTS_MAX_HEADERS, every value where it was put. */
static void test_many_fields(void)
{
	struct addr client;
	struct session *s;
	struct message *m;
	const struct facts *f;
	char name[32], value[32];
	int ok = 1;

	addr_parse("203.0.113.10", &client);
	s = session_new(rt, "client.example.test", &client);
	m = message_new(s, "user@example.test", NULL);
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "X-Field-%d", i);
		snprintf(value, sizeof(value), " value %d", i);
		message_header(m, name, value);
	}
	f = message_facts(m);
	for (size_t i = 0; i < f->header_count && ok; i++) {
		snprintf(name, sizeof(name), "X-Field-%zu", i);
		snprintf(value, sizeof(value), "value %zu", i);
		ok = strcmp(f->headers[i].name, name) == 0 && strcmp(f->headers[i].value, value) == 0;
	}
	CHECK(f->header_count == FACTS_MAX_HEADERS && ok,
	      "600 fields: the first %d kept, in order (%zu)", FACTS_MAX_HEADERS, f->header_count);
	message_free(&m);
	session_free(&s);
}

int main(void)
{
	char *error = NULL;
	struct conf *conf = conf_parse("test.conf", "authserv-id mx.example.test\n", &error);
	struct dns *dns;
	struct verdict v;
	struct message_edits e;
	unsigned from;

	spf_init();
	if (conf == NULL || (dns = runtime_dns_new(conf, &error)) == NULL ||
	    dkim_module_init(dns, &error) < 0 || arc_module_init(dns, &error) < 0 ||
	    (rt = runtime_load(conf, dns, NULL, &error)) == NULL) {
		printf("Bail out! %s\n", error ? error : "set-up");
		return 1;
	}
	{
		const char *f[] = {"From ", " <evil@example.test>", "From", " <user@example.test>", NULL};

		run(f, &v, &e, &from);
		CHECK(from == 2, "'From ' and 'From' are two From fields (got %u)", from);
	}
	{
		const char *f[] = {AUTHRES_HEADER " \t", " mx.example.test; spf=pass", "From",
				   " <user@example.test>", NULL};

		run(f, &v, &e, &from);
		CHECK(e.ar_delete_count == 1, "'%s ' of our authserv-id is removed (got %zu)",
		      AUTHRES_HEADER, e.ar_delete_count);
	}
	{
		/* Any case, odd blanks before the colon (the name comes without
		 * them), folded; one name's index counts that name only. */
		const char *f[] = {"X-Spam-Flag", " NO", "x-spam-flag \t", " NO",
				   "X-Spam-Status", " No, score=-9\r\n\ttests=none", "X-SPAM-FLAG", "NO",
				   "X-Authscore-Result", " score=-10.0 action=accept rules=none",
				   "X-Spammer", " not ours", "From", " <user@example.test>", NULL};

		run(f, &v, &e, &from);
		CHECK_STR(removed,
			  "X-Authscore-Result#1,X-SPAM-FLAG#3,x-spam-flag#2,X-Spam-Flag#1,"
			  "X-Spam-Status#1,",
			  "the sender's X-Spam-* and X-Authscore-* fields removed, each name's highest "
			  "index first");
		CHECK(strstr(added, "X-Spam-Status: No, score=") != NULL &&
			  strstr(added, "X-Spam-Level: ") != NULL &&
			  strstr(added, "X-Spam-Score: ") != NULL && strstr(added, "X-Spam-Flag") == NULL,
		      "an accepted message: our X-Spam-Status: No, Level and Score, no Flag");
	}
	{
		const char *f[] = {"From", " <user@example.test>", NULL};

		run(f, &v, &e, &from);
		CHECK_STR(removed, "", "no field of ours in the message: nothing removed");
	}
	test_many_fields();
	runtime_unref(&rt);
	dkim_module_deinit();
	arc_module_deinit();
	dns_free(&dns);
	return check_done();
}

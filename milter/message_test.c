/*
 * message_test - header field names as an MTA may pass them to the daemon:
 * a name with trailing blanks is still that field (From, our own
 * Authentication-Results).  Fake resolver; no network.
 */
#include "config.h"

#include <stdlib.h>

#include "addr.h"
#include "authres.h"
#include "check.h"
#include "dkim.h"
#include "fake_dns.h"
#include "message.h"
#include "runtime.h"
#include "session.h"
#include "spf.h"

static struct runtime *rt;

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
	*from_fields = message_facts(m)->from_fields;
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
	    dkim_module_init(dns, &error) < 0 || (rt = runtime_load(conf, dns, NULL, &error)) == NULL) {
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
	runtime_unref(&rt);
	dkim_module_deinit();
	dns_free(&dns);
	return check_done();
}

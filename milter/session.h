/*
 * session - one SMTP connection: who the client is and what it said in HELO.
 *
 * Lives from connect to close; holds a runtime reference for its whole
 * life, its own arena for connection-lifetime strings, and the HELO SPF
 * check, started as soon as the HELO name is known and collected by the
 * first message that needs it (session_helo_spf).  A new HELO (RSET, EHLO
 * again) replaces the old name and check.  Owned by one milter context;
 * never used by two threads at once.
 */
#ifndef AUTHSCORE_SESSION_H
#define AUTHSCORE_SESSION_H

#include "addr.h"
#include "arena.h"
#include "runtime.h"
#include "spf.h"

struct session {
	struct runtime *rt;
	struct arena *arena;
	struct addr client;
	char client_ip[ADDR_STRLEN];
	const char *client_host;
	const char *trusted; /* "trusted network", or NULL */
	const char *helo;
	struct spf_check *helo_check; /* in flight, or NULL */
	struct spf_outcome helo_spf;
	int helo_done;
	unsigned messages;
};

/* client may be NULL or of family 0 when the MTA does not know it. */
struct session *session_new(struct runtime *rt, const char *client_host,
			    const struct addr *client);
void session_helo(struct session *s, const char *helo);
/* The HELO identity's SPF outcome, waiting for it if needed. */
const struct spf_outcome *session_helo_spf(struct session *s);
void session_free(struct session **sp);

#endif

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
#include "facts.h"
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
	unsigned helo_count; /* HELOs given on this connection */
	unsigned messages;

	/* reputation of the client, started at connect, collected once */
	struct geoip_result geoip;
	struct dnsbl_query *ip_query;
	struct iprev_check *iprev_check;
	struct dnsbl_result *ip_results;
	size_t ip_result_count;
	struct iprev_outcome iprev;
	int reputation_done;
	struct domain_lookup *helo_lists; /* domain lists about the HELO name */
};

/* Domain lists asked about one identity's domain (session or message). */
struct domain_lookup {
	struct arena *arena; /* the owner's: results live as long as the lookup */
	enum facts_identity identity;
	struct dnsbl_query *query;
	struct domain_listing *results;
	size_t count;
	int done;
};

/* Start the domain lists the rules use for this identity, or NULL. */
struct domain_lookup *domain_lookup_start(const struct runtime *rt, struct arena *a,
					  enum facts_identity identity, const char *domain);
/* Collect (once) and append to the facts' listings (in arena a). */
void domain_lookup_collect(struct domain_lookup *d, struct arena *a, struct facts *f);
void domain_lookup_cancel(struct domain_lookup *d);

/* client may be NULL or of family 0 when the MTA does not know it. */
struct session *session_new(struct runtime *rt, const char *client_host,
			    const struct addr *client);
/* Keep the HELO name and start its checks; -1 (nothing done) past the
 * number of HELOs a connection may give. */
int session_helo(struct session *s, const char *helo);
/* The HELO identity's SPF outcome, waiting for it if needed. */
const struct spf_outcome *session_helo_spf(struct session *s);
/* The client's reputation into the facts (waits for it the first time). */
void session_reputation(struct session *s, struct arena *a, struct facts *f);
void session_free(struct session **sp);

#endif

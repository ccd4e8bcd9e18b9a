/*
 * runtime - the immutable snapshot every message works with.
 *
 * A runtime bundles the loaded configuration with what is built from it:
 * the compiled rules, the GeoIP databases, and the DNS lists those rules
 * ask about, plus the process's shared resolver.  It is reference-counted:
 * a session takes a reference when its connection opens and keeps that
 * snapshot to the end, so a reload (SIGHUP) never changes the rules under
 * a message in flight.  runtime_load() builds a snapshot (any error is the
 * whole snapshot's: the caller keeps the old one); runtime_publish() makes
 * it current; runtime_current() returns a new reference.  Thread-safe.
 */
#ifndef AUTHSCORE_RUNTIME_H
#define AUTHSCORE_RUNTIME_H

#include "conf.h"
#include "dns.h"
#include "dnsbl.h"
#include "geoip.h"

struct dkim_signing;
struct arc_seal_key;
struct ruleset;
struct store;

struct runtime {
	struct conf *conf;	 /* owned */
	struct ruleset *rules;	 /* owned */
	struct geoip *geoip;	 /* owned; NULL without databases */
	struct dnsbl_list *ip_lists; /* owned: the IP lists the rules use */
	size_t ip_list_count;
	struct dnsbl_list *domain_lists; /* owned: the domain lists the rules use */
	unsigned *domain_list_identities; /* per domain list: bit (1 << facts_identity) */
	size_t domain_list_count;
	struct dns *dns;     /* shared by every snapshot; owned by main */
	struct store *store; /* the history store, or NULL; shared, owned by main */
	struct ratelimit *ratelimit; /* rate limit state, or NULL; shared, owned by main */
	struct dkim_signing *signing; /* owned: keys and signing table, or NULL: no signing */
	struct arc_seal_key *arc_seal; /* owned: arc-seal's key, or NULL: no sealing */
	int refs;	 /* guarded by runtime.c's lock */
};

/* The process's resolver, as the configuration's DNS settings say. */
struct dns *runtime_dns_new(const struct conf *conf, char **error_r);

/* Takes conf over (also on error, when it is freed).  store may be NULL. */
struct runtime *runtime_load(struct conf *conf, struct dns *dns, struct store *store,
			     char **error_r);
struct runtime *runtime_ref(struct runtime *rt);
void runtime_unref(struct runtime **rtp);

void runtime_publish(struct runtime *rt); /* takes over the caller's reference */
struct runtime *runtime_current(void);	  /* a new reference, or NULL before the first */

#endif

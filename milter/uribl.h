/*
 * uribl - the domain block lists of the body's links (uribl(zone) in the
 * rules; the Spamhaus DBL, SURBL and URIBL conventions).
 *
 * uribl_start() is called at end of message, once the content check has
 * filled facts->content: it asks every domain list the rules name for the
 * uri identity about each distinct registrable domain of the links, the
 * first `max` in the order found, all at once (one parallel DNS round, each
 * query under dns-timeout); uribl_collect() waits for them and appends the
 * answers to facts->domain_lists as IDENT_URI listings, classified by
 * dnsbl.c like every list (a refusal code is "blocked", never a listing,
 * and logged).  Registrable domains, not hosts: what DBL, SURBL and URIBL
 * document as the name to ask; an IP-literal host has no domain and is
 * never asked (DBL answers 127.0.1.255 to an address).
 *
 * A lookup lives in the message's arena; uribl_cancel() ends the queries
 * still out (accepts NULL, clears the pointer).  One message, one thread.
 */
#ifndef AUTHSCORE_URIBL_H
#define AUTHSCORE_URIBL_H

#include <stddef.h>

#include "arena.h"
#include "facts.h"

struct runtime;
struct uribl_lookup;

/* NULL when there is nothing to ask (no uri lists, no domains, max 0). */
struct uribl_lookup *uribl_start(const struct runtime *rt, struct arena *a,
				 const struct content_facts *c, size_t max);
/* Appends the answers to f->domain_lists; returns the domains asked. */
size_t uribl_collect(struct uribl_lookup *u, struct arena *a, struct facts *f);
void uribl_cancel(struct uribl_lookup **up);

#endif

/*
 * uribl - the links' domains asked of the domain lists (see uribl.h).
 *
 * Each domain is one domain_lookup (session.h) for the uri identity: the
 * lists the rules name for it, one query per list, all started before any
 * is waited for.  The lookups are kept in an array in the message's arena.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "session.h"
#include "uribl.h"

struct uribl_lookup {
	struct domain_lookup **lookups;
	size_t count;
};

struct uribl_lookup *uribl_start(const struct runtime *rt, struct arena *a,
				 const struct content_facts *c, size_t max)
{
	struct uribl_lookup *u;
	size_t n = c->domain_count < max ? c->domain_count : max;

	if (!c->scanned || n == 0 || c->domains == NULL)
		return NULL;
	u = arena_alloc(a, sizeof(*u));
	u->lookups = arena_alloc(a, n * sizeof(*u->lookups));
	u->count = 0;
	for (size_t i = 0; i < n; i++) {
		struct domain_lookup *d;

		if (c->domains[i] == NULL || c->domains[i][0] == '\0')
			continue;
		d = domain_lookup_start(rt, a, IDENT_URI, c->domains[i]);
		if (d == NULL) /* no list asks about links' domains */
			return u->count == 0 ? NULL : u;
		u->lookups[u->count++] = d;
	}
	return u->count == 0 ? NULL : u;
}

size_t uribl_collect(struct uribl_lookup *u, struct arena *a, struct facts *f)
{
	if (u == NULL)
		return 0;
	for (size_t i = 0; i < u->count; i++)
		domain_lookup_collect(u->lookups[i], a, f);
	return u->count;
}

void uribl_cancel(struct uribl_lookup **up)
{
	struct uribl_lookup *u = *up;

	if (u == NULL)
		return;
	for (size_t i = 0; i < u->count; i++)
		domain_lookup_cancel(u->lookups[i]);
	u->count = 0;
	*up = NULL;
}

/*
 * geoip - country and autonomous system of an address, from .mmdb files
 * (libmaxminddb: GeoLite2, DB-IP, IPinfo; the lookups are local, memory
 * mapped).
 *
 * geoip_open() opens a country database and/or an ASN database (either
 * may be NULL) and checks that each answers the lookups it is meant for: a
 * missing or corrupt file is an error the caller makes fatal at start-up.
 * geoip_lookup() is thread-safe.  geoip_refresh() (cheap; call it often,
 * e.g. once per connection) notices a database file that changed on disk,
 * at most once per second, opens the new one and swaps it in; a new file
 * that does not open is logged as a warning and the old one kept.
 * Databases swapped out are freed once no lookup uses them.
 */
#ifndef AUTHSCORE_GEOIP_H
#define AUTHSCORE_GEOIP_H

#include <stdint.h>

#include "addr.h"
#include "arena.h"
#include "geoip_result.h"

struct geoip;

struct geoip *geoip_open(const char *country_path, const char *asn_path, char **error_r);
void geoip_free(struct geoip **gp);
void geoip_refresh(struct geoip *g);
/* Returns 0 with *out filled (fields unknown stay empty), -1 when no
 * database is open. */
int geoip_lookup(struct geoip *g, const struct addr *ip, struct arena *a, struct geoip_result *out);

#endif

/*
 * geoip_result - the country and autonomous system of the client, as the
 * GeoIP lookup (checks/geoip.c) found them.  Plain data; asn_org lives in
 * the caller's arena.
 */
#ifndef AUTHSCORE_GEOIP_RESULT_H
#define AUTHSCORE_GEOIP_RESULT_H

#include <stdint.h>

struct geoip_result {
	char country[3];     /* ISO 3166-1 alpha-2, "" when unknown */
	uint32_t asn;	     /* 0 when unknown */
	const char *asn_org; /* in the caller's arena, or NULL */
};

#endif

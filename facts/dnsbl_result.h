/*
 * dnsbl_result - a configured block- or allow-list (RFC 5782) and what it
 * answered about one address or domain (checks/dnsbl.c asks), and the
 * names of the answers.  Plain data: lists come from the configuration,
 * result strings live in the caller's arena.
 */
#ifndef AUTHSCORE_DNSBL_RESULT_H
#define AUTHSCORE_DNSBL_RESULT_H

#include <stddef.h>
#include <stdint.h>

#define DNSBL_MAX_CODES	  8
#define DNSBL_MAX_BLOCKED 8

enum dnsbl_kind { DNSBL_KIND_IP, DNSBL_KIND_DOMAIN };

/* One configured list. */
struct dnsbl_list {
	const char *zone; /* e.g. "zen.spamhaus.org" */
	enum dnsbl_kind kind;
	int allow;			     /* an allow-list (DNSWL): its listing is good news */
	uint32_t blocked[DNSBL_MAX_BLOCKED]; /* refusal codes, host order (127.255.255.254 ...) */
	size_t blocked_count;		     /* 0: dnsbl_default_blocked(zone) */
};

enum dnsbl_status {
	DNSBL_NOT_LISTED, /* NXDOMAIN or NODATA */
	DNSBL_LISTED,	  /* one or more 127.0.0.0/8 codes */
	DNSBL_BLOCKED,	  /* the list refused to answer us (a refusal code) */
	DNSBL_ERROR,	  /* temporary DNS error, timeout, or an answer outside 127/8 */
};

struct dnsbl_result {
	const struct dnsbl_list *list;
	const char *zone;
	const char *subject; /* the address or domain asked about */
	enum dnsbl_status status;
	/* A records returned, host order, the first DNSBL_MAX_CODES: the
	 * listing codes (LISTED), the refusal code (BLOCKED) or the answer
	 * that made it an error.  Only a LISTED result is a listing: rules
	 * look at the status first. */
	uint32_t codes[DNSBL_MAX_CODES];
	size_t code_count;
	unsigned ms;	    /* from the start of the query until its answer was seen */
	const char *reason; /* static text for BLOCKED, ERROR and skipped names, or NULL */
};

const char *dnsbl_status_name(enum dnsbl_status s);

#endif

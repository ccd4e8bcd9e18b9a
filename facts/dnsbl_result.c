/*
 * dnsbl_result - the names of list answers (see dnsbl_result.h).
 */
#include "config.h"

#include "dnsbl_result.h"

static const char *const dnsbl_status_names[] = {
    [DNSBL_NOT_LISTED] = "none",
    [DNSBL_LISTED] = "listed",
    [DNSBL_BLOCKED] = "blocked",
    [DNSBL_ERROR] = "error",
};

const char *dnsbl_status_name(enum dnsbl_status s)
{
	if ((unsigned)s >= sizeof(dnsbl_status_names) / sizeof(dnsbl_status_names[0]))
		return "error";
	return dnsbl_status_names[s];
}

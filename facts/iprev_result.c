/*
 * iprev_result - the names of iprev results (see iprev_result.h).
 */
#include "config.h"

#include "iprev_result.h"

static const char *const iprev_result_names[] = {
    [IPREV_NONE] = "none",	     [IPREV_PASS] = "pass",	      [IPREV_FAIL] = "fail",
    [IPREV_TEMPERROR] = "temperror", [IPREV_PERMERROR] = "permerror",
};

const char *iprev_result_name(enum iprev_result r)
{
	if ((unsigned)r >= sizeof(iprev_result_names) / sizeof(iprev_result_names[0]))
		return "permerror";
	return iprev_result_names[r];
}

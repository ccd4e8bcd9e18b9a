/*
 * dkim_result - the names of DKIM results (see dkim_result.h).
 */
#include "config.h"

#include "dkim_result.h"

static const char *const dkim_result_names[] = {
    [DKIM_NONE] = "none",	    [DKIM_PASS] = "pass",	[DKIM_FAIL] = "fail",
    [DKIM_POLICY] = "policy",	    [DKIM_NEUTRAL] = "neutral", [DKIM_TEMPERROR] = "temperror",
    [DKIM_PERMERROR] = "permerror",
};

const char *dkim_result_name(enum dkim_result r)
{
	if ((unsigned)r >= sizeof(dkim_result_names) / sizeof(dkim_result_names[0]))
		return "permerror";
	return dkim_result_names[r];
}

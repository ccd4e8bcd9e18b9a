/*
 * dmarc_result - the names of DMARC results and policies (see
 * dmarc_result.h).
 */
#include "config.h"

#include "dmarc_result.h"

const char *dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = {
	    [DMARC_NONE] = "none",	     [DMARC_PASS] = "pass",	      [DMARC_FAIL] = "fail",
	    [DMARC_TEMPERROR] = "temperror", [DMARC_PERMERROR] = "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	static const char *const names[] = {
	    [DMARC_POLICY_UNSET] = "unset",
	    [DMARC_POLICY_NONE] = "none",
	    [DMARC_POLICY_QUARANTINE] = "quarantine",
	    [DMARC_POLICY_REJECT] = "reject",
	};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unknown";
}

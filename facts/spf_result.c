/*
 * spf_result - the names of SPF results and scopes (see spf_result.h).
 */
#include "config.h"

#include "spf_result.h"

static const char *const spf_result_names[] = {
	[SPF_NONE] = "none",		  [SPF_NEUTRAL] = "neutral",
	[SPF_PASS] = "pass",		  [SPF_FAIL] = "fail",
	[SPF_SOFTFAIL] = "softfail",	  [SPF_TEMPERROR] = "temperror",
	[SPF_PERMERROR] = "permerror",
};

const char *spf_result_name(enum spf_result r)
{
	if ((unsigned)r >= sizeof(spf_result_names) / sizeof(spf_result_names[0]))
		return "permerror";
	return spf_result_names[r];
}

const char *spf_scope_name(enum spf_scope s)
{
	return s == SPF_SCOPE_HELO ? "helo" : "mfrom";
}

/*
 * arc_result - the names of ARC chain results (see arc_result.h): the
 * RFC 8601 §2.7.x words written after "arc=" and read by the rules.
 */
#include "config.h"

#include "arc_result.h"

static const char *const arc_result_names[] = {
    [ARC_NONE] = "none",
    [ARC_PASS] = "pass",
    [ARC_FAIL] = "fail",
    [ARC_TEMPERROR] = "temperror",
};

const char *arc_result_name(enum arc_result r)
{
	/* an out-of-range value is a broken chain, never a pass */
	if ((unsigned)r >= sizeof(arc_result_names) / sizeof(arc_result_names[0]))
		return "fail";
	return arc_result_names[r];
}

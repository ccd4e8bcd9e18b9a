/*
 * verdict_result - the names of the actions (see verdict_result.h).
 */
#include "config.h"

#include "verdict_result.h"

static const char *const action_names[] = {
	[VERDICT_ACCEPT] = "accept",	     [VERDICT_TAG] = "tag",
	[VERDICT_QUARANTINE] = "quarantine", [VERDICT_TEMPFAIL] = "tempfail",
	[VERDICT_REJECT] = "reject",	     [VERDICT_DISCARD] = "discard",
};

const char *verdict_action_name(enum verdict_action action)
{
	return action_names[action];
}

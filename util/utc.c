/*
 * utc - a time as admins read it (see utc.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "utc.h"

const char *utc_str(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%" PRId64, t);
	return buf;
}

/*
 * ratelimit_result - the names of the limits a message exceeded (see
 * ratelimit_result.h).
 */
#include "config.h"

#include <stdio.h>

#include "ratelimit_result.h"

const char *ratelimit_names(unsigned bits, char *out, size_t size)
{
	size_t o = 0;

	if (size > 0)
		out[0] = '\0';
	for (int k = 0; k < RATELIMIT_KINDS && size > 0; k++) {
		int n;

		if (!(bits & RATELIMIT_BIT(k)))
			continue;
		n = snprintf(out + o, size - o, "%s%s", o ? "," : "",
			     ratelimit_kind_name((enum ratelimit_kind)k));
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	return out;
}

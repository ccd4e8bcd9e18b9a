/*
 * domain - domain name syntax (see domain.h).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "domain.h"

int domain_valid(const char *d, unsigned flags)
{
	size_t len = strlen(d), label = 0, labels = 1;
	int digits_only = 1;

	if (len == 0 || len > 253)
		return 0;
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			labels++;
			label = 0;
			digits_only = 1;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
		if (!isdigit((unsigned char)*p))
			digits_only = 0;
		if (++label > 63)
			return 0;
	}
	if (label == 0)
		return 0;
	return !(flags & DOMAIN_HOSTLIKE) || (labels >= 2 && !digits_only);
}

/*
 * ratelimit_result - which rate limits (checks/ratelimit.c) a message
 * exceeded: the kinds of limit, their bits in struct facts' ratelimit, and
 * their names.  The buckets and tables stay in the check.
 */
#ifndef AUTHSCORE_RATELIMIT_RESULT_H
#define AUTHSCORE_RATELIMIT_RESULT_H

#include <stddef.h>

/* Bits of struct facts' ratelimit: the limits a message exceeded. */
enum ratelimit_kind { RATELIMIT_IP, RATELIMIT_SENDER, RATELIMIT_USER, RATELIMIT_KINDS };
#define RATELIMIT_BIT(kind) (1u << (kind))

/* "ip", "sender", "user". */
static inline const char *ratelimit_kind_name(enum ratelimit_kind kind)
{
	static const char *const names[] = {
	    [RATELIMIT_IP] = "ip", [RATELIMIT_SENDER] = "sender", [RATELIMIT_USER] = "user"};

	return (unsigned)kind < RATELIMIT_KINDS ? names[kind] : "?";
}
/* "ip,sender" for the bits set, "" for none; returns out. */
const char *ratelimit_names(unsigned bits, char *out, size_t size);

#endif

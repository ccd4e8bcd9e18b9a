/*
 * addr - address parsing, formatting and CIDR matching (see addr.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

static void addr_unmap(struct addr *a)
{
	if (a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->u.v6)) {
		struct in_addr v4;

		memcpy(&v4, &a->u.v6.s6_addr[12], 4);
		a->family = AF_INET;
		a->u.v4 = v4;
	}
}

int addr_parse(const char *text, struct addr *a_r)
{
	char tmp[ADDR_STRLEN + 8];
	size_t len = strlen(text);

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
		text += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, text, len);
	tmp[len] = '\0';
	memset(a_r, 0, sizeof(*a_r));
	if (inet_pton(AF_INET, tmp, &a_r->u.v4) == 1) {
		a_r->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &a_r->u.v6) == 1) {
		a_r->family = AF_INET6;
		addr_unmap(a_r);
		return 0;
	}
	return -1;
}

int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a_r)
{
	memset(a_r, 0, sizeof(*a_r));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		a_r->family = AF_INET;
		a_r->u.v4 = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		a_r->family = AF_INET6;
		a_r->u.v6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		addr_unmap(a_r);
		return 0;
	}
	return -1;
}

const char *addr_format(const struct addr *a, char *out, size_t size)
{
	if (a->family == 0 || inet_ntop(a->family, &a->u, out, (socklen_t)size) == NULL)
		snprintf(out, size, "unknown");
	return out;
}

int addr_is_loopback(const struct addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->u.v4.s_addr) >> 24) == 127;
	return a->family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->u.v6);
}

int cidr_parse(const char *text, struct cidr *c_r)
{
	char tmp[ADDR_STRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max, prefix;

	if (alen == 0 || alen >= sizeof(tmp))
		return -1;
	memcpy(tmp, text, alen);
	tmp[alen] = '\0';
	if (addr_parse(tmp, &c_r->net) < 0)
		return -1;
	max = c_r->net.family == AF_INET ? 32 : 128;
	if (strchr(tmp, ':') != NULL && c_r->net.family == AF_INET)
		max = 128; /* ::ffff:a.b.c.d/120 counts IPv6 bits */
	prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1;
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
			return -1;
		v = strtoul(p, &end, 10);
		if (*end != '\0' || v > max)
			return -1;
		prefix = (unsigned)v;
	}
	if (max == 128 && c_r->net.family == AF_INET) {
		if (prefix < 96)
			return -1;
		prefix -= 96;
	}
	c_r->prefix = prefix;
	return 0;
}

static int bits_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int cidr_contains(const struct cidr *c, const struct addr *a)
{
	if (c->net.family != a->family)
		return 0;
	if (a->family == AF_INET)
		return bits_equal((const unsigned char *)&c->net.u.v4, (const unsigned char *)&a->u.v4,
				  c->prefix);
	return bits_equal(c->net.u.v6.s6_addr, a->u.v6.s6_addr, c->prefix);
}

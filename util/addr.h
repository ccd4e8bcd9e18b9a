/*
 * addr - IPv4/IPv6 addresses and CIDR networks, knowing nothing of mail.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as plain IPv4, so
 * every check sees one form (RFC 7208 §5).  addr_parse() takes literal
 * text, with or without [brackets] or an "IPv6:" prefix (RFC 5321 §4.1.3).
 * cidr_parse() requires a canonical prefix length.  Pure functions;
 * thread-safe.
 */
#ifndef AUTHSCORE_ADDR_H
#define AUTHSCORE_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

struct addr {
	int family; /* AF_INET or AF_INET6; 0 when unknown */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

struct cidr {
	struct addr net;
	unsigned prefix;
};

#define ADDR_STRLEN INET6_ADDRSTRLEN

int addr_parse(const char *text, struct addr *a_r);
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a_r);
const char *addr_format(const struct addr *a, char *out, size_t size);
int addr_is_loopback(const struct addr *a);
int cidr_parse(const char *text, struct cidr *c_r);
int cidr_contains(const struct cidr *c, const struct addr *a);

#endif

/*
 * addr_test - address parsing and CIDR matching.
 */
#include "config.h"

#include "addr.h"
#include "check.h"

static int in(const char *net, const char *ip)
{
	struct cidr c;
	struct addr a;

	return cidr_parse(net, &c) == 0 && addr_parse(ip, &a) == 0 && cidr_contains(&c, &a);
}

int main(void)
{
	struct addr a;
	struct cidr c;
	char text[ADDR_STRLEN];

	CHECK(addr_parse("203.0.113.10", &a) == 0 && a.family == AF_INET, "IPv4 literal");
	CHECK(addr_parse("[2001:db8::25]", &a) == 0 && a.family == AF_INET6, "bracketed IPv6");
	CHECK(addr_parse("IPv6:2001:db8::25", &a) == 0 && a.family == AF_INET6,
	      "RFC 5321 IPv6: prefix");
	CHECK(addr_parse("::ffff:203.0.113.7", &a) == 0 && a.family == AF_INET,
	      "IPv4-mapped IPv6 is IPv4 (RFC 7208 §5)");
	CHECK_STR(addr_format(&a, text, sizeof(text)), "203.0.113.7", "mapped address formats as IPv4");
	CHECK(addr_parse("203.0.113", &a) < 0, "short IPv4 rejected");
	CHECK(addr_parse("", &a) < 0, "empty rejected");
	CHECK(addr_parse("example.test", &a) < 0, "name rejected");
	CHECK(addr_parse("127.0.0.2", &a) == 0 && addr_is_loopback(&a), "127/8 is loopback");
	CHECK(addr_parse("::1", &a) == 0 && addr_is_loopback(&a), "::1 is loopback");

	CHECK(in("203.0.113.0/24", "203.0.113.200"), "inside /24");
	CHECK(!in("203.0.113.0/24", "203.0.114.1"), "outside /24");
	CHECK(in("0.0.0.0/0", "198.51.100.1"), "/0 contains everything");
	CHECK(in("2001:db8::/32", "2001:db8:1::5"), "inside IPv6 /32");
	CHECK(!in("2001:db8::/32", "2001:db9::5"), "outside IPv6 /32");
	CHECK(!in("2001:db8::/32", "203.0.113.1"), "families never match");
	CHECK(in("203.0.113.5", "203.0.113.5"), "bare address is a host route");
	CHECK(in("203.0.113.0/25", "203.0.113.127") && !in("203.0.113.0/25", "203.0.113.128"),
	      "odd prefix boundary");
	CHECK(in("::ffff:203.0.113.0/120", "203.0.113.9"), "mapped network matches IPv4 client");
	CHECK(cidr_parse("203.0.113.0/33", &c) < 0, "prefix over 32 rejected");
	CHECK(cidr_parse("203.0.113.0/032", &c) < 0, "leading zero rejected");
	CHECK(cidr_parse("203.0.113.0/", &c) < 0, "empty prefix rejected");
	CHECK(cidr_parse("2001:db8::/129", &c) < 0, "prefix over 128 rejected");
	CHECK(cidr_parse("/24", &c) < 0, "no address rejected");
	return check_done();
}

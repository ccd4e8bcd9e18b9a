/*
 * domain_test - domain name syntax.
 */
#include "config.h"

#include "check.h"
#include "domain.h"

int main(void)
{
	char long_label[70], long_name[300];

	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".test");
	for (size_t i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 'a';
	long_name[254] = '\0';

	CHECK(domain_valid("example.test", 0), "two labels");
	CHECK(domain_valid("localhost", 0), "one label, plain");
	CHECK(!domain_valid("localhost", DOMAIN_HOSTLIKE), "one label is not host-like");
	CHECK(domain_valid("_dmarc.example.test", DOMAIN_HOSTLIKE), "underscore labels (RFC 8552)");
	CHECK(domain_valid("a-b.example", DOMAIN_HOSTLIKE), "hyphens");
	CHECK(!domain_valid("192.0.2.1", DOMAIN_HOSTLIKE), "an address literal is not host-like");
	CHECK(domain_valid("192.0.2.1", 0), "digits are labels all the same");
	CHECK(!domain_valid("", 0), "empty");
	CHECK(!domain_valid(".example", 0), "empty first label");
	CHECK(!domain_valid("example..test", 0), "empty middle label");
	CHECK(!domain_valid("example.test.", 0), "final dot (callers strip it)");
	CHECK(!domain_valid("exa mple.test", 0), "a blank");
	CHECK(!domain_valid("ex\xc3\xa4mple.test", 0), "non-ASCII");
	CHECK(!domain_valid(long_label, 0), "a label of 64 octets");
	CHECK(!domain_valid(long_name, 0), "254 characters");
	long_name[253] = '\0';
	CHECK(domain_valid(long_name, 0), "253 characters");
	return check_done();
}

/*
 * domain - is a string a usable DNS domain name (no final dot)?
 *
 * Labels of 1 to 63 letters, digits, hyphens and underscores, at most 253
 * characters in all (RFC 1035 §2.3.4; underscores for service names like
 * _dmarc, RFC 8552).  With DOMAIN_HOSTLIKE also two labels or more and a
 * top label that is not all digits, which keeps address literals out (RFC
 * 3696 §2).  Pure; thread-safe.
 */
#ifndef AUTHSCORE_DOMAIN_H
#define AUTHSCORE_DOMAIN_H

#define DOMAIN_HOSTLIKE 1u

int domain_valid(const char *d, unsigned flags);

#endif

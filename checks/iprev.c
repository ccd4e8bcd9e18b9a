/*
 * iprev - reverse DNS with forward confirmation, RFC 8601 §3 (see iprev.h).
 *
 * iprev_start() sends the PTR query; iprev_finish() waits for it, starts
 * the forward query (A for an IPv4 client, AAAA for IPv6; an IPv4-mapped
 * client is IPv4, addr.h) of every distinct PTR name at once, up to
 * IPREV_MAX_NAMES (the cap RFC 7208 §4.6.4 puts on the same walk), and
 * waits for them all: one DNS round for the forward step.  PTR names that
 * are not host names (RFC 1123 §2.1 letters, digits, hyphens; underscores
 * tolerated) are dropped before any query.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dnsbl.h"
#include "iprev.h"
#include "log.h"
#include "mem.h"
#include "metrics_dns.h"

#define IPREV_NAME_MAX	253
#define IPREV_LABEL_MAX 63

struct iprev_check {
	struct dns *dns;
	struct addr client;
	unsigned timeout_ms;
	struct dns_query *ptr;
	char *mta_name; /* confirmed by the MTA: pass without lookups */
};

static int iprev_is_host_name(const char *name);

struct iprev_check *iprev_start(struct dns *dns, const struct addr *client, const char *mta_name,
				unsigned timeout_ms)
{
	struct iprev_check *c = xcalloc(1, sizeof(*c));
	char name[IPREV_NAME_MAX + 2];

	c->dns = dns;
	c->client = *client;
	c->timeout_ms = timeout_ms;
	/* "[203.0.113.5]" and Postfix's "unknown" are not confirmed names;
	 * "unknown" is also a valid host name, so it is named here. */
	if (mta_name != NULL && iprev_is_host_name(mta_name) && strcasecmp(mta_name, "unknown") != 0) {
		c->mta_name = xstrdup(mta_name);
		return c;
	}
	/* The reverse tree reverses octets or nibbles exactly as a DNSBL does
	 * (RFC 1035 §3.5, RFC 3596 §2.5, RFC 5782 §2.1, §2.4). */
	if (dnsbl_ip_name(client, client->family == AF_INET ? "in-addr.arpa" : "ip6.arpa", name,
			  sizeof(name)) == 0)
		c->ptr = dns_start(dns, name, DNS_T_PTR, timeout_ms);
	return c;
}

static int iprev_is_host_name(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > IPREV_NAME_MAX)
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
		if (++label > IPREV_LABEL_MAX)
			return 0;
	}
	return label > 0;
}

static int iprev_matches(const struct dns_answer *ans, const struct addr *client)
{
	if (ans->status != DNS_OK)
		return 0;
	for (size_t i = 0; i < ans->count; i++) {
		if (client->family == AF_INET &&
		    memcmp(&ans->rr[i].u.a, &client->u.v4, sizeof(client->u.v4)) == 0)
			return 1;
		if (client->family == AF_INET6 &&
		    memcmp(&ans->rr[i].u.aaaa, &client->u.v6, sizeof(client->u.v6)) == 0)
			return 1;
	}
	return 0;
}

static void iprev_set(struct iprev_outcome *out, struct arena *a, enum iprev_result result,
		      const char *name, const char *reason)
{
	out->result = result;
	out->name = name ? arena_strdup(a, name) : NULL;
	out->reason = reason ? arena_strdup(a, reason) : NULL;
}

/* The distinct host names among the PTR answer's, at most IPREV_MAX_NAMES. */
static size_t iprev_ptr_names(const struct dns_answer *ptr, const char **names)
{
	size_t n = 0;

	for (size_t i = 0; i < ptr->count && n < IPREV_MAX_NAMES; i++) {
		const char *name = ptr->rr[i].u.name;
		size_t j;

		if (!iprev_is_host_name(name))
			continue;
		for (j = 0; j < n; j++)
			if (strcasecmp(names[j], name) == 0)
				break;
		if (j == n)
			names[n++] = name;
	}
	return n;
}

/* Looks up the n PTR names forward and sets the outcome: pass for the first
 * that maps back to the client's address. */
static void iprev_confirm(struct iprev_check *c, struct arena *a, struct iprev_outcome *out,
			  const char **names, size_t n)
{
	struct dns_query *fwd[IPREV_MAX_NAMES] = {0};
	size_t confirmed = IPREV_MAX_NAMES, tempfail = 0;
	int rrtype;
	char reason[160];

	/* Every forward lookup first, then the waits: one round. */
	rrtype = c->client.family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	for (size_t i = 0; i < n; i++)
		fwd[i] = dns_start(c->dns, names[i], rrtype, c->timeout_ms);
	for (size_t i = 0; i < n; i++) {
		const struct dns_answer *ans = dns_wait(fwd[i]);

		metrics_dns(METRICS_DNS_IPREV, NULL, ans->status, ans->timed_out);

		if (confirmed == IPREV_MAX_NAMES && iprev_matches(ans, &c->client))
			confirmed = i;
		if (ans->status == DNS_TEMPFAIL)
			tempfail++;
	}
	if (confirmed < n) {
		iprev_set(out, a, IPREV_PASS, names[confirmed], NULL);
	} else if (tempfail > 0) {
		snprintf(reason, sizeof(reason), "forward lookup failed for %zu of %zu names",
			 tempfail, n);
		iprev_set(out, a, IPREV_TEMPERROR, names[0], reason);
	} else {
		iprev_set(out, a, IPREV_FAIL, names[0],
			  n == 1 ? "the PTR name does not map back to the address"
				 : "no PTR name maps back to the address");
	}
	for (size_t i = 0; i < n; i++)
		dns_query_free(&fwd[i]);
}

void iprev_finish(struct iprev_check **cp, struct arena *a, struct iprev_outcome *out)
{
	struct iprev_check *c = *cp;
	const struct dns_answer *ptr;
	const char *names[IPREV_MAX_NAMES];
	size_t n;
	char reason[160];

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	if (c->mta_name != NULL) {
		iprev_set(out, a, IPREV_PASS, c->mta_name, NULL);
		goto done;
	}
	if (c->ptr == NULL) {
		iprev_set(out, a, IPREV_PERMERROR, NULL, "no client address");
		goto done;
	}
	ptr = dns_wait(c->ptr);
	metrics_dns(METRICS_DNS_IPREV, NULL, ptr->status, ptr->timed_out);
	switch (ptr->status) {
	case DNS_TEMPFAIL:
		snprintf(reason, sizeof(reason), "PTR lookup: %s",
			 ptr->timed_out ? "timeout"
			 : ptr->why	? ptr->why
					: "temporary error");
		iprev_set(out, a, IPREV_TEMPERROR, NULL, reason);
		goto done;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		/* RFC 8601 §2.7.3: "no PTR data are published" is permerror. */
		iprev_set(out, a, IPREV_PERMERROR, NULL,
			  ptr->status == DNS_NXDOMAIN ? "no PTR record (NXDOMAIN)"
						      : "no PTR record");
		goto done;
	case DNS_OK:
		break;
	}
	n = iprev_ptr_names(ptr, names);
	if (n == 0)
		iprev_set(out, a, IPREV_PERMERROR, NULL, "PTR names are not host names");
	else
		iprev_confirm(c, a, out, names, n);
done:
	iprev_cancel(cp);
}

void iprev_cancel(struct iprev_check **cp)
{
	if (*cp == NULL)
		return;
	dns_query_free(&(*cp)->ptr);
	free((*cp)->mta_name);
	xfree(cp);
}

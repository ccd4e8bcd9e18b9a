/*
 * rules_lists - which DNS lists a ruleset asks about.
 *
 * The lists authscore queries are exactly the ones the rules name:
 * dnsbl(zone) and dnswl(zone) are IP lists, dbl(zone[, identity]) a domain
 * list, asked about the identities the rules name (no identity: the
 * sender's four, mail_from, from, helo and dkim); uribl(zone), the same as
 * dbl(zone, uri), asks it about the links' domains.  One entry per zone;
 * strings live in the ruleset.
 */
#include "config.h"

#include <stdlib.h>
#include <strings.h>

#include "mem.h"
#include "rules_int.h"

#define ALL_IDENTITIES                                                                             \
	((1u << IDENT_MAIL_FROM) | (1u << IDENT_FROM) | (1u << IDENT_HELO) | (1u << IDENT_DKIM))

size_t rules_lists(const struct ruleset *rs, struct rules_list_use **out)
{
	struct rules_list_use *uses = xcalloc(rs->test_count + 1, sizeof(*uses));
	size_t n = 0;

	for (size_t i = 0; i < rs->test_count; i++) {
		const struct rule_test *t = &rs->tests[i];
		enum dnsbl_kind kind;
		size_t j;

		if (t->fact != FACT_DNSBL && t->fact != FACT_DNSWL && t->fact != FACT_DBL &&
		    t->fact != FACT_URIBL)
			continue;
		if (t->arg == NULL)
			continue;
		kind = t->fact == FACT_DBL || t->fact == FACT_URIBL ? DNSBL_KIND_DOMAIN
								     : DNSBL_KIND_IP;
		for (j = 0; j < n; j++)
			if (uses[j].kind == kind && strcasecmp(uses[j].zone, t->arg) == 0)
				break;
		if (j == n) {
			uses[n].zone = t->arg;
			uses[n].kind = kind;
			n++;
		}
		if (t->fact == FACT_DNSWL)
			uses[j].allow = 1;
		if (kind == DNSBL_KIND_DOMAIN)
			uses[j].identities |= t->ident == RULE_IDENT_ANY ? ALL_IDENTITIES
									   : 1u << t->ident;
	}
	*out = uses;
	return n;
}

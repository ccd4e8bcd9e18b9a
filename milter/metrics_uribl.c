/*
 * metrics_uribl - the URL block lists' counters (see metrics_uribl.h).
 */
#include "config.h"

#include <stdint.h>
#include <strings.h>

#include "counters.h"
#include "metrics_uribl.h"

/* Upper bounds of the buckets: domains asked per message (the default cap
 * is 20). */
static const unsigned uribl_bucket[] = {0, 1, 2, 5, 10, 20, 50, 100};
#define N_URIBL_BUCKETS (sizeof(uribl_bucket) / sizeof(uribl_bucket[0]))

static struct {
	counter buckets[N_URIBL_BUCKETS + 1]; /* the last one is +Inf */
	counter sum, messages, over_cap, listed;
} u;

void metrics_uribl_counts(const struct facts *f, size_t *asked_r, size_t *over_r)
{
	const char *zone = NULL;
	size_t asked = 0;

	/* every domain is asked of every uri list: count one list's answers */
	for (size_t i = 0; i < f->domain_list_count; i++) {
		const struct domain_listing *l = &f->domain_lists[i];

		if (l->identity != IDENT_URI || l->r.zone == NULL)
			continue;
		if (zone == NULL)
			zone = l->r.zone;
		if (strcasecmp(zone, l->r.zone) == 0)
			asked++;
	}
	*asked_r = asked;
	*over_r =
	    asked > 0 && f->content.domain_count > asked ? f->content.domain_count - asked : 0;
}

void metrics_uribl_message(const struct facts *f)
{
	size_t asked, over, b = 0;
	int listed = 0;

	metrics_uribl_counts(f, &asked, &over);
	while (b < N_URIBL_BUCKETS && asked > uribl_bucket[b])
		b++;
	counter_add(&u.buckets[b], 1);
	counter_add(&u.sum, asked);
	counter_add(&u.messages, 1);
	counter_add(&u.over_cap, over);
	for (size_t i = 0; i < f->domain_list_count && !listed; i++)
		listed = f->domain_lists[i].identity == IDENT_URI &&
			 f->domain_lists[i].r.status == DNSBL_LISTED;
	if (listed)
		counter_add(&u.listed, 1);
}

void metrics_uribl_render(struct buf *b)
{
	uint64_t cum = 0;

	buf_puts(b, "# HELP authscore_uribl_domains Links' domains asked of the URL block lists "
		    "per checked message\n# TYPE authscore_uribl_domains histogram\n");
	for (size_t i = 0; i <= N_URIBL_BUCKETS; i++) {
		cum += counter_get(&u.buckets[i]);
		if (i < N_URIBL_BUCKETS)
			buf_printf(b, "authscore_uribl_domains_bucket{le=\"%u\"} %llu\n",
				   uribl_bucket[i], (unsigned long long)cum);
		else
			buf_printf(b, "authscore_uribl_domains_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cum);
	}
	buf_printf(b, "authscore_uribl_domains_sum %llu\nauthscore_uribl_domains_count %llu\n",
		   (unsigned long long)counter_get(&u.sum), (unsigned long long)cum);
	buf_printf(b,
		   "# HELP authscore_uribl_domains_over_cap_total Links' domains not asked: over "
		   "uribl-max-domains\n# TYPE authscore_uribl_domains_over_cap_total counter\n"
		   "authscore_uribl_domains_over_cap_total %llu\n",
		   (unsigned long long)counter_get(&u.over_cap));
	buf_printf(b,
		   "# HELP authscore_uribl_listed_messages_total Checked messages with a link's "
		   "domain listed\n# TYPE authscore_uribl_listed_messages_total counter\n"
		   "authscore_uribl_listed_messages_total %llu\n",
		   (unsigned long long)counter_get(&u.listed));
}

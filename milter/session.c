/*
 * session - connection state (see session.h).
 */
#include "config.h"

#include <string.h>

#include "iprev.h"
#include "mem.h"
#include "metrics.h"
#include "session.h"

#define HELO_MAX 255 /* RFC 5321 §4.5.3.1.2: a domain is at most 255 octets */
/* HELOs one connection may give.  An MTA sends one per EHLO (two with
 * STARTTLS); each starts DNS work and grows the session's arena, so a
 * client looping on HELO at the socket would grow both without end. */
#define HELO_PER_SESSION_MAX 16

struct session *session_new(struct runtime *rt, const char *client_host,
			    const struct addr *client)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->rt = runtime_ref(rt);
	s->arena = arena_new(2048);
	if (client != NULL)
		s->client = *client;
	addr_format(&s->client, s->client_ip, sizeof(s->client_ip));
	s->client_host = client_host != NULL ? arena_strdup(s->arena, client_host) : NULL;
	if (s->client.family != 0 && conf_is_trusted(rt->conf, &s->client))
		s->trusted = "trusted network";
	metrics_connection(s->trusted != NULL);
	if (s->trusted == NULL && s->client.family != 0) {
		/* Everything that needs only the client's address starts now. */
		if (rt->geoip != NULL) {
			geoip_refresh(rt->geoip);
			geoip_lookup(rt->geoip, &s->client, s->arena, &s->geoip);
		}
		s->iprev_check = iprev_start(rt->dns, &s->client,
					     rt->conf->iprev_trust_mta ? client_host : NULL,
					     rt->conf->dns_timeout_ms);
		if (rt->ip_list_count > 0)
			s->ip_query = dnsbl_ip_start(rt->dns, &s->client, rt->ip_lists,
						     rt->ip_list_count, rt->conf->dns_timeout_ms);
	}
	return s;
}

struct domain_lookup *domain_lookup_start(const struct runtime *rt, struct arena *a,
					  enum facts_identity identity, const char *domain)
{
	struct dnsbl_list *lists;
	struct domain_lookup *d;
	size_t n = 0;

	if (domain == NULL || domain[0] == '\0')
		return NULL;
	lists = arena_alloc(a, (rt->domain_list_count + 1) * sizeof(*lists));
	for (size_t i = 0; i < rt->domain_list_count; i++)
		if (rt->domain_list_identities[i] & (1u << identity))
			lists[n++] = rt->domain_lists[i];
	if (n == 0)
		return NULL;
	d = arena_alloc(a, sizeof(*d));
	d->arena = a;
	d->identity = identity;
	d->query = dnsbl_domain_start(rt->dns, domain, lists, n, rt->conf->dns_timeout_ms);
	d->results = arena_alloc(a, n * sizeof(*d->results));
	d->count = n;
	return d;
}

void domain_lookup_collect(struct domain_lookup *d, struct arena *a, struct facts *f)
{
	struct domain_listing *all;

	if (d == NULL)
		return;
	if (!d->done) {
		struct dnsbl_result *r = arena_alloc(d->arena, d->count * sizeof(*r));

		d->count = dnsbl_finish(&d->query, d->arena, r, d->count);
		for (size_t i = 0; i < d->count; i++) {
			d->results[i].identity = d->identity;
			d->results[i].r = r[i];
		}
		d->done = 1;
	}
	all = arena_alloc(a, (f->domain_list_count + d->count) * sizeof(*all));
	if (f->domain_list_count > 0)
		memcpy(all, f->domain_lists, f->domain_list_count * sizeof(*all));
	memcpy(all + f->domain_list_count, d->results, d->count * sizeof(*all));
	f->domain_lists = all;
	f->domain_list_count += d->count;
}

void domain_lookup_cancel(struct domain_lookup *d)
{
	if (d != NULL)
		dnsbl_cancel(&d->query);
}

void session_reputation(struct session *s, struct arena *a, struct facts *f)
{
	if (!s->reputation_done) {
		if (s->iprev_check != NULL)
			iprev_finish(&s->iprev_check, s->arena, &s->iprev);
		if (s->ip_query != NULL) {
			s->ip_results = arena_alloc(s->arena,
						    s->rt->ip_list_count * sizeof(*s->ip_results));
			s->ip_result_count = dnsbl_finish(&s->ip_query, s->arena, s->ip_results,
							  s->rt->ip_list_count);
		}
		s->reputation_done = 1;
	}
	f->geoip = s->geoip;
	f->iprev = s->iprev;
	f->ip_lists = s->ip_results;
	f->ip_list_count = s->ip_result_count;
	domain_lookup_collect(s->helo_lists, a, f);
}

static struct spf_params helo_params(const struct session *s)
{
	const struct conf *conf = s->rt->conf;
	struct spf_params p = {
		.client = s->client,
		.helo = s->helo,
		.sender = NULL,
		.scope = SPF_SCOPE_HELO,
		.deadline_ms = conf->spf_timeout_ms,
		.lookup_timeout_ms = conf->dns_timeout_ms,
	};
	return p;
}

int session_helo(struct session *s, const char *helo)
{
	struct spf_params p;

	if (s->helo_count >= HELO_PER_SESSION_MAX)
		return -1;
	s->helo_count++;
	spf_cancel(&s->helo_check);
	domain_lookup_cancel(s->helo_lists);
	s->helo_done = 0;
	s->helo = arena_strndup(s->arena, helo, strnlen(helo, HELO_MAX));
	if (s->trusted != NULL)
		return 0;
	s->helo_lists = domain_lookup_start(s->rt, s->arena, IDENT_HELO, s->helo);
	p = helo_params(s);
	s->helo_check = spf_start(s->rt->dns, &p);
	return 0;
}

const struct spf_outcome *session_helo_spf(struct session *s)
{
	if (!s->helo_done) {
		if (s->helo_check != NULL) {
			spf_finish(&s->helo_check, s->arena, &s->helo_spf);
			metrics_spf_dns(&s->helo_spf);
		} else
			memset(&s->helo_spf, 0, sizeof(s->helo_spf));
		s->helo_spf.scope = SPF_SCOPE_HELO;
		s->helo_done = 1;
	}
	return &s->helo_spf;
}

void session_free(struct session **sp)
{
	struct session *s = *sp;

	if (s == NULL)
		return;
	spf_cancel(&s->helo_check);
	domain_lookup_cancel(s->helo_lists);
	iprev_cancel(&s->iprev_check);
	dnsbl_cancel(&s->ip_query);
	arena_free(&s->arena);
	runtime_unref(&s->rt);
	xfree(sp);
}

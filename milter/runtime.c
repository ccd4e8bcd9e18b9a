/*
 * runtime - reference-counted configuration snapshots (see runtime.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <string.h>

#include "arc_sealkey.h"
#include "facts.h"
#include "mem.h"
#include "rules.h"
#include "dkim_sign.h"
#include "runtime.h"
#include "store.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;

/* "zone code..." lines of dnsbl-blocked: a list's own refusal codes. */
static int blocked_codes(const struct conf *conf, struct dnsbl_list *l, char **error_r)
{
	for (char **line = conf->dnsbl_blocked; line != NULL && *line != NULL; line++) {
		size_t zlen = strcspn(*line, " ");

		if (strlen(l->zone) != zlen || strncasecmp(*line, l->zone, zlen) != 0)
			continue;
		l->blocked_count = 0;
		for (const char *p = *line + zlen; *p == ' ';) {
			struct addr a;
			char code[ADDR_STRLEN];
			size_t n = strcspn(++p, " ");

			snprintf(code, sizeof(code), "%.*s", (int)n, p);
			if (addr_parse(code, &a) < 0 || a.family != AF_INET ||
			    l->blocked_count == DNSBL_MAX_BLOCKED) {
				*error_r = xasprintf("%s: dnsbl-blocked %s: \"%s\" is not an IPv4 "
						     "address (at most %d of them)",
						     conf->path, l->zone, code, DNSBL_MAX_BLOCKED);
				return -1;
			}
			l->blocked[l->blocked_count++] = ntohl(a.u.v4.s_addr);
			p += n;
		}
	}
	return 0;
}

/* The DNS lists the rules ask about, as the dnsbl module takes them. */
static int lists_build(struct runtime *rt, char **error_r)
{
	struct rules_list_use *uses;
	size_t n = rules_lists(rt->rules, &uses);
	int r = 0;

	rt->ip_lists = xcalloc(n + 1, sizeof(*rt->ip_lists));
	rt->domain_lists = xcalloc(n + 1, sizeof(*rt->domain_lists));
	rt->domain_list_identities = xcalloc(n + 1, sizeof(*rt->domain_list_identities));
	for (size_t i = 0; i < n; i++) {
		struct dnsbl_list *l = uses[i].kind == DNSBL_KIND_IP
					       ? &rt->ip_lists[rt->ip_list_count++]
					       : &rt->domain_lists[rt->domain_list_count];

		l->zone = uses[i].zone; /* lives in the ruleset, as long as the runtime */
		l->kind = uses[i].kind;
		l->allow = uses[i].allow;
		if (uses[i].kind == DNSBL_KIND_DOMAIN)
			rt->domain_list_identities[rt->domain_list_count++] = uses[i].identities;
		if ((r = blocked_codes(rt->conf, l, error_r)) < 0)
			break;
	}
	free(uses);
	return r;
}

struct dns *runtime_dns_new(const struct conf *conf, char **error_r)
{
	struct dns_config dc = {
		.forwarders = (const char *const *)conf->dns_forwarders,
		.stubs = (const char *const *)conf->dns_stubs,
		.trust_anchor_file = conf->dns_trust_anchor,
		.timeout_ms = conf->dns_timeout_ms,
	};

	return dns_new(&dc, error_r);
}

static void runtime_destroy(struct runtime *rt)
{
	rules_free(&rt->rules);
	geoip_free(&rt->geoip);
	arc_sealkey_free(&rt->arc_seal);
	free(rt->ip_lists);
	free(rt->domain_lists);
	free(rt->domain_list_identities);
	dkim_signing_free(&rt->signing);
	conf_free(&rt->conf);
	free(rt);
}

struct runtime *runtime_load(struct conf *conf, struct dns *dns, struct store *store,
			     char **error_r)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));

	*error_r = NULL;
	rt->conf = conf;
	rt->dns = dns;
	rt->store = store;
	rt->refs = 1;
	rt->rules = conf->rules_path != NULL ? rules_load(conf->rules_path, error_r)
					     : rules_parse("(built-in default.rules)",
							   rules_default_text, error_r);
	if (rt->rules == NULL)
		goto fail;
	if ((conf->geoip_country_path != NULL || conf->geoip_asn_path != NULL) &&
	    (rt->geoip = geoip_open(conf->geoip_country_path, conf->geoip_asn_path, error_r)) ==
		    NULL)
		goto fail;
	if (lists_build(rt, error_r) < 0)
		goto fail;
	/* the keys are part of the generation: a reload with a bad one keeps the old */
	if ((rt->signing = dkim_signing_load(conf, error_r)) == NULL && *error_r != NULL)
		goto fail;
	rt->arc_seal = arc_sealkey_load(
	    conf, rt->signing != NULL ? dkim_signing_keys(rt->signing) : NULL, error_r);
	if (*error_r != NULL)
		goto fail;
	/* the writer thread expires old records, reports or not (a reload
	 * that changes history-retention-days applies it at once) */
	if (store != NULL)
		store_set_retention(store, conf->history_retention_days);
	return rt;
fail:
	runtime_destroy(rt);
	return NULL;
}

struct runtime *runtime_ref(struct runtime *rt)
{
	pthread_mutex_lock(&lock);
	rt->refs++;
	pthread_mutex_unlock(&lock);
	return rt;
}

void runtime_unref(struct runtime **rtp)
{
	struct runtime *rt = *rtp;
	int last;

	if (rt == NULL)
		return;
	pthread_mutex_lock(&lock);
	last = --rt->refs == 0;
	pthread_mutex_unlock(&lock);
	if (last)
		runtime_destroy(rt);
	*rtp = NULL;
}

void runtime_publish(struct runtime *rt)
{
	struct runtime *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = rt;
	pthread_mutex_unlock(&lock);
	runtime_unref(&old);
}

struct runtime *runtime_current(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&lock);
	rt = current;
	if (rt != NULL)
		rt->refs++;
	pthread_mutex_unlock(&lock);
	return rt;
}

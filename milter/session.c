/*
 * session - connection state (see session.h).
 */
#include "config.h"

#include <string.h>

#include "mem.h"
#include "session.h"

#define HELO_MAX 255 /* RFC 5321 §4.5.3.1.2: a domain is at most 255 octets */

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
	return s;
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

void session_helo(struct session *s, const char *helo)
{
	struct spf_params p;

	spf_cancel(&s->helo_check);
	s->helo_done = 0;
	s->helo = arena_strndup(s->arena, helo, strnlen(helo, HELO_MAX));
	if (s->trusted != NULL)
		return;
	p = helo_params(s);
	s->helo_check = spf_start(s->rt->dns, &p);
}

const struct spf_outcome *session_helo_spf(struct session *s)
{
	if (!s->helo_done) {
		if (s->helo_check != NULL)
			spf_finish(&s->helo_check, s->arena, &s->helo_spf);
		else
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
	arena_free(&s->arena);
	runtime_unref(&s->rt);
	xfree(sp);
}

/*
 * message - transaction state and the end-of-message assembly (see
 * message.h).  The work of each check lives in its own module; this file
 * only starts them early, collects them late, and fills struct facts.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "authres.h"
#include "log.h"
#include "mem.h"
#include "message.h"

#define FIELD_MAX 998 /* RFC 5322 §2.1.1 line limit bounds what we keep of a value */

struct message {
	struct session *s;
	struct arena *arena;
	struct facts facts;
	struct spf_check *mfrom_check;
	struct timespec started;
	unsigned ar_seen; /* Authentication-Results headers so far */
	unsigned *ar_ours;
	size_t ar_ours_count, ar_ours_size;
	long elapsed_ms;
};

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

struct message *message_new(struct session *s, const char *mail_from, const char *auth_user)
{
	struct arena *a = arena_new(8192);
	struct message *m = arena_alloc(a, sizeof(*m));
	struct facts *f = &m->facts;
	const struct conf *conf = s->rt->conf;
	const char *at;

	m->s = s;
	m->arena = a;
	s->messages++;
	clock_gettime(CLOCK_MONOTONIC, &m->started);
	f->client = s->client;
	memcpy(f->client_ip, s->client_ip, sizeof(f->client_ip));
	f->client_host = s->client_host;
	f->helo = s->helo;
	f->mail_from = arena_strndup(a, mail_from, strnlen(mail_from, FIELD_MAX));
	at = strrchr(f->mail_from, '@');
	f->mail_from_domain = f->mail_from[0] == '\0' ? NULL
			      : at != NULL	  ? at + 1
						  : f->mail_from;
	f->auth_user = auth_user != NULL ? arena_strdup(a, auth_user) : NULL;
	f->spf_mfrom.scope = SPF_SCOPE_MFROM;
	f->spf_helo.scope = SPF_SCOPE_HELO;
	if (s->trusted != NULL)
		f->skipped = s->trusted;
	else if (f->auth_user != NULL && conf->skip_authenticated)
		f->skipped = "authenticated";
	if (f->skipped == NULL) {
		struct spf_params p = {
			.client = s->client,
			.helo = s->helo,
			.sender = f->mail_from,
			.scope = SPF_SCOPE_MFROM,
			.deadline_ms = conf->spf_timeout_ms,
			.lookup_timeout_ms = conf->dns_timeout_ms,
		};
		m->mfrom_check = spf_start(s->rt->dns, &p);
	}
	return m;
}

const char *message_skipped(const struct message *m)
{
	return m->facts.skipped;
}

void message_set_queue_id(struct message *m, const char *queue_id)
{
	if (queue_id != NULL && queue_id[0] != '\0')
		m->facts.queue_id = arena_strndup(m->arena, queue_id, strnlen(queue_id, 64));
}

void message_set_tls(struct message *m, const char *tls_version)
{
	if (tls_version != NULL)
		m->facts.tls_version = arena_strndup(m->arena, tls_version, 32);
}

void message_rcpt(struct message *m, const char *rcpt)
{
	(void)rcpt;
	m->facts.rcpt_count++;
}

void message_header(struct message *m, const char *name, const char *value)
{
	struct facts *f = &m->facts;

	f->header_bytes += strlen(name) + strlen(value) + 3;
	if (strcasecmp(name, AUTHRES_HEADER) == 0) {
		m->ar_seen++;
		if (authres_is_ours(value, m->s->rt->conf->authserv_id)) {
			if (m->ar_ours_count == m->ar_ours_size) {
				size_t size = m->ar_ours_size ? m->ar_ours_size * 2 : 4;
				unsigned *grown = arena_alloc(m->arena, size * sizeof(*grown));

				if (m->ar_ours_count > 0)
					memcpy(grown, m->ar_ours,
					       m->ar_ours_count * sizeof(*grown));
				m->ar_ours = grown;
				m->ar_ours_size = size;
			}
			m->ar_ours[m->ar_ours_count++] = m->ar_seen;
		}
	} else if (strcasecmp(name, "Message-ID") == 0 && f->message_id == NULL) {
		const char *v = value;

		while (*v == ' ' || *v == '\t')
			v++;
		f->message_id = arena_strndup(m->arena, v, strnlen(v, 255));
	}
}

void message_eoh(struct message *m)
{
	(void)m;
}

void message_body(struct message *m, const unsigned char *data, size_t len)
{
	(void)data;
	m->facts.body_bytes += len;
}

void message_eom(struct message *m, struct verdict *v_r, struct message_edits *edits_r)
{
	struct facts *f = &m->facts;
	struct session *s = m->s;
	const struct conf *conf = s->rt->conf;
	unsigned *desc;

	memset(edits_r, 0, sizeof(*edits_r));
	if (f->skipped == NULL) {
		if (s->helo != NULL)
			f->spf_helo = *session_helo_spf(s);
		if (m->mfrom_check != NULL)
			spf_finish(&m->mfrom_check, m->arena, &f->spf_mfrom);
		edits_r->ar_value = authres_render(m->arena, conf->authserv_id, f);
		/* Delete from the highest index down: Postfix renumbers after each. */
		desc = arena_alloc(m->arena, (m->ar_ours_count + 1) * sizeof(*desc));
		for (size_t i = 0; i < m->ar_ours_count; i++)
			desc[i] = m->ar_ours[m->ar_ours_count - 1 - i];
		edits_r->ar_delete = desc;
		edits_r->ar_delete_count = m->ar_ours_count;
	}
	verdict_decide(conf, f, m->arena, v_r);
	m->elapsed_ms = ms_since(&m->started);
}

const struct facts *message_facts(const struct message *m)
{
	return &m->facts;
}

void message_log(const struct message *m, const struct verdict *v)
{
	const struct facts *f = &m->facts;

	if (f->skipped != NULL) {
		log_info("%s: client=%s [%s] from=<%s> skipped (%s) action=accept",
			 f->queue_id ? f->queue_id : "NOQUEUE",
			 f->client_host ? f->client_host : "unknown", f->client_ip, f->mail_from,
			 f->skipped);
		return;
	}
	log_info("%s: client=%s [%s] helo=%s from=<%s> spf=%s spf.helo=%s forged_ar=%zu "
		 "action=%s%s%s ms=%ld",
		 f->queue_id ? f->queue_id : "NOQUEUE", f->client_host ? f->client_host : "unknown",
		 f->client_ip, f->helo ? f->helo : "(none)", f->mail_from,
		 spf_result_name(f->spf_mfrom.result), spf_result_name(f->spf_helo.result),
		 m->ar_ours_count, verdict_action_name(v->action), v->why ? " reason=" : "",
		 v->why ? v->why : "", m->elapsed_ms);
}

void message_free(struct message **mp)
{
	struct message *m = *mp;
	struct arena *a;

	if (m == NULL)
		return;
	spf_cancel(&m->mfrom_check);
	a = m->arena;
	arena_free(&a); /* the message itself lives in its arena */
	*mp = NULL;
}

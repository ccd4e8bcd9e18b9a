/*
 * message - transaction state and the end-of-message assembly (see
 * message.h).  The work of each check lives in its own module; this file
 * only starts them early, collects them late, and fills struct facts.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arc.h"
#include "arc_trust.h"
#include "authres.h"
#include "content.h"
#include "dkim.h"
#include "dkim_sign.h"
#include "dmarc.h"
#include "hsplit.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "metrics.h"
#include "ratelimit.h"
#include "rfc5322.h"
#include "buf.h"
#include "record.h"
#include "rules.h"
#include "store.h"
#include "summary.h"
#include "uribl.h"

#define FIELD_MAX 998 /* RFC 5322 §2.1.1 line limit bounds what we keep of a value */
#define ORG_LOOKUPS_MAX 6 /* identifier domains whose Organizational Domain we discover */
#define HEADER_VALUE_MAX 16384 /* of a value kept for the rules */

/* An identifier domain (SPF, DKIM d=) and the discovery of its
 * Organizational Domain, for relaxed alignment (RFC 9989). */
struct org_lookup {
	const char *domain;
	struct dmarc_discovery *discovery;
	struct dmarc_record record;
};

/* A field whose name we own (X-Spam-*, X-Authscore-*), by arrival. */
struct owned_field {
	const char *name;
	size_t seq;
};

struct message {
	struct session *s;
	struct arena *arena;
	struct facts facts;
	struct spf_check *mfrom_check;
	struct dkim_check *dkim_check;
	struct content_scan *content; /* NULL: not scanned (skipped, or content-scan no) */
	struct arc_check *arc_check; /* RFC 8617 chain, fed what DKIM is fed */
	const char *from_value; /* the first From field */
	struct header_field *headers; /* kept for the rules, FACTS_MAX_HEADERS at most */
	size_t headers_size;	      /* room in headers: grown by doubling */
	struct dmarc_discovery *policy;
	struct org_lookup org[ORG_LOOKUPS_MAX];
	size_t org_count;
	struct domain_lookup *lists[2 + ORG_LOOKUPS_MAX]; /* domain lists: MAIL FROM, From, d= */
	size_t list_count;
	struct uribl_lookup *uribl; /* the links' domains, started at end of message */
	struct timespec started;
	unsigned ar_seen; /* Authentication-Results headers so far */
	unsigned *ar_ours;
	size_t ar_ours_count, ar_ours_size;
	struct owned_field *owned; /* the sender's copies of the fields we write */
	size_t owned_count, owned_size;
	struct dkim_signer *signer; /* outgoing mail to sign, or NULL */
	const struct dkim_signature *sigs; /* made at end of message */
	int nsigs;
	int arc_sealed; /* this host's ARC set: 1 added, -1 failed, 0 not tried */
	long elapsed_ms;
	uint64_t elapsed_us, dns_wait_us, rules_us; /* for the latency histograms */
	uint64_t content_us;
};

/* Room for one more item in an arena array that doubles as it fills. */
static void *grow(struct arena *a, void *items, size_t count, size_t *size, size_t item_size)
{
	void *grown;

	if (count < *size)
		return items;
	*size = *size ? *size * 2 : 4;
	grown = arena_alloc(a, *size * item_size);
	if (count > 0)
		memcpy(grown, items, count * item_size);
	return grown;
}

/* The fields authscore writes itself: a sender's copy (an X-Spam-Flag: NO
 * that Sieve would trust) never reaches the mailbox. */
static int owned_name(const char *name)
{
	if (strncasecmp(name, "X-Spam-", 7) != 0 && strncasecmp(name, "X-Authscore-", 12) != 0)
		return 0;
	/* Only a well-formed field name (RFC 5322 §2.2: printable US-ASCII but
	 * ':') is removed by name: no reader takes another for ours, and the
	 * MTA is never handed a name with blanks, controls or 8-bit bytes. */
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == ':')
			return 0;
	return 1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static uint64_t us_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)((now.tv_sec - t0->tv_sec) * 1000000 + (now.tv_nsec - t0->tv_nsec) / 1000);
}

static void list_start(struct message *m, enum facts_identity identity, const char *domain)
{
	struct domain_lookup *d = domain_lookup_start(m->s->rt, m->arena, identity, domain);

	if (d != NULL && m->list_count < sizeof(m->lists) / sizeof(m->lists[0]))
		m->lists[m->list_count++] = d;
	else if (d != NULL)
		domain_lookup_cancel(d);
}

/* Outgoing mail (OpenDKIM's InternalHosts and mode s): a trusted
 * network's, or an authenticated client's, as the configuration says. */
static int sign_wanted(const struct session *s, const struct facts *f, const struct conf *conf)
{
	return (s->trusted != NULL && conf->dkim_sign_trusted) ||
	       (f->auth_user != NULL && conf->dkim_sign_authenticated);
}

static void content_start(struct message *m, const struct conf *conf)
{
	struct content_limits l = {
	    .max_bytes = conf->content_max_bytes,
	    .max_text = conf->content_max_text,
	    .max_parts = conf->content_max_parts,
	    .max_depth = conf->content_max_depth,
	    .max_urls = conf->content_max_urls,
	    .spill_bytes = CONTENT_SPILL_BYTES,
	    .spool_dir = conf_content_spool_dir(conf), /* NULL: all in memory */
	    .spill_pool_bytes = conf->content_spool_memory, /* this message's, after a reload */
	};

	if (conf->content_scan)
		m->content = content_scan_new(m->arena, &l);
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
	f->auth_user = auth_user != NULL && auth_user[0] != '\0'
			   ? arena_strndup(a, auth_user, strnlen(auth_user, FIELD_MAX))
			   : NULL;
	f->spf_mfrom.scope = SPF_SCOPE_MFROM;
	f->spf_helo.scope = SPF_SCOPE_HELO;
	/* Counted here, once per transaction, before the skip: an authenticated
	 * user's limit is the point of ratelimit-user.  Trusted networks are
	 * our own hosts and exempt. */
	if (s->rt->ratelimit != NULL && s->trusted == NULL)
		f->ratelimit = ratelimit_check(s->rt->ratelimit, &conf->ratelimit, &f->client,
					       f->mail_from, f->auth_user, ratelimit_now_ms());
	if (s->trusted != NULL)
		f->skipped = s->trusted;
	else if (f->auth_user != NULL && conf->skip_authenticated)
		f->skipped = "authenticated";
	/* over a rate limit: the tempfail is answered to MAIL FROM, unsigned */
	if (f->skipped != NULL && f->ratelimit == 0 && sign_wanted(s, f, conf))
		m->signer = dkim_signer_new(s->rt->signing, a, NULL);
	if (f->skipped == NULL) {
		struct spf_params p = {
			.client = s->client,
			.helo = s->helo,
			.sender = f->mail_from,
			.scope = SPF_SCOPE_MFROM,
			.deadline_ms = conf->spf_timeout_ms,
			.lookup_timeout_ms = conf->dns_timeout_ms,
		};
		struct dkim_params dp = {
			.max_signatures = conf->dkim_max_signatures,
			.lookup_timeout_ms = conf->dns_timeout_ms,
			.min_rsa_bits = 1024,
		};
		struct arc_params ap = {
			.lookup_timeout_ms = conf->dns_timeout_ms,
			.min_rsa_bits = 1024,
			.seal = s->rt->arc_seal != NULL, /* keep what sealing needs */
		};

		m->mfrom_check = spf_start(s->rt->dns, &p);
		m->dkim_check = dkim_check_new(&dp, NULL);
		m->arc_check = arc_check_new(&ap, NULL);
		list_start(m, IDENT_MAIL_FROM, f->mail_from_domain);
		content_start(m, conf);
	}
	return m;
}

const char *message_skipped(const struct message *m)
{
	return m->facts.skipped;
}

int message_signing(const struct message *m)
{
	return m->signer != NULL;
}

void message_set_queue_id(struct message *m, const char *queue_id)
{
	if (queue_id != NULL && queue_id[0] != '\0')
		m->facts.queue_id = arena_strndup(m->arena, queue_id, strnlen(queue_id, 64));
}

void message_set_tls(struct message *m, const char *tls_version)
{
	/* Sendmail may send the macro empty on a connection without TLS */
	if (tls_version != NULL && tls_version[0] != '\0')
		m->facts.tls_version =
		    arena_strndup(m->arena, tls_version, strnlen(tls_version, 32));
}

void message_rcpt(struct message *m, const char *rcpt)
{
	struct facts *f = &m->facts;

	if (f->rcpts == NULL)
		f->rcpts = arena_alloc(m->arena, FACTS_MAX_RCPTS * sizeof(*f->rcpts));
	if (f->rcpt_count < FACTS_MAX_RCPTS)
		f->rcpts[f->rcpt_count] = arena_strndup(m->arena, rcpt, strnlen(rcpt, FIELD_MAX));
	f->rcpt_count++;
}

/* A header value as the rules see it: unfolded (RFC 5322 §2.2.3), leading
 * blanks removed, capped. */
static const char *unfold(struct arena *a, const char *value)
{
	size_t len = strnlen(value, HEADER_VALUE_MAX), o = 0;
	char *out = arena_alloc(a, len + 1);

	while (*value == ' ' || *value == '\t')
		value++, len--;
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r' && value[i + 1] == '\n')
			continue;
		if (value[i] == '\n' && (value[i + 1] == ' ' || value[i + 1] == '\t'))
			continue;
		out[o++] = value[i];
	}
	out[o] = '\0';
	return out;
}

static void keep_header(struct message *m, const char *name, const char *value)
{
	struct facts *f = &m->facts;

	if (f->header_count == FACTS_MAX_HEADERS)
		return;
	if (f->header_count == m->headers_size) {
		/* most mail has 10 to 30 fields: room for 500 (8 kB) in every
		 * message in transit is what 500 sessions cannot afford */
		size_t size = m->headers_size ? 2 * m->headers_size : 32;
		struct header_field *grown;

		if (size > FACTS_MAX_HEADERS)
			size = FACTS_MAX_HEADERS;
		grown = arena_alloc(m->arena, size * sizeof(*grown));
		if (f->header_count > 0)
			memcpy(grown, m->headers, f->header_count * sizeof(*grown));
		m->headers = grown;
		m->headers_size = size;
	}
	m->headers[f->header_count].name = arena_strndup(m->arena, name, strnlen(name, 256));
	m->headers[f->header_count].value = unfold(m->arena, value);
	f->headers = m->headers;
	f->header_count++;
}

void message_header(struct message *m, const char *raw_name, const char *value)
{
	struct facts *f = &m->facts;
	size_t name_len = hsplit_name_len(raw_name);
	/* Postfix and Sendmail end a name before the blanks ahead of the colon;
	 * another MTA may pass them: compare names without them (DKIM gets the
	 * field as passed). */
	const char *name =
	    raw_name[name_len] == '\0' ? raw_name : arena_strndup(m->arena, raw_name, name_len);

	f->header_bytes += strlen(raw_name) + strlen(value) + 3;
	if (f->skipped == NULL)
		keep_header(m, name, value);
	if (m->dkim_check != NULL)
		dkim_check_header(m->dkim_check, raw_name, value);
	dkim_signer_header(m->signer, raw_name, value);
	content_scan_header(m->content, name, value);
	if (m->arc_check != NULL)
		arc_check_header(m->arc_check, raw_name, value);
	if (strcasecmp(name, "From") == 0 && f->from_fields++ == 0)
		m->from_value = arena_strndup(m->arena, value, strnlen(value, RFC5322_MAX_VALUE + 1));
	if (strcasecmp(name, AUTHRES_HEADER) == 0) {
		m->ar_seen++;
		if (authres_is_ours(value, m->s->rt->conf->authserv_id)) {
			m->ar_ours = grow(m->arena, m->ar_ours, m->ar_ours_count, &m->ar_ours_size,
					  sizeof(*m->ar_ours));
			m->ar_ours[m->ar_ours_count++] = m->ar_seen;
		}
	} else if (owned_name(name)) {
		m->owned = grow(m->arena, m->owned, m->owned_count, &m->owned_size,
				sizeof(*m->owned));
		m->owned[m->owned_count].name = name == raw_name ? arena_strdup(m->arena, name) : name;
		m->owned[m->owned_count].seq = m->owned_count;
		m->owned_count++;
	} else if (strcasecmp(name, "Message-ID") == 0 && f->message_id == NULL) {
		const char *v = value;

		while (*v == ' ' || *v == '\t')
			v++;
		f->message_id = arena_strndup(m->arena, v, strnlen(v, 255));
	}
}

/* Start the discovery of an identifier domain's Organizational Domain,
 * unless it is the Author Domain itself (whose walk is already running) or
 * already started. */
static void org_start(struct message *m, const char *domain)
{
	struct facts *f = &m->facts;

	if (domain == NULL || f->from_domain == NULL || strcasecmp(domain, f->from_domain) == 0)
		return;
	for (size_t i = 0; i < m->org_count; i++)
		if (strcasecmp(m->org[i].domain, domain) == 0)
			return;
	if (m->org_count == ORG_LOOKUPS_MAX)
		return;
	m->org[m->org_count].domain = arena_strdup(m->arena, domain);
	m->org[m->org_count].discovery =
		dmarc_orgdomain_start(m->s->rt->dns, domain, m->s->rt->conf->dns_timeout_ms);
	m->org_count++;
}

static const char *org_domain_of(struct message *m, const char *domain)
{
	struct facts *f = &m->facts;

	if (domain == NULL)
		return NULL;
	if (f->from_domain != NULL && strcasecmp(domain, f->from_domain) == 0)
		return f->dmarc_record.org_domain;
	for (size_t i = 0; i < m->org_count; i++) {
		struct org_lookup *o = &m->org[i];

		if (strcasecmp(o->domain, domain) != 0)
			continue;
		if (o->discovery != NULL)
			dmarc_discover_finish(&o->discovery, m->arena, &o->record);
		return o->record.org_domain;
	}
	return NULL;
}

/* The Author Domain: one From field with one address (RFC 9989 §4.4). */
static void author_domain(struct message *m)
{
	struct facts *f = &m->facts;
	const char *domains[1], *error = NULL;
	int n;

	if (f->from_fields == 0) {
		f->from_error = "no From header field";
		return;
	}
	if (f->from_fields > 1) {
		f->from_error = arena_printf(m->arena, "%u From header fields", f->from_fields);
		return;
	}
	n = rfc5322_mailbox_domains(m->from_value, m->arena, domains, 1, &error);
	if (n < 0)
		f->from_error = arena_printf(m->arena, "unusable From address: %s", error);
	else if (n > 1)
		f->from_error = arena_printf(m->arena, "%d addresses in From", n);
	else
		f->from_domain = domains[0];
}

void message_eoh(struct message *m)
{
	struct facts *f = &m->facts;
	const struct runtime *rt = m->s->rt;

	if (f->skipped != NULL) {
		if (m->signer != NULL) {
			author_domain(m);
			dkim_signer_eoh(m->signer, f->from_domain, f->mail_from);
		}
		return;
	}
	author_domain(m);
	/* Everything that needs only the header starts now, in parallel. */
	dkim_check_eoh(m->dkim_check);
	arc_check_eoh(m->arc_check); /* its key lookups in the same round as DKIM's */
	list_start(m, IDENT_FROM, f->from_domain);
	{
		const char *d[ORG_LOOKUPS_MAX];
		size_t n = dkim_check_domains(m->dkim_check, d, ORG_LOOKUPS_MAX);

		for (size_t i = 0; i < n; i++)
			list_start(m, IDENT_DKIM, d[i]);
		if (f->from_domain != NULL) {
			m->policy = dmarc_discover_start(rt->dns, f->from_domain,
							 rt->conf->dns_timeout_ms);
			org_start(m, f->mail_from_domain);
			for (size_t i = 0; i < n; i++)
				org_start(m, d[i]);
		}
	}
}

void message_body(struct message *m, const unsigned char *data, size_t len)
{
	m->facts.body_bytes += len;
	if (m->dkim_check != NULL)
		dkim_check_body(m->dkim_check, data, len);
	dkim_signer_body(m->signer, data, len);
	content_scan_body(m->content, data, len);
	if (m->arc_check != NULL)
		arc_check_body(m->arc_check, data, len);
}

/* RFC 8617 §7.2: a trusted forwarder's ARC set says the message passed
 * when it got it (arc_trust.c decides; only its "yes" overrides). */
static void arc_override(struct message *m)
{
	struct facts *f = &m->facts;
	const struct conf *conf = m->s->rt->conf;
	struct arc_trust t;
	struct arc_trust_input in = {
		.arc = &f->arc,
		.from_domain = f->from_domain,
		.org_domain = f->dmarc_record.org_domain,
		.adkim_strict = f->dmarc_record.adkim_strict,
		.aspf_strict = f->dmarc_record.aspf_strict,
		.trusted = conf->arc_trusted_sealers,
	};

	if (conf->arc_trusted_sealers == NULL)
		return;
	arc_trust_decide(&in, m->arena, &t);
	if (!t.override)
		return;
	f->dmarc_override = "trusted_forwarder"; /* RFC 9990 PolicyOverrideType */
	f->arc_override_by = t.sealer;
	f->arc_override_why = t.why;
}

static void dmarc_collect(struct message *m)
{
	struct facts *f = &m->facts;
	const struct conf *conf = m->s->rt->conf;
	const char **dkim_orgs;
	struct dmarc_inputs in;

	if (f->from_domain == NULL) {
		f->dmarc.result = DMARC_PERMERROR; /* no single Author Domain to evaluate */
		return;
	}
	dmarc_discover_finish(&m->policy, m->arena, &f->dmarc_record);
	dkim_orgs = arena_alloc(m->arena, (f->dkim.count + 1) * sizeof(*dkim_orgs));
	for (size_t i = 0; i < f->dkim.count; i++)
		dkim_orgs[i] = org_domain_of(m, f->dkim.sig[i].domain);
	in = (struct dmarc_inputs){
		.author_domain = f->from_domain,
		.record = &f->dmarc_record,
		.spf_mfrom = &f->spf_mfrom,
		.spf_org_domain = org_domain_of(m, f->spf_mfrom.domain),
		.dkim = &f->dkim,
		.dkim_org_domains = dkim_orgs,
	};
	dmarc_evaluate(&in, m->arena, &f->dmarc);
	/* Local overrides: recorded always, they only stop enforcement. */
	if (f->dmarc.result == DMARC_FAIL) {
		if (cidr_list_contains(&conf->dmarc_override_networks, &f->client))
			f->dmarc_override = "trusted_forwarder";
		else if (conf_domain_listed(conf->dmarc_override_domains, f->mail_from_domain))
			f->dmarc_override = "local_policy";
		else
			arc_override(m);
	}
}

static struct header_field *edits_add(struct message *m, struct message_edits *e,
				       const char *name, const char *value)
{
	struct header_field *h = (struct header_field *)e->add + e->add_count++;

	h->name = name;
	h->value = value;
	(void)m;
	return h;
}

/* By name (any case), then the latest first. */
static int owned_order(const void *a, const void *b)
{
	const struct owned_field *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	return c != 0 ? c : x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Every owned field, as smfi_chgheader() finds it: the index counts the
 * fields of one name, any case (Postfix and Sendmail compare names so),
 * from 1.  Each name's fields go highest index first: removing one
 * renumbers only those after it. */
static void owned_removals(struct message *m, struct message_edits *e)
{
	struct message_removal *r;
	size_t n = m->owned_count;

	if (n == 0)
		return;
	qsort(m->owned, n, sizeof(*m->owned), owned_order);
	r = arena_alloc(m->arena, n * sizeof(*r));
	for (size_t first = 0, end; first < n; first = end) {
		for (end = first + 1; end < n; end++)
			if (strcasecmp(m->owned[end].name, m->owned[first].name) != 0)
				break;
		for (size_t i = first; i < end; i++) {
			r[i].name = m->owned[i].name;
			r[i].index = (unsigned)(end - i);
		}
	}
	e->remove = r;
	e->remove_count = n;
}

/* "RULE_A,RULE_B" for X-Spam-Status, or "RULE_A(3.5),RULE_B(-1)" for ours. */
static const char *rule_list(struct arena *a, const struct rules_verdict *rv, int scores)
{
	struct buf b;
	const char *out;

	buf_init(&b, 8192);
	for (size_t i = 0; i < rv->hit_count; i++) {
		buf_printf(&b, "%s%s", i ? "," : "", rv->hits[i]);
		if (scores)
			buf_printf(&b, "(%g)", rv->hit_scores[i]);
	}
	if (b.overflow)
		buf_puts(&b, ",...");
	out = b.len ? arena_strdup(a, buf_str(&b)) : "none";
	buf_release(&b);
	return out;
}

/* SpamAssassin's X-Spam-Level: one '*' per whole point, none at or below
 * zero, at most 50 (as SpamAssassin caps it). */
static const char *spam_level(struct arena *a, double score)
{
	int stars = isfinite(score) && score >= 1 ? (score >= 50 ? 50 : (int)score) : 0;
	char *level = arena_alloc(a, (size_t)stars + 1);

	memset(level, '*', (size_t)stars);
	level[stars] = '\0';
	return level;
}

/* Headers that report the score: ours always (unless off); SpamAssassin's
 * on every checked message, as SpamAssassin writes them (X-Spam-Flag: YES
 * only when the message is marked), so Sieve rules that test
 * X-Spam-Status or count X-Spam-Level's stars keep working. */
static void score_headers(struct message *m, const struct verdict *v,
			  const struct rules_verdict *rv, struct message_edits *e)
{
	const struct conf *conf = m->s->rt->conf;
	double required = rules_threshold(m->s->rt->rules, RULES_TAG);
	int marked = v->action == VERDICT_TAG || v->action == VERDICT_QUARANTINE;

	e->add = arena_alloc(m->arena, 5 * sizeof(*e->add));
	if (conf->result_header) {
		const char *value = arena_printf(m->arena, "score=%.1f action=%s rules=%s", rv->score,
						 verdict_action_name(v->action),
						 rule_list(m->arena, rv, 1));
		if (rv->monitor_count > 0) {
			struct rules_verdict mon = {.hits = rv->monitors, .hit_count = rv->monitor_count};

			value = arena_printf(m->arena, "%s monitors=%s", value,
					     rule_list(m->arena, &mon, 0));
		}
		edits_add(m, e, "X-Authscore-Result", value);
	}
	if (marked)
		edits_add(m, e, "X-Spam-Flag", "YES");
	edits_add(m, e, "X-Spam-Score", arena_printf(m->arena, "%.1f", rv->score));
	edits_add(m, e, "X-Spam-Level", spam_level(m->arena, rv->score));
	edits_add(m, e, "X-Spam-Status",
		  arena_printf(m->arena, "%s, score=%.1f required=%.1f tests=%s",
			       marked ? "Yes" : "No", rv->score, required >= 0 ? required : 0.0,
			       rule_list(m->arena, rv, 0)));
	if (!marked)
		return;
	if (conf->tag_subject_prefix != NULL) {
		const char *subject = NULL;

		for (size_t i = 0; i < m->facts.header_count && subject == NULL; i++)
			if (strcasecmp(m->facts.headers[i].name, "Subject") == 0)
				subject = m->facts.headers[i].value;
		e->subject_exists = subject != NULL;
		e->subject = arena_printf(m->arena, "%s%s", conf->tag_subject_prefix,
					  subject != NULL ? subject : "");
	}
}

/* A signing failure takes on-dkim-sign-error: sent unsigned (warned), or
 * tempfail so the client tries again. */
static void sign_failed(struct message *m, const char *error, struct verdict *v)
{
	struct facts *f = &m->facts;
	int tempfail = m->s->rt->conf->on_dkim_sign_error == ACTION_TEMPFAIL;

	f->dkim_sign_error = error;
	log_warn("%s: dkim: cannot sign: %s; %s", f->queue_id ? f->queue_id : "NOQUEUE", error,
		 tempfail ? "tempfail" : "sent unsigned");
	if (!tempfail)
		return;
	v->action = VERDICT_TEMPFAIL;
	v->rcode = "451";
	v->xcode = "4.3.0";
	v->text = "cannot sign the message now, try again later";
	v->why = "dkim signing failed";
}

/* The signatures, made now: after every other edit of the message. */
static void sign_collect(struct message *m, struct verdict *v, struct message_edits *e)
{
	struct facts *f = &m->facts;
	struct header_field *h;
	const char *error;
	struct buf b;

	if (m->signer == NULL || v->action != VERDICT_ACCEPT)
		return;
	m->nsigs = dkim_signer_finish(m->signer, &m->sigs, &error);
	if (m->nsigs < 0) {
		m->nsigs = 0;
		sign_failed(m, error, v);
		return;
	}
	if (m->nsigs == 0)
		return;
	h = arena_alloc(m->arena, (size_t)m->nsigs * sizeof(*h));
	buf_init(&b, 4096);
	for (int i = 0; i < m->nsigs; i++) {
		const struct dkim_privkey *k = m->sigs[i].key;

		h[i].name = DKIM_SIGN_HEADER;
		h[i].value = m->sigs[i].value;
		buf_printf(&b, "%s%s/%s/%s", i ? "," : "", k->domain, k->selector, k->alg);
	}
	f->dkim_signed = arena_strdup(m->arena, buf_str(&b));
	buf_release(&b);
	e->sign = h;
	e->sign_count = (size_t)m->nsigs;
}

/* This host's ARC set over what it accepts (RFC 8617 §5.1), after our
 * Authentication-Results are known.  Not over a message whose signed
 * fields we change afterwards: a tagged Subject or a removed field (a
 * forged Authentication-Results, the sender's X-Spam-*) would break our
 * own ARC-Message-Signature at the next hop. */
static void seal_message(struct message *m, const struct verdict *v, struct message_edits *e)
{
	const struct runtime *rt = m->s->rt;
	struct arc_seal_headers h;
	const char *error = NULL;

	if (rt->arc_seal == NULL || m->arc_check == NULL ||
	    (v->action != VERDICT_ACCEPT && v->action != VERDICT_TAG) || e->subject != NULL ||
	    e->ar_delete_count > 0 || e->remove_count > 0)
		return;
	if (arc_check_seal(m->arc_check, rt->arc_seal, e->ar_value, time(NULL), m->arena, &h,
			   &error) < 0) {
		log_warn("%s: not ARC-sealed: %s", m->facts.queue_id ? m->facts.queue_id : "-",
			 error != NULL ? error : "sealing failed");
		m->arc_sealed = -1;
		return;
	}
	e->arc_seal = h;
	e->arc_sealed = 1;
	m->arc_sealed = 1;
}

void message_eom(struct message *m, struct verdict *v_r, struct message_edits *edits_r)
{
	struct facts *f = &m->facts;
	struct session *s = m->s;
	const struct conf *conf = s->rt->conf;
	struct rules_verdict rv;
	unsigned *desc;
	struct timespec t0;

	memset(edits_r, 0, sizeof(*edits_r));
	if (f->skipped != NULL) {
		verdict_decide(conf, f, NULL, m->arena, v_r);
		sign_collect(m, v_r, edits_r);
		m->elapsed_ms = ms_since(&m->started);
		m->elapsed_us = us_since(&m->started);
		return;
	}
	/* First: the links' domains are known before the DNS round is waited for. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	content_scan_finish(m->content, &f->content); /* its text lives until message_free */
	m->content_us = us_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The links' domains are known once the body's facts are filled
	 * (content_scan_finish comes before this): their lists are asked now,
	 * so they run while the other checks are collected. */
	m->uribl = uribl_start(s->rt, m->arena, &f->content, conf->uribl_max_domains);
	if (s->helo != NULL)
		f->spf_helo = *session_helo_spf(s);
	if (m->mfrom_check != NULL) {
		spf_finish(&m->mfrom_check, m->arena, &f->spf_mfrom);
		metrics_spf_dns(&f->spf_mfrom);
	}
	dkim_check_finish(m->dkim_check, m->arena, &f->dkim);
	arc_check_finish(m->arc_check, m->arena, &f->arc); /* before DMARC: its override */
	dmarc_collect(m);
	session_reputation(s, m->arena, f);
	for (size_t i = 0; i < m->list_count; i++)
		domain_lookup_collect(m->lists[i], m->arena, f);
	uribl_collect(m->uribl, m->arena, f);
	m->dns_wait_us = us_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rules_evaluate(s->rt->rules, f, m->arena, &rv);
	m->rules_us = us_since(&t0);
	f->score = rv.score;
	f->rules_hit = rv.hits;
	f->rules_hit_scores = rv.hit_scores;
	f->rules_hit_count = rv.hit_count;
	f->monitors_hit = rv.monitors;
	f->monitors_hit_count = rv.monitor_count;
	verdict_decide(conf, f, &rv, m->arena, v_r);

	edits_r->ar_value = authres_render(m->arena, conf->authserv_id, f, v_r);
	/* Delete from the highest index down: Postfix renumbers after each. */
	desc = arena_alloc(m->arena, (m->ar_ours_count + 1) * sizeof(*desc));
	for (size_t i = 0; i < m->ar_ours_count; i++)
		desc[i] = m->ar_ours[m->ar_ours_count - 1 - i];
	edits_r->ar_delete = desc;
	edits_r->ar_delete_count = m->ar_ours_count;
	owned_removals(m, edits_r);
	score_headers(m, v_r, &rv, edits_r);
	seal_message(m, v_r, edits_r); /* knows every other edit by now */
	if (s->rt->store != NULL) { /* queued, never written on this thread */
		struct history_record r;

		record_from_facts(f, v_r, (int64_t)time(NULL), m->arena, &r);
		store_append(s->rt->store, &r);
	}
	m->elapsed_ms = ms_since(&m->started);
	m->elapsed_us = us_since(&m->started);
}

const struct facts *message_facts(const struct message *m)
{
	return &m->facts;
}

/* The counters see exactly the messages the summary lines tell of. */
static void message_count(const struct message *m, const struct verdict *v)
{
	metrics_message(&m->facts, v);
	for (int i = 0; i < m->nsigs; i++)
		metrics_dkim_signed(m->sigs[i].key->domain, m->sigs[i].key->selector,
				    m->sigs[i].key->alg);
	if (m->facts.dkim_sign_error != NULL)
		metrics_dkim_sign_error();
	if (m->arc_sealed != 0)
		metrics_arc_sealed(m->arc_sealed > 0);
	if (m->facts.skipped != NULL)
		return;
	metrics_observe(METRICS_PHASE_MESSAGE, m->elapsed_us);
	metrics_observe(METRICS_PHASE_DNS_WAIT, m->dns_wait_us);
	metrics_observe(METRICS_PHASE_RULES, m->rules_us);
	if (m->facts.content.scanned)
		metrics_observe(METRICS_PHASE_CONTENT, m->content_us);
}

void message_log(const struct message *m, const struct verdict *v)
{
	struct buf b;

	message_count(m, v);
	if (!log_enabled(LOG_LEVEL_INFO))
		return; /* not formatted to be dropped: it is ~60 fields */
	buf_init(&b, SUMMARY_MAX_BYTES);
	summary_line(&b, m->s->rt->conf->log_json ? SUMMARY_JSON : SUMMARY_KV, &m->facts, v,
		     m->ar_ours_count, m->elapsed_ms);
	log_info("%s", b.overflow ? "summary line too long" : buf_str(&b));
	buf_release(&b);
}

void message_free(struct message **mp)
{
	struct message *m = *mp;
	struct arena *a;

	if (m == NULL)
		return;
	spf_cancel(&m->mfrom_check);
	dkim_check_free(&m->dkim_check);
	dkim_signer_free(&m->signer);
	content_scan_free(&m->content);
	arc_check_free(&m->arc_check);
	dmarc_discover_cancel(&m->policy);
	for (size_t i = 0; i < m->list_count; i++)
		domain_lookup_cancel(m->lists[i]);
	uribl_cancel(&m->uribl);
	for (size_t i = 0; i < m->org_count; i++)
		dmarc_discover_cancel(&m->org[i].discovery);
	a = m->arena;
	arena_free(&a); /* the message itself lives in its arena */
	*mp = NULL;
}

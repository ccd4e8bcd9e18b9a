/*
 * callbacks - libmilter glue: phase table, protocol negotiation, and the
 * application of a verdict (see callbacks.h).
 *
 * Round trips cost more than checks, so negotiation asks the MTA not to
 * wait for replies that are always "continue" (the SMFIP_NR_* flags) and
 * to skip stages no check uses.  A callback answers through reply(), which
 * turns "continue" into "no reply" when that was negotiated.
 *
 * Commands may come in any order: libmilter lets through every command it
 * can reach from HELO, so MAIL may arrive before CONNECT (or before any
 * negotiation) and a header, RCPT or end of message without MAIL.  Every
 * callback checks that what its phase works on exists (phase_rules[]);
 * when it does not, the connection is answered tempfail, one line is
 * logged, and every other connection goes on.
 */
#include "config.h"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "authres.h"
#include "callbacks.h"
#include "log.h"
#include "mem.h"
#include "message.h"
#include "runtime.h"
#include "session.h"

struct conn {
	struct session *session;
	struct message *message;
	unsigned long noreply; /* SMFIP_NR_* granted by the MTA */
	int leadspc;	       /* SMFIP_HDR_LEADSPC: header values travel with their leading blank */
	int misordered;	       /* a command out of order was logged for this connection */
	int eoh_seen;	       /* end of headers came for this message */
	int helo_flood;	       /* more HELOs than a session takes: refused from then on */
	struct conn *parked;   /* next in the list of connections closed after the gate */
};

/* Callbacks running now, and transactions open (MAIL seen, no end of
 * message, abort or close yet).  libmilter goes on serving the sessions it
 * has after it is told to stop (only new connections are refused), so a
 * stop first drains: new connections, HELOs and transactions get tempfail,
 * the transactions open go on to their verdicts.  Then it closes the gate:
 * from then on a callback touches nothing the daemon frees at exit (the
 * resolver, the store, the configuration) and answers tempfail; a
 * connection closed behind the gate is parked, not freed, since freeing it
 * cancels its DNS queries.  Every callback counts itself busy before it
 * looks at the gate, and the stop closes the gate before it waits for the
 * count: a callback either sees the gate or is waited for. */
static atomic_int busy;
static atomic_int open_messages;
static atomic_int draining;
static atomic_int gate_closed;
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *parked; /* reachable until exit: no leak report */

int callbacks_busy(void)
{
	return atomic_load(&busy);
}

int callbacks_open_messages(void)
{
	return atomic_load(&open_messages);
}

void callbacks_drain(void)
{
	atomic_store(&draining, 1);
}

void callbacks_close_gate(void)
{
	atomic_store(&gate_closed, 1);
}

/* 1: go on; 0: the gate is closed, answer without touching shared state */
static int enter(void)
{
	atomic_fetch_add(&busy, 1);
	if (!atomic_load(&gate_closed))
		return 1;
	atomic_fetch_sub(&busy, 1);
	return 0;
}

static sfsistat leave(sfsistat r)
{
	atomic_fetch_sub(&busy, 1);
	return r;
}

static struct conn *conn_get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* The transaction is over (verdict, abort, close, a second MAIL). */
static void message_end(struct conn *c)
{
	if (c->message == NULL)
		return;
	message_free(&c->message);
	atomic_fetch_sub(&open_messages, 1);
}

static sfsistat reply(const struct conn *c, unsigned long nr_flag)
{
	return (c->noreply & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The stages we never act on, and the replies that are always continue. */
static const unsigned long wanted_steps = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_HDR_LEADSPC |
					  SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT |
					  SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
static const unsigned long noreply_steps = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT |
					   SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;

static struct conn *conn_ensure(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);

	/* Before negotiation: an MTA that does not negotiate (milter protocol
	 * < 6), or a command out of order.  xxfi_close frees it either way. */
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		smfi_setpriv(ctx, c);
	}
	return c;
}

/* What each phase works on, and the no-reply flag of its stage. */
enum phase { PHASE_HELO, PHASE_MAIL, PHASE_RCPT, PHASE_HEADER, PHASE_EOH, PHASE_BODY, PHASE_EOM };
static const struct phase_rule {
	const char *name;
	int needs_message; /* else only the session */
	int before_eoh;	   /* only before end of headers (libmilter aborts otherwise) */
	unsigned long nr_flag;
} phase_rules[] = {
	[PHASE_HELO] = {"HELO", 0, 0, SMFIP_NR_HELO},
	[PHASE_MAIL] = {"MAIL", 0, 0, 0},
	[PHASE_RCPT] = {"RCPT", 1, 1, SMFIP_NR_RCPT},
	[PHASE_HEADER] = {"a header", 1, 1, SMFIP_NR_HDR},
	[PHASE_EOH] = {"end of headers", 1, 1, SMFIP_NR_EOH},
	[PHASE_BODY] = {"a body chunk", 1, 0, SMFIP_NR_BODY},
	[PHASE_EOM] = {"end of message", 1, 0, 0},
};

/* A refusal: tempfail, or no reply at a stage where the MTA waits for
 * none (libmilter would drop a tempfail there, and complain of it). */
static sfsistat refusal(const struct conn *c, unsigned long nr_flag)
{
	return (c != NULL && (c->noreply & nr_flag)) ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
}

/* The connection, when what the phase works on exists; otherwise NULL and
 * *refused_r the refusal - where it is no reply, the MTA gets its tempfail
 * at MAIL or end of message, which find the same state missing.  Logged once per connection: a broken or hostile client
 * may send thousands. */
static struct conn *conn_for(SMFICTX *ctx, enum phase phase, sfsistat *refused_r)
{
	struct conn *c = conn_ensure(ctx);
	const struct phase_rule *p = &phase_rules[phase];
	const char *wrong = NULL;

	if (c->session == NULL)
		wrong = "before CONNECT";
	else if (c->helo_flood)
		wrong = "after too many HELOs";
	else if (p->needs_message && c->message == NULL)
		wrong = "before MAIL";
	else if (p->before_eoh && c->eoh_seen)
		wrong = "after end of headers";
	if (wrong == NULL)
		return c;
	if (!c->misordered)
		log_warn("milter protocol: %s %s (client %s): tempfail for this connection",
			 p->name, wrong, c->session != NULL ? c->session->client_ip : "unknown");
	c->misordered = 1;
	*refused_r = refusal(c, p->nr_flag);
	return NULL;
}

/* Behind the closed gate: the refusal, touching nothing shared. */
static sfsistat gated(SMFICTX *ctx, unsigned long nr_flag)
{
	return refusal(conn_get(ctx), nr_flag);
}

/* Behind the closed gate, a closed connection is parked with what it
 * holds, not freed: freeing would cancel DNS queries on a freed resolver. */
static sfsistat gated_close(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);

	if (c != NULL) {
		pthread_mutex_lock(&parked_lock);
		c->parked = parked;
		parked = c;
		pthread_mutex_unlock(&parked_lock);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static sfsistat do_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	struct conn *c = conn_ensure(ctx); /* negotiating twice must not leak the first */

	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
	*pf1 = f1 & wanted_steps;
	/* Ask for the macros we read at MAIL FROM instead of main.cf's seven.
	 * This trims packets; it does not remove any: Postfix sends a macro
	 * packet before every stage, skipped ones and each header field
	 * included, and a stage we give no list gets main.cf's. */
	if ((*pf0 & SMFIF_SETSYMLIST) != 0 &&
	    (smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {tls_version}") != MI_SUCCESS ||
	     smfi_setsymlist(ctx, SMFIM_EOM, "i") != MI_SUCCESS))
		*pf0 &= ~(unsigned long)SMFIF_SETSYMLIST;
	*pf2 = *pf3 = 0;
	c->noreply = *pf1 & noreply_steps;
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	return SMFIS_CONTINUE;
}

static sfsistat do_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct conn *c = conn_ensure(ctx);
	struct runtime *rt;
	struct addr client;

	if (c->session != NULL) { /* libmilter closes before a new CONNECT: a broken stream */
		log_warn("milter protocol: CONNECT twice (client %s): the first one is dropped",
			 c->session->client_ip);
		message_end(c);
		session_free(&c->session);
	}
	if ((rt = runtime_current()) == NULL) {
		log_warn("CONNECT before the configuration is loaded: tempfail");
		return SMFIS_TEMPFAIL;
	}
	/* NULL for an unknown family (libmilter's SMFIA_UNKNOWN): client unknown. */
	addr_from_sockaddr((const struct sockaddr *)hostaddr, &client);
	c->session = session_new(rt, hostname, &client);
	runtime_unref(&rt);
	if (c->session->trusted != NULL && !(c->session->rt->signing != NULL &&
					      c->session->rt->conf->dkim_sign_trusted)) {
		log_debug("client %s [%s]: %s, not checked", hostname ? hostname : "unknown",
			  c->session->client_ip, c->session->trusted);
		/* Every inbound connection would wait for this reply; a trusted
		 * one is accepted at MAIL FROM instead (message_skipped). */
		if (!(c->noreply & SMFIP_NR_CONN))
			return SMFIS_ACCEPT;
	}
	return reply(c, SMFIP_NR_CONN);
}

static sfsistat do_helo(SMFICTX *ctx, char *helo)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_HELO, &refused);

	if (c == NULL)
		return refused;
	if (session_helo(c->session, helo != NULL ? helo : "") < 0) {
		/* From now on conn_for() refuses this connection: it logs the
		 * line and gives the answer; the MTA is told at MAIL. */
		c->helo_flood = 1;
		(void)conn_for(ctx, PHASE_HELO, &refused);
		return refused;
	}
	return reply(c, SMFIP_NR_HELO);
}

static sfsistat apply(SMFICTX *ctx, const struct conn *c, const struct message_edits *e,
		      const struct verdict *v);

/* "<addr>" or "addr" as the MTA gives it; the brackets are not the address. */
static char *strip_brackets(const char *arg)
{
	size_t len = strlen(arg);

	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return xstrndup(arg + 1, len - 2);
	return xstrdup(arg);
}

static sfsistat do_envfrom(SMFICTX *ctx, char **argv)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_MAIL, &refused);
	char *from, *auth;

	if (c == NULL)
		return refused;
	from = strip_brackets(argv != NULL && argv[0] != NULL ? argv[0] : "");
	message_end(c); /* MAIL twice: the first transaction is over */
	/* An MTA may send the macro empty for a client that did not authenticate:
	 * only a name means SMTP AUTH succeeded. */
	auth = smfi_getsymval(ctx, "{auth_authen}");
	if (auth != NULL && auth[0] == '\0')
		auth = NULL;
	c->message = message_new(c->session, from, auth);
	atomic_fetch_add(&open_messages, 1);
	c->eoh_seen = 0;
	free(from);
	/* The queue id as soon as the MTA offers it (Postfix and Sendmail
	 * both do at MAIL; it is asked again at the end of the message).
	 * libmilter finds a one-letter macro under "i" and "{i}" alike, the
	 * two spellings MTAs use. */
	message_set_queue_id(c->message, smfi_getsymval(ctx, "i"));
	message_set_tls(c->message, smfi_getsymval(ctx, "{tls_version}"));
	/* A skipped message is answered now, unless it is to be signed: then
	 * it goes on to end of message (a rate limit's tempfail with it). */
	if (message_skipped(c->message) != NULL && !message_signing(c->message)) {
		struct message_edits e;
		struct verdict v;
		sfsistat r = SMFIS_ACCEPT;

		/* Only the verdict: accept, or tempfail for an exceeded rate
		 * limit, answered to MAIL FROM before any data is sent. */
		message_eom(c->message, &v, &e);
		if (v.action == VERDICT_TEMPFAIL)
			r = apply(ctx, c, &e, &v);
		message_log(c->message, &v);
		message_end(c);
		return r;
	}
	return SMFIS_CONTINUE;
}

static sfsistat do_envrcpt(SMFICTX *ctx, char **argv)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_RCPT, &refused);

	if (c == NULL)
		return refused;
	if (argv != NULL && argv[0] != NULL)
		message_rcpt(c->message, argv[0]);
	return reply(c, SMFIP_NR_RCPT);
}

static sfsistat do_header(SMFICTX *ctx, char *name, char *value)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_HEADER, &refused);

	if (c == NULL)
		return refused;
	if (name == NULL || value == NULL) /* libmilter never; a field without a name is no field */
		return reply(c, SMFIP_NR_HDR);
	if (c->leadspc) {
		message_header(c->message, name, value);
	} else {
		/* The MTA removed the blank after the colon: put the usual one back. */
		char *raw = xasprintf(" %s", value);

		message_header(c->message, name, raw);
		free(raw);
	}
	return reply(c, SMFIP_NR_HDR);
}

static sfsistat do_eoh(SMFICTX *ctx)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_EOH, &refused);

	if (c == NULL)
		return refused;
	c->eoh_seen = 1; /* the checks it starts must start once */
	message_eoh(c->message);
	return reply(c, SMFIP_NR_EOH);
}

static sfsistat do_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	sfsistat refused;
	struct conn *c = conn_for(ctx, PHASE_BODY, &refused);

	if (c == NULL)
		return refused;
	if (data != NULL)
		message_body(c->message, data, len);
	return reply(c, SMFIP_NR_BODY);
}

/* libmilter reads '%' in reply texts as a format character; our texts carry
 * names from the client, so neutralise it and any control character. */
static char *reply_text(const char *text)
{
	char *t = xstrdup(text);

	for (char *p = t; *p != '\0'; p++)
		if (*p == '%' || (unsigned char)*p < ' ')
			*p = '?';
	return t;
}

/* With SMFIP_HDR_LEADSPC the MTA adds no blank after the colon of the
 * headers we add: we bring our own. */
static int add_header(SMFICTX *ctx, const struct conn *c, int index, const char *name,
		      const char *value)
{
	char *v = xasprintf("%s%s", c->leadspc ? " " : "", value);
	int r = index < 0 ? smfi_addheader(ctx, (char *)name, v)
			  : smfi_insheader(ctx, index, (char *)name, v);

	free(v);
	if (r != MI_SUCCESS)
		log_warn("cannot add the %s header", name);
	return r;
}

static void edit_subject(SMFICTX *ctx, const struct conn *c, const struct message_edits *e);

static void edit_headers(SMFICTX *ctx, const struct conn *c, const struct message_edits *e)
{
	for (size_t i = 0; i < e->ar_delete_count; i++)
		if (smfi_chgheader(ctx, AUTHRES_HEADER, (int)e->ar_delete[i], NULL) != MI_SUCCESS)
			log_warn("cannot remove forged %s header #%u", AUTHRES_HEADER,
				 e->ar_delete[i]);
	for (size_t i = 0; i < e->remove_count; i++)
		if (smfi_chgheader(ctx, (char *)e->remove[i].name, (int)e->remove[i].index, NULL) !=
		    MI_SUCCESS)
			log_warn("cannot remove the sender's %s header #%u", e->remove[i].name,
				 e->remove[i].index);
	if (e->ar_value != NULL)
		add_header(ctx, c, 0, AUTHRES_HEADER, e->ar_value);
	if (e->arc_sealed) { /* each above the last: ARC-Seal ends on top */
		add_header(ctx, c, 0, "ARC-Authentication-Results", e->arc_seal.aar);
		add_header(ctx, c, 0, "ARC-Message-Signature", e->arc_seal.ams);
		add_header(ctx, c, 0, "ARC-Seal", e->arc_seal.seal);
	}
	for (size_t i = 0; i < e->add_count; i++)
		add_header(ctx, c, -1, e->add[i].name, e->add[i].value);
	edit_subject(ctx, c, e);
	/* last: the signatures cover the message as every edit above left it */
	for (size_t i = 0; i < e->sign_count; i++)
		add_header(ctx, c, 0, e->sign[i].name, e->sign[i].value);
}

static void edit_subject(SMFICTX *ctx, const struct conn *c, const struct message_edits *e)
{
	if (e->subject != NULL) {
		if (!e->subject_exists) {
			add_header(ctx, c, -1, "Subject", e->subject);
		} else {
			char *v = xasprintf("%s%s", c->leadspc ? " " : "", e->subject);

			if (smfi_chgheader(ctx, "Subject", 1, v) != MI_SUCCESS)
				log_warn("cannot change the Subject header");
			free(v);
		}
	}
}

static sfsistat apply(SMFICTX *ctx, const struct conn *c, const struct message_edits *e,
		      const struct verdict *v)
{
	char *text;
	int r;

	switch (v->action) {
	case VERDICT_REJECT:
	case VERDICT_TEMPFAIL:
		text = reply_text(v->text);
		r = smfi_setreply(ctx, (char *)v->rcode, (char *)v->xcode, text);
		free(text);
		if (r != MI_SUCCESS)
			log_warn("cannot set the SMTP reply %s %s", v->rcode, v->xcode);
		return v->action == VERDICT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	case VERDICT_QUARANTINE:
		edit_headers(ctx, c, e);
		text = reply_text(v->text);
		if (smfi_quarantine(ctx, text) != MI_SUCCESS)
			log_warn("cannot quarantine the message: %s", text);
		free(text);
		return SMFIS_CONTINUE;
	case VERDICT_DISCARD:
		return SMFIS_DISCARD;
	case VERDICT_TAG:
	case VERDICT_ACCEPT:
		break;
	}
	edit_headers(ctx, c, e);
	return SMFIS_CONTINUE;
}

static sfsistat do_eom(SMFICTX *ctx)
{
	struct message_edits edits;
	struct verdict v;
	sfsistat r;
	struct conn *c = conn_for(ctx, PHASE_EOM, &r);

	if (c == NULL)
		return r;
	message_set_queue_id(c->message, smfi_getsymval(ctx, "i"));
	message_eom(c->message, &v, &edits);
	r = apply(ctx, c, &edits, &v);
	message_log(c->message, &v);
	message_end(c);
	return r;
}

static sfsistat do_abort(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);

	if (c != NULL)
		message_end(c);
	return SMFIS_CONTINUE;
}

static sfsistat do_close(SMFICTX *ctx)
{
	struct conn *c = conn_get(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	message_end(c);
	session_free(&c->session);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* Each libmilter entry point: count it as busy while it runs. */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	if (!enter()) /* the connection's own memory only: parked at close */
		return do_negotiate(ctx, f0, f1, f2, f3, pf0, pf1, pf2, pf3);
	return leave(do_negotiate(ctx, f0, f1, f2, f3, pf0, pf1, pf2, pf3));
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	if (!enter())
		return gated(ctx, SMFIP_NR_CONN);
	if (atomic_load(&draining))
		return leave(gated(ctx, SMFIP_NR_CONN));
	return leave(do_connect(ctx, hostname, hostaddr));
}

/* Draining: no new HELO or transaction; one left open is over. */
static sfsistat drained(SMFICTX *ctx, unsigned long nr_flag)
{
	struct conn *c = conn_get(ctx);

	if (c != NULL)
		message_end(c);
	return gated(ctx, nr_flag);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	if (!enter())
		return gated(ctx, SMFIP_NR_HELO);
	if (atomic_load(&draining))
		return leave(drained(ctx, SMFIP_NR_HELO));
	return leave(do_helo(ctx, helo));
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	if (!enter())
		return SMFIS_TEMPFAIL;
	if (atomic_load(&draining))
		return leave(drained(ctx, 0));
	return leave(do_envfrom(ctx, argv));
}

/* GATED: what a callback answers behind the closed gate */
#define CB_ARG(name, type, GATED)                                                                  \
	static sfsistat cb_##name(SMFICTX *ctx, type arg)                                          \
	{                                                                                          \
		if (!enter())                                                                      \
			return GATED;                                                              \
		return leave(do_##name(ctx, arg));                                                 \
	}
#define CB_NOARG(name, GATED)                                                                      \
	static sfsistat cb_##name(SMFICTX *ctx)                                                    \
	{                                                                                          \
		if (!enter())                                                                      \
			return GATED;                                                              \
		return leave(do_##name(ctx));                                                      \
	}
CB_ARG(envrcpt, char **, gated(ctx, SMFIP_NR_RCPT))
CB_NOARG(eoh, gated(ctx, SMFIP_NR_EOH))
CB_NOARG(eom, SMFIS_TEMPFAIL)
CB_NOARG(abort, SMFIS_CONTINUE) /* the message stays with its connection */
CB_NOARG(close, gated_close(ctx))

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	if (!enter())
		return gated(ctx, SMFIP_NR_HDR);
	return leave(do_header(ctx, name, value));
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	if (!enter())
		return gated(ctx, SMFIP_NR_BODY);
	return leave(do_body(ctx, data, len));
}

int callbacks_register(const char *name)
{
	static struct smfiDesc desc = {
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
		.xxfi_version = SMFI_VERSION,
		.xxfi_connect = cb_connect,
		.xxfi_helo = cb_helo,
		.xxfi_envfrom = cb_envfrom,
		.xxfi_envrcpt = cb_envrcpt,
		.xxfi_header = cb_header,
		.xxfi_eoh = cb_eoh,
		.xxfi_body = cb_body,
		.xxfi_eom = cb_eom,
		.xxfi_abort = cb_abort,
		.xxfi_close = cb_close,
		.xxfi_negotiate = cb_negotiate,
	};

	desc.xxfi_name = (char *)name;
	return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}

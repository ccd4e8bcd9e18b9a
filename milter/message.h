/*
 * message - one SMTP transaction, from MAIL FROM to its verdict.
 *
 * message_new() starts the MAIL FROM SPF check at once; headers and body
 * are fed as they arrive; message_eom() collects every result, decides,
 * and returns the verdict and the header edits to apply.  Knows nothing of
 * libmilter: the daemon (callbacks.c) and `authscore test` drive the same
 * calls.  All memory is in the message's arena, freed by message_free().
 * Owned by one session; never used by two threads at once.
 */
#ifndef AUTHSCORE_MESSAGE_H
#define AUTHSCORE_MESSAGE_H

#include <stddef.h>

#include "arc.h"
#include "facts.h"
#include "session.h"
#include "verdict.h"

/* A header field to remove: its name and its 1-based index among the
 * fields of that name (any case), as smfi_chgheader() counts them. */
struct message_removal {
	const char *name;
	unsigned index;
};

struct message_edits {
	const char *ar_value;	/* our Authentication-Results value, inserted at index 0 */
	const unsigned *ar_delete; /* 1-based indexes among Authentication-Results headers */
	size_t ar_delete_count;    /* ... in descending order, so deletions do not shift */
	/* the sender's own X-Spam-* and X-Authscore-* fields, each name's
	 * highest index first, so no removal shifts a later one */
	const struct message_removal *remove;
	size_t remove_count;
	const struct header_field *add; /* headers to append (result, X-Spam-*) */
	size_t add_count;
	const char *subject;	/* new Subject value (tag prefix), or NULL */
	int subject_exists;	/* change the first Subject field, or add one */
	/* DKIM-Signature fields, each inserted at index 0 after every other
	 * edit (they sign the message as it leaves) */
	const struct header_field *sign;
	size_t sign_count;
	/* this host's ARC set (RFC 8617 §5.1), when arc_sealed: inserted at
	 * index 0 after our Authentication-Results, so that the fields read
	 * ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results,
	 * Authentication-Results from the top */
	int arc_sealed;
	struct arc_seal_headers arc_seal;
};

struct message;

/* mail_from without <>; "" for the null sender.  auth_user: the SMTP AUTH
 * identity, or NULL. */
struct message *message_new(struct session *s, const char *mail_from, const char *auth_user);
/* Why this message is not checked ("trusted network", "authenticated"), or NULL. */
const char *message_skipped(const struct message *m);
/* Is this (skipped) message to be signed?  Then it goes on to end of
 * message like a checked one, and message_eom() gives the signatures. */
int message_signing(const struct message *m);
void message_set_queue_id(struct message *m, const char *queue_id);
void message_set_tls(struct message *m, const char *tls_version);
void message_rcpt(struct message *m, const char *rcpt);
/* value: everything after the colon, as received (leading blank included) */
void message_header(struct message *m, const char *name, const char *value);
void message_eoh(struct message *m);
void message_body(struct message *m, const unsigned char *data, size_t len);
void message_eom(struct message *m, struct verdict *v_r, struct message_edits *edits_r);
const struct facts *message_facts(const struct message *m);
/* The one summary line per message. */
void message_log(const struct message *m, const struct verdict *v);
void message_free(struct message **mp);

#endif

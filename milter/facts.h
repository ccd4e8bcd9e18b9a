/*
 * facts - everything the checks learned about one message.
 *
 * The contract between the checks and what consumes them: checks write
 * it, the verdict (and later the rules) read it, Authentication-Results
 * and the log line render it, the history store records it.  All strings
 * live in the message's arena; a struct facts is reset with its message.
 * Owned by one message; not shared between threads.
 */
#ifndef AUTHSCORE_FACTS_H
#define AUTHSCORE_FACTS_H

#include <stddef.h>

#include "addr.h"
#include "dkim.h"
#include "dmarc.h"
#include "spf.h"

struct facts {
	/* connection */
	struct addr client;
	char client_ip[ADDR_STRLEN];
	const char *client_host; /* the MTA's name for the client, or NULL */
	const char *helo;	 /* NULL when the client sent none */
	const char *auth_user;	 /* SMTP AUTH identity ({auth_authen}), or NULL */
	const char *tls_version; /* {tls_version}, or NULL */

	/* transaction */
	const char *queue_id;
	const char *mail_from;	      /* without <>; "" for the null sender */
	const char *mail_from_domain; /* NULL for the null sender */
	size_t rcpt_count;
	const char *message_id;
	size_t header_bytes, body_bytes;

	/* why no checks ran, or NULL: "trusted network", "authenticated" */
	const char *skipped;

	/* SPF: the MAIL FROM identity (for the null sender: postmaster@HELO,
	 * RFC 7208 §2.4) and the HELO identity, always evaluated */
	struct spf_outcome spf_mfrom;
	struct spf_outcome spf_helo;

	/* From (RFC 5322 §3.6.2): exactly one field with one address gives the
	 * Author Domain; anything else is a from_error (two From fields is the
	 * classic DMARC bypass) */
	unsigned from_fields;
	const char *from_domain;
	const char *from_error;

	struct dkim_results dkim;
	struct dmarc_record dmarc_record; /* the policy discovered for from_domain */
	struct dmarc_outcome dmarc;
	const char *dmarc_override; /* RFC 9990 override type when not enforced, or NULL */
};

#endif

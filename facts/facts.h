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

#define FACTS_MAX_HEADERS 500
#define FACTS_MAX_RCPTS 100

#include "addr.h"
#include "arc_result.h"
#include "content_result.h"
#include "dkim_result.h"
#include "dmarc_result.h"
#include "dnsbl_result.h"
#include "geoip_result.h"
#include "iprev_result.h"
#include "ratelimit_result.h"
#include "spf_result.h"

struct header_field {
	const char *name;
	const char *value; /* unfolded as received, leading blanks removed */
};

/* A domain-list answer, and which identity's domain was asked.  IDENT_URI:
 * a registrable domain of the body's links (uribl(zone) in the rules),
 * asked at end of message after the content facts are filled. */
enum facts_identity { IDENT_MAIL_FROM, IDENT_FROM, IDENT_HELO, IDENT_DKIM, IDENT_URI };
struct domain_listing {
	enum facts_identity identity;
	struct dnsbl_result r;
};

struct facts {
	/* connection */
	struct addr client;
	char client_ip[ADDR_STRLEN];
	const char *client_host; /* the MTA's name for the client, or NULL */
	const char *helo;	 /* NULL when the client sent none */
	const char *auth_user;	 /* SMTP AUTH identity ({auth_authen}), or NULL */
	const char *tls_version; /* {tls_version}, or NULL */

	/* reputation, looked up from connect time */
	struct dnsbl_result *ip_lists; /* one per configured IP list (block and allow) */
	size_t ip_list_count;
	struct domain_listing *domain_lists; /* one per (domain list, identity domain) asked */
	size_t domain_list_count;
	struct iprev_outcome iprev;
	struct geoip_result geoip;

	/* transaction */
	const char *queue_id;
	const char *mail_from;	      /* without <>; "" for the null sender */
	const char *mail_from_domain; /* NULL for the null sender */
	size_t rcpt_count;
	const char **rcpts; /* the first FACTS_MAX_RCPTS */
	const char *message_id;
	size_t header_bytes, body_bytes;
	const struct header_field *headers; /* the first FACTS_MAX_HEADERS, in order */
	size_t header_count;

	/* why no checks ran, or NULL: "trusted network", "authenticated" */
	const char *skipped;
	/* DKIM signatures authscore added (outgoing mail): "d/s/algorithm"
	 * comma-separated, or NULL; why it could not sign, or NULL */
	const char *dkim_signed;
	const char *dkim_sign_error;
	/* the rate limits this message exceeded: RATELIMIT_BIT(kind), counted
	 * at MAIL FROM, before (and whatever) the skip */
	unsigned ratelimit;

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

	/* ARC (RFC 8617): the chain, and whether a trusted sealer's recorded
	 * results overrode a DMARC failure (then dmarc_override says so) */
	struct arc_outcome arc;
	const char *arc_override_by;  /* the trusted sealer (ARC-Seal d=), or NULL */
	const char *arc_override_why; /* what it recorded: "dmarc=pass", "dkim=pass" */

	/* the body: MIME parts, decoded text, links (filled at end of message) */
	struct content_facts content;

	/* scoring (rules/): what the rules made of all the above */
	double score;
	const char **rules_hit; /* names of the rules that fired and scored */
	const double *rules_hit_scores; /* their scores, or NULL (not stored in records) */
	size_t rules_hit_count;
	const char **monitors_hit; /* monitor rules that fired (logged, never scored) */
	size_t monitors_hit_count;
};

#endif

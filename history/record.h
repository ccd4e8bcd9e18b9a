/*
 * record - one message's history record: what the store keeps and the
 * reports aggregate.
 *
 * record_from_facts() flattens the facts and verdict of a message into a
 * struct history_record whose strings live in the given arena.  The same
 * struct comes back out of the store (strings in the reader's arena), so
 * the milter, the store and `authscore report` share one definition.
 * record_encode()/record_decode() turn the full record into one line of
 * JSON (for the spool file and the store's `facts` column, so stored facts
 * can be replayed later); decoding never trusts its input (caps, types).
 * The JSON is valid UTF-8 whatever the input: bytes that are not UTF-8 are
 * written as \udc80-\udcff (lone low surrogates, as Python's
 * "surrogateescape"), so every byte string round-trips exactly.
 * Pure functions; thread-safe.
 */
#ifndef AUTHSCORE_RECORD_H
#define AUTHSCORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "facts.h"
#include "verdict_result.h"

#define RECORD_MAX_DKIM 8
#define RECORD_MAX_LINE (256 * 1024) /* an encoded record is at most this long */

struct record_dkim {
	const char *domain, *selector, *result; /* result: RFC 8601 name */
};

struct history_record {
	const char *uid;	/* unique over every MX host: set by store_append when NULL,
				 * so a record reloaded twice is stored once */
	int64_t time;		/* UNIX seconds, UTC */
	const char *queue_id, *message_id;
	const char *client_ip, *helo, *mail_from, *header_from;
	/* SPF (RFC 9990 auth_results/spf: domain, scope, result) */
	const char *spf_domain, *spf_scope, *spf_result;
	const char *spf_helo_result;
	struct record_dkim dkim[RECORD_MAX_DKIM];
	size_t dkim_count;
	/* DMARC */
	const char *dmarc_result;		   /* none pass fail temperror permerror */
	const char *policy_domain;		   /* where the record was found, or NULL */
	const char *p, *sp, *np;		   /* as published, NULL when absent */
	int adkim_strict, aspf_strict, testing, psd; /* psd: -1 absent, 0 n, 1 y */
	const char *discovery;			   /* "treewalk" */
	const char *rua;			   /* raw rua= of the policy record, or NULL */
	int dkim_aligned, spf_aligned;
	const char *disposition;		   /* none quarantine reject: applied */
	const char *override;			   /* RFC 9990 override type, or NULL */
	/* scoring */
	double score;
	const char *rules;			   /* comma-separated rules hit, or "" */
	const char *action;			   /* accept tag quarantine tempfail reject discard */
	/* the facts a rules replay needs (a JSON object built by
	 * record_from_facts: lists, iprev, geoip, helo, recipients, sizes,
	 * every check's outcome; no header contents), embedded as "facts" by
	 * record_encode; NULL when unknown */
	const char *facts_json;
};

void record_from_facts(const struct facts *f, const struct verdict *v, int64_t now,
		       struct arena *a, struct history_record *out);
/* One line of JSON, no newline, in the arena; NULL when over RECORD_MAX_LINE. */
const char *record_encode(const struct history_record *r, struct arena *a);
/* Returns 0, or -1 with *error_r (static) on malformed input. */
int record_decode(const char *line, size_t len, struct arena *a, struct history_record *out,
		  const char **error_r);
/* A deep copy in one malloc'd block (the struct first): free() releases it. */
struct history_record *record_dup(const struct history_record *r);

#endif

/*
 * history - the admin's tuning loop over the history store: explain one
 * stored message, replay stored facts against another rules file, and
 * statistics of a period (`authscore explain / replay / stats`, whose
 * command lines live in history_cmd.c).
 *
 * Every function here works on records handed to it (store_each gives
 * them), never on DNS or mail: stored facts are decoded with
 * record_facts_decode() and scored with rules_evaluate_except(), the rules
 * that read header or body contents (never stored) fixed to what they did when the
 * message came (their names among the stored hits), then the
 * configuration's actions are applied by verdict_decide() as in the daemon.  A replay or stats
 * accumulator is malloc'd, fed one record at a time (constant memory per record: a scratch arena
 * each) and prints a plain-text summary.  One thread.
 */
#ifndef AUTHSCORE_HISTORY_H
#define AUTHSCORE_HISTORY_H

#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "record.h"
#include "rules.h"

/* What stored facts are evaluated with. */
struct history_rules {
	const struct conf *conf; /* actions (on-dmarc-reject ...) */
	const struct ruleset *rs;
	const char *name; /* the rules file, for the output */
};

/* explain: the whole decision of one stored message, in plain words or as
 * one JSON object (json != 0).  Returns 0, or -1 when its facts do not
 * decode (the record's own fields are still printed). */
int history_explain(FILE *out, const struct history_rules *hr, const struct history_record *r,
		    int json);

/* replay */
struct history_replay;
/* sample_max: how many of the messages whose action changes are listed. */
struct history_replay *history_replay_new(const struct history_rules *next, size_t sample_max);
/* facts: the record's, already decoded (record_facts_decode_line), or NULL
 * to decode r->facts_json; NULL too for a record without usable facts. */
void history_replay_add(struct history_replay *rp, const struct history_record *r,
			const struct facts *facts);
void history_replay_print(const struct history_replay *rp, FILE *out);
void history_replay_free(struct history_replay **rpp);
/* For tests: how many were replayed, changed, and per action (verdict
 * order: accept tag quarantine tempfail reject discard) before and after. */
struct history_replay_counts {
	uint64_t records, replayed, not_replayable, changed;
	uint64_t before[6], after[6];
};
void history_replay_counts(const struct history_replay *rp, struct history_replay_counts *out);
/* For tests: hits of rule NAME after the replay (-1: no such rule). */
long long history_replay_hits(const struct history_replay *rp, const char *name);

/* stats */
struct history_stats;
struct history_stats *history_stats_new(const struct history_rules *hr);
void history_stats_add(struct history_stats *st, const struct history_record *r,
		       const struct facts *facts);
void history_stats_print(const struct history_stats *st, FILE *out);
void history_stats_free(struct history_stats **stp);

/* Does the record concern DOMAIN (its From or MAIL FROM domain, or a
 * subdomain of it)? */
int history_domain_match(const struct history_record *r, const char *domain);

/* `authscore explain | replay | stats ...`: argv[0] is the command. */
/* The body's facts and the URL block lists' answers, in words
 * (history_content.c): explain's and `authscore test`'s. */
void history_explain_content(FILE *out, const struct facts *f);

int history_cmd_main(int argc, char **argv);

#endif

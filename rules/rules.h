/*
 * rules - the scoring rules language (doc/authscore.rules.5): named rules
 * over struct facts, scores, forced actions, monitor rules and the action
 * thresholds.
 *
 * rules_load() reads a file (and its includes) and rules_parse() a text,
 * once, into a compact form: an array of rules, each the root of a small
 * expression tree; rule references are resolved to indexes, reference cycles
 * are rejected and an evaluation order is fixed; regular expressions are
 * PCRE2, compiled (and JIT-compiled when available) at load.  On error both
 * return NULL and a malloc'd "file:line:col: message" followed by the
 * offending line and a caret under the column.  Every input size is capped
 * (file, line, rules, includes, nesting, regexes).
 *
 * A ruleset is immutable once loaded: any number of threads may call
 * rules_evaluate() on it at once.  rules_evaluate() allocates only from the
 * caller's arena (the message's); the verdict's arrays and strings live in
 * that arena or in the ruleset, whichever is shorter-lived.
 */
#ifndef AUTHSCORE_RULES_H
#define AUTHSCORE_RULES_H

#include <stddef.h>

#include "arena.h"
#include "facts.h"

/* In increasing order of severity; RULES_DISCARD ranks with RULES_REJECT. */
enum rules_action {
	RULES_ACCEPT,
	RULES_TAG,
	RULES_QUARANTINE,
	RULES_REJECT,
	RULES_TEMPFAIL,
	RULES_DISCARD,
};

struct rules_verdict {
	double score; /* sum of the scores of the matched (non-monitor) rules */
	enum rules_action action;
	const char *text;      /* the forcing rule's text (reply or reason), or NULL */
	const char *forced_by; /* the rule that forced the action, or NULL */
	const char **hits;     /* matched rules, file order (names starting "__" left out) */
	double *hit_scores;    /* their scores */
	size_t hit_count;
	const char **monitors; /* matched monitor rules (logged, never scored or forcing) */
	size_t monitor_count;
	double threshold; /* of the action taken, or of tag when accepted; <0 when not set */
};

struct ruleset;

struct ruleset *rules_load(const char *path, char **error_r);
/* name: for error messages and as the base of relative includes. */
struct ruleset *rules_parse(const char *name, const char *text, char **error_r);
/* The same on a buffer that need not be NUL-terminated (a NUL in it is an
 * error); for the fuzzer. */
struct ruleset *rules_parse_buf(const char *name, const char *text, size_t len, char **error_r);
void rules_free(struct ruleset **rsp);

void rules_evaluate(const struct ruleset *rs, const struct facts *f, struct arena *a,
		    struct rules_verdict *out);

/* Replay of stored facts (`authscore replay`): the same evaluation, but
 * rule i's outcome is fixed when fixed[i] is RULES_FIXED_NO or
 * RULES_FIXED_YES (stored facts hold no header contents: the tools fix
 * the rules that read them to what they did when the message came); when
 * matched_r is not NULL it receives rules_count() flags, 1 for every rule
 * that matched (monitors and "__" rules included).  fixed may be NULL. */
enum { RULES_EVALUATE = 0, RULES_FIXED_NO = 1, RULES_FIXED_YES = 2 };
void rules_evaluate_except(const struct ruleset *rs, const struct facts *f, struct arena *a,
			   const unsigned char *fixed, unsigned char *matched_r,
			   struct rules_verdict *out);
/* Rule i (0 <= i < rules_count(), file order), for explain and replay. */
struct rules_rule {
	const char *name, *description, *text; /* description, text: NULL when none */
	double score;
	int monitor, hidden;	  /* hidden: a "__" rule, never listed among hits */
	enum rules_action action; /* forced; RULES_ACCEPT when none */
};
void rules_rule(const struct ruleset *rs, size_t i, struct rules_rule *out);
/* Sets out[i] (rules_count() flags) for every rule that reads contents the
 * history does not keep (header, body, rawbody, uri), itself or through a
 * rule it refers to; returns how many. */
size_t rules_header_rules(const struct ruleset *rs, unsigned char *out);

/* Of RULES_TAG, RULES_QUARANTINE or RULES_REJECT; <0 when not set. */
double rules_threshold(const struct ruleset *rs, enum rules_action a);
size_t rules_count(const struct ruleset *rs);	      /* all rules, monitors included */
size_t rules_monitor_count(const struct ruleset *rs); /* monitor rules only */
const char *rules_action_name(enum rules_action a);   /* "accept", "tag", ... */

/* A DNS list the rules ask about: dnsbl(zone) and dnswl(zone) are IP
 * lists, dbl(zone[, identity]) a domain list asked about `identities`
 * (bits 1 << enum facts_identity; uribl(zone) is dbl(zone, uri):
 * IDENT_URI).  rules_lists() returns a malloc'd array
 * the caller frees; its strings live in the ruleset (rules_lists.c). */
struct rules_list_use {
	const char *zone;
	enum dnsbl_kind kind;
	int allow; /* named by dnswl() */
	unsigned identities;
};
size_t rules_lists(const struct ruleset *rs, struct rules_list_use **out);

/* rules/default.rules, compiled in (generated rules/default_rules.c): the
 * rules used when the configuration names no file. */
extern const char rules_default_text[];

/* `authscore rules ...`: argv[0] is "rules".  Returns the exit status. */
int rules_cmd_main(int argc, char **argv);

#endif

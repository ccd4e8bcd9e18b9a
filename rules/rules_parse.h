/*
 * rules_parse - the parser's private state, shared by the lexer
 * (rules_lex.c), the grammar (rules_parse.c) and the checker that resolves
 * rule references (rules_check.c).  Not an API: only those files include it.
 *
 * struct parser lives for one rules_load() or rules_parse() call; the
 * ruleset it builds (rules_int.h) outlives it.  The first error wins:
 * perr_loc() keeps it in p->error and every later call returns -1.
 */
#ifndef AUTHSCORE_RULES_PARSE_H
#define AUTHSCORE_RULES_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "rules_int.h"

#define RULES_MAX_FILE_BYTES	 (1024 * 1024)
#define RULES_MAX_TOTAL_BYTES	 (8 * 1024 * 1024)
#define RULES_MAX_LINE		 4096
#define RULES_MAX_RULES		 10000
#define RULES_MAX_INCLUDE_DEPTH	 8
#define RULES_MAX_FILES		 64
#define RULES_MAX_REGEX		 1024
#define RULES_MAX_STRING	 1024
#define RULES_MAX_TEXT		 400 /* an SMTP reply's text */
#define RULES_MAX_NEST		 32
#define RULES_MAX_VALUES	 256
#define RULES_MAX_NAME		 64
#define RULES_MAX_NODES_PER_RULE 1000
#define RULES_MAX_SCORE		 10000.0
#define RULES_NAME_HASH		 32768 /* a power of two, at least twice RULES_MAX_RULES */

enum tok_kind {
	T_EOF,
	T_NL,
	T_WORD,
	T_STRING,
	T_REGEX,
	T_LPAREN,
	T_RPAREN,
	T_LBRACE,
	T_RBRACE,
	T_SEMI,
	T_COMMA,
	T_EQ,
	T_NE,
	T_MATCH,
	T_NMATCH,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AMP,
};

/* A place in a file, for messages (files stay in memory until the end). */
struct loc {
	const char *file;
	const char *line_start, *end; /* the line, and the end of its file's text */
	unsigned line, col;
};

struct tok {
	enum tok_kind kind;
	const char *p; /* the token's bytes in the text */
	size_t len;
	char *str;	/* T_STRING: unescaped; T_REGEX: the pattern; in the ruleset arena */
	uint32_t flags; /* T_REGEX: PCRE2 options */
	struct loc loc;
};

struct src {
	const char *name; /* as shown in messages, and the base of its includes */
	char *real;	  /* realpath, to find include cycles; NULL for a text */
	const struct src *parent;
	int depth;
};

struct ref {
	uint32_t node, from_rule, to_rule;
	const char *name;
	struct loc loc;
};

struct parser {
	struct ruleset *rs;
	char *error;

	/* the lexer, on the current file */
	const struct src *src;
	const char *text, *pos, *end, *line_start;
	unsigned line;
	int bracket;	/* unclosed ( and {: newlines inside are blanks */
	struct tok tok; /* lookahead */

	/* everything loaded, freed at the end */
	char **texts;
	size_t text_count;
	size_t total_bytes;

	size_t rule_cap, node_cap, kid_cap, test_cap;
	struct ref *refs;
	size_t ref_count, ref_cap;
	struct loc *rule_locs;
	uint32_t *name_hash; /* rule index + 1, 0 free */
	int actions_seen;
	struct loc actions_loc;
	int nest;
	size_t rule_nodes; /* nodes of the rule being parsed */
	pcre2_compile_context *cctx;
};

int perr_loc(struct parser *p, const struct loc *l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define perr(p, fmt, ...) perr_loc((p), &(p)->tok.loc, fmt, ##__VA_ARGS__)
/* A token for messages: "end of line", or the word as written. */
const char *tok_show(const struct tok *t, char *out, size_t size);

/* Reads the next token into p->tok: 0, or -1 on an error. */
int next(struct parser *p);
int tok_is(const struct parser *p, const char *word);
char *tok_word(struct parser *p);
int at_end_of_statement(const struct parser *p);
/* The token must be of that kind (what: for the message); reads the next. */
int expect(struct parser *p, enum tok_kind kind, const char *what);

/* The rule of that name (names are compared without case), or -1; *slot_r,
 * when not NULL, receives the free slot of the name hash it would take. */
long rule_lookup(const struct parser *p, const char *name, uint32_t *slot_r);
/* After parsing: resolves rule references, rejects cycles, fixes rs->order. */
int resolve(struct parser *p);

#endif

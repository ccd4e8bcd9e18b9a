/*
 * rules_int - the compiled form of a ruleset, shared by the parser
 * (rules_lex.c, rules_parse.c, rules_check.c), which builds it, and the
 * evaluator (rules_eval.c), which only reads it.  Not an API: nothing outside
 * rules/ includes this.
 *
 * Everything but the PCRE2 codes lives in the ruleset's own arena, freed
 * with it.  Expressions are trees of struct rule_node in one array,
 * referring to each other by index; AND and OR are n-ary (their children
 * are a run of `kids`), so a long chain of terms does not make a deep tree.
 */
#ifndef AUTHSCORE_RULES_INT_H
#define AUTHSCORE_RULES_INT_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "addr.h"
#include "arena.h"
#include "rules.h"

/* What a test reads from struct facts. */
enum rule_fact {
	FACT_SPF,
	FACT_SPF_HELO,
	FACT_DKIM,
	FACT_DMARC,
	FACT_DMARC_POLICY,
	FACT_IPREV,
	FACT_DNSBL,
	FACT_DNSWL,
	FACT_DBL,
	FACT_GEOIP_COUNTRY,
	FACT_GEOIP_ASN,
	FACT_CLIENT,
	FACT_CLIENT_HOST,
	FACT_HELO,
	FACT_MAIL_FROM,
	FACT_MAIL_FROM_DOMAIN,
	FACT_FROM_DOMAIN,
	FACT_FROM_ERROR,
	FACT_RCPT,
	FACT_RCPT_COUNT,
	FACT_HEADER,
	FACT_SIZE,
	FACT_AUTHENTICATED,
	FACT_AUTH,
	FACT_TLS,
	FACT_RATELIMIT, /* any limit */
	FACT_RATELIMIT_IP,
	FACT_RATELIMIT_SENDER,
	FACT_RATELIMIT_USER,
	/* the body (facts->content, rules_content.c) */
	FACT_URIBL, /* dbl(zone, uri): the domain lists asked about the links' domains */
	FACT_BODY,
	FACT_RAWBODY,
	FACT_URI,
	FACT_URI_DOMAIN,
	FACT_ATTACHMENT_NAME,
	FACT_ATTACHMENT_TYPE,
	FACT_MIME_PARTS,
	FACT_HTML_ONLY,
	FACT_LINK_TEXT_MISMATCH,
	FACT_DOUBLE_EXTENSION,
	FACT_ARCHIVE_EXECUTABLE,
	FACT_ARC,	 /* the ARC chain's result (RFC 8617) */
	FACT_ARC_SEALER, /* every ARC set's sealer (ARC-Seal d=) */
	FACT_DMARC_OVERRIDE, /* why a DMARC failure is not enforced (RFC 9990 type) */
};

/* How a fact's values look, and so which operators and values it takes. */
enum rule_type {
	TYPE_ENUM,    /* one of a fixed set of names (spf, dmarc, ...) */
	TYPE_CODES,   /* DNS list answers */
	TYPE_STRING,  /* text, compared without case, or a regex */
	TYPE_COUNTRY, /* ISO 3166-1 alpha-2 */
	TYPE_NUMBER,
	TYPE_ADDR, /* the client address, against networks */
	TYPE_BOOL,
	TYPE_TLS,  /* a protocol version: a string that also orders */
	TYPE_TEXT, /* the body's text: only a regex (or present: not empty) */
};

enum rule_op {
	OP_PRESENT, /* the bare fact: listed, present, true */
	OP_EQ,
	OP_NE,
	OP_IN,
	OP_NOT_IN,
	OP_MATCH,
	OP_NOT_MATCH,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_MASK, /* dnsbl(zone) & 0x4 */
};

/* DNS list answer states a test may name instead of a code. */
enum rule_code_state {
	CODE_RANGE,
	CODE_WILDCARD,
	CODE_LISTED,
	CODE_UNLISTED,
	CODE_BLOCKED,
	CODE_ERROR
};

/* One value of a comparison or of an `in (...)` list. */
struct rule_value {
	uint8_t state;	 /* TYPE_CODES: enum rule_code_state */
	uint64_t lo, hi; /* numbers, enum values, code ranges (lo == hi: exact) */
	uint32_t care;	 /* CODE_WILDCARD: the octets given; code & care == lo */
	const char *s;	 /* strings, countries (upper case), TLS versions */
	struct cidr net; /* TYPE_ADDR */
};

#define RULE_IDENT_ANY (-1) /* dbl(zone) without an identity */

struct rule_test {
	uint8_t fact;	 /* enum rule_fact */
	uint8_t op;	 /* enum rule_op */
	int ident;	 /* FACT_DBL: enum facts_identity or RULE_IDENT_ANY */
	const char *arg; /* zone, header name, DKIM domain; NULL when none */
	struct rule_value *vals;
	size_t val_count;
	pcre2_code *re;	  /* OP_MATCH, OP_NOT_MATCH */
	const char *rule; /* the rule it belongs to, for logs */
};

enum rule_node_kind { NODE_TRUE, NODE_FALSE, NODE_AND, NODE_OR, NODE_NOT, NODE_RULE, NODE_TEST };

struct rule_node {
	uint8_t kind;
	uint32_t n;   /* AND, OR: how many kids */
	uint32_t arg; /* AND, OR: first kid in `kids`; NOT: the node; RULE: rule; TEST: test */
};

struct rule {
	const char *name;
	const char *description; /* or NULL */
	double score;
	int monitor;
	int action;	  /* enum rules_action; RULES_ACCEPT when none is forced */
	const char *text; /* the action's text, or NULL */
	uint32_t root;	  /* node */
	int hidden;	  /* a "__" sub-rule: never listed among hits */
};

struct ruleset {
	struct arena *arena;
	struct rule *rules;
	size_t rule_count, monitor_count;
	uint32_t *order; /* evaluation order: every rule after the rules it refers to */
	struct rule_node *nodes;
	size_t node_count;
	uint32_t *kids;
	size_t kid_count;
	struct rule_test *tests;
	size_t test_count;
	size_t regex_count;
	double threshold[3]; /* tag, quarantine, reject; <0 when not set */
};

/* Limits of what a regex match may cost (PCRE2 match, depth and heap limits). */
#define RULES_MATCH_LIMIT    100000
#define RULES_DEPTH_LIMIT    1000
#define RULES_HEAP_LIMIT_KIB 256

/* The i-th value of a body fact (FACT_BODY .. FACT_ATTACHMENT_TYPE) as a
 * string of *len_r bytes (*i advances), or NULL after the last
 * (rules_content.c).  A body that was not scanned has no values. */
const char *rules_content_next(const struct facts *f, const struct rule_test *t, size_t *i,
			       size_t *len_r);
/* The body's boolean and number facts (FACT_MIME_PARTS: the count). */
int rules_content_flag(const struct facts *f, enum rule_fact fact);
uint64_t rules_content_number(const struct facts *f, enum rule_fact fact);
/* Does the test read text that history records do not keep (headers,
 * body, rawbody, the URLs)?  Such rules are not replayable. */
int rules_test_reads_text(const struct rule_test *t);

/* SSLv3 1, TLSv1 2, ... TLSv1.3 5; 0 for anything else (and NULL). */
int rules_tls_rank(const char *version);

#endif

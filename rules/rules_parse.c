/*
 * rules_parse - the rules file's grammar (see rules.h and
 * doc/authscore.rules.5); the tokens are rules_lex.c's, the resolution of
 * references and the cycle check rules_check.c's.
 *
 * One pass over the text with one token of lookahead; facts, operators,
 * actions and keywords are tables.  Rule references are collected as they
 * are met and resolved at the end (a rule may refer to one defined later,
 * or in another file); the reference graph is then walked once, iteratively,
 * to reject cycles and to fix the evaluation order.  Every size is capped so
 * hostile input can neither exhaust memory nor recurse deeply: the only
 * recursion is over parentheses and `not`, limited to RULES_MAX_NEST.
 * The first error wins; it is formatted with the offending line and a caret.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "rules_parse.h"

/* ---- growable arrays ---- */

static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return array;
	*cap = *cap == 0 ? 16 : *cap * 2;
	if (*cap < need)
		*cap = need;
	return xrealloc(array, *cap * size);
}

static int new_node(struct parser *p, enum rule_node_kind kind, uint32_t n, uint32_t arg,
		    uint32_t *out)
{
	struct ruleset *rs = p->rs;

	if (++p->rule_nodes > RULES_MAX_NODES_PER_RULE)
		return perr(p, "rule too complex (more than %d terms)", RULES_MAX_NODES_PER_RULE);
	rs->nodes = grow(rs->nodes, &p->node_cap, rs->node_count + 1, sizeof(*rs->nodes));
	rs->nodes[rs->node_count] = (struct rule_node){(uint8_t)kind, n, arg};
	*out = (uint32_t)rs->node_count++;
	return 0;
}

/* ---- numbers ---- */

/* [+-]digits[.digits], within +-RULES_MAX_SCORE. */
static int parse_score(const char *s, size_t len, double *out)
{
	char tmp[64];
	size_t i = 0, digits = 0;
	char *end;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (tmp[i] == '+' || tmp[i] == '-')
		i++;
	for (; tmp[i] >= '0' && tmp[i] <= '9'; i++)
		digits++;
	if (digits == 0)
		return -1;
	if (tmp[i] == '.') {
		digits = 0;
		for (i++; tmp[i] >= '0' && tmp[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return -1;
	}
	if (tmp[i] != '\0')
		return -1;
	*out = strtod(tmp, &end);
	if (*out > RULES_MAX_SCORE || *out < -RULES_MAX_SCORE)
		return -1;
	return 0;
}

/* Decimal, or 0x hex; with suffix k, M or G (powers of 1024) when allowed. */
static int parse_uint(const char *s, size_t len, int suffixes, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	unsigned base = 10;
	size_t i = 0, digits = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++) {
		unsigned d;

		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned)(s[i] - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
		digits++;
	}
	if (digits == 0)
		return -1;
	if (i < len && suffixes && i + 1 == len && base == 10) {
		if (s[i] == 'k' || s[i] == 'K')
			mult = 1024;
		else if (s[i] == 'M')
			mult = 1024 * 1024;
		else if (s[i] == 'G')
			mult = 1024 * 1024 * 1024;
		else
			return -1;
		i++;
	}
	if (i != len || v > max / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* a.b.c.d, an octet "*" when wildcards are allowed; returns the address and
 * the mask of the octets given. */
static int parse_ipv4(const char *s, size_t len, int wild, uint32_t *addr, uint32_t *care)
{
	uint32_t a = 0, c = 0;
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		uint64_t v;
		size_t start = i;

		if (octet > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		if (i < len && s[i] == '*' && wild) {
			i++;
			a <<= 8;
			c <<= 8;
			continue;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			i++;
		if (i == start || parse_uint(s + start, i - start, 0, 255, &v) < 0)
			return -1;
		a = (a << 8) | (uint32_t)v;
		c = (c << 8) | 0xff;
	}
	if (i != len)
		return -1;
	*addr = a;
	*care = c;
	return 0;
}

/* ---- facts ---- */

enum arg_kind { ARG_NONE, ARG_OPTIONAL, ARG_ZONE, ARG_ZONE_IDENT, ARG_HEADER };

struct fact_def {
	const char *name;
	enum rule_fact fact;
	enum rule_type type;
	enum arg_kind arg;
	const char *const *names; /* TYPE_ENUM, indexed by the fact's enum */
	size_t name_count;
	const char *what; /* in messages: "an SPF result" */
};

static const char *const spf_names[] = {
    [SPF_NONE] = "none",	   [SPF_NEUTRAL] = "neutral",	[SPF_PASS] = "pass",
    [SPF_FAIL] = "fail",	   [SPF_SOFTFAIL] = "softfail", [SPF_TEMPERROR] = "temperror",
    [SPF_PERMERROR] = "permerror",
};
static const char *const dkim_names[] = {
    [DKIM_NONE] = "none",	    [DKIM_PASS] = "pass",	[DKIM_FAIL] = "fail",
    [DKIM_POLICY] = "policy",	    [DKIM_NEUTRAL] = "neutral", [DKIM_TEMPERROR] = "temperror",
    [DKIM_PERMERROR] = "permerror",
};
static const char *const dmarc_names[] = {
    [DMARC_NONE] = "none",	     [DMARC_PASS] = "pass",	      [DMARC_FAIL] = "fail",
    [DMARC_TEMPERROR] = "temperror", [DMARC_PERMERROR] = "permerror",
};
static const char *const policy_names[] = {
    [DMARC_POLICY_UNSET] = "unset",
    [DMARC_POLICY_NONE] = "none",
    [DMARC_POLICY_QUARANTINE] = "quarantine",
    [DMARC_POLICY_REJECT] = "reject",
};
static const char *const iprev_names[] = {
    [IPREV_NONE] = "none",	     [IPREV_PASS] = "pass",	      [IPREV_FAIL] = "fail",
    [IPREV_TEMPERROR] = "temperror", [IPREV_PERMERROR] = "permerror",
};
static const char *const arc_names[] = {
    [ARC_NONE] = "none",
    [ARC_PASS] = "pass",
    [ARC_FAIL] = "fail",
    [ARC_TEMPERROR] = "temperror",
};
#define NAMES(t) t, sizeof(t) / sizeof(t[0])

static const struct fact_def fact_defs[] = {
    {"spf", FACT_SPF, TYPE_ENUM, ARG_NONE, NAMES(spf_names), "an SPF result"},
    {"spf.helo", FACT_SPF_HELO, TYPE_ENUM, ARG_NONE, NAMES(spf_names), "an SPF result"},
    {"dkim", FACT_DKIM, TYPE_ENUM, ARG_OPTIONAL, NAMES(dkim_names), "a DKIM result"},
    {"dmarc", FACT_DMARC, TYPE_ENUM, ARG_NONE, NAMES(dmarc_names), "a DMARC result"},
    {"dmarc.policy", FACT_DMARC_POLICY, TYPE_ENUM, ARG_NONE, NAMES(policy_names), "a DMARC policy"},
    {"iprev", FACT_IPREV, TYPE_ENUM, ARG_NONE, NAMES(iprev_names), "an iprev result"},
    {"dnsbl", FACT_DNSBL, TYPE_CODES, ARG_ZONE, NULL, 0, "a return code"},
    {"dnswl", FACT_DNSWL, TYPE_CODES, ARG_ZONE, NULL, 0, "a return code"},
    {"dbl", FACT_DBL, TYPE_CODES, ARG_ZONE_IDENT, NULL, 0, "a return code"},
    {"geoip.country", FACT_GEOIP_COUNTRY, TYPE_COUNTRY, ARG_NONE, NULL, 0, "a country code"},
    {"geoip.asn", FACT_GEOIP_ASN, TYPE_NUMBER, ARG_NONE, NULL, 0, "an AS number"},
    {"client", FACT_CLIENT, TYPE_ADDR, ARG_NONE, NULL, 0, "an address or network"},
    {"client.host", FACT_CLIENT_HOST, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"helo", FACT_HELO, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"mail_from", FACT_MAIL_FROM, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"mail_from.domain", FACT_MAIL_FROM_DOMAIN, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"from.domain", FACT_FROM_DOMAIN, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"from.error", FACT_FROM_ERROR, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"rcpt", FACT_RCPT, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"rcpt.count", FACT_RCPT_COUNT, TYPE_NUMBER, ARG_NONE, NULL, 0, "a number"},
    {"header", FACT_HEADER, TYPE_STRING, ARG_HEADER, NULL, 0, "a string"},
    {"size", FACT_SIZE, TYPE_NUMBER, ARG_NONE, NULL, 0, "a size (e.g. 512k, 10M)"},
    {"authenticated", FACT_AUTHENTICATED, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"auth", FACT_AUTH, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"tls", FACT_TLS, TYPE_TLS, ARG_NONE, NULL, 0, "a TLS version (e.g. TLSv1.2)"},
    {"ratelimit", FACT_RATELIMIT, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"ratelimit.ip", FACT_RATELIMIT_IP, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"ratelimit.sender", FACT_RATELIMIT_SENDER, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"ratelimit.user", FACT_RATELIMIT_USER, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    /* the body: MIME parts, text and links (rules_content.c) */
    {"uribl", FACT_URIBL, TYPE_CODES, ARG_ZONE, NULL, 0, "a return code"},
    {"body", FACT_BODY, TYPE_TEXT, ARG_NONE, NULL, 0, "a /regex/"},
    {"rawbody", FACT_RAWBODY, TYPE_TEXT, ARG_NONE, NULL, 0, "a /regex/"},
    {"uri", FACT_URI, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"uri-domain", FACT_URI_DOMAIN, TYPE_STRING, ARG_NONE, NULL, 0, "a domain"},
    {"attachment-name", FACT_ATTACHMENT_NAME, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"attachment-type", FACT_ATTACHMENT_TYPE, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"mime-parts", FACT_MIME_PARTS, TYPE_NUMBER, ARG_NONE, NULL, 0, "a number"},
    {"html-only", FACT_HTML_ONLY, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"link-text-mismatch", FACT_LINK_TEXT_MISMATCH, TYPE_BOOL, ARG_NONE, NULL, 0, "nothing"},
    {"attachment-double-extension", FACT_DOUBLE_EXTENSION, TYPE_BOOL, ARG_NONE, NULL, 0,
     "nothing"},
    {"attachment-executable-in-archive", FACT_ARCHIVE_EXECUTABLE, TYPE_BOOL, ARG_NONE, NULL, 0,
     "nothing"},
    {"arc", FACT_ARC, TYPE_ENUM, ARG_NONE, NAMES(arc_names), "an ARC result"},
    {"arc.sealer", FACT_ARC_SEALER, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
    {"dmarc.override", FACT_DMARC_OVERRIDE, TYPE_STRING, ARG_NONE, NULL, 0, "a string"},
};

static const struct fact_def *fact_find(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(fact_defs) / sizeof(fact_defs[0]); i++)
		if (strlen(fact_defs[i].name) == len && strncasecmp(fact_defs[i].name, s, len) == 0)
			return &fact_defs[i];
	return NULL;
}

static const struct {
	const char *text;
	enum rule_op op;
} op_names[] = {
    {"==", OP_EQ},    {"!=", OP_NE},	    {"in", OP_IN},  {"not in", OP_NOT_IN},
    {"=~", OP_MATCH}, {"!~", OP_NOT_MATCH}, {"<", OP_LT},   {"<=", OP_LE},
    {">", OP_GT},     {">=", OP_GE},	    {"&", OP_MASK}, {"alone", OP_PRESENT},
};

#define B(op)	 (1u << (op))
#define EQUALITY (B(OP_EQ) | B(OP_NE) | B(OP_IN) | B(OP_NOT_IN))
#define ORDER	 (B(OP_LT) | B(OP_LE) | B(OP_GT) | B(OP_GE))
#define REGEX	 (B(OP_MATCH) | B(OP_NOT_MATCH))
static const unsigned type_ops[] = {
    [TYPE_ENUM] = EQUALITY,
    [TYPE_CODES] = EQUALITY | B(OP_PRESENT) | B(OP_MASK),
    [TYPE_STRING] = EQUALITY | B(OP_PRESENT) | REGEX,
    [TYPE_COUNTRY] = EQUALITY,
    [TYPE_NUMBER] = EQUALITY | ORDER,
    [TYPE_ADDR] = EQUALITY,
    [TYPE_BOOL] = B(OP_PRESENT),
    [TYPE_TLS] = EQUALITY | B(OP_PRESENT) | REGEX | ORDER,
    [TYPE_TEXT] = B(OP_PRESENT) | REGEX,
};

static const char *op_text(enum rule_op op)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (op_names[i].op == op)
			return op_names[i].text;
	return "?";
}

static const char *const tls_versions[] = {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

int rules_tls_rank(const char *version)
{
	for (size_t i = 0; version != NULL && i < sizeof(tls_versions) / sizeof(tls_versions[0]);
	     i++)
		if (strcasecmp(version, tls_versions[i]) == 0)
			return (int)i + 1;
	return 0;
}

static const char *const identity_names[] = {
    [IDENT_MAIL_FROM] = "mail_from",
    [IDENT_FROM] = "from",
    [IDENT_HELO] = "helo",
    [IDENT_DKIM] = "dkim",
    [IDENT_URI] = "uri",
};

static const char *const keywords[] = {"and",  "or",	  "not",   "in",     "true",	"false",
				       "rule", "monitor", "score", "action", "include", "actions"};

/* ---- expressions ---- */

static int valid_name(const char *s, size_t len)
{
	if (len == 0 || len > RULES_MAX_NAME ||
	    !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int valid_zone(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

/* (zone), (zone, identity), (Header-Name), (domain) */
static int parse_fact_arg(struct parser *p, const struct fact_def *d, struct rule_test *t)
{
	if (p->tok.kind != T_LPAREN) {
		if (d->arg == ARG_NONE || d->arg == ARG_OPTIONAL)
			return 0;
		return perr(p, "%s needs a %s in parentheses, e.g. %s", d->name,
			    d->arg == ARG_HEADER ? "header name" : "zone",
			    d->arg == ARG_HEADER ? "header(Subject)" : "dnsbl(zen.spamhaus.org)");
	}
	if (d->arg == ARG_NONE)
		return perr(p, "%s takes no argument", d->name);
	if (next(p) < 0)
		return -1;
	if (p->tok.kind != T_WORD && p->tok.kind != T_STRING)
		return expect(p, T_WORD, d->arg == ARG_HEADER ? "a header name" : "a domain");
	t->arg = p->tok.kind == T_STRING ? p->tok.str : tok_word(p);
	if (d->arg == ARG_HEADER) {
		for (const char *s = t->arg; *s != '\0'; s++)
			if (*s <= ' ' || *s == ':' || *s >= 0x7f)
				return perr(p, "\"%s\" is not a header field name", t->arg);
		if (*t->arg == '\0')
			return perr(p, "empty header field name");
	} else if (!valid_zone(t->arg)) {
		return perr(p, "\"%s\" is not a domain name", t->arg);
	}
	if (next(p) < 0)
		return -1;
	if (d->arg == ARG_ZONE_IDENT && p->tok.kind == T_COMMA) {
		size_t i;

		if (next(p) < 0)
			return -1;
		for (i = 0; i < sizeof(identity_names) / sizeof(identity_names[0]); i++)
			if (tok_is(p, identity_names[i]))
				break;
		if (i == sizeof(identity_names) / sizeof(identity_names[0])) {
			char shown[64];

			return perr(p,
				    "expected an identity (mail_from, from, helo, dkim or uri), not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
		}
		t->ident = (int)i;
		if (next(p) < 0)
			return -1;
	}
	return expect(p, T_RPAREN, "\")\"");
}

/* The value readers, one per enum rule_type: each reads the word or string
 * s (len bytes) into v, then the next token. */
typedef int value_reader(struct parser *p, const struct fact_def *d, const struct rule_test *t,
			 struct rule_value *v, const char *s, size_t len);

static int value_enum(struct parser *p, const struct fact_def *d, const struct rule_test *t,
		      struct rule_value *v, const char *s, size_t len)
{
	struct buf b;

	(void)t;
	for (size_t i = 0; i < d->name_count; i++) {
		if (d->names[i] != NULL && strlen(d->names[i]) == len &&
		    strncasecmp(d->names[i], s, len) == 0) {
			v->lo = v->hi = i;
			return next(p);
		}
	}
	buf_init(&b, 512);
	for (size_t i = 0; i < d->name_count; i++)
		buf_printf(&b, "%s%s",
			   i == 0		    ? ""
			   : i + 1 == d->name_count ? " or "
						    : ", ",
			   d->names[i]);
	perr(p, "unknown %s \"%.*s\" (expected %s)", d->what + (d->what[1] == 'n' ? 3 : 2),
	     (int)(len > 40 ? 40 : len), s, buf_str(&b));
	buf_release(&b);
	return -1;
}

/* 127.0.0.2, 127.0.*.3 or 127.0.0.2-127.0.0.11 (after the state names). */
static int value_code_range(struct parser *p, struct rule_value *v, const char *s, size_t len)
{
	const char *dash = memchr(s, '-', len);
	uint32_t a, b, care;

	if (dash != NULL) {
		if (parse_ipv4(s, (size_t)(dash - s), 0, &a, &care) < 0 ||
		    parse_ipv4(dash + 1, len - (size_t)(dash - s) - 1, 0, &b, &care) < 0)
			return perr(p,
				    "\"%.*s\" is not a range of return codes such as "
				    "127.0.0.2-127.0.0.11",
				    (int)(len > 40 ? 40 : len), s);
		if (a > b)
			return perr(p, "empty range: %.*s", (int)(len > 40 ? 40 : len), s);
		v->state = CODE_RANGE;
	} else {
		if (parse_ipv4(s, len, 1, &a, &care) < 0)
			return perr(p,
				    "\"%.*s\" is not a return code (127.0.0.2, 127.0.*.3, "
				    "127.0.0.2-127.0.0.11, listed, unlisted, blocked or error)",
				    (int)(len > 40 ? 40 : len), s);
		b = a;
		v->state = care == 0xffffffffu ? CODE_RANGE : CODE_WILDCARD;
		v->care = care;
	}
	if ((a >> 24) != 127 && !(v->state == CODE_WILDCARD && (care >> 24) == 0))
		return perr(p, "return codes are in 127.0.0.0/8 (RFC 5782 §2.3)");
	v->lo = a;
	v->hi = b;
	return next(p);
}

static int value_codes(struct parser *p, const struct fact_def *d, const struct rule_test *t,
		       struct rule_value *v, const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum rule_code_state state;
	} states[] = {{"listed", CODE_LISTED},
		      {"unlisted", CODE_UNLISTED},
		      {"blocked", CODE_BLOCKED},
		      {"error", CODE_ERROR}};

	(void)d;
	(void)t;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strlen(states[i].name) == len && strncasecmp(states[i].name, s, len) == 0) {
			v->state = (uint8_t)states[i].state;
			return next(p);
		}
	}
	return value_code_range(p, v, s, len);
}

static int value_string(struct parser *p, const struct fact_def *d, const struct rule_test *t,
			struct rule_value *v, const char *s, size_t len)
{
	(void)d;
	(void)t;
	v->s = arena_strndup(p->rs->arena, s, len);
	return next(p);
}

static int value_tls(struct parser *p, const struct fact_def *d, const struct rule_test *t,
		     struct rule_value *v, const char *s, size_t len)
{
	(void)d;
	v->s = arena_strndup(p->rs->arena, s, len);
	if (t->op >= OP_LT && t->op <= OP_GE) {
		v->lo = (uint64_t)rules_tls_rank(v->s);
		if (v->lo == 0)
			return perr(p,
				    "unknown TLS version \"%s\" (expected SSLv3, TLSv1, "
				    "TLSv1.1, TLSv1.2 or TLSv1.3)",
				    v->s);
	}
	return next(p);
}

static int value_country(struct parser *p, const struct fact_def *d, const struct rule_test *t,
			 struct rule_value *v, const char *s, size_t len)
{
	char cc[3];

	(void)d;
	(void)t;
	if (len == 7 && strncasecmp(s, "unknown", 7) == 0) {
		v->s = "";
		return next(p);
	}
	if (len != 2 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
	    !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
		return perr(p, "\"%.*s\" is not a two-letter country code (or unknown)",
			    (int)(len > 40 ? 40 : len), s);
	cc[0] = (char)(s[0] & ~0x20);
	cc[1] = (char)(s[1] & ~0x20);
	cc[2] = '\0';
	v->s = arena_strdup(p->rs->arena, cc);
	return next(p);
}

static int value_number(struct parser *p, const struct fact_def *d, const struct rule_test *t,
			struct rule_value *v, const char *s, size_t len)
{
	const char *dash = len > 1 ? memchr(s + 1, '-', len - 1) : NULL;
	int suffixes = t->fact == FACT_SIZE;
	uint64_t max = t->fact == FACT_GEOIP_ASN ? UINT32_MAX : ((uint64_t)1 << 53);

	if (dash != NULL && (t->op == OP_IN || t->op == OP_NOT_IN)) {
		if (parse_uint(s, (size_t)(dash - s), suffixes, max, &v->lo) < 0 ||
		    parse_uint(dash + 1, len - (size_t)(dash - s) - 1, suffixes, max, &v->hi) < 0 ||
		    v->lo > v->hi)
			return perr(p, "\"%.*s\" is not a range of numbers such as 10-20",
				    (int)(len > 40 ? 40 : len), s);
		return next(p);
	}
	if (parse_uint(s, len, suffixes, max, &v->lo) < 0)
		return perr(p, "\"%.*s\" is not %s", (int)(len > 40 ? 40 : len), s, d->what);
	v->hi = v->lo;
	return next(p);
}

static int value_addr(struct parser *p, const struct fact_def *d, const struct rule_test *t,
		      struct rule_value *v, const char *s, size_t len)
{
	char tmp[128];

	(void)d;
	(void)t;
	if (len >= sizeof(tmp))
		return perr(p, "\"%.40s\" is not an address or network", s);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (cidr_parse(tmp, &v->net) == 0)
		return next(p);
	if (addr_parse(tmp, &v->net.net) == 0) {
		v->net.prefix = v->net.net.family == AF_INET ? 32 : 128;
		return next(p);
	}
	return perr(p, "\"%s\" is not an address or network (a.b.c.d/n, x:y::/n)", tmp);
}

/* NULL: the type takes no value (TYPE_BOOL). */
static value_reader *const value_readers[] = {
    [TYPE_ENUM] = value_enum,	    [TYPE_CODES] = value_codes,	  [TYPE_STRING] = value_string,
    [TYPE_COUNTRY] = value_country, [TYPE_NUMBER] = value_number, [TYPE_ADDR] = value_addr,
    [TYPE_BOOL] = NULL,		    [TYPE_TLS] = value_tls,	  [TYPE_TEXT] = NULL,
};

static int parse_value(struct parser *p, const struct fact_def *d, struct rule_test *t,
		       struct rule_value *v)
{
	const char *s = p->tok.p;
	size_t len = p->tok.len;
	char shown[64];

	if (p->tok.kind == T_STRING) {
		s = p->tok.str;
		len = strlen(s);
	} else if (p->tok.kind != T_WORD) {
		return perr(p, "expected %s, not %s", d->what,
			    tok_show(&p->tok, shown, sizeof(shown)));
	}
	if (value_readers[d->type] == NULL)
		return perr(p, "%s takes no value", d->name);
	return value_readers[d->type](p, d, t, v, s, len);
}

/* The comparison after a fact; OP_PRESENT when there is none.  The token
 * is left on the operator ("in" of "not in"). */
static int read_op(struct parser *p, enum rule_op *op)
{
	static const struct {
		enum tok_kind kind;
		enum rule_op op;
	} tok_ops[] = {
	    {T_EQ, OP_EQ}, {T_NE, OP_NE}, {T_MATCH, OP_MATCH}, {T_NMATCH, OP_NOT_MATCH},
	    {T_LT, OP_LT}, {T_LE, OP_LE}, {T_GT, OP_GT},       {T_GE, OP_GE},
	    {T_AMP, OP_MASK},
	};
	char shown[64];

	for (size_t i = 0; i < sizeof(tok_ops) / sizeof(tok_ops[0]); i++) {
		if (p->tok.kind == tok_ops[i].kind) {
			*op = tok_ops[i].op;
			return 0;
		}
	}
	*op = OP_PRESENT;
	if (tok_is(p, "in")) {
		*op = OP_IN;
	} else if (tok_is(p, "not")) {
		if (next(p) < 0)
			return -1;
		if (!tok_is(p, "in"))
			return perr(p, "expected \"in\" after \"not\", not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
		*op = OP_NOT_IN;
	}
	return 0;
}

/* The fact's type must take the operator; the message lists those it takes. */
static int check_op(struct parser *p, const struct fact_def *d, enum rule_op op,
		    const struct loc *op_loc)
{
	struct buf b;
	size_t n = 0;

	if (type_ops[d->type] & B(op))
		return 0;
	buf_init(&b, 512);
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (type_ops[d->type] & B(op_names[i].op))
			buf_printf(&b, "%s%s", n++ ? ", " : "", op_names[i].text);
	if (op == OP_PRESENT)
		perr_loc(p, op_loc, "%s needs a comparison (%s)", d->name, buf_str(&b));
	else
		perr_loc(p, op_loc, "%s does not take %s (it takes %s)", d->name, op_text(op),
			 buf_str(&b));
	buf_release(&b);
	return -1;
}

/* Appends t to rs->tests, for the rule being parsed; returns its index. */
static uint32_t store_test(struct parser *p, struct rule_test *t)
{
	struct ruleset *rs = p->rs;

	rs->tests = grow(rs->tests, &p->test_cap, rs->test_count + 1, sizeof(*rs->tests));
	t->rule = rs->rules[rs->rule_count].name;
	rs->tests[rs->test_count] = *t;
	return (uint32_t)rs->test_count++;
}

/* fact =~ /regex/flags: compiled now, so a bad pattern is a load error. */
static int parse_regex_test(struct parser *p, struct rule_test *t, uint32_t *out)
{
	PCRE2_SIZE erroff;
	int errcode;
	const char *pattern = p->tok.str;
	uint32_t test;
	char shown[64];

	if (p->tok.kind != T_REGEX)
		return perr(p, "expected a /regex/, not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	t->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			      p->tok.flags | PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, p->cctx);
	if (t->re == NULL) {
		PCRE2_UCHAR msg[256];
		struct loc l = p->tok.loc;

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		l.col += 1 + (unsigned)erroff;
		return perr_loc(p, &l, "bad regex: %s", (const char *)msg);
	}
	/* JIT is optional: without it (or on a platform without it)
	 * pcre2_match() interprets */
	(void)pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE);
	p->rs->regex_count++;
	/* stored before anything else can fail, so rules_free frees it */
	test = store_test(p, t);
	if (next(p) < 0)
		return -1;
	return new_node(p, NODE_TEST, 0, test, out);
}

/* in (value, value, ...): the token is on the "(". */
static int parse_value_list(struct parser *p, const struct fact_def *d, struct rule_test *t,
			    struct rule_value *vals)
{
	if (next(p) < 0)
		return -1;
	for (;;) {
		if (t->val_count == RULES_MAX_VALUES)
			return perr(p, "more than %d values in a list", RULES_MAX_VALUES);
		memset(&vals[t->val_count], 0, sizeof(vals[0]));
		if (parse_value(p, d, t, &vals[t->val_count]) < 0)
			return -1;
		t->val_count++;
		if (p->tok.kind == T_RPAREN)
			break;
		if (expect(p, T_COMMA, "\",\" or \")\"") < 0)
			return -1;
	}
	return next(p);
}

/* dnsbl(zone) & mask */
static int parse_mask(struct parser *p, struct rule_test *t, struct rule_value *v)
{
	uint64_t mask;
	char shown[64];

	if (p->tok.kind != T_WORD || parse_uint(p->tok.p, p->tok.len, 0, UINT32_MAX, &mask) < 0 ||
	    mask == 0)
		return perr(p, "expected a bit mask such as 0x4 or 4, not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	memset(v, 0, sizeof(*v));
	v->care = (uint32_t)mask;
	t->val_count = 1;
	return next(p);
}

static int parse_test(struct parser *p, const struct fact_def *d, uint32_t *out)
{
	/* uribl(zone) is dbl(zone, uri) */
	struct rule_test t = {.fact = (uint8_t)d->fact,
			      .ident = d->fact == FACT_URIBL ? (int)IDENT_URI : RULE_IDENT_ANY};
	struct rule_value vals[RULES_MAX_VALUES];
	struct loc op_loc;
	enum rule_op op;
	int rc = 0;

	if (next(p) < 0 || parse_fact_arg(p, d, &t) < 0)
		return -1;
	op_loc = p->tok.loc;
	if (read_op(p, &op) < 0)
		return -1;
	t.op = (uint8_t)op;
	if (check_op(p, d, op, &op_loc) < 0)
		return -1;
	if (op == OP_PRESENT) {
		/* nothing to read */
	} else if (next(p) < 0) {
		return -1;
	} else if (op == OP_MATCH || op == OP_NOT_MATCH) {
		return parse_regex_test(p, &t, out);
	} else if ((op == OP_IN || op == OP_NOT_IN) && p->tok.kind == T_LPAREN) {
		rc = parse_value_list(p, d, &t, vals);
	} else if (op == OP_MASK) {
		rc = parse_mask(p, &t, &vals[0]);
	} else {
		memset(&vals[0], 0, sizeof(vals[0]));
		rc = parse_value(p, d, &t, &vals[0]);
		t.val_count = 1;
	}
	if (rc < 0)
		return -1;
	if (t.val_count > 0) {
		t.vals = arena_alloc(p->rs->arena, t.val_count * sizeof(*t.vals));
		memcpy(t.vals, vals, t.val_count * sizeof(*t.vals));
	}
	return new_node(p, NODE_TEST, 0, store_test(p, &t), out);
}

static int parse_or(struct parser *p, uint32_t *out);

static int parse_unary(struct parser *p, uint32_t *out)
{
	struct ruleset *rs = p->rs;
	const struct fact_def *d;
	char shown[64];

	if (tok_is(p, "not") || p->tok.kind == T_LPAREN) {
		int is_not = p->tok.kind == T_WORD;
		uint32_t inner;

		if (++p->nest > RULES_MAX_NEST)
			return perr(p, "expression nested deeper than %d", RULES_MAX_NEST);
		if (next(p) < 0)
			return -1;
		if (is_not) {
			if (parse_unary(p, &inner) < 0 || new_node(p, NODE_NOT, 0, inner, out) < 0)
				return -1;
		} else if (parse_or(p, out) < 0 || expect(p, T_RPAREN, "\")\"") < 0) {
			return -1;
		}
		p->nest--;
		return 0;
	}
	if (tok_is(p, "true") || tok_is(p, "false")) {
		if (new_node(p, tok_is(p, "true") ? NODE_TRUE : NODE_FALSE, 0, 0, out) < 0)
			return -1;
		return next(p);
	}
	if (p->tok.kind != T_WORD)
		return perr(p, "expected a fact, a rule name, \"not\" or \"(\", not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	d = fact_find(p->tok.p, p->tok.len);
	if (d != NULL)
		return parse_test(p, d, out);
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (tok_is(p, keywords[i]))
			return perr(p, "expected a fact, a rule name, \"not\" or \"(\", not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
	if (!valid_name(p->tok.p, p->tok.len))
		return perr(p, "unknown fact %s", tok_show(&p->tok, shown, sizeof(shown)));
	{
		struct ref r = {
		    .from_rule = (uint32_t)rs->rule_count, .name = tok_word(p), .loc = p->tok.loc};

		if (new_node(p, NODE_RULE, 0, 0, &r.node) < 0 || next(p) < 0)
			return -1;
		/* a rule name followed by a comparison was meant as a fact */
		if (p->tok.kind == T_LPAREN || (p->tok.kind >= T_EQ && p->tok.kind <= T_AMP) ||
		    tok_is(p, "in"))
			return perr_loc(p, &r.loc, "unknown fact \"%s\"", r.name);
		p->refs = grow(p->refs, &p->ref_cap, p->ref_count + 1, sizeof(*p->refs));
		p->refs[p->ref_count++] = r;
		*out = r.node;
		return 0;
	}
}

/* term (word term)*, as one n-ary node when there is more than one term */
static int parse_chain(struct parser *p, const char *word, enum rule_node_kind kind,
		       int (*term)(struct parser *, uint32_t *), uint32_t *out)
{
	struct ruleset *rs = p->rs;
	uint32_t *items = NULL, first;
	size_t n = 0, cap = 0;

	if (term(p, &first) < 0)
		return -1;
	if (!tok_is(p, word)) {
		*out = first;
		return 0;
	}
	items = grow(items, &cap, 1, sizeof(*items));
	items[n++] = first;
	while (tok_is(p, word)) {
		uint32_t t;

		if (next(p) < 0 || term(p, &t) < 0) {
			free(items);
			return -1;
		}
		items = grow(items, &cap, n + 1, sizeof(*items));
		items[n++] = t;
	}
	rs->kids = grow(rs->kids, &p->kid_cap, rs->kid_count + n, sizeof(*rs->kids));
	memcpy(rs->kids + rs->kid_count, items, n * sizeof(*items));
	free(items);
	if (new_node(p, kind, (uint32_t)n, (uint32_t)rs->kid_count, out) < 0)
		return -1;
	rs->kid_count += n;
	return 0;
}

static int parse_and(struct parser *p, uint32_t *out)
{
	return parse_chain(p, "and", NODE_AND, parse_unary, out);
}

static int parse_or(struct parser *p, uint32_t *out)
{
	return parse_chain(p, "or", NODE_OR, parse_and, out);
}

/* ---- statements ---- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u;
	return h;
}

long rule_lookup(const struct parser *p, const char *name, uint32_t *slot_r)
{
	uint32_t slot = name_hash(name) & (RULES_NAME_HASH - 1);

	for (; p->name_hash[slot] != 0; slot = (slot + 1) & (RULES_NAME_HASH - 1))
		if (strcasecmp(p->rs->rules[p->name_hash[slot] - 1].name, name) == 0)
			return (long)p->name_hash[slot] - 1;
	if (slot_r != NULL)
		*slot_r = slot;
	return -1;
}

static const struct {
	const char *name;
	enum rules_action action;
	int text; /* takes a text: the SMTP reply, or the quarantine reason */
} action_defs[] = {
    {"reject", RULES_REJECT, 1},   {"tempfail", RULES_TEMPFAIL, 1},
    {"discard", RULES_DISCARD, 0}, {"quarantine", RULES_QUARANTINE, 1},
    {"tag", RULES_TAG, 0},
};

/* The name after "rule": checked, and a new rules[] entry made for it
 * (counted only once the rule is complete); *slot_r: its name hash slot. */
static int parse_rule_name(struct parser *p, int monitor, uint32_t *slot_r)
{
	struct ruleset *rs = p->rs;
	struct rule *r;
	long other;
	char shown[64];

	if (p->tok.kind != T_WORD || !valid_name(p->tok.p, p->tok.len))
		return perr(p, "expected a rule name (letters, digits and _, at most %d), not %s",
			    RULES_MAX_NAME, tok_show(&p->tok, shown, sizeof(shown)));
	if (fact_find(p->tok.p, p->tok.len) != NULL)
		return perr(p, "\"%.*s\" is a fact, not a rule name", (int)p->tok.len, p->tok.p);
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (tok_is(p, keywords[i]))
			return perr(p, "\"%s\" is a keyword, not a rule name", keywords[i]);
	if (rs->rule_count == RULES_MAX_RULES)
		return perr(p, "more than %d rules", RULES_MAX_RULES);
	rs->rules = grow(rs->rules, &p->rule_cap, rs->rule_count + 1, sizeof(*rs->rules));
	p->rule_locs = xrealloc(p->rule_locs, p->rule_cap * sizeof(*p->rule_locs));
	p->rule_locs[rs->rule_count] = p->tok.loc;
	r = &rs->rules[rs->rule_count];
	memset(r, 0, sizeof(*r));
	r->name = tok_word(p);
	r->monitor = monitor;
	r->hidden = strncmp(r->name, "__", 2) == 0;
	other = rule_lookup(p, r->name, slot_r);
	if (other >= 0)
		return perr(p, "rule %s is already defined at %s:%u", r->name,
			    p->rule_locs[other].file, p->rule_locs[other].line);
	return next(p);
}

/* score N: the token is on "score". */
static int parse_rule_score(struct parser *p, struct rule *r)
{
	char shown[64];

	if (r->hidden)
		return perr(p, "a \"__\" sub-rule takes no score (it only feeds other rules)");
	if (next(p) < 0)
		return -1;
	if (p->tok.kind != T_WORD || parse_score(p->tok.p, p->tok.len, &r->score) < 0)
		return perr(p, "expected a score such as 2.5 or -1 (at most %g), not %s",
			    RULES_MAX_SCORE, tok_show(&p->tok, shown, sizeof(shown)));
	return next(p);
}

/* action NAME ["text"]: the token is on "action". */
static int parse_rule_action(struct parser *p, struct rule *r)
{
	size_t i;
	char shown[64];

	if (r->hidden)
		return perr(p, "a \"__\" sub-rule takes no action (it only feeds other rules)");
	if (next(p) < 0)
		return -1;
	for (i = 0; i < sizeof(action_defs) / sizeof(action_defs[0]); i++)
		if (tok_is(p, action_defs[i].name))
			break;
	if (i == sizeof(action_defs) / sizeof(action_defs[0]))
		return perr(p,
			    "expected an action (reject, tempfail, discard, quarantine or tag), "
			    "not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	r->action = (int)action_defs[i].action;
	if (next(p) < 0)
		return -1;
	if (action_defs[i].text && p->tok.kind == T_STRING) {
		const char *s = p->tok.str;

		if (strlen(s) > RULES_MAX_TEXT)
			return perr(p, "action text longer than %d bytes", RULES_MAX_TEXT);
		for (; *s != '\0'; s++)
			if (*s < 0x20 || *s >= 0x7f)
				return perr(p, "action text must be printable ASCII (it may "
					       "become an SMTP reply)");
		r->text = p->tok.str;
		return next(p);
	}
	return 0;
}

static int parse_rule(struct parser *p, int monitor)
{
	struct ruleset *rs = p->rs;
	struct rule *r;
	uint32_t slot;
	int have_score = 0, have_action = 0, have_desc = 0, rc;
	char shown[64];

	if (next(p) < 0 || parse_rule_name(p, monitor, &slot) < 0)
		return -1;
	r = &rs->rules[rs->rule_count];
	if (at_end_of_statement(p))
		return perr(p, "rule %s needs a condition", r->name);
	p->rule_nodes = 0;
	p->nest = 0;
	if (parse_or(p, &r->root) < 0)
		return -1;
	/* r stays put: rules[] only grows in parse_rule_name */
	while (!at_end_of_statement(p)) {
		if (tok_is(p, "score")) {
			rc = have_score++ ? perr(p, "score given twice") : parse_rule_score(p, r);
		} else if (tok_is(p, "action")) {
			rc = have_action++ ? perr(p, "action given twice")
					   : parse_rule_action(p, r);
		} else if (p->tok.kind == T_STRING) {
			if (have_desc++)
				return perr(p, "description given twice");
			r->description = p->tok.str;
			rc = next(p);
		} else {
			return perr(p,
				    "expected \"and\", \"or\", score, action, a \"description\" or "
				    "the end of the rule, not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
		}
		if (rc < 0)
			return -1;
	}
	p->name_hash[slot] = (uint32_t)rs->rule_count + 1;
	rs->rule_count++;
	if (monitor)
		rs->monitor_count++;
	return 0;
}

static int parse_actions(struct parser *p)
{
	static const char *const names[] = {"tag", "quarantine", "reject"};
	int seen[3] = {0, 0, 0};
	struct loc where[3];
	char shown[64];

	if (p->actions_seen)
		return perr(p, "actions already set at %s:%u", p->actions_loc.file,
			    p->actions_loc.line);
	p->actions_seen = 1;
	p->actions_loc = p->tok.loc;
	if (next(p) < 0 || expect(p, T_LBRACE, "\"{\"") < 0)
		return -1;
	for (;;) {
		size_t i;

		if (p->tok.kind == T_SEMI) {
			if (next(p) < 0)
				return -1;
			continue;
		}
		if (p->tok.kind == T_RBRACE)
			break;
		for (i = 0; i < 3 && !tok_is(p, names[i]); i++)
			;
		if (i == 3)
			return perr(p, "expected tag, quarantine, reject or \"}\", not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
		if (seen[i]++)
			return perr(p, "threshold for %s given twice", names[i]);
		where[i] = p->tok.loc;
		if (next(p) < 0)
			return -1;
		if (p->tok.kind != T_WORD ||
		    parse_score(p->tok.p, p->tok.len, &p->rs->threshold[i]) < 0)
			return perr(p, "expected a threshold score such as 5, not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
		if (p->rs->threshold[i] < 0)
			return perr(p, "a threshold must not be negative");
		if (next(p) < 0)
			return -1;
		/* a line break separates thresholds too */
		if (p->tok.kind == T_WORD && p->tok.loc.line > where[i].line)
			continue;
		if (p->tok.kind != T_SEMI && p->tok.kind != T_RBRACE)
			return perr(p, "expected \";\" or \"}\", not %s",
				    tok_show(&p->tok, shown, sizeof(shown)));
	}
	if (next(p) < 0)
		return -1;
	if (!at_end_of_statement(p))
		return perr(p, "expected the end of the line after \"}\", not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	/* tag <= quarantine <= reject, else an action could never be reached */
	for (int i = 1; i < 3; i++)
		for (int j = 0; j < i; j++)
			if (seen[i] && seen[j] && p->rs->threshold[i] < p->rs->threshold[j])
				return perr_loc(p, &where[i],
						"%s threshold %g is below the %s "
						"threshold %g",
						names[i], p->rs->threshold[i], names[j],
						p->rs->threshold[j]);
	return 0;
}

static int parse_text(struct parser *p, const struct src *src, const char *text, size_t len);

/* Reads a whole file under the size cap: 0, or -1 with errno (EFBIG: too big). */
static int read_file(const char *path, char **text_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text;
	size_t len = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno;

		close(fd);
		errno = e == 0 ? EINVAL : e;
		return -1;
	}
	text = xmalloc(RULES_MAX_FILE_BYTES + 1);
	for (;;) {
		ssize_t n = read(fd, text + len, RULES_MAX_FILE_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(text);
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > RULES_MAX_FILE_BYTES) {
			free(text);
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	*text_r = text;
	*len_r = len;
	return 0;
}

static char *dir_join(struct arena *a, const char *base, const char *rel)
{
	const char *slash = strrchr(base, '/');

	if (rel[0] == '/' || slash == NULL)
		return arena_strdup(a, rel);
	return arena_printf(a, "%.*s/%s", (int)(slash - base), base, rel);
}

static int load_file(struct parser *p, const struct src *parent, const char *path,
		     const struct loc *at)
{
	struct src src = {path, NULL, parent, parent == NULL ? 0 : parent->depth + 1};
	char *text;
	size_t len;
	int rc;

	if (src.depth > RULES_MAX_INCLUDE_DEPTH)
		return perr_loc(p, at, "includes nested deeper than %d", RULES_MAX_INCLUDE_DEPTH);
	if (p->text_count >= RULES_MAX_FILES)
		return perr_loc(p, at, "more than %d files", RULES_MAX_FILES);
	src.real = realpath(path, NULL);
	for (const struct src *s = parent; s != NULL && src.real != NULL; s = s->parent) {
		if (s->real != NULL && strcmp(s->real, src.real) == 0) {
			free(src.real);
			return perr_loc(p, at, "include cycle: %s is already being read", path);
		}
	}
	if (read_file(path, &text, &len) < 0) {
		struct loc whole = {path, "", "", 0, 0};
		int e = errno;

		free(src.real);
		if (at == NULL) {
			if (p->error == NULL)
				p->error = xasprintf(
				    "%s: %s", path, e == EFBIG ? "larger than 1 MiB" : strerror(e));
			return -1;
		}
		(void)whole;
		return perr_loc(p, at, "cannot include \"%s\": %s", path,
				e == EFBIG ? "larger than 1 MiB" : strerror(e));
	}
	p->texts = xrealloc(p->texts, (p->text_count + 1) * sizeof(*p->texts));
	p->texts[p->text_count++] = text;
	rc = parse_text(p, &src, text, len);
	free(src.real);
	return rc;
}

static int parse_include(struct parser *p)
{
	struct loc at;
	char shown[64];
	const char *path;

	if (next(p) < 0)
		return -1;
	if (p->tok.kind != T_STRING || p->tok.str[0] == '\0')
		return perr(p, "expected a \"file name\" after include, not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	at = p->tok.loc;
	path = dir_join(p->rs->arena, p->src->name, p->tok.str);
	if (next(p) < 0)
		return -1;
	if (!at_end_of_statement(p))
		return perr(p, "expected the end of the line after the file name, not %s",
			    tok_show(&p->tok, shown, sizeof(shown)));
	return load_file(p, p->src, path, &at);
}

/* Parses one file's text; the lexer state of the including file is kept
 * and restored around it. */
static int parse_text(struct parser *p, const struct src *src, const char *text, size_t len)
{
	struct parser saved = *p;
	const char *s, *line = text;
	unsigned lineno = 1;
	int rc = 0;
	char shown[64];

	p->total_bytes += len;
	p->src = src;
	p->text = p->pos = p->line_start = text;
	p->end = text + len;
	p->line = 1;
	p->bracket = 0;
	/* the caps first, so nothing below sees a NUL or an endless line */
	for (s = text; s < text + len; s++) {
		if (*s == '\0' || s - line >= RULES_MAX_LINE) {
			struct loc l = {src->name, line, text + len, lineno,
					(unsigned)(s - line) + 1};

			rc = perr_loc(p, &l, *s == '\0' ? "NUL byte" : "line longer than %d bytes",
				      RULES_MAX_LINE);
			goto out;
		}
		if (*s == '\n') {
			line = s + 1;
			lineno++;
		}
	}
	if (p->total_bytes > RULES_MAX_TOTAL_BYTES) {
		struct loc l = {src->name, text, text + len, 1, 1};

		rc = perr_loc(p, &l, "more than %d bytes of rules in all", RULES_MAX_TOTAL_BYTES);
		goto out;
	}
	if (next(p) < 0) {
		rc = -1;
		goto out;
	}
	for (;;) {
		if (p->tok.kind == T_NL) {
			if (next(p) < 0)
				break;
			continue;
		}
		if (p->tok.kind == T_EOF)
			break;
		if (tok_is(p, "rule")) {
			rc = parse_rule(p, 0);
		} else if (tok_is(p, "monitor")) {
			if (next(p) < 0)
				break;
			if (!tok_is(p, "rule")) {
				rc = perr(p, "expected \"rule\" after \"monitor\", not %s",
					  tok_show(&p->tok, shown, sizeof(shown)));
				break;
			}
			rc = parse_rule(p, 1);
		} else if (tok_is(p, "actions")) {
			rc = parse_actions(p);
		} else if (tok_is(p, "include")) {
			rc = parse_include(p);
		} else {
			rc = perr(p, "expected rule, monitor rule, actions or include, not %s",
				  tok_show(&p->tok, shown, sizeof(shown)));
		}
		if (rc < 0)
			break;
	}
out:
	rc = p->error != NULL ? -1 : 0;
	p->src = saved.src;
	p->text = saved.text;
	p->pos = saved.pos;
	p->end = saved.end;
	p->line_start = saved.line_start;
	p->line = saved.line;
	p->bracket = saved.bracket;
	p->tok = saved.tok;
	return rc;
}

static struct ruleset *parse_top(const char *name, const char *text, size_t len, int from_file,
				 char **error_r)
{
	struct parser p;
	struct ruleset *rs = xcalloc(1, sizeof(*rs));
	int rc;

	memset(&p, 0, sizeof(p));
	rs->arena = arena_new(16384);
	for (int i = 0; i < 3; i++)
		rs->threshold[i] = -1;
	p.rs = rs;
	p.name_hash = xcalloc(RULES_NAME_HASH, sizeof(*p.name_hash));
	p.cctx = pcre2_compile_context_create(NULL);
	if (p.cctx == NULL)
		log_panic("rules: out of memory");
	pcre2_set_max_pattern_length(p.cctx, RULES_MAX_REGEX);
	pcre2_set_parens_nest_limit(p.cctx, 64);
	if (from_file) {
		rc = load_file(&p, NULL, name, NULL);
	} else {
		struct src src = {name, realpath(name, NULL), NULL, 0};

		rc = parse_text(&p, &src, text, len);
		free(src.real);
	}
	if (rc == 0)
		rc = resolve(&p);
	pcre2_compile_context_free(p.cctx);
	for (size_t i = 0; i < p.text_count; i++)
		free(p.texts[i]);
	free(p.texts);
	free(p.refs);
	free(p.rule_locs);
	free(p.name_hash);
	if (rc < 0) {
		rules_free(&rs);
		if (error_r != NULL)
			*error_r = p.error != NULL ? p.error : xstrdup("rules: unknown error");
		else
			free(p.error);
		return NULL;
	}
	return rs;
}

struct ruleset *rules_load(const char *path, char **error_r)
{
	return parse_top(path, NULL, 0, 1, error_r);
}

struct ruleset *rules_parse(const char *name, const char *text, char **error_r)
{
	return parse_top(name, text, strlen(text), 0, error_r);
}

struct ruleset *rules_parse_buf(const char *name, const char *text, size_t len, char **error_r)
{
	return parse_top(name, text, len, 0, error_r);
}

void rules_free(struct ruleset **rsp)
{
	struct ruleset *rs = *rsp;

	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->test_count; i++)
		pcre2_code_free(rs->tests[i].re);
	free(rs->rules);
	free(rs->nodes);
	free(rs->kids);
	free(rs->tests);
	arena_free(&rs->arena);
	xfree(rsp);
}

double rules_threshold(const struct ruleset *rs, enum rules_action a)
{
	if (rs == NULL)
		return -1;
	switch (a) {
	case RULES_TAG:
		return rs->threshold[0];
	case RULES_QUARANTINE:
		return rs->threshold[1];
	case RULES_REJECT:
		return rs->threshold[2];
	default:
		return -1;
	}
}

size_t rules_count(const struct ruleset *rs)
{
	return rs == NULL ? 0 : rs->rule_count;
}

size_t rules_monitor_count(const struct ruleset *rs)
{
	return rs == NULL ? 0 : rs->monitor_count;
}

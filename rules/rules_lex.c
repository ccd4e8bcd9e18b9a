/*
 * rules_lex - the rules file's tokens, and the parser's error messages
 * (see rules_parse.h).
 *
 * Blanks, comments and continued lines are skipped; a newline is a token
 * except inside ( and {.  Strings are unescaped and regexes kept as PCRE2
 * reads them, both copied into the ruleset's arena.  An error is
 * "file:line:col: message", the offending line (control characters made
 * visible) and a caret under the column.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mem.h"
#include "rules_parse.h"

/* ---- errors ---- */

int perr_loc(struct parser *p, const struct loc *l, const char *fmt, ...)
{
	char msg[512];
	struct buf b;
	va_list ap;
	const char *s;

	if (p->error != NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b, 3 * RULES_MAX_LINE);
	buf_printf(&b, "%s:%u:%u: %s\n", l->file, l->line, l->col, msg);
	/* the line, control characters made visible, then the caret (tabs
	 * copied so it lines up) */
	for (s = l->line_start; s < l->end && *s != '\n' && s - l->line_start < RULES_MAX_LINE; s++)
		buf_append(&b, (*s == '\t' || (unsigned char)*s >= 0x20) && *s != 0x7f ? s : "?",
			   1);
	buf_puts(&b, "\n");
	for (s = l->line_start; s < l->line_start + l->col - 1 && s < l->end; s++)
		buf_append(&b, *s == '\t' ? "\t" : " ", 1);
	buf_puts(&b, "^");
	p->error = xstrdup(buf_str(&b));
	buf_release(&b);
	return -1;
}

const char *tok_show(const struct tok *t, char *out, size_t size)
{
	switch (t->kind) {
	case T_EOF:
		snprintf(out, size, "end of file");
		break;
	case T_NL:
		snprintf(out, size, "end of line");
		break;
	case T_STRING:
		snprintf(out, size, "a string");
		break;
	case T_REGEX:
		snprintf(out, size, "a regex");
		break;
	default:
		snprintf(out, size, "\"%.*s\"", t->len > 40 ? 40 : (int)t->len, t->p);
		break;
	}
	return out;
}

/* ---- lexer ---- */

static struct loc here(const struct parser *p, const char *at)
{
	struct loc l = {p->src->name, p->line_start, p->end, p->line,
			(unsigned)(at - p->line_start) + 1};

	return l;
}

static int is_word_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '*' || c == ':' || c == '/' || c == '@' ||
	       c == '+';
}

static int lex_string(struct parser *p)
{
	struct buf b;
	const char *s = p->pos + 1;

	buf_init(&b, RULES_MAX_STRING);
	for (;; s++) {
		if (s == p->end || *s == '\n') {
			buf_release(&b);
			return perr(p, "unterminated string");
		}
		if (*s == '"')
			break;
		if (*s == '\\' && s + 1 < p->end && (s[1] == '"' || s[1] == '\\'))
			s++;
		if (buf_append(&b, s, 1) < 0) {
			buf_release(&b);
			return perr(p, "string longer than %d bytes", RULES_MAX_STRING);
		}
	}
	p->tok.kind = T_STRING;
	p->tok.str = arena_strdup(p->rs->arena, buf_str(&b));
	buf_release(&b);
	p->pos = s + 1;
	return 0;
}

/* /pattern/flags: backslashes are kept for PCRE2, \/ included (it means /). */
static int lex_regex(struct parser *p)
{
	const char *s = p->pos + 1, *start = s;
	uint32_t flags = 0;

	for (; s < p->end && *s != '/'; s++) {
		if (*s == '\n')
			break;
		if (*s == '\\' && s + 1 < p->end && s[1] != '\n')
			s++;
	}
	if (s >= p->end || *s != '/')
		return perr(p, "unterminated regex (it ends with / on the same line)");
	if (s - start == 0)
		return perr(p, "empty regex");
	if (s - start > RULES_MAX_REGEX)
		return perr(p, "regex longer than %d bytes", RULES_MAX_REGEX);
	p->tok.str = arena_strndup(p->rs->arena, start, (size_t)(s - start));
	for (s++; s < p->end && is_word_char((unsigned char)*s); s++) {
		static const struct {
			char c;
			uint32_t opt;
		} fl[] = {{'i', PCRE2_CASELESS},
			  {'m', PCRE2_MULTILINE},
			  {'s', PCRE2_DOTALL},
			  {'x', PCRE2_EXTENDED}};
		size_t i;

		for (i = 0; i < sizeof(fl) / sizeof(fl[0]) && fl[i].c != *s; i++)
			;
		if (i == sizeof(fl) / sizeof(fl[0])) {
			struct loc l = here(p, s);

			return perr_loc(p, &l, "unknown regex flag '%c' (known: i, m, s, x)", *s);
		}
		flags |= fl[i].opt;
	}
	p->tok.kind = T_REGEX;
	p->tok.flags = flags;
	p->pos = s;
	return 0;
}

/* Skips blanks, comments, continued lines and, inside brackets, newlines. */
static int skip_blanks(struct parser *p)
{
	for (;;) {
		const char *s = p->pos;

		if (s == p->end)
			break;
		if (*s == ' ' || *s == '\t' || *s == '\r') {
			p->pos++;
		} else if (*s == '#') {
			while (p->pos < p->end && *p->pos != '\n')
				p->pos++;
		} else if (*s == '\\') {
			/* a line continued: backslash, blanks, newline */
			const char *t = s + 1;

			while (t < p->end && (*t == ' ' || *t == '\t' || *t == '\r'))
				t++;
			if (t == p->end || *t != '\n') {
				p->tok.loc = here(p, s);
				return perr(p, "a backslash continues a line only at its end");
			}
			p->pos = t + 1;
			p->line++;
			p->line_start = p->pos;
		} else if (*s == '\n' && p->bracket > 0) {
			p->pos++;
			p->line++;
			p->line_start = p->pos;
		} else {
			break;
		}
	}
	return 0;
}

/* Operators and brackets: 1 when one was read, 0 when there is none here. */
static int lex_punct(struct parser *p)
{
	static const struct {
		const char *text;
		enum tok_kind kind;
	} punct[] = {
	    {"==", T_EQ},   {"!=", T_NE},    {"=~", T_MATCH}, {"!~", T_NMATCH}, {"<=", T_LE},
	    {">=", T_GE},   {"<", T_LT},     {">", T_GT},     {"&", T_AMP},	{";", T_SEMI},
	    {",", T_COMMA}, {"(", T_LPAREN}, {")", T_RPAREN}, {"{", T_LBRACE},	{"}", T_RBRACE},
	};

	for (size_t i = 0; i < sizeof(punct) / sizeof(punct[0]); i++) {
		size_t n = strlen(punct[i].text);

		if ((size_t)(p->end - p->pos) >= n && memcmp(p->pos, punct[i].text, n) == 0) {
			if (n == 1 && (*p->pos == '&' || *p->pos == '=') && p->pos + 1 < p->end &&
			    p->pos[1] == *p->pos)
				return perr(p, "\"%c%c\" is not an operator: write \"and\"",
					    *p->pos, *p->pos);
			p->tok.kind = punct[i].kind;
			p->tok.len = n;
			p->pos += n;
			if (p->tok.kind == T_LPAREN || p->tok.kind == T_LBRACE)
				p->bracket++;
			else if ((p->tok.kind == T_RPAREN || p->tok.kind == T_RBRACE) &&
				 p->bracket > 0)
				p->bracket--;
			return 1;
		}
	}
	return 0;
}

/* A byte no token starts with: the message says what was probably meant. */
static int lex_unexpected(struct parser *p)
{
	if (*p->pos == '|' && p->pos + 1 < p->end && p->pos[1] == '|')
		return perr(p, "\"||\" is not an operator: write \"or\"");
	if (*p->pos == '!')
		return perr(p, "\"!\" is not an operator: write \"not\"");
	if ((unsigned char)*p->pos < 0x20 || (unsigned char)*p->pos >= 0x7f)
		return perr(p, "unexpected byte 0x%02x", (unsigned char)*p->pos);
	return perr(p, "unexpected character '%c'", *p->pos);
}

int next(struct parser *p)
{
	int rc;

	if (p->error != NULL || skip_blanks(p) < 0)
		return -1;
	p->tok.p = p->pos;
	p->tok.loc = here(p, p->pos);
	p->tok.str = NULL;
	if (p->pos == p->end) {
		p->tok.kind = T_EOF;
		p->tok.len = 0;
		return 0;
	}
	if (*p->pos == '\n') {
		p->tok.kind = T_NL;
		p->tok.len = 1;
		p->pos++;
		p->line++;
		p->line_start = p->pos;
		return 0;
	}
	if (*p->pos == '"' || *p->pos == '/') {
		if ((*p->pos == '"' ? lex_string(p) : lex_regex(p)) < 0)
			return -1;
		p->tok.len = (size_t)(p->pos - p->tok.p);
		return 0;
	}
	if (is_word_char((unsigned char)*p->pos)) {
		while (p->pos < p->end && is_word_char((unsigned char)*p->pos))
			p->pos++;
		p->tok.kind = T_WORD;
		p->tok.len = (size_t)(p->pos - p->tok.p);
		return 0;
	}
	rc = lex_punct(p);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return lex_unexpected(p);
}

int tok_is(const struct parser *p, const char *word)
{
	return p->tok.kind == T_WORD && p->tok.len == strlen(word) &&
	       strncasecmp(p->tok.p, word, p->tok.len) == 0;
}

char *tok_word(struct parser *p)
{
	return arena_strndup(p->rs->arena, p->tok.p, p->tok.len);
}

int at_end_of_statement(const struct parser *p)
{
	return p->tok.kind == T_NL || p->tok.kind == T_EOF;
}

int expect(struct parser *p, enum tok_kind kind, const char *what)
{
	char shown[64];

	if (p->tok.kind != kind)
		return perr(p, "expected %s, not %s", what,
			    tok_show(&p->tok, shown, sizeof(shown)));
	return next(p);
}


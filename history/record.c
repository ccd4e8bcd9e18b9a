/*
 * record - a message's history record, and its one-line JSON (see record.h).
 *
 * The top-level fields are one table, `fields[]`, read by the encoder, the
 * decoder and record_dup alike: adding a column is adding a row.  The JSON
 * writer escapes everything JSON requires and writes bytes that are not
 * UTF-8 as \udcXX; the reader is a strict RFC 8259 parser with caps on the
 * line length, the nesting depth and the number of values, that refuses
 * NUL (\u0000), raw control characters, invalid UTF-8 and surrogates other
 * than the \udc80-\udcff escapes above.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "mem.h"
#include "record.h"
#include "record_facts.h"
#include "record_int.h"

/* record_from_facts truncates every string at these lengths, so that any
 * record it builds encodes under RECORD_MAX_LINE even when every byte has
 * to be escaped as \u00XX (6 bytes): about 60 strings of the record at
 * 6 * 255, and the facts object capped at FACTS_JSON_CAP. */
#define FIELD_MAX	255
#define FACTS_STR_MAX	255
#define FACTS_JSON_CAP	(160 * 1024)
#define JSON_MAX_DEPTH	8
#define JSON_MAX_VALUES 8192

/* ------------------------------------------------------------------ fields */

#define F(m) offsetof(struct history_record, m)
const struct record_field record_fields[] = {
    {"uid", FK_STR, F(uid)},
    {"time", FK_I64, F(time)},
    {"queue_id", FK_STR, F(queue_id)},
    {"message_id", FK_STR, F(message_id)},
    {"client_ip", FK_STR, F(client_ip)},
    {"helo", FK_STR, F(helo)},
    {"mail_from", FK_STR, F(mail_from)},
    {"header_from", FK_STR, F(header_from)},
    {"spf_domain", FK_STR, F(spf_domain)},
    {"spf_scope", FK_STR, F(spf_scope)},
    {"spf_result", FK_STR, F(spf_result)},
    {"spf_helo_result", FK_STR, F(spf_helo_result)},
    {"dmarc_result", FK_STR, F(dmarc_result)},
    {"policy_domain", FK_STR, F(policy_domain)},
    {"p", FK_STR, F(p)},
    {"sp", FK_STR, F(sp)},
    {"np", FK_STR, F(np)},
    {"adkim_strict", FK_INT, F(adkim_strict)},
    {"aspf_strict", FK_INT, F(aspf_strict)},
    {"testing", FK_INT, F(testing)},
    {"psd", FK_INT, F(psd)},
    {"discovery", FK_STR, F(discovery)},
    {"rua", FK_STR, F(rua)},
    {"dkim_aligned", FK_INT, F(dkim_aligned)},
    {"spf_aligned", FK_INT, F(spf_aligned)},
    {"disposition", FK_STR, F(disposition)},
    {"override", FK_STR, F(override)},
    {"score", FK_DBL, F(score)},
    {"rules", FK_STR, F(rules)},
    {"action", FK_STR, F(action)},
};
#undef F
const size_t record_field_count = sizeof(record_fields) / sizeof(record_fields[0]);
#define fields	record_fields
#define NFIELDS (sizeof(record_fields) / sizeof(record_fields[0]))

static const char **str_at(const struct history_record *r, const struct record_field *f)
{
	return (const char **)((char *)r + f->offset);
}

/* ------------------------------------------------------------ JSON writer */

/* A writer of nested objects and arrays that places the commas. */
struct jw {
	struct buf *b;
	int depth;
	int more[JSON_MAX_DEPTH + 1]; /* a value was written at this depth */
};

/* A key of the record's own (letters, digits, "_", "-": nothing to
 * escape) is copied as it is; any other goes through json_string. */
static int plain_key(const char *key, size_t *len_r)
{
	size_t n = 0;

	for (; key[n] != '\0'; n++)
		if (!((key[n] >= 'a' && key[n] <= 'z') || (key[n] >= '0' && key[n] <= '9') ||
		      key[n] == '_' || key[n] == '-' || (key[n] >= 'A' && key[n] <= 'Z')))
			return 0;
	*len_r = n;
	return 1;
}

static void jw_key(struct jw *w, const char *key)
{
	size_t n;

	if (w->more[w->depth])
		buf_append(w->b, ",", 1);
	w->more[w->depth] = 1;
	if (key == NULL)
		return;
	if (plain_key(key, &n)) {
		buf_append(w->b, "\"", 1);
		buf_append(w->b, key, n);
		buf_append(w->b, "\":", 2);
	} else {
		json_string(w->b, key, SIZE_MAX);
		buf_append(w->b, ":", 1);
	}
}

static void jw_open(struct jw *w, const char *key, char bracket)
{
	jw_key(w, key);
	buf_append(w->b, &bracket, 1);
	if (w->depth < JSON_MAX_DEPTH)
		w->depth++;
	w->more[w->depth] = 0;
}

static void jw_close(struct jw *w, char bracket)
{
	buf_append(w->b, &bracket, 1);
	if (w->depth > 0)
		w->depth--;
}

/* NULL strings are left out: the reader gives NULL for an absent key. */
static void jw_str(struct jw *w, const char *key, const char *s, size_t max)
{
	if (s == NULL)
		return;
	jw_key(w, key);
	json_string(w->b, s, max);
}

/* In decimal, without printf's machinery (a record has ~50 numbers). */
static void jw_i64(struct jw *w, const char *key, long long v)
{
	char s[24], *p = s + sizeof(s);
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

	jw_key(w, key);
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	buf_append(w->b, p, (size_t)(s + sizeof(s) - p));
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void jw_dbl(struct jw *w, const char *key, double v)
{
	char s[40];

	jw_key(w, key);
	if (!isfinite(v)) {
		buf_puts(w->b, "null");
		return;
	}
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	buf_puts(w->b, s);
}

/* ------------------------------------------------------------ JSON reader */

/* enum jtype and struct jval: record_int.h (the facts decoder reads them too) */

struct jparser {
	const char *p, *end;
	struct arena *a;
	unsigned values;
	const char *error;
};

static int jfail(struct jparser *jp, const char *why)
{
	if (jp->error == NULL)
		jp->error = why;
	return -1;
}

static void jskip_ws(struct jparser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int hex4(const char *s, unsigned *v_r)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*v_r = v;
	return 0;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at s (its 'u'), into o; *s_r is left on its last hex digit,
 * *o_r past what was written.  \udc80..\udcff is a byte that was not
 * UTF-8 (the writer's convention). */
static int jparse_u_escape(struct jparser *jp, const char **s_r, char **o_r)
{
	const char *s = *s_r;
	unsigned cp, lo;

	if (jp->p - s < 5 || hex4(s + 1, &cp) < 0)
		return jfail(jp, "bad \\u escape");
	s += 4;
	if (cp == 0)
		return jfail(jp, "NUL in a string");
	if (cp >= 0xdc80 && cp <= 0xdcff) {
		*(*o_r)++ = (char)(cp & 0xff); /* a byte that was not UTF-8 */
		*s_r = s;
		return 0;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (jp->p - s < 7 || s[1] != '\\' || s[2] != 'u' || hex4(s + 3, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return jfail(jp, "unpaired surrogate");
		s += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xd800 && cp <= 0xdfff)
		return jfail(jp, "unpaired surrogate");
	*o_r += utf8_put(*o_r, cp);
	*s_r = s;
	return 0;
}

/* The escape at *s_r (the character after its backslash), into *o_r;
 * both are moved past it. */
static int jparse_escape(struct jparser *jp, const char **s_r, char **o_r)
{
	const char *s = *s_r;
	char *o = *o_r;

	switch (*s) {
	case '"':
	case '\\':
	case '/':
		*o++ = *s;
		break;
	case 'b':
		*o++ = '\b';
		break;
	case 'f':
		*o++ = '\f';
		break;
	case 'n':
		*o++ = '\n';
		break;
	case 'r':
		*o++ = '\r';
		break;
	case 't':
		*o++ = '\t';
		break;
	case 'u':
		if (jparse_u_escape(jp, &s, &o) < 0)
			return -1;
		break;
	default:
		return jfail(jp, "bad escape");
	}
	*s_r = s + 1;
	*o_r = o;
	return 0;
}

static int jparse_string(struct jparser *jp, char **out_r)
{
	const char *start = ++jp->p; /* past the quote */
	char *out, *o;

	/* the decoded string is never longer than its text */
	while (jp->p < jp->end && *jp->p != '"')
		jp->p += *jp->p == '\\' && jp->p + 1 < jp->end ? 2 : 1;
	if (jp->p >= jp->end)
		return jfail(jp, "unterminated string");
	o = out = arena_alloc(jp->a, (size_t)(jp->p - start) + 1);
	{
		/* most strings are printable ASCII without escapes: copied at once */
		const char *s = start;

		while (s < jp->p && *s >= 0x20 && *s < 0x7f && *s != '\\')
			s++;
		memcpy(o, start, (size_t)(s - start));
		o += s - start;
		start = s;
	}
	for (const char *s = start; s < jp->p;) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) /* DEL: JSON allows it, our writer never writes it */
			return jfail(jp, "control character in a string");
		if (c >= 0x80) {
			size_t len = json_utf8_len((const unsigned char *)s, (size_t)(jp->p - s));

			if (len == 0)
				return jfail(jp, "invalid UTF-8 in a string");
			memcpy(o, s, len);
			o += len;
			s += len;
			continue;
		}
		if (c != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		if (jparse_escape(jp, &s, &o) < 0)
			return -1;
	}
	*o = '\0';
	jp->p++; /* the closing quote */
	*out_r = out;
	return 0;
}

static int jparse_number(struct jparser *jp)
{
	const char *s = jp->p;

	if (s < jp->end && *s == '-')
		s++;
	if (s < jp->end && *s == '0')
		s++;
	else if (s < jp->end && *s >= '1' && *s <= '9')
		while (s < jp->end && *s >= '0' && *s <= '9')
			s++;
	else
		return jfail(jp, "bad number");
	if (s < jp->end && *s == '.') {
		if (++s >= jp->end || *s < '0' || *s > '9')
			return jfail(jp, "bad number");
		while (s < jp->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < jp->end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < jp->end && (*s == '+' || *s == '-'))
			s++;
		if (s >= jp->end || *s < '0' || *s > '9')
			return jfail(jp, "bad number");
		while (s < jp->end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s - jp->p > 40)
		return jfail(jp, "number too long");
	jp->p = s;
	return 0;
}

static int jparse_value(struct jparser *jp, struct jval *v, int depth);

/* The members of an object or the elements of an array, jp->p on its
 * opening bracket. */
static int jparse_container(struct jparser *jp, struct jval *v, int depth)
{
	char close = *jp->p == '{' ? '}' : ']';
	struct jval **tail = &v->kids;

	if (depth >= JSON_MAX_DEPTH)
		return jfail(jp, "nested too deep");
	v->type = close == '}' ? J_OBJ : J_ARR;
	jp->p++;
	jskip_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		struct jval *kid = arena_alloc(jp->a, sizeof(*kid));
		char *key;

		if (v->type == J_OBJ) {
			jskip_ws(jp);
			if (jp->p >= jp->end || *jp->p != '"')
				return jfail(jp, "expected a member name");
			if (jparse_string(jp, &key) < 0)
				return -1;
			kid->key = key;
			jskip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				return jfail(jp, "expected ':'");
			jp->p++;
		}
		if (jparse_value(jp, kid, depth + 1) < 0)
			return -1;
		*tail = kid;
		tail = &kid->next;
		v->count++;
		jskip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return 0;
		}
		return jfail(jp, "expected ',' or a closing bracket");
	}
}

/* null, true or false. */
static int jparse_word(struct jparser *jp, struct jval *v)
{
	static const struct {
		const char *word;
		enum jtype type;
		int boolean;
	} words[] = {{"null", J_NULL, 0}, {"true", J_BOOL, 1}, {"false", J_BOOL, 0}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if ((size_t)(jp->end - jp->p) >= n && memcmp(jp->p, words[i].word, n) == 0) {
			v->type = words[i].type;
			v->boolean = words[i].boolean;
			jp->p += n;
			return 0;
		}
	}
	return jfail(jp, "unexpected character");
}

static int jparse_value(struct jparser *jp, struct jval *v, int depth)
{
	if (++jp->values > JSON_MAX_VALUES)
		return jfail(jp, "too many values");
	jskip_ws(jp);
	if (jp->p >= jp->end)
		return jfail(jp, "unexpected end");
	v->raw = jp->p;
	if (*jp->p == '{' || *jp->p == '[') {
		if (jparse_container(jp, v, depth) < 0)
			return -1;
	} else if (*jp->p == '"') {
		v->type = J_STR;
		if (jparse_string(jp, &v->str) < 0)
			return -1;
	} else if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9')) {
		v->type = J_NUM;
		if (jparse_number(jp) < 0)
			return -1;
		v->str = arena_strndup(jp->a, v->raw, (size_t)(jp->p - v->raw));
	} else if (jparse_word(jp, v) < 0)
		return -1;
	v->raw_len = (size_t)(jp->p - v->raw);
	return 0;
}

static int json_parse(const char *text, size_t len, struct arena *a, struct jval *root,
		      const char **error_r)
{
	struct jparser jp = {.p = text, .end = text + len, .a = a};

	memset(root, 0, sizeof(*root));
	if (jparse_value(&jp, root, 0) == 0) {
		jskip_ws(&jp);
		if (jp.p != jp.end)
			jfail(&jp, "trailing characters");
	}
	*error_r = jp.error;
	return jp.error != NULL ? -1 : 0;
}

int record_json_parse(const char *text, size_t len, struct arena *a, struct jval *root,
		      const char **error_r)
{
	return json_parse(text, len, a, root, error_r);
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	const struct jval *found = NULL;

	for (const struct jval *k = obj->kids; k != NULL; k = k->next)
		if (strcmp(k->key, key) == 0) {
			if (found != NULL)
				return NULL; /* a duplicate member is refused by the caller */
			found = k;
		}
	return found;
}

/* jget on an object without duplicate members (jdup_keys) whose members
 * are mostly in the order they are asked for (record_encode writes them in
 * table order): the member at *cursor is tried first. */
static const struct jval *jget_next(const struct jval *obj, const char *key,
				    const struct jval **cursor)
{
	const struct jval *k = *cursor;

	if (k != NULL && strcmp(k->key, key) == 0) {
		*cursor = k->next;
		return k;
	}
	for (k = obj->kids; k != NULL; k = k->next)
		if (strcmp(k->key, key) == 0) {
			*cursor = k->next;
			return k;
		}
	return NULL;
}

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int jdup_keys(const struct jval *obj)
{
	/* a record has about 35 members: hash them rather than compare every pair */
	if (obj->count > 8 && obj->count <= 128) {
		const struct jval *slot[256] = {NULL};

		for (const struct jval *k = obj->kids; k != NULL; k = k->next) {
			uint32_t i = key_hash(k->key) & 255;

			for (; slot[i] != NULL; i = (i + 1) & 255)
				if (strcmp(slot[i]->key, k->key) == 0)
					return 1;
			slot[i] = k;
		}
		return 0;
	}
	for (const struct jval *k = obj->kids; k != NULL; k = k->next)
		for (const struct jval *l = k->next; l != NULL; l = l->next)
			if (strcmp(k->key, l->key) == 0)
				return 1;
	return 0;
}

static int jint(const struct jval *v, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	if (v->type == J_BOOL) {
		*out = v->boolean;
		return min <= *out && *out <= max ? 0 : -1;
	}
	if (v->type != J_NUM)
		return -1;
	errno = 0;
	n = strtoll(v->str, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Valid JSON text without the blanks between tokens: a newline there
 * would split a spool line in two. */
static char *json_compact(const char *raw, size_t len, struct arena *a)
{
	char *out = arena_alloc(a, len + 1), *o = out;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = raw[i];

		if (in_string) {
			if (c == '\\')
				*o++ = raw[i++]; /* the escaped character follows */
			else if (c == '"')
				in_string = 0;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		else if (c == '"')
			in_string = 1;
		*o++ = raw[i];
	}
	*o = '\0';
	return out;
}

/* ------------------------------------------------------------- the record */

const char *record_encode(const struct history_record *r, struct arena *a)
{
	struct buf b;
	struct jw w = {.b = &b};
	const char *line = NULL;

	buf_init(&b, RECORD_MAX_LINE);
	jw_open(&w, NULL, '{');
	jw_i64(&w, "v", 1);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct record_field *f = &fields[i];
		const char *p = (const char *)r + f->offset;

		switch (f->kind) {
		case FK_STR:
			jw_str(&w, f->name, *(const char *const *)p, SIZE_MAX);
			break;
		case FK_I64:
			jw_i64(&w, f->name, *(const int64_t *)p);
			break;
		case FK_INT:
			jw_i64(&w, f->name, *(const int *)p);
			break;
		case FK_DBL:
			jw_dbl(&w, f->name, *(const double *)p);
			break;
		}
	}
	jw_open(&w, "dkim", '[');
	for (size_t i = 0; i < r->dkim_count && i < RECORD_MAX_DKIM; i++) {
		jw_open(&w, NULL, '{');
		jw_str(&w, "domain", r->dkim[i].domain, SIZE_MAX);
		jw_str(&w, "selector", r->dkim[i].selector, SIZE_MAX);
		jw_str(&w, "result", r->dkim[i].result, SIZE_MAX);
		jw_close(&w, '}');
	}
	jw_close(&w, ']');
	/* built by record_from_facts or checked by record_decode: embedded as is */
	if (r->facts_json != NULL && r->facts_json[0] == '{') {
		jw_key(&w, "facts");
		buf_puts(&b, r->facts_json);
	}
	jw_close(&w, '}');
	if (!b.overflow && b.len < RECORD_MAX_LINE)
		line = arena_strndup(a, b.data, b.len);
	buf_release(&b);
	return line;
}

int record_decode(const char *line, size_t len, struct arena *a, struct history_record *out,
		  const char **error_r)
{
	struct jval root;
	const struct jval *v;

	memset(out, 0, sizeof(*out));
	out->psd = -1;
	*error_r = NULL;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return *error_r = "empty line", -1;
	if (len >= RECORD_MAX_LINE)
		return *error_r = "line too long", -1;
	if (memchr(line, '\0', len) != NULL)
		return *error_r = "NUL in the line", -1;
	if (json_parse(line, len, a, &root, error_r) < 0 ||
	    record_decode_value(&root, a, out, error_r) < 0)
		return -1;
	/* checked to be an object by record_decode_value */
	if ((v = jget(&root, "facts")) != NULL && v->type == J_OBJ)
		out->facts_json = json_compact(v->raw, v->raw_len, a);
	return 0;
}

int record_decode_value(const struct jval *rootp, struct arena *a, struct history_record *out,
			const char **error_r)
{
	const struct jval root = *rootp, *v, *dkim, *cursor;
	long long n;

	memset(out, 0, sizeof(*out));
	out->psd = -1;
	*error_r = NULL;
	if (root.type != J_OBJ)
		return *error_r = "not a JSON object", -1;
	if (jdup_keys(&root))
		return *error_r = "duplicate member", -1;
	cursor = root.kids;
	if ((v = jget(&root, "v")) == NULL || jint(v, 1, 1, &n) < 0)
		return *error_r = "missing or unknown version \"v\"", -1;
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct record_field *f = &fields[i];
		char *p = (char *)out + f->offset;

		if ((v = jget_next(&root, f->name, &cursor)) == NULL || v->type == J_NULL) {
			if (f->kind == FK_I64)
				return *error_r = "missing \"time\"", -1;
			continue;
		}
		switch (f->kind) {
		case FK_STR:
			if (v->type != J_STR)
				return *error_r = "a string member is not a string", -1;
			*(const char **)p = v->str;
			break;
		case FK_I64:
			if (jint(v, INT64_MIN, INT64_MAX, &n) < 0)
				return *error_r = "\"time\" is not an integer", -1;
			*(int64_t *)p = n;
			break;
		case FK_INT:
			if (jint(v, -1, 1, &n) < 0)
				return *error_r = "a flag is not -1, 0 or 1", -1;
			*(int *)p = (int)n;
			break;
		case FK_DBL: {
			char *end;

			if (v->type != J_NUM)
				return *error_r = "\"score\" is not a number", -1;
			*(double *)p = strtod(v->str, &end);
			if (*end != '\0' || !isfinite(*(double *)p))
				return *error_r = "\"score\" is not a finite number", -1;
			break;
		}
		}
	}
	if ((dkim = jget_next(&root, "dkim", &cursor)) != NULL && dkim->type != J_NULL) {
		if (dkim->type != J_ARR || dkim->count > RECORD_MAX_DKIM)
			return *error_r = "\"dkim\" is not an array of at most 8", -1;
		for (const struct jval *d = dkim->kids; d != NULL; d = d->next) {
			struct record_dkim *rd = &out->dkim[out->dkim_count++];
			const char **dst[] = {&rd->domain, &rd->selector, &rd->result};
			const char *names[] = {"domain", "selector", "result"};

			if (d->type != J_OBJ || jdup_keys(d))
				return *error_r = "a \"dkim\" element is not an object", -1;
			for (size_t i = 0; i < 3; i++) {
				if ((v = jget(d, names[i])) == NULL || v->type == J_NULL)
					continue;
				if (v->type != J_STR)
					return *error_r = "a \"dkim\" member is not a string", -1;
				*dst[i] = v->str;
			}
		}
	}
	if ((v = jget_next(&root, "facts", &cursor)) != NULL && v->type != J_NULL &&
	    v->type != J_OBJ)
		return *error_r = "\"facts\" is not an object", -1;
	return 0;
}

struct history_record *record_dup(const struct history_record *r)
{
	const char *const *strs[NFIELDS + 3 * RECORD_MAX_DKIM + 1];
	size_t nstrs = 0, size = sizeof(*r);
	struct history_record *c;
	char *p;

	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].kind == FK_STR)
			strs[nstrs++] = str_at(r, &fields[i]);
	for (size_t i = 0; i < r->dkim_count && i < RECORD_MAX_DKIM; i++) {
		strs[nstrs++] = &r->dkim[i].domain;
		strs[nstrs++] = &r->dkim[i].selector;
		strs[nstrs++] = &r->dkim[i].result;
	}
	strs[nstrs++] = &r->facts_json;
	for (size_t i = 0; i < nstrs; i++)
		if (*strs[i] != NULL)
			size += strlen(*strs[i]) + 1;
	c = xmalloc(size);
	*c = *r;
	if (c->dkim_count > RECORD_MAX_DKIM)
		c->dkim_count = RECORD_MAX_DKIM;
	p = (char *)(c + 1);
	for (size_t i = 0; i < nstrs; i++) {
		/* the same member of the copy: strs[i] points into r */
		const char **dst =
		    (const char **)((char *)c + ((const char *)strs[i] - (const char *)r));

		if (*strs[i] != NULL) {
			size_t n = strlen(*strs[i]) + 1;

			memcpy(p, *strs[i], n);
			*dst = p;
			p += n;
		}
	}
	return c;
}

/* -------------------------------------------------------- from the facts */

static const char *trunc_dup(struct arena *a, const char *s)
{
	/* arena_strndup copies exactly n bytes */
	return s == NULL ? NULL : arena_strndup(a, s, strnlen(s, FIELD_MAX));
}

static const char *policy_or_null(enum dmarc_policy p)
{
	return p == DMARC_POLICY_UNSET ? NULL : dmarc_policy_name(p);
}

static const char *const identity_names[] = {
    [IDENT_MAIL_FROM] = "mail_from", [IDENT_FROM] = "from", [IDENT_HELO] = "helo",
    [IDENT_DKIM] = "dkim",	     [IDENT_URI] = "uri",
};

static void facts_spf(struct jw *w, const char *key, const struct spf_outcome *o)
{
	jw_open(w, key, '{');
	jw_str(w, "result", spf_result_name(o->result), SIZE_MAX);
	jw_str(w, "scope", spf_scope_name(o->scope), SIZE_MAX);
	jw_str(w, "domain", o->domain, FACTS_STR_MAX);
	jw_str(w, "reason", o->reason, FACTS_STR_MAX);
	jw_str(w, "explanation", o->explanation, FACTS_STR_MAX);
	jw_i64(w, "dns_queries", o->dns_queries);
	jw_i64(w, "void_lookups", o->void_lookups);
	jw_close(w, '}');
}

static void facts_list(struct jw *w, const struct dnsbl_result *r, const char *identity)
{
	jw_open(w, NULL, '{');
	jw_str(w, "identity", identity, SIZE_MAX);
	jw_str(w, "zone", r->zone, FACTS_STR_MAX);
	jw_i64(w, "allow", r->list != NULL && r->list->allow);
	jw_str(w, "subject", r->subject, FACTS_STR_MAX);
	jw_str(w, "status", dnsbl_status_name(r->status), SIZE_MAX);
	jw_open(w, "codes", '[');
	for (size_t i = 0; i < r->code_count && i < DNSBL_MAX_CODES; i++) {
		char ip[16];

		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", r->codes[i] >> 24, r->codes[i] >> 16 & 255,
			 r->codes[i] >> 8 & 255, r->codes[i] & 255);
		jw_str(w, NULL, ip, SIZE_MAX);
	}
	jw_close(w, ']');
	jw_i64(w, "ms", r->ms);
	jw_str(w, "reason", r->reason, FACTS_STR_MAX);
	jw_close(w, '}');
}

static void facts_names(struct jw *w, const char *key, const char **names, size_t n, size_t max)
{
	jw_open(w, key, '[');
	for (size_t i = 0; i < n && i < max; i++)
		jw_str(w, NULL, names[i] != NULL ? names[i] : "", FACTS_STR_MAX);
	jw_close(w, ']');
}

static void facts_lists(struct jw *w, const struct facts *f)
{
	jw_open(w, "ip_lists", '[');
	for (size_t i = 0; i < f->ip_list_count && i < RECORD_FACTS_MAX_LISTS; i++)
		facts_list(w, &f->ip_lists[i], NULL);
	jw_close(w, ']');
	jw_open(w, "domain_lists", '[');
	for (size_t i = 0; i < f->domain_list_count && i < RECORD_FACTS_MAX_LISTS; i++) {
		unsigned id = f->domain_lists[i].identity;

		facts_list(w, &f->domain_lists[i].r,
			   id < sizeof(identity_names) / sizeof(identity_names[0])
			       ? identity_names[id]
			       : "unknown");
	}
	jw_close(w, ']');
}

static void facts_dkim(struct jw *w, const struct dkim_results *dk)
{
	jw_open(w, "dkim", '[');
	for (size_t i = 0; i < dk->count; i++) {
		const struct dkim_sig *s = &dk->sig[i];

		jw_open(w, NULL, '{');
		jw_str(w, "result", dkim_result_name(s->result), SIZE_MAX);
		jw_str(w, "domain", s->domain, FACTS_STR_MAX);
		jw_str(w, "selector", s->selector, FACTS_STR_MAX);
		jw_str(w, "algorithm", s->algorithm, FACTS_STR_MAX);
		jw_str(w, "b8", s->b8, FACTS_STR_MAX);
		jw_str(w, "reason", s->reason, FACTS_STR_MAX);
		jw_i64(w, "key_bits", s->key_bits);
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

/* The chain's result and each set's sealer, for the arc and arc.sealer
 * rules (not the AAR texts: no rule reads them, and they are long), and who
 * overrode DMARC with it. */
static void facts_arc(struct jw *w, const struct facts *f)
{
	const struct arc_outcome *o = &f->arc;

	jw_open(w, "arc", '{');
	jw_str(w, "result", arc_result_name(o->result), SIZE_MAX);
	jw_str(w, "reason", o->reason, FACTS_STR_MAX);
	jw_i64(w, "oldest_pass", o->oldest_pass);
	jw_open(w, "sets", '[');
	for (size_t i = 0; o->sets != NULL && i < o->set_count && i < ARC_MAX_SETS; i++) {
		const struct arc_set *s = &o->sets[i];

		jw_open(w, NULL, '{');
		jw_i64(w, "instance", s->instance);
		jw_str(w, "seal_domain", s->seal_domain, FACTS_STR_MAX);
		jw_str(w, "seal_selector", s->seal_selector, FACTS_STR_MAX);
		jw_str(w, "cv", s->cv, FACTS_STR_MAX);
		jw_str(w, "ams_domain", s->ams_domain, FACTS_STR_MAX);
		jw_i64(w, "ams_valid", s->ams_valid != 0);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_close(w, '}');
	jw_str(w, "arc_override_by", f->arc_override_by, FACTS_STR_MAX);
	jw_str(w, "arc_override_why", f->arc_override_why, FACTS_STR_MAX);
}

static void facts_dmarc_record(struct jw *w, const struct dmarc_record *dr)
{
	jw_open(w, "dmarc_record", '{');
	jw_i64(w, "found", dr->found);
	jw_str(w, "error", dmarc_result_name(dr->error), SIZE_MAX);
	jw_str(w, "record_domain", dr->record_domain, FACTS_STR_MAX);
	jw_str(w, "org_domain", dr->org_domain, FACTS_STR_MAX);
	jw_str(w, "p", dmarc_policy_name(dr->p), SIZE_MAX);
	jw_str(w, "sp", dmarc_policy_name(dr->sp), SIZE_MAX);
	jw_str(w, "np", dmarc_policy_name(dr->np), SIZE_MAX);
	jw_i64(w, "adkim_strict", dr->adkim_strict);
	jw_i64(w, "aspf_strict", dr->aspf_strict);
	jw_i64(w, "testing", dr->testing);
	jw_i64(w, "psd", dr->psd);
	jw_str(w, "rua", dr->rua, FACTS_STR_MAX);
	jw_str(w, "raw", dr->raw, FACTS_STR_MAX);
	jw_str(w, "invalid", dr->invalid, FACTS_STR_MAX);
	jw_i64(w, "domain_exists", dr->domain_exists);
	jw_i64(w, "queries", dr->queries);
	jw_str(w, "why", dr->why, FACTS_STR_MAX);
	jw_close(w, '}');
}

static void facts_dmarc(struct jw *w, const struct dmarc_outcome *d)
{
	jw_open(w, "dmarc", '{');
	jw_str(w, "result", dmarc_result_name(d->result), SIZE_MAX);
	jw_str(w, "header_from", d->header_from, FACTS_STR_MAX);
	jw_str(w, "policy", dmarc_policy_name(d->policy), SIZE_MAX);
	jw_str(w, "published", dmarc_policy_name(d->published), SIZE_MAX);
	jw_i64(w, "spf_aligned", d->spf_aligned);
	jw_i64(w, "dkim_aligned", d->dkim_aligned);
	jw_str(w, "dkim_aligned_domain", d->dkim_aligned_domain, FACTS_STR_MAX);
	jw_str(w, "reason", d->reason, FACTS_STR_MAX);
	jw_close(w, '}');
}

/* The body (issue 19): what replay needs and explain shows, never the text
 * or the URLs themselves (they may carry a recipient's tokens): the parts
 * (types, file names, sizes), the links' hosts and registrable domains,
 * the counts and the boolean facts; each array capped (record_facts.h). */
static void facts_content_strs(struct jw *w, const char *key, const char *const *s, size_t n)
{
	jw_open(w, key, '[');
	for (size_t i = 0; s != NULL && i < n && i < RECORD_FACTS_MAX_HOSTS; i++)
		jw_str(w, NULL, s[i] != NULL ? s[i] : "", FACTS_STR_MAX);
	jw_close(w, ']');
}

static void facts_content_parts(struct jw *w, const struct content_facts *c)
{
	jw_open(w, "parts", '[');
	for (size_t i = 0; c->parts != NULL && i < c->part_count && i < RECORD_FACTS_MAX_PARTS;
	     i++) {
		const struct content_part *p = &c->parts[i];

		jw_open(w, NULL, '{');
		jw_str(w, "type", p->type, FACTS_STR_MAX);
		jw_str(w, "sniffed", p->sniffed, FACTS_STR_MAX);
		jw_str(w, "charset", p->charset, FACTS_STR_MAX);
		jw_str(w, "encoding", p->encoding, FACTS_STR_MAX);
		jw_str(w, "filename", p->filename, FACTS_STR_MAX);
		jw_i64(w, "size", (long long)p->size);
		jw_i64(w, "depth", p->depth);
		jw_open(w, "flags", '[');
		if (p->attachment)
			jw_str(w, NULL, "attachment", SIZE_MAX);
		if (p->in_archive)
			jw_str(w, NULL, "in_archive", SIZE_MAX);
		jw_close(w, ']');
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

static void facts_content(struct jw *w, const struct content_facts *c)
{
	size_t parts =
	    c->part_count < RECORD_FACTS_MAX_PARTS ? c->part_count : RECORD_FACTS_MAX_PARTS;

	if (!c->scanned)
		return;
	jw_open(w, "content", '{');
	jw_i64(w, "scanned", 1);
	jw_i64(w, "text_len", (long long)c->text_len);
	jw_i64(w, "raw_len", (long long)c->raw_len);
	facts_content_parts(w, c);
	jw_i64(w, "url_count", (long long)c->url_count);
	facts_content_strs(w, "hosts", c->hosts, c->host_count);
	facts_content_strs(w, "domains", c->domains, c->domain_count);
	jw_open(w, "flags", '[');
	if (c->html_only)
		jw_str(w, NULL, "html_only", SIZE_MAX);
	if (c->link_text_mismatch)
		jw_str(w, NULL, "link_text_mismatch", SIZE_MAX);
	if (c->double_extension)
		jw_str(w, NULL, "double_extension", SIZE_MAX);
	if (c->archive_executable)
		jw_str(w, NULL, "archive_executable", SIZE_MAX);
	jw_close(w, ']');
	/* parts past the record's cap are counted as skipped: mime-parts stays right */
	jw_i64(w, "skipped_parts", (long long)(c->skipped_parts + (c->part_count - parts)));
	jw_i64(w, "skipped_urls", (long long)c->skipped_urls);
	jw_i64(w, "skipped_text_bytes", (long long)c->skipped_text_bytes);
	jw_close(w, '}');
}

/* Everything a rules replay reads from struct facts except header contents
 * (the header count and sizes are kept). */
static const char *facts_encode(const struct facts *f, struct arena *a)
{
	struct buf b;
	struct jw w = {.b = &b};
	const char *out;

	buf_init(&b, FACTS_JSON_CAP);
	jw_open(&w, NULL, '{');
	jw_i64(&w, "family",
	       f->client.family == AF_INET6  ? 6
	       : f->client.family == AF_INET ? 4
					     : 0);
	jw_str(&w, "client_ip", f->client_ip, SIZE_MAX);
	jw_str(&w, "client_host", f->client_host, FACTS_STR_MAX);
	jw_str(&w, "helo", f->helo, FACTS_STR_MAX);
	jw_str(&w, "auth_user", f->auth_user, FACTS_STR_MAX);
	jw_str(&w, "tls_version", f->tls_version, FACTS_STR_MAX);
	facts_lists(&w, f);
	jw_open(&w, "iprev", '{');
	jw_str(&w, "result", iprev_result_name(f->iprev.result), SIZE_MAX);
	jw_str(&w, "name", f->iprev.name, FACTS_STR_MAX);
	jw_str(&w, "reason", f->iprev.reason, FACTS_STR_MAX);
	jw_close(&w, '}');
	jw_open(&w, "geoip", '{');
	jw_str(&w, "country", f->geoip.country, SIZE_MAX);
	jw_i64(&w, "asn", f->geoip.asn);
	jw_str(&w, "asn_org", f->geoip.asn_org, FACTS_STR_MAX);
	jw_close(&w, '}');
	jw_str(&w, "queue_id", f->queue_id, FACTS_STR_MAX);
	jw_str(&w, "mail_from", f->mail_from, FACTS_STR_MAX);
	jw_str(&w, "mail_from_domain", f->mail_from_domain, FACTS_STR_MAX);
	jw_i64(&w, "rcpt_count", (long long)f->rcpt_count);
	facts_names(&w, "rcpts", f->rcpts, f->rcpt_count, FACTS_MAX_RCPTS);
	jw_str(&w, "message_id", f->message_id, FACTS_STR_MAX);
	jw_i64(&w, "header_bytes", (long long)f->header_bytes);
	jw_i64(&w, "body_bytes", (long long)f->body_bytes);
	jw_i64(&w, "header_count", (long long)f->header_count);
	jw_str(&w, "skipped", f->skipped, FACTS_STR_MAX);
	jw_open(&w, "ratelimit", '[');
	for (int k = 0; k < RATELIMIT_KINDS; k++)
		if (f->ratelimit & RATELIMIT_BIT(k))
			jw_str(&w, NULL, ratelimit_kind_name((enum ratelimit_kind)k), SIZE_MAX);
	jw_close(&w, ']');
	facts_spf(&w, "spf_mfrom", &f->spf_mfrom);
	facts_spf(&w, "spf_helo", &f->spf_helo);
	jw_i64(&w, "from_fields", f->from_fields);
	jw_str(&w, "from_domain", f->from_domain, FACTS_STR_MAX);
	jw_str(&w, "from_error", f->from_error, FACTS_STR_MAX);
	facts_dkim(&w, &f->dkim);
	jw_i64(&w, "dkim_skipped", f->dkim.skipped);
	facts_dmarc_record(&w, &f->dmarc_record);
	facts_dmarc(&w, &f->dmarc);
	jw_str(&w, "dmarc_override", f->dmarc_override, FACTS_STR_MAX);
	facts_content(&w, &f->content);
	facts_arc(&w, f);
	jw_dbl(&w, "score", f->score);
	facts_names(&w, "rules_hit", f->rules_hit, f->rules_hit_count, SIZE_MAX);
	facts_names(&w, "monitors_hit", f->monitors_hit, f->monitors_hit_count, SIZE_MAX);
	jw_close(&w, '}');
	/* Over the cap (hundreds of hostile recipients): the record itself is
	 * still kept, its replay facts say what happened. */
	out = b.overflow ? "{\"truncated\":1}" : arena_strndup(a, b.data, b.len);
	buf_release(&b);
	return out;
}

void record_from_facts(const struct facts *f, const struct verdict *v, int64_t now, struct arena *a,
		       struct history_record *out)
{
	const struct dmarc_record *dr = &f->dmarc_record;
	struct buf rules;

	memset(out, 0, sizeof(*out));
	out->time = now;
	out->queue_id = trunc_dup(a, f->queue_id);
	out->message_id = trunc_dup(a, f->message_id);
	out->client_ip = arena_strdup(a, f->client_ip); /* an array: never NULL */
	out->helo = trunc_dup(a, f->helo);
	out->mail_from = trunc_dup(a, f->mail_from);
	out->header_from = trunc_dup(a, f->from_domain);
	out->spf_domain = trunc_dup(a, f->spf_mfrom.domain);
	out->spf_scope = spf_scope_name(f->spf_mfrom.scope);
	out->spf_result = spf_result_name(f->spf_mfrom.result);
	out->spf_helo_result = spf_result_name(f->spf_helo.result);
	for (size_t i = 0; i < f->dkim.count && out->dkim_count < RECORD_MAX_DKIM; i++) {
		struct record_dkim *d = &out->dkim[out->dkim_count++];

		d->domain = trunc_dup(a, f->dkim.sig[i].domain);
		d->selector = trunc_dup(a, f->dkim.sig[i].selector);
		d->result = dkim_result_name(f->dkim.sig[i].result);
	}
	out->dmarc_result = dmarc_result_name(f->dmarc.result);
	out->psd = -1;
	if (dr->found) {
		out->policy_domain = trunc_dup(a, dr->record_domain);
		out->p = policy_or_null(dr->p);
		out->sp = policy_or_null(dr->sp);
		out->np = policy_or_null(dr->np);
		out->adkim_strict = dr->adkim_strict;
		out->aspf_strict = dr->aspf_strict;
		out->testing = dr->testing;
		out->psd = dr->psd;
		out->discovery = "treewalk"; /* RFC 9989 §4.10: never the PSL */
		out->rua = trunc_dup(a, dr->rua);
	}
	out->dkim_aligned = f->dmarc.dkim_aligned;
	out->spf_aligned = f->dmarc.spf_aligned;
	out->disposition = v->dmarc_disposition == DMARC_POLICY_UNSET
			       ? "none"
			       : dmarc_policy_name(v->dmarc_disposition);
	out->override = trunc_dup(a, f->dmarc_override);
	out->score = f->score;
	buf_init(&rules, 4 * FIELD_MAX);
	/* a list too long for the column keeps its first names */
	for (size_t i = 0; i < f->rules_hit_count && !rules.overflow; i++)
		buf_printf(&rules, "%s%s", i > 0 ? "," : "", f->rules_hit[i]);
	out->rules = arena_strdup(a, buf_str(&rules));
	buf_release(&rules);
	out->action = verdict_action_name(v->action);
	out->facts_json = facts_encode(f, a);
}

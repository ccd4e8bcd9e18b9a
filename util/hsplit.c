/*
 * hsplit - the header splitter of `authscore test` (see hsplit.h).
 *
 * It follows what Postfix does before a milter sees a field, not RFC 5322
 * alone, because the tool must show the admin what the daemon would decide:
 *  - a field starts with a name of printable US-ASCII but ':', optional
 *    blanks, then ':' (Postfix global/is_header.c; RFC 5322 §4.5.1 obs-
 *    optional allows the blanks); the blanks are dropped from the name
 *    (global/mime_state.c, milter/milter8.c milter8_header);
 *  - any other line ends the header and starts the body (mime_state.c puts
 *    a blank line before it, which milter8_body does not pass on);
 *  - a line that starts with NUL ends the header as a blank line does
 *    (mime_state.c tests *text == 0), and is not passed on either;
 *  - the header works on C strings: a NUL ends the text of its line;
 *  - a name and its colon must fit in Postfix's first record of a line
 *    (line_length_limit, 2048): is_header() sees only that record;
 *  - a field grows up to header_size_limit; the rest is dropped;
 *  - smtpd makes the first lines that look like an mbox "From " line
 *    (after any '>') into X-Mailbox-Line fields, and when the next line
 *    starts with a blank it ends the header there (smtpd/smtpd.c
 *    smtpd_data), so "From : x" on the first line is no From field.
 */
#include "config.h"

#include <string.h>

#include "hsplit.h"

/* Postfix's line_length_limit default: longer lines travel in several
 * records, and is_header() looks at the first only. */
#define HSPLIT_RECORD_MAX 2048

struct line {
	const char *p;
	size_t len;  /* without the line end */
	size_t next; /* offset of the following line */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static struct line line_at(const struct hsplit *h, size_t pos)
{
	const char *p = h->text + pos, *nl = memchr(p, '\n', h->len - pos);
	struct line l = {p, nl != NULL ? (size_t)(nl - p) : h->len - pos, 0};

	l.next = pos + l.len + (nl != NULL);
	if (l.len > 0 && p[l.len - 1] == '\r') /* CRLF, as SMTP carries it */
		l.len--;
	return l;
}

/* Why a byte cannot be part of a field name (is_header.c: NUL, non-ASCII
 * and control characters end the test), or NULL when it can. */
static const char *name_byte_why(unsigned char c)
{
	if (c == '\0')
		return "NUL byte in a field name";
	if (c >= 0x80)
		return "8-bit byte in a field name";
	if (c < 0x20 || c == 0x7f)
		return "control character in a field name";
	return NULL;
}

/* Whether a line starts a field; on success the name's length and the
 * colon's offset, else why it does not. */
static const char *field_start(struct line l, size_t *name_len, size_t *colon)
{
	size_t i = 0, n;
	const char *why;

	if (is_blank(l.p[0]))
		return "folded line with no field before it";
	if (l.p[0] == ':')
		return "empty field name";
	for (; i < l.len && !is_blank(l.p[i]) && l.p[i] != ':'; i++)
		if ((why = name_byte_why((unsigned char)l.p[i])) != NULL)
			return why;
	n = i;
	while (i < l.len && is_blank(l.p[i]))
		i++;
	if (i == l.len || l.p[i] != ':')
		return memchr(l.p, ':', l.len) == NULL ? "no colon" : "blank inside a field name";
	if (i >= HSPLIT_RECORD_MAX)
		return "field name longer than a line record";
	*name_len = n;
	*colon = i;
	return NULL;
}

/* Append to the value as Postfix does: up to a NUL (its header code works
 * on C strings), and up to the size limit. */
static void field_add(struct hsplit *h, struct hsplit_field *f, const char *p, size_t n)
{
	const char *nul = memchr(p, '\0', n);
	size_t room = HSPLIT_FIELD_MAX - h->field.len;

	if (nul != NULL)
		n = (size_t)(nul - p);
	if (n > room) {
		n = room;
		f->truncated = 1;
	}
	buf_append(&h->field, p, n);
}

static void advance(struct hsplit *h, size_t next)
{
	h->pos = next;
	h->line++;
}

static int end_at(struct hsplit *h, size_t body, const char *why)
{
	h->ended = 1;
	h->end_why = why;
	h->end_line = h->line;
	h->pos = body;
	return 0;
}

void hsplit_init(struct hsplit *h, const char *text, size_t len)
{
	memset(h, 0, sizeof(*h));
	h->text = text;
	h->len = len;
	h->line = 1;
	buf_init(&h->field, HSPLIT_FIELD_MAX);
}

/* An mbox "From " line at the start of the message, optionally escaped
 * with '>' (smtpd.c: strncmp(start + strspn(start, ">"), "From ", 5)). */
static int is_mbox_line(struct line l)
{
	size_t i = 0;

	while (i < l.len && l.p[i] == '>')
		i++;
	return l.len - i >= 5 && memcmp(l.p + i, "From ", 5) == 0;
}

static void field_begin(struct hsplit *h, struct hsplit_field *f, const char *name, size_t len)
{
	buf_reset(&h->field);
	f->line = h->line;
	f->truncated = 0;
	buf_append(&h->field, name, len);
	buf_append(&h->field, "", 1); /* the colon's place */
}

static int field_end(struct hsplit *h, struct hsplit_field *f, size_t name_len)
{
	f->name = h->field.data;
	f->value = h->field.data + name_len + 1;
	return 1;
}

int hsplit_next(struct hsplit *h, struct hsplit_field *f)
{
	struct line l;
	size_t name_len = 0, colon = 0;
	const char *why;

	if (h->ended)
		return 0;
	if (h->pos >= h->len)
		return end_at(h, h->len, NULL);
	l = line_at(h, h->pos);
	if (h->pos == 0 || h->mbox) {
		h->mbox = l.len > 0 && is_mbox_line(l);
		if (h->mbox) { /* smtpd: "X-Mailbox-Line: %s" */
			field_begin(h, f, "X-Mailbox-Line", 14);
			field_add(h, f, " ", 1);
			field_add(h, f, l.p, l.len);
			advance(h, l.next);
			return field_end(h, f, 14);
		}
		if (l.len > 0 && is_blank(l.p[0])) /* smtpd puts a blank line before it */
			return end_at(h, h->pos, "folded line with no field before it");
	}
	if (l.len == 0)
		return end_at(h, l.next, NULL);
	if (l.p[0] == '\0')
		return end_at(h, l.next, "NUL byte at the start of a line");
	if ((why = field_start(l, &name_len, &colon)) != NULL)
		return end_at(h, h->pos, why); /* this line is the body's first */
	field_begin(h, f, l.p, name_len);
	field_add(h, f, l.p + colon + 1, l.len - colon - 1);
	advance(h, l.next);
	/* folded lines (RFC 5322 §2.2.3), blank-only ones too (§4.2 obs-FWS),
	 * joined by "\n" as Postfix passes them to a milter */
	while (h->pos < h->len) {
		l = line_at(h, h->pos);
		if (l.len == 0 || !is_blank(l.p[0]))
			break;
		field_add(h, f, "\n", 1);
		field_add(h, f, l.p, l.len);
		advance(h, l.next);
	}
	return field_end(h, f, name_len);
}

size_t hsplit_body(const struct hsplit *h)
{
	return h->pos;
}

const char *hsplit_end(const struct hsplit *h, unsigned *line_r)
{
	if (line_r != NULL)
		*line_r = h->end_line;
	return h->end_why;
}

void hsplit_release(struct hsplit *h)
{
	buf_release(&h->field);
}

size_t hsplit_name_len(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && is_blank(name[n - 1]))
		n--;
	return n;
}

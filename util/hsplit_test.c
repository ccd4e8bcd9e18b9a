/*
 * hsplit_test - header fields out of raw messages, as Postfix hands them to
 * a milter: odd names, odd bytes, folding, line ends, the size cap.
 */
#include "config.h"

#include <stdio.h>

#include "buf.h"
#include "check.h"
#include "hsplit.h"

#define L(s) (s), sizeof(s) - 1 /* a literal with its NUL bytes */

/* Every field as "[name][value]", bytes outside printable ASCII escaped. */
struct split {
	char fields[4096];
	size_t body;
	const char *why;
	unsigned end_line, truncated;
};

static void escape(char *out, size_t size, const char *s)
{
	size_t o = strlen(out);

	for (; *s != '\0' && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (c == '\t')
			o += (size_t)snprintf(out + o, size - o, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c, out[o] = '\0';
	}
}

static struct split split(const char *text, size_t len)
{
	struct split s;
	struct hsplit h;
	struct hsplit_field f;

	memset(&s, 0, sizeof(s));
	hsplit_init(&h, text, len);
	while (hsplit_next(&h, &f)) {
		strcat(s.fields, "[");
		escape(s.fields, sizeof(s.fields) - 2, f.name);
		strcat(s.fields, "][");
		escape(s.fields, sizeof(s.fields) - 2, f.value);
		strcat(s.fields, "]");
		s.truncated += f.truncated != 0;
	}
	s.body = hsplit_body(&h);
	s.why = hsplit_end(&h, &s.end_line);
	hsplit_release(&h);
	return s;
}

/* The fields, where the body starts (as text), and why the header ended. */
static void expect(const char *desc, const char *text, size_t len, const char *fields,
		   const char *body, size_t body_len, const char *why)
{
	struct split s = split(text, len);

	CHECK_STR(s.fields, fields, "%s: fields", desc);
	CHECK(s.body <= len && body_len == len - s.body &&
		  memcmp(text + s.body, body, body_len) == 0,
	      "%s: body at offset %zu", desc, s.body);
	CHECK_STR(s.why, why, "%s: end of header", desc);
}

static void names(void)
{
	expect("blank before colon", L("Subject: s\nFrom : a@b.test\nFrom: c@d.test\n\nbody\n"),
	       "[Subject][ s][From][ a@b.test][From][ c@d.test]", L("body\n"), NULL);
	expect("blanks and tab before colon",
	       L("Authentication-Results \t : mx.authscore.test; spf=pass\n\n"),
	       "[Authentication-Results][ mx.authscore.test; spf=pass]", L(""), NULL);
	expect("empty value", L("X-Empty:\nX-Blank: \n\n"), "[X-Empty][][X-Blank][ ]", L(""), NULL);
	expect("NUL in name ends the header",
	       L("X-Ok: 1\nFr\0om: evil@x.test\nFrom: a@b.test\n\nbody\n"), "[X-Ok][ 1]",
	       L("Fr\0om: evil@x.test\nFrom: a@b.test\n\nbody\n"), "NUL byte in a field name");
	expect("NUL first in a line ends it as a blank line", L("A: 1\n\0junk\nbody\n"), "[A][ 1]",
	       L("body\n"), "NUL byte at the start of a line");
	expect("no colon", L("From: a@b.test\nnot a header\nTo: c@d.test\n\n"), "[From][ a@b.test]",
	       L("not a header\nTo: c@d.test\n\n"), "no colon");
	expect("colon first", L(": x\nFrom: a@b.test\n\n"), "", L(": x\nFrom: a@b.test\n\n"),
	       "empty field name");
	expect("folded line first", L(" x: y\nFrom: a@b.test\n\n"), "",
	       L(" x: y\nFrom: a@b.test\n\n"), "folded line with no field before it");
	expect("blank inside a name", L("Subject: s\nFrom a@b.test Mon Jan  1 12:00:00 2024\n\n"),
	       "[Subject][ s]", L("From a@b.test Mon Jan  1 12:00:00 2024\n\n"),
	       "blank inside a field name");
	expect("8-bit byte in a name", L("A: 1\nFr\xc3\xb6m: x\n\n"), "[A][ 1]",
	       L("Fr\xc3\xb6m: x\n\n"), "8-bit byte in a field name");
	expect("bare CR in a name", L("Sub\rject: x\n\n"), "", L("Sub\rject: x\n\n"),
	       "control character in a field name");
	CHECK(hsplit_name_len("From") == 4 && hsplit_name_len("From \t ") == 4 &&
		  hsplit_name_len("") == 0 && hsplit_name_len(" ") == 0,
	      "hsplit_name_len drops trailing blanks only");
}

/* Postfix's smtpd turns leading mbox "From " lines into X-Mailbox-Line
 * fields: "From :" first is no From field. */
static void mbox(void)
{
	expect("'From :' on the first line", L("From : <evil@x.test>\nFrom: <a@b.test>\n\n"),
	       "[X-Mailbox-Line][ From : <evil@x.test>][From][ <a@b.test>]", L(""), NULL);
	expect("leading From_ lines, escaped too",
	       L("From a@b.test Mon Jan  1 12:00:00 2024\r\n>From x\nSubject: s\n\nFrom y\n"),
	       "[X-Mailbox-Line][ From a@b.test Mon Jan  1 12:00:00 2024][X-Mailbox-Line][ >From "
	       "x][Subject][ s]",
	       L("From y\n"), NULL);
	expect("no folding into X-Mailbox-Line", L("From x\n folded\nSubject: s\n\n"),
	       "[X-Mailbox-Line][ From x]", L(" folded\nSubject: s\n\n"),
	       "folded line with no field before it");
	expect("From_ after a field is no mbox line", L("Subject: s\n>From x\n\n"), "[Subject][ s]",
	       L(">From x\n\n"), "no colon");
}

static void values(void)
{
	expect("NUL in a value ends that line's text",
	       L("Subject: ab\0cd\n\tfo\0x\nTo: t@u.test\n\n"),
	       "[Subject][ ab\\n\\tfo][To][ t@u.test]", L(""), NULL);
	expect("8-bit value kept", L("Subject: \xc3\xa9t\xc3\xa9\n\n"),
	       "[Subject][ \\xc3\\xa9t\\xc3\\xa9]", L(""), NULL);
	expect("bare CR in a value kept", L("Subject: a\rb\nX: c\r\r\n\n"),
	       "[Subject][ a\\rb][X][ c\\r]", L(""), NULL);
	expect("folded, blank-only line too", L("Subject: a\n b\n\tc\n \nX: y\n\nbody"),
	       "[Subject][ a\\n b\\n\\tc\\n ][X][ y]", L("body"), NULL);
	expect("CRLF", L("Subject: a\r\n b\r\nTo: c\r\n\r\nbody\r\n"), "[Subject][ a\\n b][To][ c]",
	       L("body\r\n"), NULL);
	expect("no blank line, no body", L("From: a@b.test\nTo: c"), "[From][ a@b.test][To][ c]",
	       L(""), NULL);
	expect("empty message", L(""), "", L(""), NULL);
	expect("blank line only", L("\r\nbody"), "", L("body"), NULL);
}

/* A field over the cap is cut there; the rest of it, folded lines too, is
 * dropped and the next field is whole. */
static void caps(void)
{
	struct buf b;
	struct hsplit h;
	struct hsplit_field f;
	int n = 0, ok = 1;

	buf_init(&b, 4 * HSPLIT_FIELD_MAX);
	buf_puts(&b, "Subject: ");
	for (int i = 0; i < HSPLIT_FIELD_MAX + 100; i++)
		buf_puts(&b, "x");
	buf_puts(&b, "\n folded\nTo: t@u.test\n\nbody");
	hsplit_init(&h, b.data, b.len);
	while (hsplit_next(&h, &f)) {
		if (n == 0)
			ok &= strcmp(f.name, "Subject") == 0 && f.truncated &&
			      strlen(f.value) == HSPLIT_FIELD_MAX - 8 &&
			      strchr(f.value, '\n') == NULL;
		else
			ok &= strcmp(f.name, "To") == 0 && !f.truncated && f.line == 3;
		n++;
	}
	CHECK(ok && n == 2 && strcmp(b.data + hsplit_body(&h), "body") == 0,
	      "a field over %d bytes is cut there; the next one is whole", HSPLIT_FIELD_MAX);
	hsplit_release(&h);

	buf_reset(&b);
	for (int i = 0; i < 3000; i++)
		buf_puts(&b, "X");
	buf_puts(&b, ": v\n\n");
	expect("a name past Postfix's first line record", b.data, b.len, "", b.data, b.len,
	       "field name longer than a line record");
	buf_release(&b);
}

static void lines(void)
{
	struct split s = split(L("A: 1\nB: 2\n 2b\nC\0: 3\n\n"));

	CHECK(s.end_line == 4, "the header ends at line 4 (got %u)", s.end_line);
}

int main(void)
{
	names();
	mbox();
	values();
	caps();
	lines();
	return check_done();
}

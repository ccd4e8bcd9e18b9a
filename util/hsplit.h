/*
 * hsplit - split a raw message's header into fields exactly as Postfix
 * hands them to a milter, for `authscore test` (the daemon gets them from
 * libmilter already split).
 *
 * hsplit_init() on a caller-owned struct over the whole message text;
 * hsplit_next() returns one field at a time (name without the blanks
 * before the colon, value as after the colon: folded lines joined by "\n",
 * the CR of CRLF removed), valid until the next call; 0 at the end of the
 * header, after which hsplit_body() is the offset of the body and
 * hsplit_end() says why the header ended when that was not a blank line.
 * A field longer than HSPLIT_FIELD_MAX is cut there.  Leading mbox "From "
 * lines come out as X-Mailbox-Line fields, as Postfix's smtpd makes them.  hsplit_release()
 * frees the field buffer.  The text is never written.  Not thread-safe;
 * one struct per caller.
 *
 * hsplit_name_len() is the length of a field name without trailing blanks:
 * how the daemon compares names, whatever the MTA left on them.
 */
#ifndef AUTHSCORE_HSPLIT_H
#define AUTHSCORE_HSPLIT_H

#include <stddef.h>

#include "buf.h"

/* Postfix's header_size_limit default: longer fields are cut. */
#define HSPLIT_FIELD_MAX 102400

struct hsplit {
	const char *text;
	size_t len, pos;  /* pos: the start of the next line */
	unsigned line;	  /* the number of the line at pos, from 1 */
	struct buf field; /* name, NUL, value */
	const char *end_why;
	unsigned end_line;
	int ended;
	int mbox; /* the last line was a leading mbox "From " line */
};

struct hsplit_field {
	const char *name, *value;
	unsigned line; /* where the field starts */
	int truncated; /* it was longer than HSPLIT_FIELD_MAX; the rest was dropped */
};

void hsplit_init(struct hsplit *h, const char *text, size_t len);
int hsplit_next(struct hsplit *h, struct hsplit_field *f);
size_t hsplit_body(const struct hsplit *h);
/* NULL when the header ended at a blank line; else a short static reason
 * ("NUL byte in a field name", "no colon", "end of message", ...) and in
 * *line_r the line where it ended. */
const char *hsplit_end(const struct hsplit *h, unsigned *line_r);
void hsplit_release(struct hsplit *h);

size_t hsplit_name_len(const char *name);

#endif

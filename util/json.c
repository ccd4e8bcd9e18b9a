/*
 * json - JSON strings from arbitrary bytes (see json.h).  Moved here from
 * history/record.c so the history records and the log lines escape alike.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
size_t json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
			       (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

void json_string(struct buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	if (n > max)
		n = max;
	buf_append(b, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];
		size_t len = json_utf8_len(p + i, n - i);
		char esc[8];

		if (len > 0 && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			i += len;
			run += len;
			continue;
		}
		buf_append(b, p + i - run, run);
		run = 0;
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (c == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (len == 0)
			snprintf(esc, sizeof(esc), "\\udc%02x", c); /* not UTF-8: surrogateescape */
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		buf_puts(b, esc);
		i++;
	}
	buf_append(b, p + i - run, run);
	buf_append(b, "\"", 1);
}

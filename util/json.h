/*
 * json - writing JSON strings that any byte sequence can go into.
 *
 * json_string() appends s (at most max bytes of it) to b as one JSON
 * string (RFC 8259 §7): quotes, backslashes and control characters are
 * escaped, valid UTF-8 is copied as is, and every byte that is not part of
 * a valid UTF-8 sequence is written as \udcXX (Python's surrogateescape),
 * so the output is always valid UTF-8 and the original bytes can be told
 * apart from U+FFFD.  json_utf8_len() is the validity test it uses (RFC
 * 3629 §4), for readers that must accept the same set.  Pure functions;
 * thread-safe.
 */
#ifndef AUTHSCORE_JSON_H
#define AUTHSCORE_JSON_H

#include <stddef.h>

#include "buf.h"

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
size_t json_utf8_len(const unsigned char *s, size_t n);
void json_string(struct buf *b, const char *s, size_t max);

#endif

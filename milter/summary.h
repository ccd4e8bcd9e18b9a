/*
 * summary - the one summary line per message, as JSON (log-format json).
 *
 * summary_json() writes one JSON object, no newline, with the fields of
 * the text line message_log() writes (docs: authscore-milter(8)): the
 * checked form, or the short one of a message accepted unchecked.  Every
 * string may hold any byte the client sent; json_string() keeps the line
 * valid UTF-8 JSON whatever they are.  The log module cuts lines at 2047
 * bytes, which would break the JSON: a line longer than SUMMARY_MAX_LINE
 * is written again with shorter strings and fewer DKIM signatures, and
 * says "truncated":true.  Absent values are null.  b is reset first; give
 * it a cap of SUMMARY_MAX_BYTES.  Pure; thread-safe.
 */
#ifndef AUTHSCORE_SUMMARY_H
#define AUTHSCORE_SUMMARY_H

#include <stddef.h>

#include "buf.h"
#include "facts.h"
#include "verdict.h"

#define SUMMARY_MAX_DKIM  10	/* signatures listed */
#define SUMMARY_MAX_LINE  2000	/* under util/log.c's 2047-byte line */
#define SUMMARY_MAX_BYTES 65536 /* a buf cap no try can reach */

/* forged_ar: our own forged Authentication-Results removed; ms: the time
 * the message took. */
void summary_json(struct buf *b, const struct facts *f, const struct verdict *v, size_t forged_ar,
		  long ms);

#endif

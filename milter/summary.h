/*
 * summary - the one summary line per message, as key=value pairs
 * (log-format kv, the default) or as one JSON object (log-format json).
 *
 * summary_line() writes the line, no newline, with the fields documented
 * in authscore-milter(8): the checked form, or the short one of a message
 * accepted unchecked.  Both forms carry the same facts, in the same order,
 * from one list of fields; they differ only in how a value is written.
 * Every string may hold any byte the client sent:
 *  - kv: "QUEUEID: key=value key=value ..."; a value is written bare when
 *    it is not empty and holds only printable ASCII other than blank, '"',
 *    '\\' and '=', or valid UTF-8; otherwise in double quotes, with \" \\
 *    and \xHH (control bytes, DEL, bytes that are not valid UTF-8), so a
 *    value can neither end early nor forge a field, and the line is valid
 *    UTF-8 without control bytes (summary_kv_value());
 *  - json: json_string() (\udcXX for bytes that are not UTF-8).
 * The log module cuts lines at 2047 bytes: a line longer than
 * SUMMARY_MAX_LINE is written again with shorter strings and fewer DKIM
 * signatures and rules, and says truncated=yes / "truncated":true.  b is
 * reset first; give it a cap of SUMMARY_MAX_BYTES.  Pure; thread-safe.
 */
#ifndef AUTHSCORE_SUMMARY_H
#define AUTHSCORE_SUMMARY_H

#include <stddef.h>

#include "buf.h"
#include "facts.h"
#include "verdict.h"

#define SUMMARY_MAX_DKIM  10	/* signatures listed */
#define SUMMARY_MAX_RULES 64	/* fired rules listed */
#define SUMMARY_MAX_LINE  2000	/* under util/log.c's 2047-byte line */
#define SUMMARY_MAX_BYTES 65536 /* a buf cap no try can reach */

enum summary_format { SUMMARY_KV, SUMMARY_JSON };

/* forged_ar: our own forged Authentication-Results removed; ms: the time
 * the message took. */
void summary_line(struct buf *b, enum summary_format format, const struct facts *f,
		  const struct verdict *v, size_t forged_ar, long ms);
/* Appends the first max bytes of s as one kv value, quoted when needed. */
void summary_kv_value(struct buf *b, const char *s, size_t max);

#endif

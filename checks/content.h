/*
 * content - the MIME walk of one message's body: parts, decoded text,
 * links and attachments, into struct content_facts (facts/content_result.h).
 *
 *   content_init()        once at start-up, before any thread (GMime
 *                         and the public suffix list); idempotent
 *   content_spool_check() at start-up and reload: the spool directory works
 *   content_scan_new()    per message, memory in the message's arena
 *   content_scan_header() each header field as it arrives (only the
 *                         MIME fields are kept)
 *   content_scan_body()   each body chunk as it arrives: kept, up to
 *                         max_bytes (in memory, or past spill_bytes in
 *                         a file when the memory pool is full: see
 *                         content_limits); the rest is only counted
 *   content_scan_finish() at end of message: one parse (GMime), decode,
 *                         convert to UTF-8, reduce HTML (our HTML5
 *                         tokenizer), extract and normalise URLs
 *                         (content_url.h); fills *out
 *   content_scan_free()   releases what the arena does not hold (the body
 *                         kept, its share of the pool, the decoded text):
 *                         the facts' text and raw live until then; accepts
 *                         NULL, clears the pointer
 *
 * Over a bound (bytes kept, decoded text, parts, depth, URLs) is skipped
 * and counted, never an error.  A scan is used by one thread at a time;
 * after content_init() scans on different threads are independent, but
 * at most as many finish at once as there are CPUs (at least 2): the
 * walk is CPU-bound, and more at once would only add their memory.
 */
#ifndef AUTHSCORE_CONTENT_H
#define AUTHSCORE_CONTENT_H

#include <stddef.h>

#include "arena.h"
#include "content_result.h"

struct content_limits {
	size_t max_bytes;   /* of the MIME header fields and the body kept for the parse */
	size_t max_text;    /* decoded text kept (and of rawbody) */
	unsigned max_parts; /* leaf parts listed */
	unsigned max_depth; /* MIME nesting walked */
	unsigned max_urls;  /* distinct URLs listed */
	/* Past spill_bytes kept, the bytes kept go to an unlinked file in
	 * spool_dir (copied by content_scan_new); 0 or NULL: all in memory.
	 * If the file cannot be made or written, what is kept so far is
	 * scanned, the rest counted as skipped, and it is logged. */
	size_t spill_bytes;
	const char *spool_dir;
	/* Past spill_bytes, a scan keeps on in memory while the process-wide
	 * pool has room: the sum over the live scans of their bytes kept past
	 * spill_bytes stays within spill_pool_bytes (content_pool.h).  The
	 * chunk that would pass it sends that scan to its file, everything it
	 * kept, and gives its share back; so does content_scan_free.  0: every
	 * body past spill_bytes goes to a file. */
	size_t spill_pool_bytes;
};

/* The spill threshold the daemon uses: a small body stays in memory. */
#define CONTENT_SPILL_BYTES (16 * 1024)

struct content_scan;

void content_init(void);
/* Can a spool file be made in dir (by this process's user)?  0, or -1
 * and a malloc'd "content-spool-dir DIR: reason" in *error_r. */
int content_spool_check(const char *dir, char **error_r);
struct content_scan *content_scan_new(struct arena *a, const struct content_limits *limits);
void content_scan_header(struct content_scan *c, const char *name, const char *value);
void content_scan_body(struct content_scan *c, const unsigned char *data, size_t len);
/* Bytes kept past the cap, not parsed. */
size_t content_scan_dropped(const struct content_scan *c);
void content_scan_finish(struct content_scan *c, struct content_facts *out);
void content_scan_free(struct content_scan **cp);

#endif

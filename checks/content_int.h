/*
 * content_int - what the content module's files share (content.c,
 * content_html.c, content_sniff.c, content_spool.c): the bounded text sink
 * the decoded text goes into, the HTML reducer, the attachment checks and
 * the spool file of a large body.  Not for other
 * modules: content.h is the interface.
 */
#ifndef AUTHSCORE_CONTENT_INT_H
#define AUTHSCORE_CONTENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "content_url.h"

/* Decoded UTF-8 text, at most cap bytes, g_realloc'd (the scan frees it);
 * what does not fit is counted in skipped. */
struct content_text {
	char *data;
	size_t len, size, cap;
	size_t skipped;
};

/* Appends s (UTF-8), cut at a character boundary when the cap is reached. */
void content_text_append(struct content_text *t, const char *s, size_t n);
/* Where n more bytes go (the caller then adds what it wrote to len and
 * puts the NUL after), or NULL if n bytes would pass the cap. */
char *content_text_room(struct content_text *t, size_t n);

/* An HTML part (UTF-8): its visible text into t, its links (href, src,
 * action, background, with the visible text of <a>) and the bare ones in
 * its text into u (NULL: links not collected, as the benchmark does).
 * Our own tokenizer after the HTML Living Standard (13.2.5), as mail
 * clients read HTML, not libxml2's HTML 4 parser, whose differences hid
 * links ("<!-->", "--!>", "<a/href=", HTML5's named references): see
 * content_html.c.  Linear in len, no recursion, one allocation at most. */
void content_html_reduce(const char *html, size_t len, struct content_text *t,
			 struct content_urls *u);

/* A message of one part is read without GMime's parser (on, the
 * default) or with it (off): for tests, which hold the two to the same
 * facts. */
void content_scan_direct(int on);

/* Quoted-printable in len bytes decoded into out (GMime's output size for
 * len at least), as one g_mime_encoding_step over all of it gives, with
 * the runs between "=" escapes copied as they are (content.c); returns
 * the decoded length.  Exposed for the tests that hold it to GMime. */
size_t content_qp_decode(const char *in, size_t len, char *out);

/* A valid, NUL-free text is cleaned by squeezing its CR LFs (on, the
 * default) or byte by byte like any other (off): for tests, which hold
 * the two to the same text. */
void content_text_fast(int on);

/* The type sniffed from a part's first bytes, or NULL. */
const char *content_sniff(const unsigned char *data, size_t len);
/* An executable's extension ends name: "x.exe", "a.pdf.scr". */
int content_name_executable(const char *name);
/* "invoice.pdf.exe": a document's extension, then an executable's. */
int content_name_double_extension(const char *name);
/* The member names of a ZIP archive, from its central directory (or, in
 * an archive cut short, from its local headers): calls fn for each file
 * (not directory) until it returns nonzero, at most max_entries; returns
 * the number reported, or -1 if neither gave a name. */
int content_zip_names(const unsigned char *data, size_t len, size_t max_entries,
		      int (*fn)(void *ctx, const char *name, size_t name_len, uint64_t size),
		      void *ctx);

/* content_spool.c: the unlinked temporary file a body past the spill
 * threshold is kept in.  open: a descriptor (close-on-exec), or -1 and
 * errno; write: all of data, 0, or -1 and errno; read: the bytes read at
 * offset (short only at the end of the file or on an error). */
int content_spool_open(const char *dir);
int content_spool_write(int fd, const void *data, size_t len);
size_t content_spool_read(int fd, size_t offset, void *buf, size_t len);

#endif

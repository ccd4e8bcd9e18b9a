/*
 * fuzz_content - libFuzzer target for the body's content (checks/content*.c):
 * a whole message, header fields fed one by one and the body in chunks, is
 * walked as MIME (GMime), its text and HTML decoded (content_html.c's
 * HTML5 tokenizer) and its links normalised (libidn2, libpsl), under
 * small bounds so every bound is reached.  An input starting with "URL:" is one link for the
 * normaliser and the link-text check instead.  What comes out must hold to the seam
 * (facts/content_result.h): valid UTF-8 text within its bound, ASCII
 * links and hosts, counts within their bounds.  An input of odd length is
 * scanned twice, in memory and spilled past 256 bytes to an unlinked file
 * in $TMPDIR (or /tmp), and both scans must give the same facts; every
 * input is also scanned with GMime's parser for a message of one part
 * (content_scan_direct), and must give what the direct reading gave.
 * tests/fuzz/run-fuzz.sh
 * builds it with clang -fsanitize=fuzzer,address,undefined.
 */
#include "config.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "content.h"
#include "content_facts.h"
#include "content_int.h"
#include "content_url.h"
#include "json.h"

static const struct content_limits limits = {
    .max_bytes = 64 * 1024, .max_text = 4096, .max_parts = 20, .max_depth = 8, .max_urls = 20};
static struct content_limits spilled; /* limits, spilling past 256 bytes */

static void utf8_or_die(const char *s, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if ((l = json_utf8_len((const unsigned char *)s + i, n - i)) == 0)
			abort();
}

static void ascii_or_die(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			abort();
}

/* Header fields up to the first empty line, each "name:value" with
 * continuation lines kept in the value, as a milter passes them. */
static size_t feed_header(struct content_scan *c, struct arena *a, const char *d, size_t n)
{
	size_t i = 0;

	while (i < n && d[i] != '\n' && !(d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')) {
		size_t end = i, colon;

		while (end < n && !(d[end] == '\n' &&
				    (end + 1 >= n || (d[end + 1] != ' ' && d[end + 1] != '\t'))))
			end++;
		for (colon = i; colon < end && d[colon] != ':'; colon++)
			;
		if (colon < end)
			content_scan_header(c, arena_strndup(a, d + i, colon - i),
					    arena_strndup(a, d + colon + 1, end - colon - 1));
		i = end + 1;
	}
	return i < n ? i + (d[i] == '\r' ? 2 : 1) : n;
}

static void check(const struct content_facts *f)
{
	if (!f->scanned || f->text == NULL || f->text_len > limits.max_text ||
	    strlen(f->text) != f->text_len || f->raw_len > limits.max_text ||
	    f->part_count > limits.max_parts || f->url_count > limits.max_urls ||
	    f->host_count > f->url_count || f->domain_count > f->url_count)
		abort();
	utf8_or_die(f->text, f->text_len);
	for (size_t i = 0; i < f->part_count; i++) {
		if (f->parts[i].type == NULL || f->parts[i].depth > limits.max_depth + 1)
			abort();
		if (f->parts[i].filename != NULL)
			utf8_or_die(f->parts[i].filename, strlen(f->parts[i].filename));
	}
	for (size_t i = 0; i < f->url_count; i++) {
		const struct content_url *u = &f->urls[i];

		ascii_or_die(u->url);
		ascii_or_die(u->host);
		if (strncmp(u->url, "http", 4) != 0 || (u->mismatch && u->text_domain == NULL))
			abort();
		if (u->domain != NULL && strstr(u->host, u->domain) == NULL)
			abort();
	}
}

/* One scan of the message; its text lives until the scan is freed. */
static struct content_scan *scan(struct arena *a, const struct content_limits *l,
				 const uint8_t *data, size_t size, struct content_facts *f)
{
	struct content_scan *c = content_scan_new(a, l);
	size_t i = feed_header(c, a, (const char *)data, size), chunk = 1 + size % 61;

	for (; i < size; i += chunk)
		content_scan_body(c, data + i, size - i < chunk ? size - i : chunk);
	content_scan_finish(c, f);
	check(f);
	return c;
}

/* Two scans of one message (spilled or not, GMime's parser or not) saw
 * the same. */
static void same_or_die(const struct content_facts *x, const struct content_facts *y)
{
	if (!content_facts_same(x, y))
		abort();
}

/* The input as quoted-printable: our runs-and-escapes decoding gives
 * GMime's bytes for all of it in one step. */
static void qp_same_or_die(const char *d, size_t size)
{
	GMimeEncoding state;
	char *whole, *ours;
	size_t n_whole, n_ours;

	g_mime_encoding_init_decode(&state, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	whole = g_malloc(g_mime_encoding_outlen(&state, size) + 1);
	ours = g_malloc(g_mime_encoding_outlen(&state, size) + 1);
	n_whole = g_mime_encoding_step(&state, d, size, whole);
	n_ours = content_qp_decode(d, size, ours);
	if (n_whole != n_ours || memcmp(whole, ours, n_ours) != 0)
		abort();
	g_free(whole);
	g_free(ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	const char *d = (const char *)data;

	content_init();
	qp_same_or_die(d, size);
	if (size >= 4 && memcmp(d, "URL:", 4) == 0) {
		const char *url, *host;

		if (content_url_normalise(a, d + 4, size - 4, &url, &host) == 0) {
			ascii_or_die(url);
			ascii_or_die(host);
		}
		content_url_text_domain(a, d + 4, size - 4);
	} else {
		struct content_facts f, g, h;
		struct content_scan *c = scan(a, &limits, data, size, &f), *s, *p;

		/* a message of one part, read without GMime's parser: as with it */
		content_scan_direct(0);
		p = scan(a, &limits, data, size, &h);
		content_scan_direct(1);
		same_or_die(&f, &h);
		content_scan_free(&p);

		/* texts cleaned byte by byte: as when their CR LFs are squeezed */
		content_text_fast(0);
		p = scan(a, &limits, data, size, &h);
		content_text_fast(1);
		same_or_die(&f, &h);
		content_scan_free(&p);

		if (size % 2 == 1) {
			spilled = limits;
			spilled.spill_bytes = 256;
			spilled.spool_dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
			s = scan(a, &spilled, data, size, &g);
			same_or_die(&f, &g);
			content_scan_free(&s);
		}
		content_scan_free(&c);
	}
	arena_free(&a);
	return 0;
}

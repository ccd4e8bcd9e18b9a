/*
 * content_facts.h - what the tests of the content check (checks/content*.c
 * and its fuzz target) share: whether two scans of one message gave the
 * same facts (in memory or spilled, through GMime's parser or not), how
 * many descriptors the process has open, and the multipart body the
 * memory and spool tests scan, fed in chunks.
 */
#ifndef AUTHSCORE_TESTS_CONTENT_FACTS_H
#define AUTHSCORE_TESTS_CONTENT_FACTS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "content_result.h"

static inline int content_str_same(const char *x, const char *y)
{
	return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

/* Every fact of the two scans, their parts' and links' included. */
static inline int content_facts_same(const struct content_facts *x, const struct content_facts *y)
{
	if (x->scanned != y->scanned || x->text_len != y->text_len ||
	    memcmp(x->text, y->text, x->text_len) != 0 || x->raw_len != y->raw_len ||
	    memcmp(x->raw, y->raw, x->raw_len) != 0 || x->part_count != y->part_count ||
	    x->url_count != y->url_count || x->host_count != y->host_count ||
	    x->domain_count != y->domain_count || x->html_only != y->html_only ||
	    x->link_text_mismatch != y->link_text_mismatch ||
	    x->double_extension != y->double_extension ||
	    x->archive_executable != y->archive_executable ||
	    x->skipped_parts != y->skipped_parts || x->skipped_urls != y->skipped_urls ||
	    x->skipped_text_bytes != y->skipped_text_bytes ||
	    x->skipped_body_bytes != y->skipped_body_bytes)
		return 0;
	for (size_t i = 0; i < x->part_count; i++) {
		const struct content_part *p = &x->parts[i], *q = &y->parts[i];

		if (!content_str_same(p->type, q->type) ||
		    !content_str_same(p->sniffed, q->sniffed) ||
		    !content_str_same(p->charset, q->charset) ||
		    !content_str_same(p->encoding, q->encoding) ||
		    !content_str_same(p->filename, q->filename) || p->size != q->size ||
		    p->depth != q->depth || p->attachment != q->attachment)
			return 0;
	}
	for (size_t i = 0; i < x->url_count; i++)
		if (strcmp(x->urls[i].url, y->urls[i].url) != 0 ||
		    !content_str_same(x->urls[i].text_domain, y->urls[i].text_domain))
			return 0;
	return 1;
}

/* Descriptors open in this process (-1 if /proc cannot tell). */
static inline int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* The body's type: a multipart with boundary "b". */
#define CONTENT_TEST_CTYPE " multipart/mixed; boundary=\"b\""

/* A multipart body (CONTENT_TEST_CTYPE), malloc'd: text_lines lines of
 * ISO-8859-1 text with links; html_links quoted-printable HTML links whose
 * text names another domain; with rfc822, a message/rfc822 part; and a
 * base64 "invoice.pdf.exe" of base64_lines lines. */
static inline char *content_test_body(int text_lines, int html_links, int rfc822, int base64_lines,
				      size_t *len_r)
{
	size_t cap = 1024 + 128 * (size_t)(text_lines + html_links + base64_lines), o = 0;
	char *b = malloc(cap);

	o += (size_t)snprintf(b + o, cap - o,
			      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n");
	for (int i = 0; i < text_lines; i++)
		o += (size_t)snprintf(b + o, cap - o,
				      "line %d caf\xe9 see http://h%d.example.com/p now\r\n", i,
				      i % 40);
	o += (size_t)snprintf(b + o, cap - o,
			      "--b\r\nContent-Type: text/html; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>");
	for (int i = 0; i < html_links; i++)
		o += (size_t)snprintf(
		    b + o, cap - o,
		    "<a href=3D\"https://evil%d.example.net/x\">www.bank.com</a> =\r\n"
		    "caf=C3=A9 %d<br>\r\n",
		    i % 30, i);
	if (rfc822)
		o += (size_t)snprintf(b + o, cap - o,
				      "--b\r\nContent-Type: message/rfc822\r\n\r\n"
				      "Subject: inner\r\nContent-Type: text/plain\r\n\r\n"
				      "inner http://inner.example.org/\r\n");
	o += (size_t)snprintf(b + o, cap - o,
			      "--b\r\nContent-Type: application/pdf; name=\"invoice.pdf.exe\"\r\n"
			      "Content-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < base64_lines; i++)
		o += (size_t)snprintf(
		    b + o, cap - o, "%s\r\n",
		    i == 0 ? "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			   : "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB");
	o += (size_t)snprintf(b + o, cap - o, "--b--\r\n");
	*len_r = o;
	return b;
}

/* A scan of body's first len bytes (CONTENT_TEST_CTYPE), in chunks of
 * chunk bytes; finished into out unless out is NULL. */
static inline struct content_scan *content_scan_chunks(struct arena *a,
						       const struct content_limits *l,
						       const char *body, size_t len, size_t chunk,
						       struct content_facts *out)
{
	struct content_scan *c = content_scan_new(a, l);

	content_scan_header(c, "MIME-Version", " 1.0");
	content_scan_header(c, "Content-Type", CONTENT_TEST_CTYPE);
	for (size_t o = 0; o < len; o += chunk)
		content_scan_body(c, (const unsigned char *)body + o,
				  len - o < chunk ? len - o : chunk);
	if (out != NULL)
		content_scan_finish(c, out);
	return c;
}

#endif

/*
 * content_facts.h - what the tests of the content check (checks/content*.c
 * and its fuzz target) share: whether two scans of one message gave the
 * same facts (in memory or spilled, through GMime's parser or not), and
 * how many descriptors the process has open.
 */
#ifndef AUTHSCORE_TESTS_CONTENT_FACTS_H
#define AUTHSCORE_TESTS_CONTENT_FACTS_H

#include <dirent.h>
#include <string.h>

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

#endif

/*
 * html_oracle - checks/content_html.c's HTML reduction held to an HTML5
 * parser (gumbo, the WHATWG tokenizer and tree builder), for the tests
 * only: gumbo costs about 1.5 ms a newsletter, far too much for the
 * daemon.  The property held is the one an attacker attacks: every link a
 * browser (a mail client) would see, content_html_reduce() sees too.
 *
 *   html_oracle_compare()  one HTML part: made valid UTF-8 as content.c
 *                          does before reducing it, then parsed by both;
 *                          the links of gumbo's tree (the elements and
 *                          attributes content_html.c reads) go through
 *                          content_urls_add() like ours, and each of those
 *                          normalised URLs must be one of ours (ours may
 *                          have more: bare links in text, links gumbo's
 *                          tree builder drops).  With text, also every
 *                          word (run of ASCII letters and digits) of
 *                          gumbo's visible text must be in our text.
 *
 * Everything it returns lives in the arena.  Call content_init() first.
 * Not thread-safe (gumbo is, the caller's arena is not).
 */
#ifndef AUTHSCORE_HTML_ORACLE_H
#define AUTHSCORE_HTML_ORACLE_H

#include <stddef.h>

#include "arena.h"

#define HTML_ORACLE_MAX_URLS 4096 /* each side's bound; over it nothing is compared */

struct html_oracle_result {
	int compared;		  /* 0: a bound was reached (URLs, text, depth) */
	size_t gumbo_urls;	  /* distinct normalised URLs gumbo's tree holds */
	size_t our_urls;	  /* and content_html_reduce() found */
	const char *missing_url;  /* the first of gumbo's that ours lacks, or NULL */
	size_t missing_count;	  /* how many of gumbo's ours lacks */
	const char *missing_word; /* with text: the first visible word ours lacks */
};

/* 0: ours holds to gumbo (or nothing was compared); 1: a violation,
 * described in *r. */
int html_oracle_compare(struct arena *a, const char *html, size_t len, int with_text,
			struct html_oracle_result *r);

#endif

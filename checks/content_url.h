/*
 * content_url - links found in a message's text and HTML, normalised, with
 * their host and registrable domain (libidn2, libpsl).  Private to the
 * content module (content.c, content_html.c) and its tests.
 *
 *   content_url_init()       once before threads: loads the public suffix
 *                            list (psl_latest: the newer of libpsl's built-in
 *                            list and Debian's /usr/share/publicsuffix)
 *   content_url_normalise()  one URL: http(s), "//host" or "www." form, to
 *                            "scheme://host[:port]/path" with the host in
 *                            lower-case A-labels, percent-decoded, without
 *                            trailing dots, a numeric IPv4 host (decimal,
 *                            hex, octal, short forms) as a dotted quad and
 *                            an IPv6 one as RFC 5952 text
 *   content_url_domain()     the registrable domain of a host, or NULL
 *   content_url_text_domain() the registrable domain a link's visible text
 *                            names ("www.bank.example", "https://x.y/"), or NULL
 *   content_urls_*()         a per-message collector of distinct URLs,
 *                            bounded by max_urls (the rest counted)
 *
 * Every string returned lives in the arena.  Thread-safe after init.
 */
#ifndef AUTHSCORE_CONTENT_URL_H
#define AUTHSCORE_CONTENT_URL_H

#include <stddef.h>

#include "arena.h"
#include "content_result.h"

#define CONTENT_URL_MAX 2048 /* bytes of a normalised URL; longer paths are cut */

void content_url_init(void);
/* 0 and *url_r, *host_r set; -1: not an http(s) URL or no usable host. */
int content_url_normalise(struct arena *a, const char *raw, size_t len, const char **url_r,
			  const char **host_r);
const char *content_url_domain(struct arena *a, const char *host);
const char *content_url_text_domain(struct arena *a, const char *text, size_t len);

struct content_urls;

struct content_urls *content_urls_new(struct arena *a, unsigned max_urls);
/* A link: its raw target; from_html for href/src/action; text: the
 * link's visible text (NULL: none), for the mismatch check. */
void content_urls_add(struct content_urls *u, const char *raw, size_t len, int from_html,
		      const char *text, size_t text_len);
/* Bare http://, https:// and www. links in plain text. */
void content_urls_scan_text(struct content_urls *u, const char *text, size_t len);
/* urls, hosts, domains, link_text_mismatch and skipped_urls of *out. */
void content_urls_finish(struct content_urls *u, struct content_facts *out);

/* Tests only: 0 makes content_url_normalise take its general path for
 * every host, so a test can hold the fast one to it (default 1). */
void content_url_host_fast(int on);

#endif

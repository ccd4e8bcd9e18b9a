/*
 * content_result - what the content check (MIME walk, decoded text, links)
 * found in one message's body.  Plain data: every string lives in the
 * message's arena, is NUL-terminated and valid UTF-8 (decoded text) or
 * ASCII (normalised URLs, hosts, domains).  GMime and libpsl stay private
 * to the check that fills it.
 *
 * Everything here is bounded by the configuration (decoded text, parts,
 * nesting, URLs); what is over a bound is skipped and counted in the
 * skipped_* fields, never an error for the message.
 */
#ifndef AUTHSCORE_CONTENT_RESULT_H
#define AUTHSCORE_CONTENT_RESULT_H

#include <stddef.h>

/* One MIME leaf part (multipart containers are walked, not listed). */
struct content_part {
	const char *type;     /* declared content type, lower case ("text/html");
				 "text/plain" when none was declared */
	const char *sniffed;  /* type sniffed from the decoded bytes ("application/x-dosexec"),
				 or NULL when unknown or not sniffed */
	const char *charset;  /* declared charset, lower case, or NULL */
	const char *encoding; /* transfer encoding, lower case ("base64"), or NULL for 7bit */
	const char *filename; /* decoded file name (RFC 2231 / 2047), or NULL */
	size_t size;	      /* decoded bytes (counted even when not kept) */
	unsigned depth;	      /* MIME nesting level: 0 for a single-part message */
	unsigned attachment : 1; /* Content-Disposition attachment, or a file name */
	unsigned in_archive : 1; /* a member name listed from inside an archive part */
};

/* One distinct link, after normalisation. */
struct content_url {
	const char *url;	 /* normalised: scheme and host lower case, host in A-labels */
	const char *host;	 /* A-labels, lower case, no trailing dot; an IP literal as text */
	const char *domain;	 /* registrable domain (public suffix list), or NULL for an
				    IP literal or a host that is itself a public suffix */
	const char *text_domain; /* an HTML link whose visible text names a domain: that
				    domain's registrable domain, else NULL */
	unsigned from_html : 1;	 /* found in an href/src, not in text */
	unsigned mismatch : 1;	 /* text_domain names another registrable domain than domain */
};

struct content_facts {
	int scanned; /* 0: the body was not scanned (checks skipped, or content off) */

	/* decoded text of the text/plain and text/html parts (HTML reduced to
	 * its text), UTF-8, parts separated by "\n", the first max-text bytes */
	const char *text;
	size_t text_len;
	/* the body as received (transfer-encoded, undecoded), the first
	 * max-text bytes: the rawbody of the rules */
	const char *raw;
	size_t raw_len;

	const struct content_part *parts; /* leaf parts, in order, the first max-parts */
	size_t part_count;
	const struct content_url *urls; /* distinct URLs, in order found, the first max-urls */
	size_t url_count;
	const char *const *hosts; /* distinct hosts of urls[] */
	size_t host_count;
	const char *const *domains; /* distinct registrable domains of urls[] */
	size_t domain_count;

	unsigned html_only : 1;		 /* text parts are all HTML (no text/plain alternative) */
	unsigned link_text_mismatch : 1; /* some url has mismatch set */
	unsigned double_extension : 1;	 /* an attachment named like "invoice.pdf.exe" */
	unsigned archive_executable : 1; /* an archive lists an executable member */

	/* over the bounds: counted, never an error */
	size_t skipped_parts;	   /* leaf parts past max-parts or below max-depth */
	size_t skipped_urls;	   /* distinct URLs past max-urls */
	size_t skipped_text_bytes; /* decoded text past max-text */
	size_t skipped_body_bytes; /* body past content-max-bytes: not parsed at all */
};

#endif

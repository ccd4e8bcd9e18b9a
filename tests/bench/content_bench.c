/*
 * content_bench - what the body's content scan (checks/content.h) costs a
 * message, beside a baseline in the same run.
 *
 * Two messages, generated the same way every run (a fixed LCG, no clock
 * or randomness): a ~50 KB HTML newsletter as marketing mail is sent
 * (multipart/alternative, a quoted-printable text/plain part and a
 * quoted-printable text/html part with a <style> block, nested tables,
 * inline styles, entities, UTF-8 text, 100 <a> tracking links with long
 * query strings, images from a CDN, an open pixel) and a ~5 KB plain-text
 * mail.  Each is fed as the milter feeds it (every header field, then the
 * body in chunks of at most 65535 bytes, CRLF lines) into a fresh arena:
 *   scan:      content_scan_new/header/body/finish/free
 *   baseline:  the same fields and body only copied into the arena
 * CPU time (CLOCK_PROCESS_CPUTIME_ID) per message, the median of ROUNDS
 * rounds of ITER messages.  The facts of the scan are printed too (counts
 * and a hash of text and URLs) so that a change of behaviour shows.
 * For the newsletter, two more figures on the decoded HTML part, in the
 * same run: our HTML5 tokenizer alone (content_html_reduce with no room
 * for text and no link collector, so neither text nor URL work counts)
 * and libxml2's HTML parser alone, with no SAX handler, which read the
 * HTML before: what the tokenizer took off the scan.
 * Not part of `make check`:
 *   make tests/bench/content_bench && ./tests/bench/content_bench [ITER [ROUNDS]]
 * (-d instead writes the two bodies to stdout).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/HTMLparser.h>

#include "arena.h"
#include "buf.h"
#include "content.h"
#include "content_int.h"

#define CHUNK	   65535 /* libmilter's MILTER_CHUNK_SIZE */
#define ROUNDS_MAX 99

static const struct content_limits limits = {
    /* the configuration's defaults (milter/conf.c) */
    .max_bytes = 2 * 1024 * 1024,
    .max_text = 1024 * 1024,
    .max_parts = 100,
    .max_depth = 20,
    .max_urls = 200,
};

struct msg {
	const char *name;
	struct field {
		const char *name, *value;
	} fields[24];
	size_t field_count;
	struct buf body;
	struct buf html; /* the HTML part, decoded; empty: none */
};

/* ------------------------------------------------------------ generation */

static uint32_t lcg_state = 20261206u;

static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lcg_state >> 8;
}

/* n characters of a base64url token, as trackers put in their links. */
static void token(struct buf *b, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < n; i++)
		buf_append(b, &(char){alphabet[lcg() % 64]}, 1);
}

static const char *const words[] = {
    "winter",  "collection", "offer",	"delivery",  "members",	 "exclusive", "season",
    "jackets", "boots",	     "gift",	"ideas",     "for",	 "the",	      "whole",
    "family",  "with",	     "free",	"returns",   "and",	 "our",	      "new",
    "café",    "naïve",	     "€ 49",	"—",	     "discover", "today",     "limited",
    "stock",   "order",	     "before",	"midnight",  "save",	 "up",	      "to",
    "colours", "sizes",	     "reviews", "customers", "love",	 "it"};

static void sentence(struct buf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? " " : "",
			   words[lcg() % (sizeof(words) / sizeof(words[0]))]);
}

static void track_link(struct buf *b, unsigned article, const char *what)
{
	buf_puts(b, "https://click.e.example-shop.com/ls/click?upn=");
	token(b, 60);
	buf_printf(b,
		   "&utm_source=newsletter&utm_medium=email"
		   "&utm_content=%s-%u",
		   what, article);
}

static const char css[] =
    "body{margin:0;padding:0;-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}\n"
    "table,td{border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt}\n"
    "img{border:0;height:auto;line-height:100%;outline:none;text-decoration:none}\n"
    ".wrapper{width:100%;background-color:#f4f4f4}\n.container{width:600px;margin:0 auto}\n"
    ".btn a{display:inline-block;padding:12px 24px;border-radius:4px;background:#d92b2b;"
    "color:#ffffff!important;font-weight:bold;text-decoration:none}\n"
    "@media only screen and (max-width:620px){.container{width:100%!important}"
    ".stack{display:block!important;width:100%!important}.hide{display:none!important}"
    ".pad{padding:10px!important}h1{font-size:24px!important;line-height:30px!important}}\n"
    "a[x-apple-data-detectors]{color:inherit!important;text-decoration:none!important}\n"
    "#outlook a{padding:0}.ReadMsgBody{width:100%}.ExternalClass{width:100%}\n";

static const char td_style[] =
    "padding:20px 30px;font-family:Helvetica,Arial,sans-serif;font-size:16px;"
    "line-height:24px;color:#333333;text-align:left";

/* One of the 20 articles: 5 <a> links (image, title, text, button,
 * share), its image, a title and three paragraphs with entities. */
static void article(struct buf *h, struct buf *t, unsigned n)
{
	struct buf link;

	buf_init(&link, 1 << 20);
	track_link(&link, n, "article");
	buf_printf(
	    h,
	    "<tr><td class=\"pad\" style=\"%s\">\n"
	    "<a href=\"%s\" target=\"_blank\" style=\"text-decoration:none\">"
	    "<img src=\"https://cdn.example-shop.com/images/2026/12/w49/article-%u-600x300.jpg\""
	    " width=\"540\" height=\"270\" alt=\"Article %u\" style=\"display:block;width:100%%;"
	    "max-width:540px;border:0\"></a>\n",
	    td_style, link.data, n, n);
	buf_printf(h,
		   "<h2 style=\"margin:16px 0 8px;font-size:22px;line-height:28px;color:#111111\">"
		   "<a href=\"%s\" style=\"color:#111111;text-decoration:none\">",
		   link.data);
	sentence(h, 5);
	buf_puts(h, " &amp; more&nbsp;&rsaquo;</a></h2>\n<p style=\"margin:0 0 12px\">");
	buf_puts(t, "\n");
	sentence(t, 5);
	buf_puts(t, "\n\n");
	for (int p = 1; p < 2; p++) {
		sentence(h, 12);
		buf_puts(h, p == 1 ? " &ndash; <b>&euro;&nbsp;29.99</b> &middot; <i>" : ", ");
		sentence(h, 6);
		buf_puts(h, p == 1 ? "</i>. " : ". ");
		sentence(t, 16);
		buf_puts(t, ".\n");
	}
	buf_reset(&link);
	track_link(&link, n, "readmore");
	buf_printf(h, "<a href=\"%s\" style=\"color:#d92b2b\">Read more&nbsp;&raquo;</a></p>\n",
		   link.data);
	buf_printf(t, "Read more: %s\n", link.data);
	buf_reset(&link);
	track_link(&link, n, "button");
	buf_printf(h,
		   "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">"
		   "<tr><td class=\"btn\" style=\"border-radius:4px;background:#d92b2b\">"
		   "<a href=\"%s\" style=\"display:inline-block;padding:12px 24px;color:#ffffff;"
		   "font-weight:bold;text-decoration:none\">Shop now</a></td></tr></table>\n",
		   link.data);
	buf_reset(&link);
	track_link(&link, n, "share");
	buf_printf(h,
		   "<p style=\"font-size:12px;color:#999999\"><a href=\"%s\" "
		   "style=\"color:#999999\">Share this</a></p>\n</td></tr>\n",
		   link.data);
	buf_release(&link);
}

static void footer(struct buf *h, struct buf *t)
{
	static const char *const social[] = {"facebook",  "x",	      "instagram", "youtube",
					     "pinterest", "linkedin", "tiktok"};
	static const char *const foot[] = {"unsubscribe", "preferences", "privacy", "terms",
					   "help",	  "stores",	 "app",	    "view-online"};
	struct buf link;

	buf_init(&link, 1 << 20);
	buf_printf(h, "<tr><td align=\"center\" style=\"%s;font-size:12px\">\n", td_style);
	for (size_t i = 0; i < sizeof(social) / sizeof(social[0]); i++) {
		buf_reset(&link);
		track_link(&link, (unsigned)i, social[i]);
		buf_printf(
		    h,
		    "<a href=\"%s\"><img src=\"https://cdn.example-shop.com/icons/%s-32.png\""
		    " width=\"32\" height=\"32\" alt=\"%s\" style=\"border:0\"></a>&nbsp;",
		    link.data, social[i], social[i]);
	}
	buf_puts(h, "<br>\n");
	buf_puts(t, "\n--\n");
	for (size_t i = 0; i < sizeof(foot) / sizeof(foot[0]); i++) {
		buf_reset(&link);
		track_link(&link, (unsigned)i, foot[i]);
		buf_printf(h, "<a href=\"%s\" style=\"color:#666666\">%s</a> &middot; ", link.data,
			   foot[i]);
		buf_printf(t, "%s: %s\n", foot[i], link.data);
	}
	buf_puts(h, "<br>Example Shop GmbH &middot; Musterstra&szlig;e 1 &middot; 10115 Berlin"
		    " &middot; <a href=\"https://www.example-shop.com/\">www.example-shop.com</a>"
		    "</td></tr>\n");
	buf_release(&link);
}

/* Quoted-printable (RFC 2045 §6.7), CRLF lines of at most 76. */
static void qp(struct buf *out, const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char enc[4];
		size_t w;

		if (c == '\n') {
			buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		if (c == '=' || c >= 0x7f || (c < ' ' && c != '\t') ||
		    ((c == ' ' || c == '\t') && (i + 1 == n || s[i + 1] == '\n')))
			w = (size_t)snprintf(enc, sizeof(enc), "=%02X", c);
		else
			enc[0] = (char)c, enc[1] = '\0', w = 1;
		if (col + w > 75) {
			buf_puts(out, "=\r\n");
			col = 0;
		}
		buf_puts(out, enc);
		col += w;
	}
	buf_puts(out, "\r\n");
}

static void common_fields(struct msg *m, const char *type)
{
	static const struct field fields[] = {
	    {"Received", " from mta-17.e.example-shop.com (mta-17.e.example-shop.com "
			 "[198.51.100.17])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4T2kQ"},
	    {"DKIM-Signature", " v=1; a=rsa-sha256; c=relaxed/relaxed; d=e.example-shop.com;"
			       " s=k1; h=From:To:Subject:Date:Message-ID:MIME-Version; bh=abc=;"
			       " b=def="},
	    {"From", " Example Shop <news@e.example-shop.com>"},
	    {"To", " <reader@example.net>"},
	    {"Subject", " =?UTF-8?Q?Winter_collection_=E2=80=93_up_to_40=25_off?="},
	    {"Date", " Sun, 06 Dec 2026 08:00:00 +0000"},
	    {"Message-ID", " <20261206080000.4T2kQ@e.example-shop.com>"},
	    {"List-Unsubscribe",
	     " <https://e.example-shop.com/u/abc>, <mailto:u@e.example-shop.com>"},
	    {"List-Unsubscribe-Post", " List-Unsubscribe=One-Click"},
	    {"MIME-Version", " 1.0"},
	};

	memcpy(m->fields, fields, sizeof(fields));
	m->field_count = sizeof(fields) / sizeof(fields[0]);
	m->fields[m->field_count++] = (struct field){"Content-Type", type};
}

static void newsletter(struct msg *m)
{
	struct buf h, t;

	m->name = "HTML newsletter";
	buf_init(&h, 1 << 20);
	buf_init(&t, 1 << 20);
	buf_init(&m->body, 1 << 20);
	common_fields(m, " multipart/alternative; boundary=\"----=_Part_4711_1234.1765008000\"");
	buf_printf(
	    &h,
	    "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
	    "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
	    "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head>\n"
	    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
	    "<title>Winter collection</title>\n<style type=\"text/css\">\n%s</style>\n"
	    "<!--[if mso]><style>table{border-collapse:collapse}</style><![endif]-->\n"
	    "</head>\n<body style=\"margin:0;padding:0;background-color:#f4f4f4\">\n"
	    "<div style=\"display:none;max-height:0;overflow:hidden\">Up to 40%% off "
	    "&zwnj;&nbsp;&zwnj;&nbsp;&zwnj;&nbsp;</div>\n"
	    "<table role=\"presentation\" class=\"wrapper\" width=\"100%%\" cellpadding=\"0\""
	    " cellspacing=\"0\" border=\"0\"><tr><td align=\"center\">\n"
	    "<table role=\"presentation\" class=\"container\" width=\"600\" cellpadding=\"0\""
	    " cellspacing=\"0\" border=\"0\" style=\"background:#ffffff\">\n",
	    css);
	for (unsigned n = 0; n < 17; n++)
		article(&h, &t, n);
	footer(&h, &t);
	buf_puts(&h, "</table>\n</td></tr></table>\n<img src=\"https://open.e.example-shop.com/o/");
	token(&h, 120);
	buf_puts(&h,
		 "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">\n</body></html>\n");
	buf_puts(&m->body, "This is a multi-part message in MIME format.\r\n\r\n"
			   "------=_Part_4711_1234.1765008000\r\n"
			   "Content-Type: text/plain; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	qp(&m->body, t.data, t.len);
	buf_puts(&m->body, "------=_Part_4711_1234.1765008000\r\n"
			   "Content-Type: text/html; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	qp(&m->body, h.data, h.len);
	buf_puts(&m->body, "------=_Part_4711_1234.1765008000--\r\n");
	m->html = h;
	buf_init(&h, 16);
	buf_release(&h);
	buf_release(&t);
}

static void plain(struct msg *m)
{
	struct buf t;

	m->name = "plain text";
	buf_init(&t, 1 << 20);
	buf_init(&m->body, 1 << 20);
	common_fields(m, " text/plain; charset=UTF-8; format=flowed");
	m->fields[m->field_count++] = (struct field){"Content-Transfer-Encoding", " 8bit"};
	buf_puts(&t, "Hi Anna,\n\n");
	while (t.len < 4900) {
		sentence(&t, 14);
		buf_puts(&t, ".\n");
		if (lcg() % 9 == 0)
			buf_puts(&t, "\n");
	}
	buf_puts(&t, "The notes are at https://wiki.example.org/team/notes?id=4711 and the\n"
		     "slides on www.example.net/slides.\n\nCheers,\nBen\n");
	for (size_t i = 0; i < t.len; i++)
		if (t.data[i] == '\n')
			buf_puts(&m->body, "\r\n");
		else
			buf_append(&m->body, &(char){t.data[i]}, 1);
	buf_release(&t);
}

/* --------------------------------------------------------------- timing */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void feed_baseline(const struct msg *m)
{
	struct arena *a = arena_new(8192);

	for (size_t i = 0; i < m->field_count; i++) {
		arena_strdup(a, m->fields[i].name);
		arena_strdup(a, m->fields[i].value);
	}
	for (size_t o = 0; o < m->body.len; o += CHUNK) {
		size_t n = m->body.len - o < CHUNK ? m->body.len - o : CHUNK;

		memcpy(arena_alloc(a, n), m->body.data + o, n);
	}
	arena_free(&a);
}

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h;
}

/* One scan; with print, its facts. */
static void feed_scan(const struct msg *m, int print)
{
	struct arena *a = arena_new(8192);
	struct content_scan *c = content_scan_new(a, &limits);
	struct content_facts f;

	for (size_t i = 0; i < m->field_count; i++)
		content_scan_header(c, m->fields[i].name, m->fields[i].value);
	for (size_t o = 0; o < m->body.len; o += CHUNK)
		content_scan_body(c, (const unsigned char *)m->body.data + o,
				  m->body.len - o < CHUNK ? m->body.len - o : CHUNK);
	content_scan_finish(c, &f);
	if (print) {
		uint64_t h = fnv(1469598103934665603u, f.text, f.text_len);

		for (size_t i = 0; i < f.url_count; i++)
			h = fnv(h, f.urls[i].url, strlen(f.urls[i].url));
		printf("  facts: %zu parts, %zu urls, %zu hosts, %zu domains, text %zu bytes, "
		       "mismatch %d, hash %016llx\n",
		       f.part_count, f.url_count, f.host_count, f.domain_count, f.text_len,
		       f.link_text_mismatch, (unsigned long long)h);
	}
	content_scan_free(&c);
	arena_free(&a);
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* libxml2's HTML parser alone: no handler, no tree (what read the HTML
 * before our tokenizer). */
static void parse_html(const struct msg *m)
{
	htmlSAXHandler none;
	htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(m->html.data, (int)m->html.len);

	if (ctxt == NULL)
		return;
	memset(&none, 0, sizeof(none));
	memcpy(ctxt->sax, &none, sizeof(none));
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	htmlParseDocument(ctxt);
	if (ctxt->myDoc != NULL)
		xmlFreeDoc(ctxt->myDoc);
	htmlFreeParserCtxt(ctxt);
}

/* Our tokenizer alone: no text kept (cap 0), no links collected. */
static void tokenize_html(const struct msg *m)
{
	struct content_text t = {.cap = 0};

	content_html_reduce(m->html.data, m->html.len, &t, NULL);
}

static double measure_parse(const struct msg *m, void (*parse)(const struct msg *), long iter,
			    int rounds)
{
	double per[ROUNDS_MAX];

	for (int r = 0; r < rounds; r++) {
		double t0 = cpu_now();

		for (long i = 0; i < iter; i++)
			parse(m);
		per[r] = (cpu_now() - t0) / (double)iter * 1e3;
	}
	qsort(per, (size_t)rounds, sizeof(per[0]), by_value);
	return per[rounds / 2];
}

/* The median over rounds of the CPU time per message, in ms. */
static double measure(const struct msg *m, int scan, long iter, int rounds)
{
	double per[ROUNDS_MAX];

	for (int r = 0; r < rounds; r++) {
		double t0 = cpu_now();

		for (long i = 0; i < iter; i++)
			scan ? feed_scan(m, 0) : feed_baseline(m);
		per[r] = (cpu_now() - t0) / (double)iter * 1e3;
	}
	qsort(per, (size_t)rounds, sizeof(per[0]), by_value);
	return per[rounds / 2];
}

/* A message file (LF or CRLF line ends) as the milter gets it: its
 * unfolded header fields, and its body with CRLF line ends.  For
 * profiling the scan on cost_bench.sh's messages (newsletter.py). */
static void from_file(struct msg *m, const char *path)
{
	static char names[24][64], values[24][4096];
	char line[8192];
	FILE *f = fopen(path, "r");
	int in_body = 0;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	m->name = path;
	buf_init(&m->body, 1 << 20);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (in_body) {
			buf_append(&m->body, line, n);
			buf_puts(&m->body, "\r\n");
		} else if (n == 0)
			in_body = 1;
		else if ((line[0] == ' ' || line[0] == '\t') && m->field_count > 0) {
			char *v = values[m->field_count - 1];

			snprintf(v + strlen(v), sizeof(values[0]) - strlen(v), "\r\n%s", line);
		} else if (strchr(line, ':') != NULL && m->field_count < 24) {
			char *colon = strchr(line, ':');

			*colon = '\0';
			snprintf(names[m->field_count], sizeof(names[0]), "%.63s", line);
			snprintf(values[m->field_count], sizeof(values[0]), "%s", colon + 1);
			m->fields[m->field_count].name = names[m->field_count];
			m->fields[m->field_count].value = values[m->field_count];
			m->field_count++;
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	long iter;
	int rounds;
	struct msg msgs[2];
	static const double budget[] = {0.3, 0.05};
	int only_one = 0;

	memset(msgs, 0, sizeof(msgs));
	newsletter(&msgs[0]);
	plain(&msgs[1]);
	if (argc > 1 && strcmp(argv[1], "-d") == 0) { /* the messages' bodies, to look at */
		fwrite(msgs[0].body.data, 1, msgs[0].body.len, stdout);
		fwrite(msgs[1].body.data, 1, msgs[1].body.len, stdout);
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "-f") == 0) { /* one message file instead */
		buf_release(&msgs[0].body);
		buf_release(&msgs[0].html);
		buf_release(&msgs[1].body);
		memset(msgs, 0, sizeof(msgs));
		from_file(&msgs[0], argv[2]);
		argc -= 2;
		argv += 2;
		only_one = 1;
	}
	iter = argc > 1 ? atol(argv[1]) : 2000;
	rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (iter < 1 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: content_bench [-f MESSAGE] [ITER [ROUNDS <= %d]]\n",
			ROUNDS_MAX);
		return 2;
	}
	content_init();
	printf("content scan: CPU per message, median of %d rounds of %ld\n", rounds, iter);
	for (int k = 0; k < 2 - only_one; k++) {
		const struct msg *m = &msgs[k];
		double base, scan;

		printf("%s: %zu body bytes\n", m->name, m->body.len);
		feed_scan(m, 1);
		feed_scan(m, 0); /* warm */
		base = measure(m, 0, iter, rounds);
		scan = measure(m, 1, iter, rounds);
		printf("  baseline (body copied to the arena): %.4f ms/message\n", base);
		printf("  content scan: %.4f ms/message\n", scan);
		if (m->html.len > 0) {
			printf("  of it, our HTML5 tokenizer alone on the %zu-byte HTML part: "
			       "%.4f ms/message\n",
			       m->html.len, measure_parse(m, tokenize_html, iter, rounds));
			printf("  libxml2's HTML parser alone on it, for comparison: %.4f "
			       "ms/message\n",
			       measure_parse(m, parse_html, iter, rounds));
		}
		printf("content.%s: added %.4f ms/message (budget %.2f): %s\n",
		       k == 0 ? "html" : "plain", scan - base, budget[k],
		       scan - base <= budget[k] ? "met" : "NOT met");
	}
	buf_release(&msgs[0].body);
	buf_release(&msgs[0].html);
	buf_release(&msgs[1].body);
	return 0;
}

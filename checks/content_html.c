/*
 * content_html - an HTML part reduced to its text and its links (see
 * content_int.h).  libxml2's HTML parser reads it (entities decoded,
 * broken markup recovered, no network, no error output, the part's
 * charset already UTF-8 and a <meta> charset ignored) and hands us its
 * SAX events: no tree is built, so neither its memory nor any depth of
 * nesting costs anything.  Script, style and head contents are not text;
 * block elements end a line; runs of white space are one blank, as a
 * browser shows them; an <a>'s visible text goes with its href.
 *
 * Cost: libxml2 2.9's HTML parser reads about 100 MB/s (a character at a
 * time), so on a newsletter it is most of the whole scan (0.4 ms of a
 * 41 KB part here, with empty handlers); each unescaped "&" in a link
 * ("?a=1&utm_source=...") is also an entity error it formats and keeps,
 * however quiet.  No option makes it cheaper (the encoding is already
 * named UTF-8; NOBLANKS would drop the blanks between elements that the
 * text needs).  What is ours is kept small: a lookup per element, no
 * allocation per text event.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>

#include "content_int.h"

#define LINK_TEXT_MAX 512 /* of an <a>'s visible text kept for the mismatch check */

/* The elements that matter, sorted by name (libxml2's HTML parser gives
 * names in lower case): block elements end a line, hidden ones hold no
 * text, and some name a link in an attribute. */
enum { BLOCK = 1, HIDDEN = 2 };
static const struct element {
	const char *name;
	unsigned flags;
	const char *link; /* the attribute that holds a link, or NULL */
} elements[] = {
    {"a", 0, "href"},
    {"address", BLOCK, NULL},
    {"area", 0, "href"},
    {"article", BLOCK, NULL},
    {"blockquote", BLOCK, NULL},
    {"body", 0, "background"},
    {"br", BLOCK, NULL},
    {"dd", BLOCK, NULL},
    {"div", BLOCK, NULL},
    {"dl", BLOCK, NULL},
    {"dt", BLOCK, NULL},
    {"embed", 0, "src"},
    {"footer", BLOCK, NULL},
    {"form", 0, "action"},
    {"frame", 0, "src"},
    {"h1", BLOCK, NULL},
    {"h2", BLOCK, NULL},
    {"h3", BLOCK, NULL},
    {"h4", BLOCK, NULL},
    {"h5", BLOCK, NULL},
    {"h6", BLOCK, NULL},
    {"head", HIDDEN, NULL},
    {"header", BLOCK, NULL},
    {"hr", BLOCK, NULL},
    {"iframe", 0, "src"},
    {"img", 0, "src"},
    {"input", 0, "src"},
    {"li", BLOCK, NULL},
    {"link", 0, "href"},
    {"noscript", HIDDEN, NULL},
    {"ol", BLOCK, NULL},
    {"p", BLOCK, NULL},
    {"pre", BLOCK, NULL},
    {"script", HIDDEN, "src"},
    {"section", BLOCK, NULL},
    {"source", 0, "src"},
    {"style", HIDDEN, NULL},
    {"table", BLOCK, "background"},
    {"td", BLOCK, "background"},
    {"th", BLOCK, NULL},
    {"title", BLOCK, NULL},
    {"tr", BLOCK, NULL},
    {"ul", BLOCK, NULL},
};

static int element_order(const void *key, const void *e)
{
	return strcmp(key, ((const struct element *)e)->name);
}

static const struct element *element_of(const xmlChar *name)
{
	return bsearch(name, elements, sizeof(elements) / sizeof(elements[0]), sizeof(elements[0]),
		       element_order);
}

struct html_walk {
	struct content_text *t;
	struct content_urls *u;
	unsigned hidden;	       /* inside so many script, style, head... */
	char *href;		       /* of the <a> open, or NULL; malloc'd */
	char link_text[LINK_TEXT_MAX]; /* its visible text so far */
	size_t link_len;
};

static void line_end(struct content_text *t)
{
	if (t->len > 0 && t->data[t->len - 1] != '\n')
		content_text_append(t, "\n", 1);
}

static void link_close(struct html_walk *w)
{
	if (w->href == NULL)
		return;
	content_urls_add(w->u, w->href, strlen(w->href), 1, w->link_text, w->link_len);
	free(w->href);
	w->href = NULL;
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	struct html_walk *w = ctx;
	const struct element *e = element_of(name);

	if (e == NULL)
		return;
	for (size_t i = 0; e->link != NULL && atts != NULL && atts[i] != NULL; i += 2) {
		const char *v = (const char *)atts[i + 1];

		if (v == NULL || strcmp((const char *)atts[i], e->link) != 0)
			continue;
		if (strcmp(e->name, "a") == 0) {
			link_close(w); /* an <a> inside an <a> ends the first */
			w->href = strdup(v);
			w->link_len = 0;
		} else
			content_urls_add(w->u, v, strlen(v), 1, NULL, 0);
		break;
	}
	if (e->flags & BLOCK)
		line_end(w->t);
	if (e->flags & HIDDEN)
		w->hidden++;
}

static void on_end(void *ctx, const xmlChar *name)
{
	struct html_walk *w = ctx;
	const struct element *e = element_of(name);

	if (e == NULL)
		return;
	if ((e->flags & HIDDEN) && w->hidden > 0)
		w->hidden--;
	if (e->flags & BLOCK)
		line_end(w->t);
	if (strcmp(e->name, "a") == 0)
		link_close(w);
}

/* Text with runs of white space as one blank (and none at a line's start). */
static void on_text(void *ctx, const xmlChar *s, int n)
{
	struct html_walk *w = ctx;
	struct content_text *t = w->t;
	const char *p = (const char *)s, *end = p + (n > 0 ? n : 0);

	if (w->hidden > 0)
		return;
	if (w->href != NULL)
		for (const char *q = p; q < end && w->link_len + 1 < sizeof(w->link_text); q++)
			w->link_text[w->link_len++] = *q;
	while (p < end) {
		const char *run = p;

		while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\f')
			p++;
		if (p > run)
			content_text_append(t, run, (size_t)(p - run));
		if (p == end)
			break;
		while (p < end &&
		       (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f'))
			p++;
		if (t->len > 0 && t->data[t->len - 1] != '\n' && t->data[t->len - 1] != ' ')
			content_text_append(t, " ", 1);
	}
}

static void quiet(void *ctx, const xmlError *error)
{
	(void)ctx;
	(void)error;
}

void content_html_reduce(const char *html, size_t len, struct content_text *t,
			 struct content_urls *u)
{
	struct html_walk w = {.t = t, .u = u};
	size_t start = t->len;
	htmlParserCtxtPtr ctxt;

	if (len == 0)
		return;
	if (len > (size_t)0x7fffffff)
		len = 0x7fffffff;
	if ((ctxt = htmlCreateMemoryParserCtxt(html, (int)len)) == NULL)
		return;
	memset(ctxt->sax, 0, sizeof(*ctxt->sax));
	ctxt->sax->initialized = XML_SAX2_MAGIC; /* so that serror is used */
	ctxt->sax->startElement = on_start;
	ctxt->sax->endElement = on_end;
	ctxt->sax->characters = on_text;
	ctxt->sax->ignorableWhitespace = on_text;
	ctxt->sax->cdataBlock = on_text; /* script and style bodies: hidden anyway */
	ctxt->sax->serror = (xmlStructuredErrorFunc)quiet;
	ctxt->userData = &w;
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
				     HTML_PARSE_RECOVER | HTML_PARSE_NOIMPLIED |
				     HTML_PARSE_IGNORE_ENC);
	xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
	htmlParseDocument(ctxt);
	link_close(&w);
	if (ctxt->myDoc != NULL)
		xmlFreeDoc(ctxt->myDoc);
	htmlFreeParserCtxt(ctxt);
	if (t->len > start)
		content_urls_scan_text(u, t->data + start, t->len - start);
}

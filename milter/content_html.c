/*
 * content_html - an HTML part reduced to its text and its links (see
 * content_int.h).  libxml2's HTML parser builds the tree (entities
 * decoded, broken markup recovered, no network, no error output); the walk
 * over it is iterative, so no depth of nesting costs stack.  Script and
 * style contents are not text; block elements end a line; runs of white
 * space are one blank, as a browser shows them.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "content_int.h"

#define LINK_TEXT_MAX 512 /* of an <a>'s visible text kept for the mismatch check */

/* Attributes that name a link, per element. */
static const struct {
	const char *element, *attribute;
} link_attrs[] = {
    {"a", "href"},	     {"area", "href"},	   {"link", "href"}, {"img", "src"},
    {"iframe", "src"},	     {"frame", "src"},	   {"embed", "src"}, {"source", "src"},
    {"script", "src"},	     {"form", "action"},   {"input", "src"}, {"body", "background"},
    {"table", "background"}, {"td", "background"},
};

static const char *const block_elements[] = {
    "address", "article", "blockquote", "br", "div", "dl",     "dt",	"dd", "footer", "h1",
    "h2",      "h3",	  "h4",		"h5", "h6",  "header", "hr",	"li", "ol",	"p",
    "pre",     "section", "table",	"tr", "td",  "th",     "title", "ul",
};

static int is_block(const char *name)
{
	for (size_t i = 0; i < sizeof(block_elements) / sizeof(block_elements[0]); i++)
		if (strcasecmp(name, block_elements[i]) == 0)
			return 1;
	return 0;
}

static int is_hidden(const char *name)
{
	return strcasecmp(name, "script") == 0 || strcasecmp(name, "style") == 0 ||
	       strcasecmp(name, "head") == 0 || strcasecmp(name, "noscript") == 0;
}

/* The visible text under an element, blanks collapsed, at most size-1 bytes. */
static size_t visible_text(xmlNode *top, char *out, size_t size)
{
	size_t o = 0;
	xmlNode *n = top->children;

	while (n != NULL && n != top && o + 1 < size) {
		if (n->type == XML_TEXT_NODE && n->content != NULL) {
			for (const xmlChar *p = n->content; *p != '\0' && o + 1 < size; p++)
				out[o++] = (char)*p;
		}
		if (n->type == XML_ELEMENT_NODE && n->children != NULL &&
		    !is_hidden((const char *)n->name)) {
			n = n->children;
			continue;
		}
		while (n != top && n->next == NULL)
			n = n->parent;
		if (n != top)
			n = n->next;
	}
	out[o] = '\0';
	return o;
}

static void element_links(xmlNode *n, struct content_urls *u)
{
	for (size_t i = 0; i < sizeof(link_attrs) / sizeof(link_attrs[0]); i++) {
		xmlChar *v;

		if (strcasecmp((const char *)n->name, link_attrs[i].element) != 0)
			continue;
		v = xmlGetProp(n, (const xmlChar *)link_attrs[i].attribute);
		if (v == NULL)
			continue;
		if (strcmp(link_attrs[i].element, "a") == 0) {
			char text[LINK_TEXT_MAX];
			size_t len = visible_text(n, text, sizeof(text));

			content_urls_add(u, (const char *)v, strlen((const char *)v), 1, text, len);
		} else
			content_urls_add(u, (const char *)v, strlen((const char *)v), 1, NULL, 0);
		xmlFree(v);
	}
}

/* Text with runs of white space as one blank (and none at a line's start). */
static void text_append(struct content_text *t, const xmlChar *s)
{
	const char *p = (const char *)s;

	while (*p != '\0') {
		size_t run = strcspn(p, " \t\r\n\f");

		if (run > 0) {
			content_text_append(t, p, run);
			p += run;
		}
		if (*p != '\0') {
			p += strspn(p, " \t\r\n\f");
			if (t->len > 0 && t->data[t->len - 1] != '\n' && t->data[t->len - 1] != ' ')
				content_text_append(t, " ", 1);
		}
	}
}

static void line_end(struct content_text *t)
{
	if (t->len > 0 && t->data[t->len - 1] != '\n')
		content_text_append(t, "\n", 1);
}

void content_html_reduce(const char *html, size_t len, struct content_text *t,
			 struct content_urls *u)
{
	size_t start = t->len;
	xmlDoc *doc;
	xmlNode *n;

	if (len > (size_t)0x7fffffff)
		len = 0x7fffffff;
	doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
			     HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
				 HTML_PARSE_RECOVER | HTML_PARSE_NOIMPLIED);
	if (doc == NULL)
		return;
	n = doc->children;
	while (n != NULL) {
		int descend = 0;

		if (n->type == XML_ELEMENT_NODE) {
			element_links(n, u);
			if (is_block((const char *)n->name))
				line_end(t);
			descend = !is_hidden((const char *)n->name);
		} else if (n->type == XML_TEXT_NODE && n->content != NULL)
			text_append(t, n->content);
		if (descend && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != NULL && n->next == NULL) {
			n = n->parent;
			if (n != NULL && n->type == XML_ELEMENT_NODE &&
			    is_block((const char *)n->name))
				line_end(t);
		}
		if (n != NULL)
			n = n->next;
	}
	xmlFreeDoc(doc);
	if (t->len > start)
		content_urls_scan_text(u, t->data + start, t->len - start);
}

/*
 * html_oracle - content_html_reduce() against gumbo's HTML5 parse (see
 * html_oracle.h).  Gumbo's tree is walked once: each element of the link
 * table below gives its attribute to a content_urls of its own (an <a>
 * with its visible text, as ours), and each visible text node's words are
 * looked for in our text.  The link table is content_html.c's: a link it
 * does not read is not one this oracle asks for either.
 *
 * What "visible" means here: text outside script, style, head, title,
 * noscript (content_html.c hides these: a mail client runs no script, but
 * the text check is a loose one), the raw text of iframe, noembed and
 * noframes (never rendered) and template contents (never rendered; their
 * links neither).  Words are substrings of our text, not whole words: an
 * inline element between two text nodes ("a<b>c</b>") joins them in ours.
 * Tags gumbo's tree builder ignores or moves ("t<td>E", text after
 * <noscript> in the head) still make it fail: the fuzz target leaves the
 * text out unless asked.
 *
 * Gumbo 0.10.1 is the 2015 standard, and a fuzzer finds where it differs
 * from today's browsers, not from us: "</p>" or "</br>" in <svg> does not
 * end the SVG, and an end tag of an unknown name ("</a<>") closes any
 * unknown element, so a later CDATA section or <title> it reads as markup
 * is one a browser reads as text.  Such a finding is gumbo's, not ours.
 * And a CDATA section in foreign content in a table fails one of its
 * assertions ("<table><math><mi><![CDATA[x]]>", parser.c handle_in_table):
 * a part with both is not compared, nor one with a numeric reference of
 * more digits than its int holds (it wraps around where HTML says
 * U+FFFD).
 */
#include "config.h"

#include <gumbo.h>
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content_int.h"
#include "content_result.h"
#include "content_url.h"
#include "html_oracle.h"
#include "json.h"

#define TEXT_CAP	(4u << 20) /* of our text; over it the text is not compared */
#define ANCHOR_TEXT_MAX 512	   /* of an <a>'s text, as content_html.c keeps */
#define DEPTH_MAX	20000	   /* of gumbo's tree walked (the walk recurses) */
#define WORD_MAX	256	   /* of a word looked for; a longer one by its start */

/* content_html.c's element table: the elements that hold a link, and where. */
static const struct link {
	GumboTag tag;
	const char *attr;
} links[] = {
    {GUMBO_TAG_A, "href"},	     {GUMBO_TAG_AREA, "href"},	   {GUMBO_TAG_BODY, "background"},
    {GUMBO_TAG_EMBED, "src"},	     {GUMBO_TAG_FORM, "action"},   {GUMBO_TAG_FRAME, "src"},
    {GUMBO_TAG_IFRAME, "src"},	     {GUMBO_TAG_IMG, "src"},	   {GUMBO_TAG_INPUT, "src"},
    {GUMBO_TAG_LINK, "href"},	     {GUMBO_TAG_SCRIPT, "src"},	   {GUMBO_TAG_SOURCE, "src"},
    {GUMBO_TAG_TABLE, "background"}, {GUMBO_TAG_TD, "background"},
};

/* The elements whose text is not compared (see above). */
static const GumboTag hidden_tags[] = {
    GUMBO_TAG_SCRIPT,	GUMBO_TAG_STYLE,  GUMBO_TAG_HEAD,    GUMBO_TAG_TITLE,
    GUMBO_TAG_NOSCRIPT, GUMBO_TAG_IFRAME, GUMBO_TAG_NOEMBED, GUMBO_TAG_NOFRAMES,
};

struct oracle_walk {
	struct content_urls *u; /* gumbo's links */
	const char *ours;	/* our text (NUL-terminated), or NULL: not compared */
	struct arena *a;
	const char *missing_word;
	int too_deep;
};

/* A character gumbo reads as U+FFFD (its utf8.c): C0 and C1 controls but
 * the blanks, and the noncharacters.  A browser keeps them (in a URL they
 * are percent-encoded), libxml2 drops them: a link differs three ways but
 * is not hidden, so both parsers are given U+FFFD instead. */
static int gumbo_replaces(const unsigned char *s, size_t len)
{
	uint32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);

	for (size_t i = 1; i < len; i++)
		c = c << 6 | (s[i] & 0x3f);
	if (c < 0x20)
		return c != '\t' && c != '\n' && c != '\f' && c != '\r' && c != '\0';
	return (c >= 0x7f && c <= 0x9f) || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
}

/* html as content.c hands it to content_html_reduce(): valid UTF-8 (a
 * byte that is not part of a character becomes U+FFFD), a NUL a blank,
 * CRLF one "\n"; and what gumbo replaces, replaced.  malloc'd,
 * NUL-terminated. */
static char *utf8_cleaned(const char *s, size_t n, size_t *len_r)
{
	char *out = malloc(3 * n + 1);
	size_t o = 0;

	if (out == NULL)
		abort();
	for (size_t i = 0, len; i < n; i += len) {
		const unsigned char *c = (const unsigned char *)s + i;

		if ((len = json_utf8_len(c, n - i)) == 0 || gumbo_replaces(c, len)) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			len = len == 0 ? 1 : len;
		} else if (s[i] == '\0')
			out[o++] = ' ';
		else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		else {
			memcpy(out + o, s + i, len);
			o += len;
		}
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* The input may make gumbo 0.10.1 abort (see above). */
static int gumbo_aborts(const char *html)
{
	return strstr(html, "<![CDATA[") != NULL &&
	       (strcasestr(html, "<table") != NULL || strcasestr(html, "<template") != NULL);
}

/* A numeric reference of more digits than gumbo 0.10.1's int holds (its
 * tokenizer.c consume_numeric_ref): "&#11143333333333333333311" wraps
 * around to some character where the standard says U+FFFD. */
static int gumbo_overflows(const char *html)
{
	for (const char *p = html; (p = strstr(p, "&#")) != NULL;) {
		int hex = p[2] == 'x' || p[2] == 'X';
		size_t n = 0;

		for (p += 2 + hex; *p == '0'; p++)
			;
		while (hex ? g_ascii_isxdigit(*p) : g_ascii_isdigit(*p))
			p++, n++;
		if (n > (hex ? 7u : 9u))
			return 1;
	}
	return 0;
}

static const char *link_attr(GumboTag tag)
{
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i].tag == tag)
			return links[i].attr;
	return NULL;
}

static int text_hidden(GumboTag tag)
{
	for (size_t i = 0; i < sizeof(hidden_tags) / sizeof(hidden_tags[0]); i++)
		if (hidden_tags[i] == tag)
			return 1;
	return 0;
}

/* An element's text, its descendants' in order, at most size - 1 bytes. */
static void element_text(const GumboNode *n, char *buf, size_t *len, size_t size, unsigned depth)
{
	const GumboVector *c;

	if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE) {
		for (const char *s = n->v.text.text; *s != '\0' && *len + 1 < size; s++)
			buf[(*len)++] = *s;
		return;
	}
	if (n->type != GUMBO_NODE_ELEMENT || depth > DEPTH_MAX)
		return;
	c = &n->v.element.children;
	for (unsigned i = 0; i < c->length; i++)
		element_text(c->data[i], buf, len, size, depth + 1);
}

static void element_link(struct oracle_walk *w, const GumboNode *n, unsigned depth)
{
	const char *name = link_attr(n->v.element.tag);
	const GumboAttribute *at;
	char text[ANCHOR_TEXT_MAX];
	size_t text_len = 0;

	if (name == NULL || (at = gumbo_get_attribute(&n->v.element.attributes, name)) == NULL)
		return;
	if (n->v.element.tag != GUMBO_TAG_A) {
		content_urls_add(w->u, at->value, strlen(at->value), 1, NULL, 0);
		return;
	}
	element_text(n, text, &text_len, sizeof(text), depth);
	content_urls_add(w->u, at->value, strlen(at->value), 1, text, text_len);
}

/* Each run of ASCII letters and digits of s is somewhere in our text. */
static void words_check(struct oracle_walk *w, const char *s)
{
	char word[WORD_MAX];

	while (w->missing_word == NULL && *s != '\0') {
		size_t n = 0;

		for (; *s != '\0' && !g_ascii_isalnum(*s); s++)
			;
		for (; g_ascii_isalnum(*s); s++)
			if (n + 1 < sizeof(word))
				word[n++] = *s;
		word[n] = '\0';
		if (n > 0 && strstr(w->ours, word) == NULL)
			w->missing_word = arena_strdup(w->a, word);
	}
}

static void walk(struct oracle_walk *w, const GumboNode *n, int hidden, unsigned depth)
{
	const GumboVector *c;

	if (depth > DEPTH_MAX) {
		w->too_deep = 1;
		return;
	}
	switch (n->type) {
	case GUMBO_NODE_TEXT:
	case GUMBO_NODE_WHITESPACE:
		if (!hidden && w->ours != NULL)
			words_check(w, n->v.text.text);
		return;
	case GUMBO_NODE_DOCUMENT:
		c = &n->v.document.children;
		break;
	case GUMBO_NODE_ELEMENT:
		element_link(w, n, depth);
		hidden |= text_hidden(n->v.element.tag);
		c = &n->v.element.children;
		break;
	default: /* comments, CDATA, a template's contents: nothing shown */
		return;
	}
	for (unsigned i = 0; i < c->length; i++)
		walk(w, c->data[i], hidden, depth + 1);
}

static int url_order(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Gumbo's URLs that ours lacks: the first in r->missing_url. */
static void urls_compare(struct arena *a, const struct content_facts *ours,
			 const struct content_facts *theirs, struct html_oracle_result *r)
{
	const char **sorted = arena_alloc(a, (ours->url_count + 1) * sizeof(*sorted));

	for (size_t i = 0; i < ours->url_count; i++)
		sorted[i] = ours->urls[i].url;
	qsort(sorted, ours->url_count, sizeof(*sorted), url_order);
	for (size_t i = 0; i < theirs->url_count; i++) {
		const char *url = theirs->urls[i].url;

		if (bsearch(&url, sorted, ours->url_count, sizeof(*sorted), url_order) != NULL)
			continue;
		if (r->missing_url == NULL)
			r->missing_url = url;
		r->missing_count++;
	}
}

/* Gumbo's side: its links into *theirs, its words looked for in ours. */
static void gumbo_side(struct oracle_walk *w, const char *html, size_t len,
		       struct content_facts *theirs)
{
	GumboOutput *out = gumbo_parse_with_options(&kGumboDefaultOptions, html, len);

	walk(w, out->document, 0, 0);
	gumbo_destroy_output(&kGumboDefaultOptions, out);
	content_urls_finish(w->u, theirs);
}

int html_oracle_compare(struct arena *a, const char *html, size_t len, int with_text,
			struct html_oracle_result *r)
{
	struct content_text t = {.cap = TEXT_CAP};
	struct content_urls *u = content_urls_new(a, HTML_ORACLE_MAX_URLS);
	struct oracle_walk w = {.u = content_urls_new(a, HTML_ORACLE_MAX_URLS), .a = a};
	struct content_facts ours = {0}, theirs = {0};
	size_t clean_len;
	char *clean = utf8_cleaned(html, len, &clean_len);

	memset(r, 0, sizeof(*r));
	content_html_reduce(clean, clean_len, &t, u);
	content_urls_finish(u, &ours);
	if (with_text && t.skipped == 0)
		w.ours = t.data != NULL ? t.data : "";
	if (!gumbo_aborts(clean) && !gumbo_overflows(clean)) {
		gumbo_side(&w, clean, clean_len, &theirs);
		r->compared = ours.skipped_urls == 0 && theirs.skipped_urls == 0 && !w.too_deep;
	}
	free(clean);
	r->gumbo_urls = theirs.url_count;
	r->our_urls = ours.url_count;
	if (r->compared) {
		urls_compare(a, &ours, &theirs, r);
		r->missing_word = w.ours != NULL ? w.missing_word : NULL;
	}
	g_free(t.data);
	return r->missing_url != NULL || r->missing_word != NULL;
}

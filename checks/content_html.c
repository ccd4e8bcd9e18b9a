/*
 * content_html - an HTML part (UTF-8) reduced to its text and its links
 * (see content_int.h), by our own tokenizer after the HTML Living
 * Standard, 13.2.5 "Tokenization".  Script, style, title and head
 * contents are not text; block elements end a line; runs of white space
 * are one blank, as a browser shows them; an <a>'s visible text goes with
 * its href.
 *
 * Why our own: mail clients (webmail, Thunderbird, Apple Mail) tokenize as
 * WHATWG HTML says, and libxml2 2.9, which read it before, does not; each
 * difference hides a link from the uri/uribl rules.  Examples: "<!-->" is
 * an empty comment, so a link after it is live; "--!>" ends a comment;
 * "<a/href=...>" is an <a> with an href; "&period;" and "&sol;" are two of
 * the 2231 named references (libxml2 knows HTML 4's 253).  Tree
 * construction is not ours to copy: only what decides the tokenizer's
 * state (the element whose end tag ends RCDATA, RAWTEXT and script data; a
 * depth of open <svg>/<math>, where CDATA sections are text and style is
 * markup, ended by the elements that break out of it and left for HTML
 * inside SVG's foreignObject, desc and title and MathML's text elements,
 * whose own content, before any HTML element opens in it, still takes
 * CDATA sections) and what hides text (head until the body begins,
 * template).  The stack of open elements is a count, so where a browser's
 * tree differs from it (an end tag a browser ignores, an element it
 * closes by itself) this may differ too: the HTML oracle test
 * (tests/html_oracle.c, against gumbo) holds it to every link a browser
 * sees on its corpus and under fuzzing.  Where a browser's tokenizer could
 * be in another state than this one, it reads markup where this reads raw
 * content (the opposite only shows more here), so the raw content
 * (RCDATA, RAWTEXT, script data, PLAINTEXT, CDATA) is read a second time
 * as markup for its links alone (links_in): none of its links is hidden
 * whatever the browser's tree builder did.  One such case, which the
 * element count cannot place: in SVG or MathML, the end tag of an HTML
 * element open outside it ("<a><math><y></a>") takes a browser out of
 * foreign content, and a "<![CDATA[" after it is markup there, CDATA here;
 * telling it from an end tag a browser ignores ("<math></div>" with no div
 * open) would take a stack of open element names.
 *
 * Cost: linear in the input (raw content read again at most REREAD_MAX
 * times, a recursion that deep), no allocation per token (one
 * lazily for the decoded link values, at most 2 * VALUE_MAX): text and
 * attribute values are found with memchr, a value is copied only when it
 * is the element's link attribute and holds '&' or NUL.  About 0.05 ms
 * for a 41 kB newsletter, where libxml2 took 0.42 (tests/bench).
 * Thread-safe: all state is the call's.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content_int.h"
#include "html_entities.h"

#define LINK_TEXT_MAX 512   /* of an <a>'s visible text kept for the mismatch check */
#define VALUE_MAX     16384 /* bytes of a decoded link attribute kept */
#define NAME_KEEP     16    /* bytes of a tag or attribute name kept, with its NUL */
#define REREAD_MAX    3	    /* readings of raw content as markup inside one another */

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* The tokenizer's text states (13.2.5.1-5); the script data escapes are
 * script_data()'s own. */
enum mode { DATA, RCDATA, RAWTEXT, SCRIPT, PLAINTEXT };

/* The elements that matter, sorted by name: block elements end a line,
 * hidden ones hold no text, head may hold those marked HEAD_OK (any other
 * start tag begins the body), FOREIGN ones open SVG or MathML content,
 * BREAKOUT ones end it (13.2.6.5; <font> with color, face or size too)
 * and in it the integration points hold HTML again (13.2.6: SVG_POINT,
 * foreignObject, desc and title in SVG; MATH_POINT, MathML's text
 * elements); VOID ones hold nothing; some name a link in an
 * attribute and some switch the tokenizer to another text state, its text
 * shown or not.  Names are as the tokenizer gives them: lower case. */
enum { BLOCK = 1, HIDDEN = 2, HEAD_OK = 4, FOREIGN = 8, BREAKOUT = 16, SVG_POINT = 32 };
/* and the few looked at by name, so that no tag costs a strcmp */
enum { ANCHOR = 64, FONT = 128, P_OR_BR = 256, HEAD = 512 };
/* MathML's integration points; void elements (nothing opens); <math> */
enum { MATH_POINT = 1024, VOID = 2048, MATH = 4096 };
/* <select>; the start tags that close one (13.2.6.4.16) */
enum { SELECT = 8192, SELECT_END = 16384 };
static const struct element {
	const char *name;
	unsigned flags;
	const char *link;   /* the attribute that holds a link, or NULL */
	unsigned char mode; /* the text state its start tag switches to */
	unsigned char shown;
} elements[] = {
    {"a", ANCHOR, "href", DATA, 0},
    {"address", BLOCK, NULL, DATA, 0},
    {"area", VOID, "href", DATA, 0},
    {"article", BLOCK, NULL, DATA, 0},
    {"b", BREAKOUT, NULL, DATA, 0},
    {"base", HEAD_OK | VOID, NULL, DATA, 0},
    {"basefont", HEAD_OK | VOID, NULL, DATA, 0},
    {"bgsound", HEAD_OK | VOID, NULL, DATA, 0},
    {"big", BREAKOUT, NULL, DATA, 0},
    {"blockquote", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"body", BREAKOUT, "background", DATA, 0},
    {"br", BLOCK | BREAKOUT | P_OR_BR | VOID, NULL, DATA, 0},
    {"center", BREAKOUT, NULL, DATA, 0},
    {"code", BREAKOUT, NULL, DATA, 0},
    {"dd", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"desc", SVG_POINT, NULL, DATA, 0},
    {"div", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"dl", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"dt", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"em", BREAKOUT, NULL, DATA, 0},
    {"embed", BREAKOUT | VOID, "src", DATA, 0},
    {"font", FONT, NULL, DATA, 0},
    {"footer", BLOCK, NULL, DATA, 0},
    {"foreignobject", SVG_POINT, NULL, DATA, 0},
    {"form", 0, "action", DATA, 0},
    {"frame", 0, "src", DATA, 0},
    {"h1", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"h2", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"h3", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"h4", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"h5", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"h6", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"head", HEAD_OK | BREAKOUT | HEAD, NULL, DATA, 0},
    {"header", BLOCK, NULL, DATA, 0},
    {"hr", BLOCK | BREAKOUT | VOID, NULL, DATA, 0},
    {"html", HEAD_OK, NULL, DATA, 0},
    {"i", BREAKOUT, NULL, DATA, 0},
    {"iframe", 0, "src", RAWTEXT, 0},
    {"image", VOID, "src", DATA, 0}, /* the tree builder makes it an img */
    {"img", BREAKOUT | VOID, "src", DATA, 0},
    {"input", VOID | SELECT_END, "src", DATA, 0},
    {"keygen", VOID | SELECT_END, NULL, DATA, 0},
    {"li", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"link", HEAD_OK | VOID, "href", DATA, 0},
    {"listing", BREAKOUT, NULL, DATA, 0},
    {"math", FOREIGN | MATH, NULL, DATA, 0},
    {"menu", BREAKOUT, NULL, DATA, 0},
    {"meta", HEAD_OK | BREAKOUT | VOID, NULL, DATA, 0},
    {"mi", MATH_POINT, NULL, DATA, 0},
    {"mn", MATH_POINT, NULL, DATA, 0},
    {"mo", MATH_POINT, NULL, DATA, 0},
    {"ms", MATH_POINT, NULL, DATA, 0},
    {"mtext", MATH_POINT, NULL, DATA, 0},
    {"nobr", BREAKOUT, NULL, DATA, 0},
    {"noembed", 0, NULL, RAWTEXT, 0},
    {"noframes", HEAD_OK, NULL, RAWTEXT, 0},
    {"noscript", HEAD_OK, NULL, DATA, 0}, /* no scripts run in mail: its text shows */
    {"ol", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"p", BLOCK | BREAKOUT | P_OR_BR, NULL, DATA, 0},
    {"plaintext", 0, NULL, PLAINTEXT, 1},
    {"pre", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"ruby", BREAKOUT, NULL, DATA, 0},
    {"s", BREAKOUT, NULL, DATA, 0},
    {"script", HEAD_OK, "src", SCRIPT, 0},
    {"section", BLOCK, NULL, DATA, 0},
    {"select", SELECT, NULL, DATA, 0},
    {"small", BREAKOUT, NULL, DATA, 0},
    {"source", VOID, "src", DATA, 0},
    {"span", BREAKOUT, NULL, DATA, 0},
    {"strike", BREAKOUT, NULL, DATA, 0},
    {"strong", BREAKOUT, NULL, DATA, 0},
    {"style", HEAD_OK, NULL, RAWTEXT, 0},
    {"sub", BREAKOUT, NULL, DATA, 0},
    {"sup", BREAKOUT, NULL, DATA, 0},
    {"svg", FOREIGN, NULL, DATA, 0},
    {"table", BLOCK | BREAKOUT, "background", DATA, 0},
    {"td", BLOCK, "background", DATA, 0},
    {"template", HIDDEN | HEAD_OK, NULL, DATA, 0},
    {"textarea", SELECT_END, NULL, RCDATA, 1},
    {"th", BLOCK, NULL, DATA, 0},
    {"title", BLOCK | HEAD_OK | SVG_POINT, NULL, RCDATA, 0},
    {"tr", BLOCK, NULL, DATA, 0},
    {"tt", BREAKOUT, NULL, DATA, 0},
    {"u", BREAKOUT, NULL, DATA, 0},
    {"ul", BLOCK | BREAKOUT, NULL, DATA, 0},
    {"var", BREAKOUT, NULL, DATA, 0},
    {"xmp", 0, NULL, RAWTEXT, 1},
};

#define ELEMENT_COUNT (sizeof(elements) / sizeof(elements[0]))
#define ELEMENT_SLOTS 256 /* a power of two, under half full */
_Static_assert(ELEMENT_COUNT < ELEMENT_SLOTS / 2, "the element table is under half full");

/* The elements by name: open addressing over FNV-1a, made once.  A
 * newsletter has a tag every ~60 bytes; a lookup is one hash of a short
 * name and, nearly always, one comparison. */
static unsigned char element_slot[ELEMENT_SLOTS]; /* index + 1; 0: empty */
static pthread_once_t element_once = PTHREAD_ONCE_INIT;

static unsigned name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h & (ELEMENT_SLOTS - 1);
}

static void element_index(void)
{
	for (size_t i = 0; i < ELEMENT_COUNT; i++) {
		unsigned j = name_hash(elements[i].name);

		while (element_slot[j] != 0)
			j = (j + 1) & (ELEMENT_SLOTS - 1);
		element_slot[j] = (unsigned char)(i + 1);
	}
}

static const struct element *element_of(const char *name)
{
	for (unsigned j = name_hash(name); element_slot[j] != 0;
	     j = (j + 1) & (ELEMENT_SLOTS - 1)) {
		const struct element *e = &elements[element_slot[j] - 1];
		const char *a = e->name, *b = name;

		while (*a != '\0' && *a == *b) /* (a short name: no call to strcmp) */
			a++, b++;
		if (*a == *b)
			return e;
	}
	return NULL;
}

struct html {
	const char *end;
	struct content_text *t;
	struct content_urls *u; /* NULL: links not wanted */
	enum mode mode;
	int shown;	     /* the text of RCDATA, RAWTEXT or PLAINTEXT shows */
	char raw[NAME_KEEP]; /* the element whose end tag ends it */
	size_t raw_len;
	unsigned foreign; /* <svg>/<math> open */
	int math;	  /* the foreign content is MathML's, not SVG's */
	unsigned open;	  /* HTML elements open in the innermost integration point */
	struct {	  /* integration points open in foreign content */
		const struct element *e;
		unsigned foreign; /* the state to go back to at its end tag */
		int math;
		unsigned open;
	} points[8];
	size_t point_count;
	int in_select;	 /* a <select> is open: other start tags do not change state */
	unsigned reread; /* a reading of raw content as markup, for its links (links_in) */
	const char *raw_stop; /* where the raw content just read ended */
	unsigned hidden; /* <template> open */
	int head_done;	 /* the body has begun: text shows */
	/* the tag being read */
	char name[NAME_KEEP];
	size_t name_len; /* may be more than kept: then none of ours */
	const struct element *e;
	int end_tag, self_closing;
	int font_breakout; /* a <font> with color, face or size */
	const char *value; /* its link attribute's, decoded; NULL: none */
	size_t value_len;
	/* the <a> open */
	const char *href; /* NULL: none */
	size_t href_len;
	char link_text[LINK_TEXT_MAX];
	size_t link_len;
	char *buf; /* 2 * VALUE_MAX: the value decoded, the href kept; malloc'd */
};

/* What ends what: white space ('\r' too: the input stream's CR LF and CR
 * would be LF, 13.2.5.1), a tag name ("/", ">") and an attribute's name
 * ("=" as well, after its first byte). */
enum { C_SPACE = 1, C_TAG_NAME_END = 2, C_ATTR_NAME_END = 4 };
static const unsigned char byte_class[256] = {
    [' '] = 7, ['\n'] = 7, ['\t'] = 7, ['\f'] = 7, ['\r'] = 7, ['/'] = 6, ['>'] = 6, ['='] = 4};

static int is_space(char c)
{
	return byte_class[(unsigned char)c] & C_SPACE;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A tag or attribute name's character: ASCII lower case; a NUL, U+FFFD
 * in a name (13.2.5.8, 13.2.5.33), as a byte no name of ours has. */
static char name_char(char c)
{
	return c == '\0' ? (char)0xff : lower(c);
}

/* ---------------------------------------------------------------- the text */

static void line_end(struct content_text *t)
{
	if (t->len > 0 && t->data[t->len - 1] != '\n')
		content_text_append(t, "\n", 1);
}

static void head_leave(struct html *h)
{
	h->head_done = 1;
}

/* text() when all of it fits under the cap: written in one pass, as the
 * loop below would append it run by run; 0 if it does not fit.  A run of
 * white space is one blank, but none at a line's start or after one. */
static int text_fits(struct content_text *t, const char *p, const char *end)
{
	char *o = content_text_room(t, (size_t)(end - p)), *start = o;
	int blank_after_prev; /* the text before ends in neither "\n" nor " " */

	if (o == NULL)
		return 0;
	blank_after_prev = t->len > 0 && t->data[t->len - 1] != '\n' && t->data[t->len - 1] != ' ';
	while (p < end) {
		while (p < end && !is_space(*p))
			*o++ = *p++;
		if (p == end)
			break;
		while (p < end && is_space(*p))
			p++;
		/* after a word of this text, or the text before's word */
		if (o > start || blank_after_prev)
			*o++ = ' ';
	}
	t->len = (size_t)(o - t->data);
	t->data[t->len] = '\0';
	return 1;
}

/* Shown text with runs of white space as one blank (none at a line's
 * start); white space before the body is not text, and other text begins
 * the body (13.2.6.4.4, "anything else"). */
static void text(struct html *h, const char *p, size_t n)
{
	struct content_text *t = h->t;
	const char *end = p + n;

	if (h->hidden > 0 || n == 0)
		return;
	if (!h->head_done) {
		const char *q = p;

		while (q < end && is_space(*q))
			q++;
		if (q == end)
			return;
		head_leave(h);
	}
	if (h->href != NULL && h->link_len + 1 < LINK_TEXT_MAX) {
		size_t k =
		    n < LINK_TEXT_MAX - 1 - h->link_len ? n : LINK_TEXT_MAX - 1 - h->link_len;

		memcpy(h->link_text + h->link_len, p, k);
		h->link_len += k;
	}
	if (text_fits(t, p, end))
		return;
	while (p < end) {
		const char *run = p;

		while (p < end && !is_space(*p))
			p++;
		if (p > run)
			content_text_append(t, run, (size_t)(p - run));
		if (p == end)
			break;
		while (p < end && is_space(*p))
			p++;
		if (t->len > 0 && t->data[t->len - 1] != '\n' && t->data[t->len - 1] != ' ')
			content_text_append(t, " ", 1);
	}
}

/* Text where a NUL is U+FFFD (RCDATA, RAWTEXT, PLAINTEXT, CDATA) or, with
 * drop, nothing (data: the tree builder ignores it in the body). */
static void text_nul(struct html *h, const char *p, const char *end, int drop)
{
	const char *nul;

	while ((nul = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		text(h, p, (size_t)(nul - p));
		if (!drop)
			text(h, replacement, 3);
		p = nul + 1;
	}
	text(h, p, (size_t)(end - p));
}

/* -------------------------------------------------- character references */

/* key (n bytes) against a name: <0, 0, >0 as strcmp. */
static int entity_cmp(const char *key, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (key[i] != name[i]) /* also at the end of a shorter name */
			return (unsigned char)key[i] - (unsigned char)name[i];
	return name[n] != '\0' ? -1 : 0;
}

/* The name p (n bytes, alphanumerics and maybe ';'), by binary search
 * among the names with its first byte. */
static const struct html_entity *entity_of(const char *p, size_t n)
{
	unsigned char first = (unsigned char)*p;
	size_t lo = first < 128 ? html_entity_first[first] : 0;
	size_t hi = first < 128 ? html_entity_first[first + 1] : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entity_cmp(p, n, html_entities[mid].name);

		if (c == 0)
			return &html_entities[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static size_t utf8_put(uint32_t c, char *out)
{
	if (c < 0x80)
		return out[0] = (char)c, 1;
	if (c < 0x800)
		return out[0] = (char)(0xc0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3f)), 2;
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Numeric character reference end state (13.2.5.80): what windows-1252
 * made of 0x80-0x9F (0: kept), and U+FFFD for what is no character. */
static uint32_t numeric_value(uint32_t c)
{
	static const uint16_t c1[32] = {
	    0x20ac, 0,	    0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	    0x2039, 0x0152, 0,	    0x017d, 0,	    0,	    0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
	    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,	    0x017e, 0x0178};

	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0xfffd;
	if (c >= 0x80 && c <= 0x9f && c1[c - 0x80] != 0)
		return c1[c - 0x80];
	return c;
}

/* "&#..." at p (13.2.5.75-80): the bytes taken, 0 if no digit follows. */
static size_t numeric_ref(const char *p, const char *end, char *out, size_t *out_len)
{
	const char *q = p + 2, *digits;
	int hex = q < end && (*q == 'x' || *q == 'X');
	uint32_t c = 0;

	q += hex;
	for (digits = q; q < end; q++) {
		unsigned d;

		if (*q >= '0' && *q <= '9')
			d = (unsigned)(*q - '0');
		else if (hex && lower(*q) >= 'a' && lower(*q) <= 'f')
			d = (unsigned)(lower(*q) - 'a' + 10);
		else
			break;
		c = c * (hex ? 16 : 10) + d;
		if (c > 0x10ffff)
			c = 0x110000; /* stays too large, never wraps */
	}
	if (q == digits)
		return 0;
	if (q < end && *q == ';')
		q++;
	*out_len = utf8_put(numeric_value(c), out);
	return (size_t)(q - p);
}

/* "&name" at p (13.2.5.73): the longest name in the table, with ';' or one
 * of the legacy names without; the bytes taken, 0 if none matches or, in
 * an attribute value, a match without ';' is followed by '=' or an
 * alphanumeric (then it stays as written). */
static size_t named_ref(const char *p, const char *end, int in_attr, char *out, size_t *out_len)
{
	const char *q = p + 1;
	const struct html_entity *e = NULL;
	size_t run = 0, n = 0;

	while (q + run < end && run < HTML_ENTITY_NAME_MAX && is_alnum(q[run]))
		run++;
	if (run < HTML_ENTITY_NAME_MAX && q + run < end && q[run] == ';')
		e = entity_of(q, n = run + 1);
	/* a legacy name shorter than the run is followed by an alphanumeric,
	 * which in an attribute value keeps it as written: not looked up */
	if (e == NULL)
		for (n = run < HTML_ENTITY_LEGACY_MAX ? run : HTML_ENTITY_LEGACY_MAX;
		     n > 0 && (!in_attr || n == run); n--)
			if ((e = entity_of(q, n)) != NULL)
				break;
	if (e == NULL)
		return 0;
	if (in_attr && q[n - 1] != ';' && q + n < end && (q[n] == '=' || is_alnum(q[n])))
		return 0;
	*out_len = strlen(e->value);
	memcpy(out, e->value, *out_len);
	return 1 + n;
}

/* A character reference at p ('&', p < end, 13.2.5.72): what it stands
 * for in out (at most 8 bytes) and the bytes it takes; a '&' that starts
 * none stands for itself, and what follows it is read as usual. */
static size_t char_ref(const char *p, const char *end, int in_attr, char *out, size_t *out_len)
{
	size_t n = 0;

	if (p + 1 < end && p[1] == '#')
		n = numeric_ref(p, end, out, out_len);
	else if (p + 1 < end && is_alnum(p[1]))
		n = named_ref(p, end, in_attr, out, out_len);
	if (n > 0)
		return n;
	out[0] = '&';
	*out_len = 1;
	return 1;
}

/* Text of the data or RCDATA state, references decoded. */
static void text_refs(struct html *h, const char *p, const char *end, int drop_nul)
{
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		char out[8];
		size_t n;

		text_nul(h, p, amp != NULL ? amp : end, drop_nul);
		if (amp == NULL)
			return;
		p = amp + char_ref(amp, end, 0, out, &n);
		text(h, out, n);
	}
}

/* ----------------------------------------------------------------- links */

static void link_close(struct html *h)
{
	if (h->href == NULL)
		return;
	if (h->u != NULL)
		content_urls_add(h->u, h->href, h->href_len, 1, h->link_text, h->link_len);
	h->href = NULL;
}

static void value_put(char *buf, size_t *n, const char *s, size_t len)
{
	if (len > VALUE_MAX - *n)
		len = VALUE_MAX - *n;
	memcpy(buf + *n, s, len);
	*n += len;
}

/* The link attribute's value, from p to end: pointed to in the input, or
 * decoded (references, NUL as U+FFFD) into buf when it needs to be. */
static void value_keep(struct html *h, const char *p, const char *end)
{
	const char *nul = memchr(p, '\0', (size_t)(end - p));
	size_t n = 0;

	if (nul == NULL && memchr(p, '&', (size_t)(end - p)) == NULL) {
		h->value = p;
		h->value_len = (size_t)(end - p);
		return;
	}
	if (h->buf == NULL && (h->buf = malloc(2 * VALUE_MAX)) == NULL)
		return; /* no memory: this link is not seen */
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)),
			   *stop = amp != NULL ? amp : end;
		char out[8];
		size_t m;

		if (nul != NULL && nul < stop)
			stop = nul;
		value_put(h->buf, &n, p, (size_t)(stop - p));
		if ((p = stop) == end)
			break;
		if (*p == '&')
			p += char_ref(p, end, 1, out, &m);
		else {
			memcpy(out, replacement, m = 3);
			p++;
			nul = memchr(p, '\0', (size_t)(end - p));
		}
		value_put(h->buf, &n, out, m);
	}
	h->value = h->buf;
	h->value_len = n;
}

/* An element's link attribute: an <a>'s waits for its visible text. */
static void link_attribute(struct html *h)
{
	if (!(h->e->flags & ANCHOR)) {
		if (h->u != NULL)
			content_urls_add(h->u, h->value, h->value_len, 1, NULL, 0);
		return;
	}
	h->href_len = h->value_len < VALUE_MAX ? h->value_len : VALUE_MAX;
	h->href = h->value;
	if (h->value == h->buf) { /* the next tag's value goes there */
		memcpy(h->buf + VALUE_MAX, h->value, h->href_len);
		h->href = h->buf + VALUE_MAX;
	}
	h->link_len = 0;
}

/* ------------------------------------------------------------------ tags */

/* An integration point's start tag in foreign content: HTML inside it,
 * until its end tag (a fixed stack: past 8 deep, HTML to the end). */
static void point_enter(struct html *h)
{
	if (h->point_count < sizeof(h->points) / sizeof(h->points[0])) {
		h->points[h->point_count].e = h->e;
		h->points[h->point_count].foreign = h->foreign;
		h->points[h->point_count].math = h->math;
		h->points[h->point_count++].open = h->open;
	}
	h->foreign = 0;
	h->open = 0;
}

/* Its end tag, which closes whatever HTML it holds still open, as a
 * browser's "any other end tag" does. */
static int point_leave(struct html *h, const struct element *e)
{
	if (h->point_count == 0 || h->points[h->point_count - 1].e != e)
		return 0;
	h->point_count--;
	h->foreign = h->points[h->point_count].foreign;
	h->math = h->points[h->point_count].math;
	h->open = h->points[h->point_count].open;
	return 1;
}

/* Is the current node the integration point itself, not in the HTML
 * namespace, so that "<![CDATA[" opens a CDATA section (13.2.5.42)?  An
 * element count stands for the stack of open elements. */
static int at_point(const struct html *h)
{
	return h->point_count > 0 && h->foreign == 0 && h->open == 0;
}

/* A start tag's effects: on the text, the links, the foreign content
 * depth and the tokenizer's state (13.2.6.4.7, 13.2.6.5). */
static void start_tag(struct html *h)
{
	const struct element *e = h->e;
	unsigned flags = e != NULL ? e->flags : 0;
	int foreign; /* this element is SVG or MathML */

	if (h->foreign > 0 && ((flags & BREAKOUT) || h->font_breakout))
		h->foreign = 0;
	foreign = h->foreign > 0;
	if (!(flags & HEAD_OK))
		head_leave(h);
	if (!foreign && !(flags & (VOID | FOREIGN)))
		h->open++; /* an HTML element, self-closing or not */
	if (e == NULL)
		return;
	if ((flags & FOREIGN) && !h->self_closing && h->foreign++ == 0)
		h->math = (flags & MATH) != 0;
	else if (foreign && (flags & (h->math ? MATH_POINT : SVG_POINT)) && !h->self_closing)
		point_enter(h);
	if (flags & ANCHOR)
		link_close(h); /* an <a> inside an <a> ends the first */
	if (h->value != NULL)
		link_attribute(h);
	if (flags & BLOCK)
		line_end(h->t);
	if (flags & HIDDEN)
		h->hidden++;
	if (!foreign && (flags & (SELECT | SELECT_END)))
		h->in_select = !h->in_select && (flags & SELECT); /* <select> inside one ends it */
	else if (!foreign && h->in_select && e->mode != SCRIPT)
		return; /* ignored in a select (13.2.6.4.16), so no text state of its own */
	if (!foreign && e->mode != DATA) {
		h->mode = e->mode;
		h->shown = e->shown;
		h->raw_len = strlen(e->name);
		memcpy(h->raw, e->name, h->raw_len + 1);
	}
}

static void end_tag(struct html *h)
{
	const struct element *e = h->e;

	if (h->foreign == 0 && !point_leave(h, e) && h->open > 0 &&
	    (e == NULL || !(e->flags & (VOID | FOREIGN))))
		h->open--;
	if (e == NULL)
		return;
	if ((e->flags & FOREIGN) && h->foreign > 0)
		h->foreign--;
	if (h->foreign > 0 && (e->flags & P_OR_BR))
		h->foreign = 0;
	if (e->flags & HEAD)
		head_leave(h);
	if (h->foreign == 0 && (e->flags & SELECT))
		h->in_select = 0;
	if ((e->flags & HIDDEN) && h->hidden > 0)
		h->hidden--;
	if (e->flags & BLOCK)
		line_end(h->t);
	if (e->flags & ANCHOR)
		link_close(h);
}

static void tag_begin(struct html *h, int end_tag)
{
	h->end_tag = end_tag;
	h->self_closing = 0;
	h->font_breakout = 0;
	h->name_len = 0;
	h->value = NULL;
}

/* Tag name state (13.2.5.8): p at its first letter; returns where it ends. */
static const char *tag_name(struct html *h, const char *p)
{
	const char *end = h->end;

	for (; p < end && !(byte_class[(unsigned char)*p] & C_TAG_NAME_END); p++, h->name_len++)
		if (h->name_len + 1 < NAME_KEEP)
			h->name[h->name_len] = name_char(*p);
	h->name[h->name_len + 1 < NAME_KEEP ? h->name_len : 0] = '\0';
	h->e = h->name_len + 1 < NAME_KEEP ? element_of(h->name) : NULL;
	return p;
}

/* Attribute value states (13.2.5.36-38): p at the value's first
 * character; returns where it ends (past the closing quote). */
static const char *attribute_value(struct html *h, const char *p, int keep)
{
	const char *end = h->end, *v, *q;

	if (*p == '"' || *p == '\'') {
		v = p + 1;
		if ((q = memchr(v, *p, (size_t)(end - v))) == NULL)
			return end; /* EOF in tag: no tag */
		p = q + 1;
	} else {
		for (v = q = p; q < end && !is_space(*q) && *q != '>'; q++)
			;
		p = q;
	}
	if (keep && q < end)
		value_keep(h, v, q);
	return p;
}

/* Attribute name, after attribute name and before attribute value states
 * (13.2.5.33-35): p at the name's first character (maybe '='). */
static const char *attribute(struct html *h, const char *p)
{
	const char *end = h->end;
	char name[NAME_KEEP];
	size_t n = 0;
	int keep;

	do {
		if (n + 1 < NAME_KEEP)
			name[n] = name_char(*p);
		n++;
		p++;
	} while (p < end && !(byte_class[(unsigned char)*p] & C_ATTR_NAME_END));
	if (h->e != NULL && (h->e->flags & FONT) && n + 1 < NAME_KEEP &&
	    ((n == 5 && memcmp(name, "color", 5) == 0) ||
	     (n == 4 && memcmp(name, "face", 4) == 0) || (n == 4 && memcmp(name, "size", 4) == 0)))
		h->font_breakout = 1;
	while (p < end && is_space(*p))
		p++;
	if (p == end || *p != '=')
		return p;
	for (p++; p < end && is_space(*p); p++)
		;
	if (p == end || *p == '>')
		return p;
	/* the first of duplicate attributes wins (13.2.5.33) */
	keep = !h->end_tag && h->e != NULL && h->e->link != NULL && h->value == NULL &&
	       n + 1 < NAME_KEEP && strlen(h->e->link) == n && memcmp(name, h->e->link, n) == 0;
	return attribute_value(h, p, keep);
}

/* From the tag name's end to the tag's (13.2.5.32-40): the attributes,
 * then the tag's effects; at EOF the tag is dropped, as the spec says. */
static const char *tag_end(struct html *h, const char *p)
{
	const char *end = h->end;

	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			return end;
		if (*p == '>')
			break;
		if (*p == '/') { /* self-closing start tag state */
			if (++p < end && *p == '>') {
				h->self_closing = 1;
				break;
			}
			continue;
		}
		p = attribute(h, p);
	}
	if (h->end_tag)
		end_tag(h);
	else
		start_tag(h);
	return p + 1;
}

/* ---------------------------------------------------------------- states */

/* Bogus comment state (13.2.5.41): to the first '>', or EOF. */
static const char *bogus_comment(const char *p, const char *end)
{
	const char *gt = memchr(p, '>', (size_t)(end - p));

	return gt != NULL ? gt + 1 : end;
}

/* The comment states (13.2.5.43-52), p past "<!--": "<!-->" and "<!--->"
 * are empty comments; otherwise the first "-->" or "--!>" ends one, and
 * EOF does too (what follows is in it). */
static const char *comment(const char *p, const char *end)
{
	if (p < end && *p == '>')
		return p + 1;
	if (end - p >= 2 && p[0] == '-' && p[1] == '>')
		return p + 2;
	for (const char *q = p; (q = memchr(q, '-', (size_t)(end - q))) != NULL; q++) {
		if (end - q >= 3 && q[1] == '-' && q[2] == '>')
			return q + 3;
		if (end - q >= 4 && q[1] == '-' && q[2] == '!' && q[3] == '>')
			return q + 4;
	}
	return end;
}

static void links_in(struct html *h, const char *p, const char *end);

/* CDATA section state (13.2.5.69), in foreign content only: text to "]]>". */
static const char *cdata(struct html *h, const char *p)
{
	const char *end = h->end;

	for (const char *q = p; (q = memchr(q, ']', (size_t)(end - q))) != NULL; q++)
		if (end - q >= 3 && q[1] == ']' && q[2] == '>') {
			text_nul(h, p, q, 0);
			links_in(h, p, q);
			return q + 3;
		}
	text_nul(h, p, end, 0);
	links_in(h, p, end);
	return end;
}

static int ascii_case_prefix(const char *p, const char *end, const char *lower_word)
{
	size_t n = strlen(lower_word);

	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower_word[i])
			return 0;
	return 1;
}

/* Markup declaration open state (13.2.5.42), p past "<!"; a DOCTYPE ends
 * at the first '>' (13.2.5.53-68: every one of its states ends there). */
static const char *markup_declaration(struct html *h, const char *p)
{
	const char *end = h->end;

	if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		return comment(p + 2, end);
	if (ascii_case_prefix(p, end, "doctype"))
		return bogus_comment(p, end);
	if ((h->foreign > 0 || at_point(h)) && end - p >= 7 && memcmp(p, "[CDATA[", 7) == 0)
		return cdata(h, p + 7);
	return bogus_comment(p, end);
}

/* Tag open and end tag open states (13.2.5.6-7), p past '<'. */
static const char *tag_open(struct html *h, const char *p)
{
	const char *end = h->end;

	if (p < end && is_alpha(*p)) {
		tag_begin(h, 0);
		return tag_end(h, tag_name(h, p));
	}
	if (p < end && *p == '!')
		return markup_declaration(h, p + 1);
	if (p < end && *p == '?')
		return bogus_comment(p, end);
	if (p == end || *p != '/') {
		text(h, "<", 1);
		return p;
	}
	if (++p == end) {
		text(h, "</", 2);
		return end;
	}
	if (is_alpha(*p)) {
		tag_begin(h, 1);
		return tag_end(h, tag_name(h, p));
	}
	return *p == '>' ? p + 1 : bogus_comment(p, end);
}

/* Data state (13.2.5.1): text to the next '<'. */
static const char *data(struct html *h, const char *p)
{
	const char *end = h->end, *lt = memchr(p, '<', (size_t)(end - p));

	text_refs(h, p, lt != NULL ? lt : end, 1);
	return lt != NULL ? tag_open(h, lt + 1) : end;
}

/* At lt, "</" and the appropriate end tag's name (13.2.5.11-13): where
 * that name ends, or NULL. */
static const char *raw_end_tag(struct html *h, const char *lt)
{
	const char *end = h->end, *q = lt + 2 + h->raw_len;

	if (end - lt < 3 || lt[1] != '/' || q >= end || !ascii_case_prefix(lt + 2, end, h->raw) ||
	    !(is_space(*q) || *q == '/' || *q == '>'))
		return NULL;
	return q;
}

/* The end tag that ends RCDATA, RAWTEXT or script data, at its name's end. */
static const char *raw_end(struct html *h, const char *q)
{
	h->mode = DATA;
	tag_begin(h, 1);
	h->name_len = h->raw_len;
	memcpy(h->name, h->raw, h->raw_len + 1);
	h->e = element_of(h->name);
	return tag_end(h, q);
}

/* RCDATA and RAWTEXT states (13.2.5.2-3 and their end tag states). */
static const char *raw_text(struct html *h, const char *p)
{
	const char *end = h->end;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *stop = lt != NULL ? lt : end,
			   *q;

		if (h->shown && h->mode == RCDATA)
			text_refs(h, p, stop, 0);
		else if (h->shown)
			text_nul(h, p, stop, 0);
		h->raw_stop = stop;
		if (lt == NULL)
			return end;
		if ((q = raw_end_tag(h, lt)) != NULL)
			return raw_end(h, q);
		if (h->shown)
			text(h, "<", 1);
		p = lt + 1;
	}
	return end;
}

/* Script data escape and double escape start/end states (13.2.5.26,
 * 13.2.5.31): p at a letter; sets *script when the letters are "script"
 * followed by white space, '/' or '>'; returns past the letters. */
static const char *script_word(const char *p, const char *end, int *script)
{
	const char *w = p;

	while (p < end && is_alpha(*p))
		p++;
	*script = p - w == 6 && ascii_case_prefix(w, end, "script") && p < end &&
		  (is_space(*p) || *p == '/' || *p == '>');
	return p;
}

/* The script data states (13.2.5.4, 15-31): hidden text, so only where
 * its end tag is matters: "<!--" escapes, "<script" inside the escape
 * escapes twice (there "</script>" only ends the double escape), "-->"
 * ends both. */
static const char *script_data(struct html *h, const char *p)
{
	enum { PLAIN, ESCAPED, DOUBLE } s = PLAIN;
	const char *end = h->end, *q;
	int dashes = 0, script;

	h->raw_stop = end;
	while (p < end) {
		if (s == PLAIN) {
			const char *lt = memchr(p, '<', (size_t)(end - p));

			if (lt == NULL)
				return end;
			if ((q = raw_end_tag(h, lt)) != NULL)
				return h->raw_stop = lt, raw_end(h, q);
			p = lt + 1;
			if (end - p >= 3 && memcmp(p, "!--", 3) == 0)
				s = ESCAPED, dashes = 2, p += 3;
			continue;
		}
		if (*p == '-') {
			dashes++, p++;
			continue;
		}
		if (*p == '>' && dashes >= 2)
			s = PLAIN;
		else if (*p == '<' && s == ESCAPED && (q = raw_end_tag(h, p)) != NULL)
			return h->raw_stop = p, raw_end(h, q);
		else if (*p == '<' && s == ESCAPED && p + 1 < end && is_alpha(p[1])) {
			p = script_word(p + 1, end, &script);
			s = script ? DOUBLE : ESCAPED, dashes = 0;
			continue;
		} else if (*p == '<' && s == DOUBLE && end - p >= 2 && p[1] == '/' && end - p > 2 &&
			   is_alpha(p[2])) {
			p = script_word(p + 2, end, &script);
			s = script ? ESCAPED : DOUBLE, dashes = 0;
			continue;
		}
		dashes = 0;
		p++;
	}
	return end;
}

/* PLAINTEXT state (13.2.5.5): the rest is text. */
static const char *plaintext(struct html *h, const char *p)
{
	text_nul(h, p, h->end, 0);
	h->raw_stop = h->end;
	return h->end;
}

static void run(struct html *h, const char *p);

/* Raw content (RCDATA, RAWTEXT, script data, PLAINTEXT, CDATA) read again
 * as markup, for its links alone.  Which state a browser's tokenizer is
 * in depends on its tree builder, which this file only approximates (see
 * above): read both ways, no state a browser may be in instead hides a
 * link from us.  What is read so has no text (it is not shown); raw content
 * inside it is read again, up to REREAD_MAX deep (each reading at most
 * the input once more). */
static void links_in(struct html *h, const char *p, const char *end)
{
	struct content_text none = {.cap = 0};
	struct html sub = {
	    .end = end, .t = &none, .u = h->u, .reread = h->reread + 1, .head_done = 1};

	if (h->reread >= REREAD_MAX || h->u == NULL || p >= end)
		return;
	run(&sub, p);
	link_close(&sub);
	free(sub.buf);
}

/* The tokenizer from p to h->end. */
static void run(struct html *h, const char *p)
{
	while (p < h->end) {
		const char *raw = p;

		switch (h->mode) {
		case DATA:
			p = data(h, p);
			continue;
		case RCDATA:
		case RAWTEXT:
			p = raw_text(h, p);
			break;
		case SCRIPT:
			p = script_data(h, p);
			break;
		case PLAINTEXT:
			p = plaintext(h, p);
			break;
		}
		links_in(h, raw, h->raw_stop);
	}
}

void content_html_reduce(const char *html, size_t len, struct content_text *t,
			 struct content_urls *u)
{
	struct html state = {.end = html + len, .t = t, .u = u}, *h = &state;
	size_t start = t->len;

	pthread_once(&element_once, element_index);
	run(h, html);
	link_close(h);
	free(h->buf);
	if (u != NULL && t->len > start)
		content_urls_scan_text(u, t->data + start, t->len - start);
}

/*
 * content_html_test - the HTML reducer (checks/content_html.c) on what an
 * HTML5 tokenizer must get right: the cases where libxml2 2.9's HTML 4
 * parser, which it replaced, hid a link a mail client shows ("<!-->",
 * "--!>", "<a/href=", HTML5's named references); every family of states
 * (comments, bogus comments, DOCTYPE, RCDATA, RAWTEXT, script data and
 * its escapes, PLAINTEXT, CDATA in and outside svg/math); character
 * references, named and numeric; attributes; NUL bytes; a document cut
 * at every offset; and the worst 10 MB inputs, which must take linear
 * time.  content_html_reduce is called directly, without the MIME walk.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "content_int.h"
#include "content_url.h"
#include "json.h"

static struct arena *arena;
static struct content_text text;   /* of the last reduce */
static struct content_facts facts; /* its links */

/* Reduces html (len bytes): its text in text.data, its links in facts. */
static void reduce_n(const char *html, size_t len)
{
	struct content_urls *u;

	arena_free(&arena);
	free(text.data); /* g_realloc'd: GLib's allocator is malloc's */
	memset(&text, 0, sizeof(text));
	memset(&facts, 0, sizeof(facts));
	text.cap = 1024 * 1024;
	arena = arena_new(4096);
	u = content_urls_new(arena, 200);
	content_html_reduce(html, len, &text, u);
	content_urls_finish(u, &facts);
	if (text.data == NULL)
		text.data = strdup("");
}

static void reduce(const char *html)
{
	reduce_n(html, strlen(html));
}

static int has_url(const char *url)
{
	for (size_t i = 0; i < facts.url_count; i++)
		if (strcmp(facts.urls[i].url, url) == 0)
			return 1;
	return 0;
}

static const struct content_url *html_url(const char *url)
{
	for (size_t i = 0; i < facts.url_count; i++)
		if (strcmp(facts.urls[i].url, url) == 0 && facts.urls[i].from_html)
			return &facts.urls[i];
	return NULL;
}

static int utf8_ok(const char *s, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if ((l = json_utf8_len((const unsigned char *)s + i, n - i)) == 0)
			return 0;
	return 1;
}

/* The text is want, exactly. */
#define TEXT_IS(html, want)                                                                        \
	do {                                                                                       \
		reduce(html);                                                                      \
		CHECK_STR(text.data, want, "%s", html);                                            \
	} while (0)

/* The differences from libxml2 2.9.14 (xmllint --html) that hid links. */
static void test_differentials(void)
{
	reduce("<p>hi<!--> <a href=\"http://evil.example/\">click</a> --> there</p>");
	CHECK(html_url("http://evil.example/") != NULL && strstr(text.data, "click") != NULL,
	      "<!--> is an empty comment: the link after it is live");
	/* (libxml2 2.9.14 agrees on this one: xmllint --html ends it there too) */
	reduce("<p>x<!-- x --!> <a href=\"http://evil.example/\">click</a> --></p>");
	CHECK(html_url("http://evil.example/") != NULL, "--!> ends a comment");
	reduce("<a/href=\"http://evil.example/\">click</a>");
	CHECK(html_url("http://evil.example/") != NULL, "<a/href=...> is an <a> with an href");
	reduce("<a href=\"http://evil&period;example/\">click</a>");
	CHECK(html_url("http://evil.example/") != NULL, "&period; is HTML5's '.'");
	reduce("<a href=\"http:&sol;&sol;evil.example/\">click</a>");
	CHECK(html_url("http://evil.example/") != NULL, "&sol; is HTML5's '/'");
	/* found by the HTML5 oracle (tests/html_oracle.c) */
	reduce("<p><image src=\"http://evil.example/i.png\"></p>");
	CHECK(html_url("http://evil.example/i.png") != NULL, "<image> is an <img>");
	reduce("<p>x <math><title><title><img src=\"http://evil.example/p.gif\"></title></title>"
	       "</math> y</p>");
	CHECK(html_url("http://evil.example/p.gif") != NULL,
	      "MathML's <title> is no integration point: no RCDATA inside <math>");
	reduce("<p>x <math><mi><![CDATA[><a title=\"]]><a href=\"http://evil.example/\">click</a>"
	       "</mi></math> y</p>");
	CHECK(html_url("http://evil.example/") != NULL,
	      "CDATA straight inside a MathML text element, to its ]]>");
	reduce("<math><mi><b></mi><style><a href=\"http://evil.example/s\">x</a></style></math>");
	CHECK(html_url("http://evil.example/s") != NULL,
	      "</mi> closes the <b> inside it: back in MathML, <style> is markup");
	reduce("<select><option>x<iframe src=y>z</option></select>"
	       "<a href=\"http://evil.example/n\">n</a>");
	CHECK(html_url("http://evil.example/n") != NULL,
	      "an <iframe> in a <select> is ignored: no RAWTEXT to hide what follows");
	/* a tree builder's end tag this tokenizer cannot place: CDATA to us,
	 * markup to a browser; the CDATA is read for links as well */
	reduce("<a><math><y></a><y><![CDATA[><input src=\"http://evil.example/c\">]]>");
	CHECK(html_url("http://evil.example/c") != NULL,
	      "</a> inside MathML: a CDATA section here, markup in a browser: its link seen");
	reduce("<math><![CDATA[<math><![CDATA[<math><![CDATA[<a href=\"http://evil.example/3\">");
	CHECK(html_url("http://evil.example/3") != NULL,
	      "raw content inside raw content, read again");
	reduce("<p><style>x{}</style><title>t</title><a href=\"http://ok.example/\">o</a>"
	       "<style><img src=\"http://css.example/\"></style>");
	CHECK(facts.url_count == 2 && strcmp(text.data, "o") == 0,
	      "raw text read twice: its links once each, its text never (%zu)", facts.url_count);
	reduce("<select><textarea>a</textarea><a href=\"http://evil.example/t\">t</a>");
	CHECK(html_url("http://evil.example/t") != NULL && strstr(text.data, "a") != NULL,
	      "a <textarea> ends the <select>: RCDATA to its end tag, then markup");
	reduce("<select><script>x</select><a href=\"http://evil.example/h\">h</a></script>y");
	CHECK(strcmp(text.data, "y") == 0,
	      "a <script> in a <select> is script data all the same: %s", text.data);
}

static void test_comments(void)
{
	TEXT_IS("a<!---->b", "ab");
	TEXT_IS("a<!--->b", "ab");
	TEXT_IS("a<!-->b", "ab");
	TEXT_IS("a<!-- x -- y --->b", "ab");
	TEXT_IS("a<!-- <!-- nested -->b", "ab");
	TEXT_IS("a<!--x-- >y--!-->b", "ab");
	TEXT_IS("a<!---!>b-->c", "ac");
	reduce("a<!-- never closed <a href=\"http://hidden.example/\">x</a>");
	CHECK(strcmp(text.data, "a") == 0 && facts.url_count == 0,
	      "EOF in a comment: the rest is in it");
	TEXT_IS("a<?php echo 1 ?>b", "ab");
	TEXT_IS("a</ x>b", "ab");
	TEXT_IS("a</3>b", "ab");
	TEXT_IS("a</>b", "ab");
	TEXT_IS("a<!x y>b", "ab");
	TEXT_IS("a<!-x>b", "ab");
	TEXT_IS("a<?never", "a");
	TEXT_IS("<!DOCTYPE html PUBLIC \"a>b\">text", "b\">text");
	TEXT_IS("<!doctype html>x", "x");
	TEXT_IS("a <b c", "a ");
	TEXT_IS("a < b", "a < b");
	TEXT_IS("a<", "a<");
	TEXT_IS("a</", "a</");
}

static void test_cdata(void)
{
	/* outside svg/math a bogus comment, to the first '>' */
	TEXT_IS("a<![CDATA[x>y]]>b", "ay]]>b");
	TEXT_IS("<svg><![CDATA[svg <b> x>y]]></svg>", "svg <b> x>y");
	TEXT_IS("<math><![CDATA[m]]></math><![CDATA[o>ut]]>", "mut]]>");
	TEXT_IS("<svg><svg></svg><![CDATA[in]]></svg><![CDATA[o>ut]]>", "inut]]>");
	TEXT_IS("<svg/><![CDATA[x>z]]>y", "z]]>y");
	TEXT_IS("<svg><![CDATA[open to the end", "open to the end");
	/* inside svg, style is markup; a <p> ends the svg, so style is RAWTEXT again */
	TEXT_IS("<svg><style>svg css</style></svg>", "svg css");
	TEXT_IS("<svg><p>para<style>css</style>", "para");
	TEXT_IS("<svg><font color=red><style>css</style>", "");
	TEXT_IS("<svg><font><style>svg css</style>", "svg css");
	/* HTML again inside an integration point, until its end tag */
	TEXT_IS("<svg><foreignObject><style>css</style></foreignObject><style>svg</style>", "svg");
	TEXT_IS("<math><mi><b><![CDATA[x>y]]></mi><![CDATA[m]]>", "y]]>m");
	TEXT_IS("<svg><desc><svg><![CDATA[in]]></desc><![CDATA[out]]>", "inout");
	TEXT_IS("<svg><title>svg title</title></svg>", "svg title\n");
}

static void test_rawtext(void)
{
	TEXT_IS("<style>p{}</stylex></style >after", "after");
	TEXT_IS("<style>a<b>c</STYLE>d", "d");
	TEXT_IS("<style>never closed</style", "");
	TEXT_IS("<title>T &amp; x</title>body", "body");
	TEXT_IS("<textarea>a &lt;b&gt; <i>x</i></textarea>", "a <b> <i>x</i>");
	TEXT_IS("<textarea>a</textarea\tfoo=bar>b", "ab");
	TEXT_IS("<xmp><b>x</b> &amp;</xmp>", "<b>x</b> &amp;");
	reduce("<iframe><a href=\"http://if.example/\">x</a></iframe>after");
	CHECK(strcmp(text.data, "after") == 0, "iframe content is RAWTEXT: no text");
	CHECK(html_url("http://if.example/") != NULL,
	      "but its links are read too: a browser's tree builder may not read it as RAWTEXT");
	TEXT_IS("<noembed>ne</noembed><noframes>nf</noframes>x", "x");
	TEXT_IS("<noscript>no scripts run in mail</noscript>", "no scripts run in mail");
	reduce("<plaintext><a href=\"http://pt.example/\">x</a></plaintext>");
	CHECK(strstr(text.data, "<a href=") != NULL && strstr(text.data, "</plaintext>") != NULL &&
		  html_url("http://pt.example/") != NULL,
	      "PLAINTEXT: the rest is text, and its links are read as markup too: %s", text.data);
}

static void test_script(void)
{
	TEXT_IS("<script>a = \"</scr\" + \"ipt>\"; b</script>shown", "shown");
	TEXT_IS("<script>x</script >shown", "shown");
	TEXT_IS("<script>x</scriptx>y</script/>shown", "shown");
	TEXT_IS("<script><!--<script></script>hidden</script>shown", "shown");
	TEXT_IS("<script><!-- </script>shown", "shown");
	TEXT_IS("<script><!--<script>--></script>shown", "shown");
	TEXT_IS("<script><!--<script>x</SCRIPT>y-->z</script>shown", "shown");
	TEXT_IS("<script><!--<scriptx></script>shown", "shown");
	TEXT_IS("<script><!-->shown</script>", "");
	TEXT_IS("<script><!--->x</script>shown", "shown");
	TEXT_IS("<script>never closed <p>hidden", "");
	reduce("<script src=\"http://js.example/a.js\"></script>");
	CHECK(html_url("http://js.example/a.js") != NULL, "script src is a link");
}

static void test_references(void)
{
	TEXT_IS("&notit; &notin; &not", "\xc2\xacit; \xe2\x88\x89 \xc2\xac");
	TEXT_IS("&amp &AMP; &nbsp;x", "& & \xc2\xa0x");
	TEXT_IS("&period;&sol;&NewLine;x", "./ x");
	TEXT_IS("&foo; &; & &1; &amp", "&foo; &; & &1; &");
	TEXT_IS("&#x80;&#128;&#x9F;&#x81;", "\xe2\x82\xac\xe2\x82\xac\xc5\xb8\xc2\x81");
	TEXT_IS("&#0;&#xD800;&#x110000;&#99999999999999999999;", "\xef\xbf\xbd\xef\xbf\xbd"
								 "\xef\xbf\xbd\xef\xbf\xbd");
	TEXT_IS("&#x41&#66;&#X43;&#;&#x;&#xg", "ABC&#;&#x;&#xg");
	TEXT_IS("&#0000000000000000000065;", "A");
	/* in an attribute value, a match without ';' before '=' or an
	 * alphanumeric stays as written */
	reduce("<a href=\"http://x.example/p?a=1&amp=2&not3&copy;&lt\">x</a>");
	CHECK(facts.url_count == 1 && strstr(facts.urls[0].url, "&amp=2&not3") != NULL &&
		  strstr(facts.urls[0].url, "&copy") == NULL,
	      "&amp= and &not3 kept, &copy; and &lt decoded: %s",
	      facts.url_count ? facts.urls[0].url : "-");
	reduce("<a href=\"h&#116;tp://num.example/\">x</a>");
	CHECK(html_url("http://num.example/") != NULL, "a numeric reference in a value");
}

static void test_attributes(void)
{
	reduce("<a href=http://uq.example/>x</a>");
	CHECK(html_url("http://uq.example/") != NULL, "unquoted");
	reduce("<a href = 'http://sp.example/' >x</a>");
	CHECK(html_url("http://sp.example/") != NULL, "blanks around '=', single quotes");
	reduce("<A HREF=\"http://up.example/\">x</A>");
	CHECK(html_url("http://up.example/") != NULL, "upper-case names");
	reduce("<a href=\"http://first.example/\" href=\"http://second.example/\">x</a>");
	CHECK(html_url("http://first.example/") != NULL && !has_url("http://second.example/"),
	      "the first of duplicate attributes wins");
	reduce("<a title=\"x>y\" href=\"http://after.example/\">z</a>");
	CHECK(html_url("http://after.example/") != NULL && strcmp(text.data, "z") == 0,
	      "a '>' in a quoted value does not end the tag");
	reduce("<a href=\"http://q.example/\"title=\"t\">x</a>");
	CHECK(html_url("http://q.example/") != NULL, "no blank after a quoted value");
	reduce("<a =href=\"http://eq.example/\" x=>y</a>");
	CHECK(facts.url_count == 0 && strcmp(text.data, "y") == 0,
	      "\"=href\" is another name; x= without a value");
	reduce("<a href=\"http://eof.example/\"");
	CHECK(facts.url_count == 0, "EOF in a tag: no tag");
	reduce("<img src=\"http://i.example/1.png\"/><area href=\"http://ar.example/\">"
	       "<form action=\"http://f.example/\"><td background=\"http://bg.example/\">");
	CHECK(html_url("http://i.example/1.png") && html_url("http://ar.example/") &&
		  html_url("http://f.example/") && html_url("http://bg.example/"),
	      "src, area href, action, background");
	reduce("<a href=\"https://evil.example.net/\">www.<b>paypal</b>.com</a> after");
	CHECK(html_url("https://evil.example.net/") != NULL &&
		  html_url("https://evil.example.net/")->mismatch,
	      "the <a>'s visible text across elements goes with its href");
}

static void test_nul_and_head(void)
{
	static const char nul[] = "a\0b<a\0 href=\"http://n.example/\">c</a>"
				  "<a href=\"http://n2.example/\0\">d</a><textarea>e\0f</textarea>";

	reduce_n(nul, sizeof(nul) - 1);
	CHECK(strlen(text.data) == text.len && utf8_ok(text.data, text.len),
	      "NUL bytes: no NUL in the text, valid UTF-8");
	CHECK(strncmp(text.data, "abcd", 4) == 0 && strstr(text.data, "e\xef\xbf\xbd\x66") != NULL,
	      "NUL dropped in data, U+FFFD in RCDATA: %s", text.data);
	CHECK(!has_url("http://n.example/") && facts.url_count == 1,
	      "a NUL in the tag name: not an <a>; in the value: U+FFFD");
	TEXT_IS("<html><head><title>t</title><style>s</style> </head><body>b</body>", "b");
	TEXT_IS("<head><meta charset=utf-8><p>shown", "shown");
	TEXT_IS("<head>stray text", "stray text");
	TEXT_IS("<head><noscript>ns</noscript></head>x", "nsx");
	TEXT_IS("<body>a<head>b", "ab");
	TEXT_IS("<template>tpl</template>shown", "shown");
	TEXT_IS("<p>one</p><p>two \t\f three</p>x", "one\ntwo three\nx");
}

/* The sample cut at every offset: no crash, valid UTF-8 (ASan finds the
 * rest). */
static void test_truncated(void)
{
	static const char sample[] =
	    "<!DOCTYPE html><html><head><title>t&amp;</title><style>a{}</style>"
	    "<script><!--<script>x</script>--></script></head><body>"
	    "<p>caf&eacute; &notin &#x80;<a href='http://a.example/?x=1&amp;y'>link</a>"
	    "<!-- c --!><!--><svg><![CDATA[d]]></svg><textarea>&lt;</textarea>"
	    "<a/href=b title=\"q\"/><xmp>x</xmp><plaintext>rest";
	int ok = 1;

	for (size_t n = 0; n <= sizeof(sample) - 1; n++) {
		reduce_n(sample, n);
		ok &= utf8_ok(text.data, text.len) && strlen(text.data) == text.len;
	}
	CHECK(ok, "cut at each of %zu offsets: valid UTF-8 text", sizeof(sample));
}

/* The worst inputs: 10 MB of one pattern each, in linear time. */
static void test_linear(void)
{
	static const char *const patterns[] = {
	    "<a",
	    "&",
	    "<!--",
	    "&#",
	    "&notin",
	    "</",
	    "<a href=\"&amp",
	    "<a b",
	    "<!-- -- !>",
	    "<svg><![CDATA[",
	    "<script><!--<script>",
	    "<textarea></textare",
	    "<?",
	    "<a href=x ",
	};
	size_t size = 10 * 1024 * 1024;
	char *big = malloc(size);

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		size_t n = strlen(patterns[i]);
		clock_t t0 = clock();
		double s;

		for (size_t o = 0; o < size; o += n)
			memcpy(big + o, patterns[i], size - o < n ? size - o : n);
		reduce_n(big, size);
		s = (double)(clock() - t0) / CLOCKS_PER_SEC;
		CHECK(s < 5 && utf8_ok(text.data, text.len), "10 MB of \"%s\": %.2f s", patterns[i],
		      s);
	}
	free(big);
}

int main(void)
{
	content_url_init();
	test_differentials();
	test_comments();
	test_cdata();
	test_rawtext();
	test_script();
	test_references();
	test_attributes();
	test_nul_and_head();
	test_truncated();
	test_linear();
	arena_free(&arena);
	free(text.data);
	return check_done();
}

/*
 * content_test - the MIME walk and the links on the shapes real mail has:
 * nested multiparts, base64 with noise, quoted-printable soft breaks,
 * ISO-8859-x, windows-125x, GB2312 and Shift_JIS text, HTML with entities
 * and obfuscated links, IDN and punycode hosts, numeric hosts, attachments
 * (RFC 2231 and 2047 names, double extensions, sniffed executables, ZIP
 * members), and the hostile ones: missing and unterminated boundaries,
 * 1000-deep nesting, a 50 MB attachment, every bound overrun.  Each
 * message is fed as an MTA feeds it: header fields one by one, the body
 * in small chunks.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "content_facts.h"
#include "content.h"
#include "content_int.h"
#include "content_url.h"
#include "json.h"

static const struct content_limits defaults = {
    .max_bytes = 2 * 1024 * 1024,
    .max_text = 1024 * 1024,
    .max_parts = 100,
    .max_depth = 20,
    .max_urls = 200,
};

/* The last scan: the facts' text lives until it is freed. */
static struct content_scan *last;

/* A test's end: its last scan, then its arena (which holds the scan). */
static void done(struct arena **a)
{
	content_scan_free(&last);
	CHECK(last == NULL, "content_scan_free clears the pointer");
	arena_free(a);
}

/* Scan a whole message ("\n" or "\r\n" lines): header fields unfolded as
 * a milter gets them, the body in chunks of 7 bytes. */
static void scan_with(struct arena *a, const char *msg, size_t len, const struct content_limits *l,
		      struct content_facts *out)
{
	struct content_scan *c;
	const char *p = msg, *end = msg + len, *body;

	content_scan_free(&last);
	c = last = content_scan_new(a, l);

	body = strstr(msg, "\r\n\r\n") != NULL && (strstr(msg, "\n\n") == NULL ||
						   strstr(msg, "\r\n\r\n") < strstr(msg, "\n\n"))
		   ? strstr(msg, "\r\n\r\n") + 4
	       : strstr(msg, "\n\n") != NULL ? strstr(msg, "\n\n") + 2
					     : end;
	while (p < body) {
		const char *colon = memchr(p, ':', (size_t)(body - p)), *e = p;
		char *name, *value;

		if (colon == NULL)
			break;
		/* the field ends at a line break not followed by a blank */
		while (e < body && !(*e == '\n' && e + 1 < body && e[1] != ' ' && e[1] != '\t'))
			e++;
		name = arena_strndup(a, p, (size_t)(colon - p));
		value = arena_strndup(a, colon + 1, (size_t)(e - colon - 1));
		if (strlen(value) > 0 && value[strlen(value) - 1] == '\r')
			value[strlen(value) - 1] = '\0';
		content_scan_header(c, name, value);
		p = e + 1;
		if (p < body && (*p == '\n' || *p == '\r'))
			break;
	}
	for (p = body; p < end; p += 7)
		content_scan_body(c, (const unsigned char *)p, end - p < 7 ? (size_t)(end - p) : 7);
	content_scan_finish(c, out);
}

static void scan(struct arena *a, const char *msg, struct content_facts *out)
{
	scan_with(a, msg, strlen(msg), &defaults, out);
}

static int utf8_ok(const char *s, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if ((l = json_utf8_len((const unsigned char *)s + i, n - i)) == 0)
			return 0;
	return 1;
}

static int has_url(const struct content_facts *f, const char *url)
{
	for (size_t i = 0; i < f->url_count; i++)
		if (strcmp(f->urls[i].url, url) == 0)
			return 1;
	return 0;
}

static const struct content_url *url_of(const struct content_facts *f, const char *url)
{
	for (size_t i = 0; i < f->url_count; i++)
		if (strcmp(f->urls[i].url, url) == 0)
			return &f->urls[i];
	return NULL;
}

static void test_plain(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	scan(a,
	     "Subject: hi\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	     "Hello,\r\nsee https://Example.COM/a?b=1 or www.example.org/page.\r\nBye\r\n",
	     &f);
	CHECK(f.scanned && f.part_count == 1, "one part");
	CHECK_STR(f.parts[0].type, "text/plain", "type");
	CHECK_STR(f.parts[0].charset, "us-ascii", "charset");
	CHECK(f.parts[0].encoding == NULL && f.parts[0].depth == 0 && !f.parts[0].attachment,
	      "7bit, depth 0, inline");
	CHECK(strstr(f.text, "Hello,") != NULL && strstr(f.text, "Bye") != NULL, "text");
	CHECK(f.url_count == 2 && has_url(&f, "https://example.com/a?b=1") &&
		  has_url(&f, "http://www.example.org/page"),
	      "bare https:// and www. links, the sentence's dot left out");
	CHECK(f.domain_count == 2 && f.host_count == 2, "two hosts, two domains");
	CHECK(!f.html_only && !f.link_text_mismatch, "not html only, no mismatch");
	CHECK(f.raw_len > 0 && strstr(f.raw, "Hello,") != NULL, "rawbody kept");
	done(&a);
}

static void test_nested(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	scan(a,
	     "MIME-Version: 1.0\r\n"
	     "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
	     "preamble\r\n--outer\r\n"
	     "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
	     "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain words\r\n"
	     "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	     "<p>html <b>words</b></p>\r\n--inner--\r\n"
	     "--outer\r\nContent-Type: application/pdf; name=\"doc.pdf\"\r\n"
	     "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
	     "Content-Transfer-Encoding: base64\r\n\r\n"
	     "JVBERi0xLjQKJeLjz9MK\r\n--outer--\r\nepilogue\r\n",
	     &f);
	CHECK(f.part_count == 3, "three leaves (%zu)", f.part_count);
	CHECK(f.part_count == 3 && f.parts[0].depth == 2 && f.parts[1].depth == 2 &&
		  f.parts[2].depth == 1,
	      "depths 2, 2, 1");
	CHECK(f.part_count == 3 && strcmp(f.parts[2].filename, "doc.pdf") == 0 &&
		  f.parts[2].attachment && strcmp(f.parts[2].encoding, "base64") == 0 &&
		  f.parts[2].size == 15 && f.parts[2].sniffed != NULL &&
		  strcmp(f.parts[2].sniffed, "application/pdf") == 0,
	      "the PDF: name, base64, decoded size, sniffed");
	CHECK(strstr(f.text, "plain words") != NULL && strstr(f.text, "html words") != NULL,
	      "both alternatives' text: %s", f.text);
	CHECK(strstr(f.text, "preamble") == NULL && strstr(f.text, "epilogue") == NULL,
	      "no preamble or epilogue");
	CHECK(!f.html_only, "a plain alternative: not html only");
	done(&a);
}

static void test_encodings(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	/* "Hello base64 world" with blanks, bad characters and odd line breaks */
	scan(a,
	     "Content-Type: text/plain\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
	     "SGVsbG8g YmFz\r\n  ZTY0IH!dv\n\ncmxk\r\n",
	     &f);
	CHECK(strstr(f.text, "Hello base64 world") != NULL, "base64 with noise: %s", f.text);
	CHECK(f.part_count == 1 && strcmp(f.parts[0].encoding, "base64") == 0, "encoding named");
	CHECK(strstr(f.raw, "SGVsbG8g") != NULL, "rawbody is undecoded");

	scan(a,
	     "Content-Type: text/plain; charset=utf-8\r\n"
	     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	     "Soft bre=\r\naks jo=\nin; caf=C3=A9 =3D ok\r\n",
	     &f);
	CHECK(strstr(f.text, "Soft breaks join; caf\xc3\xa9 = ok") != NULL,
	      "quoted-printable soft breaks: %s", f.text);
	done(&a);
}

static void charset_case(const char *charset, const char *bytes, const char *want)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	char *msg = arena_printf(a,
				 "Content-Type: text/plain; charset=\"%s\"\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
				 charset, bytes);

	scan(a, msg, &f);
	CHECK(strstr(f.text, want) != NULL && utf8_ok(f.text, f.text_len), "%s to UTF-8: %s",
	      charset, f.text);
	done(&a);
}

static void test_charsets(void)
{
	charset_case("ISO-8859-1", "caf\xe9 na\xefve", "caf\xc3\xa9 na\xc3\xafve");
	charset_case("iso-8859-2", "\xb1\xea", "\xc4\x85\xc4\x99");		/* ąę */
	charset_case("ISO-8859-7", "\xe1\xe2\xe3", "\xce\xb1\xce\xb2\xce\xb3"); /* αβγ */
	charset_case("windows-1251", "\xcf\xf0\xe8\xe2\xe5\xf2",
		     "\xd0\x9f\xd1\x80\xd0\xb8");				/* При */
	charset_case("windows-1252", "\x80 5", "\xe2\x82\xac 5");		/* € */
	charset_case("GB2312", "\xc4\xe3\xba\xc3", "\xe4\xbd\xa0\xe5\xa5\xbd"); /* 你好 */
	charset_case(
	    "Shift_JIS", "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd",
	    "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"); /* こんにちは */
	charset_case("x-unknown-charset", "caf\xe9", "caf\xc3\xa9");
	charset_case("utf-8", "bad \xff\xfe bytes", "bad \xef\xbf\xbd");
	{
		struct arena *a = arena_new(4096);
		struct content_facts f;

		scan(a, "Subject: x\r\n\r\nno charset caf\xe9\r\n", &f);
		CHECK(strstr(f.text, "caf\xc3\xa9") != NULL, "undeclared 8-bit: windows-1252");
		done(&a);
	}
}

static void test_html(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	const struct content_url *u;

	scan(a,
	     "Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
	     "<html><head><title>t</title><style>p{color:red}</style>"
	     "<script>var hidden='http://script.example.com/';</script></head><body>"
	     "<p>Caf&eacute; &amp; cr\xe8me&nbsp;br&#xFBB;l&#233;e</p>"
	     "<a href=\"h&#116;tp://WWW.Ex%61mple.COM./Path\">click here</a>"
	     "<a href=\" https://evil.example.net/login\">https://www.paypal.com/signin</a>"
	     "<a href=\"https://www.paypal.com/x\">www.paypal.com</a>"
	     "<a href=\"http://files.example.org/r\">report.pdf</a>"
	     "<img src=\"//cdn.example.com/i.png\"><form action=\"https://phish.example/\">"
	     "<div>visit http://bare.example.com/x</div>"
	     "<a href=\"mailto:someone@example.com\">mail</a>"
	     "</body></html>\r\n",
	     &f);
	CHECK(f.html_only, "html only");
	CHECK(strstr(f.text, "Caf\xc3\xa9 & cr\xc3\xa8me") != NULL, "entities decoded: %s", f.text);
	CHECK(strstr(f.text, "color") == NULL && strstr(f.text, "var hidden") == NULL,
	      "no style or script text");
	CHECK(has_url(&f, "http://www.example.com/Path"),
	      "entity-obfuscated scheme, %%-encoded host, case, trailing dot");
	CHECK(!has_url(&f, "http://script.example.com/"), "script text is not a link");
	CHECK(has_url(&f, "http://cdn.example.com/i.png") &&
		  has_url(&f, "https://phish.example/") && has_url(&f, "http://bare.example.com/x"),
	      "img src, form action, a bare link in the HTML text");
	u = url_of(&f, "https://evil.example.net/login");
	CHECK(u != NULL && u->mismatch && u->from_html &&
		  strcmp(u->text_domain, "paypal.com") == 0 &&
		  strcmp(u->domain, "example.net") == 0,
	      "link text naming paypal.com over example.net: mismatch");
	u = url_of(&f, "https://www.paypal.com/x");
	CHECK(u != NULL && !u->mismatch && strcmp(u->text_domain, "paypal.com") == 0,
	      "link text naming its own domain: no mismatch");
	u = url_of(&f, "http://files.example.org/r");
	CHECK(u != NULL && !u->mismatch && u->text_domain == NULL,
	      "\"report.pdf\" names no domain");
	CHECK(f.link_text_mismatch, "the message has a mismatch");
	for (size_t i = 0; i < f.url_count; i++)
		CHECK(strncmp(f.urls[i].url, "http", 4) == 0, "only web links: %s", f.urls[i].url);
	done(&a);
}

/* What the HTML reducer must not be fooled by. */
static void test_html_edges(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	const struct content_url *u;

	/* a <meta> charset inside a part declared (and converted from) UTF-8 */
	scan(a,
	     "Content-Type: text/html; charset=utf-8\r\n\r\n"
	     "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
	     "charset=iso-8859-1\"></head><body><p>na\xc3\xafve caf\xc3\xa9</p></body></html>\r\n",
	     &f);
	CHECK(strstr(f.text, "na\xc3\xafve caf\xc3\xa9") != NULL, "a <meta> charset is ignored: %s",
	      f.text);
	/* an <a> in an <a>; text split over elements; a link without text */
	scan(a,
	     "Content-Type: text/html\r\n\r\n"
	     "<a href=\"http://one.example.com/\">www.<b>bank</b>.co.uk"
	     "<a href=\"http://two.example.com/\">two.example.com</a>"
	     "<a href=\"http://three.example.com/\"><img src=\"http://img.example.com/x\"></a>\r\n",
	     &f);
	u = url_of(&f, "http://one.example.com/");
	CHECK(u != NULL && u->mismatch && strcmp(u->text_domain, "bank.co.uk") == 0,
	      "visible text across elements (www.<b>bank</b>.co.uk) names bank.co.uk");
	u = url_of(&f, "http://two.example.com/");
	CHECK(u != NULL && !u->mismatch, "a nested <a> is a link of its own");
	u = url_of(&f, "http://three.example.com/");
	CHECK(u != NULL && !u->mismatch && u->text_domain == NULL &&
		  has_url(&f, "http://img.example.com/x"),
	      "an image link: no text, no mismatch");
	/* an unclosed script hides what follows, as in a browser; no crash */
	scan(a, "Content-Type: text/html\r\n\r\n<p>shown</p><script>var x = '<p>hidden</p>';", &f);
	CHECK(strstr(f.text, "shown") != NULL && strstr(f.text, "hidden") == NULL,
	      "script text is never body text");
	/* a deep HTML tree costs no stack */
	{
		char *deep = malloc(200000);
		size_t o = (size_t)sprintf(deep, "Content-Type: text/html\r\n\r\n");

		for (int i = 0; i < 20000; i++)
			o += (size_t)sprintf(deep + o, "<div>");
		o += (size_t)sprintf(deep + o, "deep http://deep.example.com/");
		scan_with(a, deep, o, &defaults, &f);
		CHECK(f.scanned, "20000 nested <div>: no crash (%zu URLs)", f.url_count);
		free(deep);
	}
	done(&a);
}

static void test_hosts(void)
{
	struct arena *a = arena_new(4096);
	static const struct {
		const char *in, *url, *host, *domain;
	} cases[] = {
	    {"http://b\xc3\xbc"
	     "cher.de/",
	     "http://xn--bcher-kva.de/", "xn--bcher-kva.de", "xn--bcher-kva.de"},
	    {"http://XN--BCHER-KVA.de./x", "http://xn--bcher-kva.de/x", "xn--bcher-kva.de",
	     "xn--bcher-kva.de"},
	    {"https://www.p\xd0\xb0ypal.com/", "https://www.xn--pypal-4ve.com/",
	     "www.xn--pypal-4ve.com", "xn--pypal-4ve.com"}, /* Cyrillic а */
	    {"http://3232235777/", "http://192.168.1.1/", "192.168.1.1", NULL},
	    {"http://0xC0.0xA8.1.1/a", "http://192.168.1.1/a", "192.168.1.1", NULL},
	    {"http://0300.0250.01.01", "http://192.168.1.1/", "192.168.1.1", NULL},
	    {"http://192.168.257/", "http://192.168.1.1/", "192.168.1.1", NULL},
	    {"http://0xc0a80101/", "http://192.168.1.1/", "192.168.1.1", NULL},
	    {"http://[2001:DB8:0:0::1]:8080/x", "http://[2001:db8::1]:8080/x", "2001:db8::1", NULL},
	    {"http://%77%77%77.example.co.uk/", "http://www.example.co.uk/", "www.example.co.uk",
	     "example.co.uk"},
	    {"https://example.com:443/", "https://example.com/", "example.com", "example.com"},
	    {"https://user@example.com:8443/p q", "https://user@example.com:8443/p%20q",
	     "example.com", "example.com"},
	    {"http:\\\\evil.example.com\\x", "http://evil.example.com/x", "evil.example.com",
	     "example.com"},
	    {"ht\ntp://split.example.com/", "http://split.example.com/", "split.example.com",
	     "example.com"},
	    {"http://foo.blogspot.com/", "http://foo.blogspot.com/", "foo.blogspot.com",
	     "foo.blogspot.com"},
	};
	static const char *const bad[] = {
	    "http://999.1.1.1/",
	    "http://1.2.3.4.5/",
	    "ftp://example.com/",
	    "javascript:alert(1)",
	    "http://exa mple.com/",
	    "http://[::1/",
	    "http:///",
	    "http://a..b/",
	    "mailto:a@b.c",
	    "http://example.com:99999/",
	    "http://%00.example.com/",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *url = NULL, *host = NULL, *domain;
		int r = content_url_normalise(a, cases[i].in, strlen(cases[i].in), &url, &host);

		domain = r == 0 ? content_url_domain(a, host) : NULL;
		CHECK(r == 0 && strcmp(url, cases[i].url) == 0 &&
			  strcmp(host, cases[i].host) == 0 &&
			  (domain == NULL
			       ? cases[i].domain == NULL
			       : cases[i].domain != NULL && strcmp(domain, cases[i].domain) == 0),
		      "%s -> %s %s %s", cases[i].in, url ? url : "-", host ? host : "-",
		      domain ? domain : "-");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *url, *host;

		CHECK(content_url_normalise(a, bad[i], strlen(bad[i]), &url, &host) < 0,
		      "not a usable web link: %s", bad[i]);
	}
	done(&a);
}

/* A text of up to max_count pieces picked by a fixed rule (seed moves
 * on), written to out: the generator of the differential tests below.
 * Returns its length. */
static size_t pieces_text(char *out, const char *const *pieces, size_t piece_count,
			  size_t max_count, unsigned *seed)
{
	size_t n = 0, count;

	*seed = *seed * 1103515245u + 12345u;
	count = (*seed >> 8) % max_count;
	for (size_t k = 0; k < count; k++) {
		const char *p;

		*seed = *seed * 1103515245u + 12345u;
		p = pieces[(*seed >> 8) % piece_count];
		memcpy(out + n, p, strlen(p));
		n += strlen(p);
	}
	return n;
}

/* The fast path for plain hosts gives what the general path gives, on
 * hosts made of the bytes where the two could part: case, dots, digits
 * (IPv4 numbers), hex, "-", "_", escapes, blanks and 8-bit bytes. */
static void test_host_fast(void)
{
	static const char alphabet[] = "aZx09.-_%2E\xc3\xbc 0x1";
	struct arena *a = arena_new(1 << 16);
	unsigned seed = 20261207u, same = 0, fast_taken = 0;
	const unsigned rounds = 200000;
	char link[600];

	for (unsigned i = 0; i < rounds; i++) {
		const char *u1 = NULL, *h1 = NULL, *u2 = NULL, *h2 = NULL;
		size_t n = 7, len;
		int r1, r2;

		memcpy(link, "http://", 7);
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % 24;
		if (i % 1000 == 0) /* near and past the 253 bytes of a name */
			len = 240 + (seed >> 8) % 30;
		for (size_t k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			link[n++] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		memcpy(link + n, "/p", 3);
		n += 2;
		content_url_host_fast(1);
		r1 = content_url_normalise(a, link, n, &u1, &h1);
		content_url_host_fast(0);
		r2 = content_url_normalise(a, link, n, &u2, &h2);
		if (r1 == r2 && (r1 < 0 || (strcmp(u1, u2) == 0 && strcmp(h1, h2) == 0)))
			same++;
		else
			CHECK(0, "fast and general hosts differ on %s: %s / %s", link,
			      r1 == 0 ? h1 : "-", r2 == 0 ? h2 : "-");
		fast_taken += r1 == 0 && strchr(link + 7, '%') == NULL;
		if (i % 4096 == 4095) { /* the arena holds every copy: start again */
			arena_free(&a);
			a = arena_new(1 << 16);
		}
	}
	content_url_host_fast(1);
	CHECK(same == rounds && fast_taken > rounds / 20,
	      "fast and general hosts agree on %u of %u hosts (%u usable without escapes)", same,
	      rounds, fast_taken);
	done(&a);
}

/* Quoted-printable decoded by runs and escapes: GMime's bytes for the
 * whole input in one step, on texts made of what QP decoding turns on
 * ("=", hex digits of both cases, soft breaks of both line ends, a "="
 * at the very end). */
static void test_qp_runs(void)
{
	static const char *const pieces[] = {"=",  "=3D", "=3d",  "=\r\n", "=\n", "=\r",
					     "=X", "a",	  "\r\n", "\n",	   " ",	  "=2",
					     "F",  "==",  "x=",	  "=0A",   "\t"};
	unsigned seed = 11u, same = 0;
	const unsigned rounds = 100000;
	char in[256], whole[300], ours[300];

	for (unsigned i = 0; i < rounds; i++) {
		GMimeEncoding state;
		size_t n = pieces_text(in, pieces, sizeof(pieces) / sizeof(pieces[0]), 40, &seed),
		       n_whole, n_ours;

		g_mime_encoding_init_decode(&state, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
		n_whole = g_mime_encoding_step(&state, in, n, whole);
		n_ours = content_qp_decode(in, n, ours);
		if (n_whole == n_ours && memcmp(whole, ours, n_ours) == 0)
			same++;
		else
			CHECK(0, "quoted-printable decoded otherwise than GMime's: \"%.*s\"",
			      (int)n, in);
	}
	CHECK(same == rounds,
	      "quoted-printable by runs and escapes: GMime's bytes in %u of %u texts", same,
	      rounds);
}

/* A text of valid UTF-8 without NUL is cleaned by squeezing its CR LFs:
 * the same text as the byte-by-byte cleaning, for a part read where it
 * lies (8bit) and for a decoded one (quoted-printable), on texts of CRs,
 * LFs, NULs, UTF-8 and bytes that are not. */
static void test_text_fast(void)
{
	static const char *const pieces[] = {"ab",     "\r",  "\n",	  "\r\n",
					     "\r\r\n", " ",   "\xc3\xa9", "\xff",
					     "=0D",    "=0A", "=00",	  "http://t.test/"};
	static const char *const heads[] = {
	    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n",
	    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
	    "quoted-printable\n\n"};
	unsigned seed = 5u, same = 0, rounds = 4000;
	char msg[1024];

	for (unsigned i = 0; i < rounds; i++) {
		struct arena *a = arena_new(4096);
		struct content_facts fast, slow;
		struct content_scan *first;
		size_t n = strlen(heads[i % 2]);

		memcpy(msg, heads[i % 2], n);
		n += pieces_text(msg + n, pieces, sizeof(pieces) / sizeof(pieces[0]), 30, &seed);
		scan_with(a, msg, n, &defaults, &fast);
		first = last;
		last = NULL;
		content_text_fast(0);
		scan_with(a, msg, n, &defaults, &slow);
		content_text_fast(1);
		if (content_facts_same(&fast, &slow))
			same++;
		else
			CHECK(0, "squeezed text differs: \"%.*s\"", (int)n, msg);
		content_scan_free(&first);
		content_scan_free(&last);
		arena_free(&a); /* (not done(): one check a text would be 4,000 lines) */
	}
	CHECK(same == rounds, "texts cleaned by squeezing CR LF as byte by byte: %u of %u", same,
	      rounds);
}

/* The bare links of a text, found the way a reader's eye would: at every
 * h or w, in order (the model the scan by ":" and "." must match). */
static size_t model_url_char(const char *p, size_t n)
{
	static const char *const stops[] = {"\xc2\xa0",	    "\xc2\xab",	    "\xc2\xbb",
					    "\xe2\x80\x98", "\xe2\x80\x99", "\xe2\x80\x9c",
					    "\xe2\x80\x9d", "\xe3\x80\x80", "\xe3\x80\x82"};
	unsigned char c = (unsigned char)p[0];

	if (c < 0x80)
		return c > ' ' && c < 0x7f && strchr("<>\"'`{}|^", c) == NULL;
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (n >= strlen(stops[i]) && memcmp(p, stops[i], strlen(stops[i])) == 0)
			return 0;
	return 1;
}

static void model_bare_links(struct content_urls *u, const char *t, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t end = i;

		if (!((len - i >= 5 && strncasecmp(t + i, "www.", 4) == 0) ||
		      (len - i >= 8 && strncasecmp(t + i, "https://", 8) == 0) ||
		      (len - i >= 7 && strncasecmp(t + i, "http://", 7) == 0)))
			continue;
		if (i > 0 && (isalnum((unsigned char)t[i - 1]) || strchr("./@", t[i - 1]) != NULL))
			continue;
		while (end < len && model_url_char(t + end, len - end))
			end++;
		while (end > i && strchr(".,;:!?)]", t[end - 1]) != NULL)
			end--;
		if (end - i < CONTENT_URL_MAX)
			content_urls_add(u, t + i, end - i, 0, NULL, 0);
		i = end;
	}
}

static void test_bare_link_model(void)
{
	static const char *const pieces[] = {
	    "http://", "HTTPS://", "https:/",  "www.",	 "WwW.",      "w.", "h", "ttp",
	    ":",       ".",	   "/",	       "a.test", "b.example", " ",  ",", ")",
	    "@",       "x",	   "\xc2\xa0", "\"",	 "wwww.",     "9"};
	unsigned seed = 7u, same = 0, links = 0;
	const unsigned rounds = 100000;
	char text[512];

	for (unsigned i = 0; i < rounds; i++) {
		struct arena *a = arena_new(8192);
		struct content_urls *mine = content_urls_new(a, 200),
				    *model = content_urls_new(a, 200);
		struct content_facts f1, f2;
		size_t n = pieces_text(text, pieces, sizeof(pieces) / sizeof(pieces[0]), 16, &seed);
		int ok;

		content_urls_scan_text(mine, text, n);
		model_bare_links(model, text, n);
		memset(&f1, 0, sizeof(f1));
		memset(&f2, 0, sizeof(f2));
		content_urls_finish(mine, &f1);
		content_urls_finish(model, &f2);
		ok = f1.url_count == f2.url_count;
		for (size_t k = 0; ok && k < f1.url_count; k++)
			ok = strcmp(f1.urls[k].url, f2.urls[k].url) == 0;
		if (ok)
			same++;
		else
			CHECK(0, "bare links differ from the model's in \"%.*s\"", (int)n, text);
		links += f1.url_count > 0;
		arena_free(&a);
	}
	CHECK(
	    same == rounds && links > rounds / 10,
	    "the scan by \":\" and \".\" finds the model's links in %u of %u texts (%u with links)",
	    same, rounds, links);
}

/* A message of one part is read from its fields without GMime's parser:
 * the same facts as the parser's, whatever the fields say. */
static void test_single_direct(void)
{
	static const char *const msgs[] = {
	    "Subject: none\n\nplain text, no MIME field, http://a.example/x\n",
	    "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: "
	    "quoted-printable\n\ncaf=E9 =3D http://b.example/\n",
	    "Content-Type: text/html; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n"
	    "PHA+PGEgaHJlZj0iaHR0cDovL2MuZXhhbXBsZS8iPmM8L2E+PC9wPgo=\n",
	    "Content-Type: application/octet-stream; name=\"a.pdf.exe\"\n"
	    "Content-Disposition: attachment; filename*=utf-8''in%C3%A9voice.pdf.exe\n"
	    "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAA=\n",
	    "Content-Type: text/plain\nContent-Disposition: inline\n\nan inline text\n",
	    "Content-Type: TEXT/PLAIN;\n charset=us-ascii;\n format=flowed\n\nfolded type\n",
	    "Content-Type: text/plain\nContent-Transfer-Encoding: x-unknown\n\nbody=3D\n",
	    "Content-Type: garbage\n\nnot a type\n",
	    "Content-Type: text/plain\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\n\nx\n--b--\n",
	    "Content-Type: text/plain; name==?utf-8?B?w6l0w6kuZXhl?=\n\nencoded name\n",
	    "Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\n"
	    "begin 644 a.txt\n#86)C\n`\nend\n",
	    "Content-Type: text/pl\xe9in\n\n8-bit in a field\n",
	    "Content-Type: text/plain\n\n",
	    "Content-Type: text/html; charset=utf-8\r\n html><head>x\r\n\r\n<p>folded</p>\r\n",
	    "Content-Type: text/plain;\r\n\tname=\"a\r\n b.exe\"\r\n\r\nfolded name\r\n",
	    "Content-Type: multion/zip; name=\"azd-vi \n\n",
	    "Content-Type: application/zip; name=\"a.zip\n\nunterminated quote\n",
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct arena *a = arena_new(4096);
		struct content_facts direct, parsed;
		struct content_scan *first;

		scan(a, msgs[i], &direct);
		first = last; /* its facts live until it is freed */
		last = NULL;
		content_scan_direct(0);
		scan(a, msgs[i], &parsed);
		content_scan_direct(1);
		CHECK(content_facts_same(&direct, &parsed),
		      "one part, read directly as by the parser (%zu)", i);
		content_scan_free(&first);
		done(&a);
	}
}

/* content_url_domain's cache across messages: the same answer from it,
 * into the host asked about, and none for a host it cannot keep. */
static void test_domain_cache(void)
{
	char h1[] = "news.a.example.co.uk", h2[] = "news.a.example.co.uk", ip[] = "192.0.2.1";
	char long_host[80];
	const char *d1, *d2;

	memset(long_host, 'x', 60);
	strcpy(long_host + 60, ".example.co.uk");
	d1 = content_url_domain(NULL, h1);
	d2 = content_url_domain(NULL, h2);
	CHECK(d1 != NULL && strcmp(d1, "example.co.uk") == 0 && d2 != NULL &&
		  strcmp(d2, "example.co.uk") == 0 && d2 >= h2 && d2 < h2 + sizeof(h2),
	      "a host asked twice: the same domain, a suffix of the host asked about");
	CHECK(content_url_domain(NULL, ip) == NULL && content_url_domain(NULL, ip) == NULL,
	      "an address has no domain, cached or not");
	d1 = content_url_domain(NULL, long_host);
	CHECK(d1 != NULL && strcmp(d1, "example.co.uk") == 0 &&
		  content_url_domain(NULL, long_host) == d1,
	      "a host too long to cache: asked of the list each time");
}

/* A link whose userinfo fills the URL cap, then a host and a port: the
 * normalised URL would not fit, and nothing is written past it (this
 * once wrote the host and port past a stack buffer: the sanitizer build
 * sees it).  Just under the cap it is kept whole. */
static void test_long_userinfo(void)
{
	struct arena *a = arena_new(4096);
	char raw[CONTENT_URL_MAX + 200];
	const char *url = NULL, *host = NULL;
	size_t kept = 0, over = 0;

	for (size_t user = CONTENT_URL_MAX - 60; user < CONTENT_URL_MAX + 20; user++) {
		memcpy(raw, "http://", 7);
		memset(raw + 7, 'u', user);
		strcpy(raw + 7 + user, "@a-long-host-name.example.com:8080/x");
		if (content_url_normalise(a, raw, strlen(raw), &url, &host) == 0)
			kept++, over += strlen(url) > CONTENT_URL_MAX;
	}
	CHECK(over == 0, "userinfo up to the cap: none of %zu kept is longer than the cap", kept);
	strcpy(raw, "http://user@example.com:8080/x");
	CHECK(content_url_normalise(a, raw, strlen(raw), &url, &host) == 0 &&
		  strcmp(url, "http://user@example.com:8080/x") == 0,
	      "a short one is kept");
	memset(raw + 7, 'u', 1900);
	strcpy(raw + 7 + 1900, "@example.com:8080/x");
	CHECK(content_url_normalise(a, raw, strlen(raw), &url, &host) == 0 &&
		  strlen(url) == 7 + 1900 + strlen("@example.com:8080/x"),
	      "1900 bytes of userinfo fit");
	done(&a);
}

static void test_idn_message(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	scan(a,
	     "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	     "http://b\xc3\xbc"
	     "cher.de/ and http://xn--bcher-kva.de/ and "
	     "https://www.b\xc3\xbc"
	     "cher.de/ and http://192.168.1.1/ http://3232235777/\r\n",
	     &f);
	CHECK(f.url_count == 3, "three distinct URLs (%zu)", f.url_count);
	CHECK(f.host_count == 3 && f.domain_count == 1 &&
		  strcmp(f.domains[0], "xn--bcher-kva.de") == 0,
	      "IDN and punycode are one domain; the IP has none");
	done(&a);
}

static void test_attachments(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	scan(a,
	     "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	     "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	     "--b\r\nContent-Type: application/pdf\r\n"
	     "Content-Disposition: attachment;\r\n filename*=UTF-8''invoice%2Epdf%2Eexe\r\n"
	     "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n"
	     "--b\r\nContent-Type: application/octet-stream;\r\n"
	     " name=\"=?UTF-8?B?w6l0w6kucGRm?=\"\r\n\r\n%PDF-1.5\r\n--b--\r\n",
	     &f);
	CHECK(f.part_count == 3, "three parts");
	CHECK(f.part_count == 3 && f.parts[1].filename != NULL &&
		  strcmp(f.parts[1].filename, "invoice.pdf.exe") == 0,
	      "RFC 2231 file name decoded");
	CHECK(f.part_count == 3 && f.parts[1].sniffed != NULL &&
		  strcmp(f.parts[1].sniffed, "application/x-dosexec") == 0 &&
		  strcmp(f.parts[1].type, "application/pdf") == 0,
	      "declared PDF, sniffed executable");
	CHECK(f.double_extension, "invoice.pdf.exe is a double extension");
	CHECK(f.part_count == 3 && f.parts[2].filename != NULL &&
		  strcmp(f.parts[2].filename, "\xc3\xa9t\xc3\xa9.pdf") == 0 &&
		  f.parts[2].attachment,
	      "RFC 2047 name decoded: %s", f.part_count == 3 ? f.parts[2].filename : "-");
	CHECK(!f.archive_executable, "no archive");
	CHECK(content_name_double_extension("Invoice.PDF   .exe") &&
		  content_name_double_extension("a.doc.js") &&
		  !content_name_double_extension("setup.exe") &&
		  !content_name_double_extension("archive.tar.gz") &&
		  !content_name_double_extension("my.name.exe"),
	      "double extensions, and names that are not");
	done(&a);
}

/* A ZIP with stored members: local headers, central directory, end record. */
static size_t zip_build(unsigned char *out, const char *const *names, size_t n)
{
	size_t o = 0, cd, offsets[8];

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		offsets[i] = o;
		memset(out + o, 0, 30);
		memcpy(out + o, "PK\x03\x04", 4);
		out[o + 26] = (unsigned char)len;
		memcpy(out + o + 30, names[i], len);
		o += 30 + len;
	}
	cd = o;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		memset(out + o, 0, 46);
		memcpy(out + o, "PK\x01\x02", 4);
		out[o + 24] = 42; /* uncompressed size */
		out[o + 28] = (unsigned char)len;
		out[o + 42] = (unsigned char)offsets[i];
		memcpy(out + o + 46, names[i], len);
		o += 46 + len;
	}
	memset(out + o, 0, 22);
	memcpy(out + o, "PK\x05\x06", 4);
	out[o + 8] = out[o + 10] = (unsigned char)n;
	out[o + 12] = (unsigned char)(o - cd);
	out[o + 13] = (unsigned char)((o - cd) >> 8);
	out[o + 16] = (unsigned char)cd;
	out[o + 17] = (unsigned char)(cd >> 8);
	return o + 22;
}

static char *base64(struct arena *a, const unsigned char *in, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = arena_alloc(a, n * 2 + 8);
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = t[v >> 18];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

struct count_names {
	int n;
	char last[64];
};

static int count_name(void *ctx, const char *name, size_t len, uint64_t size)
{
	struct count_names *cn = ctx;

	cn->n++;
	snprintf(cn->last, sizeof(cn->last), "%.*s", (int)len, name);
	(void)size;
	return 0;
}

static void test_zip(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	static const char *const names[] = {"docs/", "docs/readme.txt", "docs/Invoice.pdf.scr"};
	unsigned char zip[1024];
	size_t n = zip_build(zip, names, 3);

	scan(a,
	     arena_printf(a,
			  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			  "--b\r\nContent-Type: application/zip; name=files.zip\r\n"
			  "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n",
			  base64(a, zip, n)),
	     &f);
	CHECK(f.part_count == 3, "the archive and its two files (%zu)", f.part_count);
	CHECK(f.part_count == 3 && f.parts[1].in_archive && f.parts[2].in_archive &&
		  strcmp(f.parts[2].filename, "docs/Invoice.pdf.scr") == 0 &&
		  f.parts[2].depth == f.parts[0].depth + 1 && f.parts[2].size == 42,
	      "members listed with name, depth and size");
	CHECK(f.archive_executable && f.double_extension, "an executable in the archive");
	/* a directory whose offsets point anywhere: never read past the end */
	zip[n - 6] = 0xff;
	zip[n - 5] = 0xff;
	CHECK(content_zip_names(zip, n, 1000, NULL, NULL) == 0, "bad offset: no names");
	CHECK(content_zip_names(zip, 10, 1000, NULL, NULL) == -1, "too short: no directory");
	{ /* cut before its central directory: the local headers still name the files */
		struct count_names cn = {0};
		size_t cut = 30 + strlen(names[0]) + 30 + strlen(names[1]) + 30 + strlen(names[2]);

		CHECK(content_zip_names(zip, cut, 1000, count_name, &cn) == 2 && cn.n == 2 &&
			  strcmp(cn.last, "docs/Invoice.pdf.scr") == 0,
		      "an archive cut short: names from its local headers");
		CHECK(content_zip_names(zip, cut - 3, 1000, count_name, &cn) == 1,
		      "a local header cut in its name: no name from it");
	}
	done(&a);
}

static void test_malformed(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;

	scan(a,
	     "Content-Type: multipart/mixed; boundary=never\r\n\r\n"
	     "text with no boundary at all http://nb.example.com/\r\n",
	     &f);
	CHECK(f.scanned && !has_url(&f, "none"), "a boundary that never comes: no crash");
	scan(a,
	     "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	     "--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
	     "--b\r\nContent-Type: text/html\r\n\r\n<p>unterminated <a "
	     "href='http://u.example.com/'>",
	     &f);
	CHECK(f.part_count == 2 && strstr(f.text, "first part") != NULL &&
		  has_url(&f, "http://u.example.com/"),
	      "unterminated last part and HTML still read");
	scan(a, "Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n", &f);
	CHECK(f.scanned, "multipart without boundary: no crash");
	scan(a, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n====\r\n",
	     &f);
	CHECK(f.scanned && f.part_count == 1 && f.parts[0].size == 0, "base64 of nothing");
	scan(a, "Subject: no MIME at all\r\n\r\n", &f);
	CHECK(f.scanned && f.text_len == 0 && f.url_count == 0, "an empty body");
	scan(a,
	     "Content-Type: text/html\r\n\r\n<a href=\"http://x.example.com/\">"
	     "<a href=\"http://y.example.com/\">deeply<<<>>>&&&#xFFFFFFFF;</a",
	     &f);
	CHECK(f.scanned && utf8_ok(f.text, f.text_len), "broken HTML: valid UTF-8 text");
	done(&a);
}

static void test_deep(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	struct content_limits l = defaults;
	size_t cap = 1000 * 80 + 200, o = 0;
	char *msg = malloc(cap);

	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(
		    msg + o, cap - o,
		    "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	o += (size_t)snprintf(msg + o, cap - o, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	scan_with(a, msg, o, &l, &f);
	CHECK(f.scanned && f.part_count == 0 && f.skipped_parts >= 1,
	      "1000-deep nesting: walked to max-depth, the rest counted");
	o = 0;
	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(msg + o, cap - o, "Content-Type: message/rfc822\r\n\r\n");
	o += (size_t)snprintf(msg + o, cap - o, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	scan_with(a, msg, o, &l, &f);
	CHECK(f.scanned && f.part_count == 0 && f.skipped_parts == 1,
	      "1000 nested messages: the same");
	free(msg);
	done(&a);
}

static void test_huge(void)
{
	struct arena *a = arena_new(4096);
	struct content_scan *c = content_scan_new(a, &defaults);
	struct content_facts f;
	static const char head[] =
	    "--b\r\nContent-Type: text/plain\r\n\r\nbefore http://before.example.com/\r\n"
	    "--b\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n";
	char line[78];
	size_t total = 0;
	clock_t t0 = clock();

	memset(line, 'Q', 76);
	memcpy(line + 76, "\r\n", 2);
	content_scan_header(c, "Content-Type", " multipart/mixed; boundary=b");
	content_scan_body(c, (const unsigned char *)head, strlen(head));
	while (total < 50u * 1024 * 1024) {
		content_scan_body(c, (const unsigned char *)line, sizeof(line));
		total += sizeof(line);
	}
	content_scan_body(c, (const unsigned char *)"--b--\r\n", 7);
	CHECK(content_scan_dropped(c) > 47u * 1024 * 1024,
	      "50 MB: the body past 2 MB only counted");
	content_scan_finish(c, &f);
	CHECK(f.part_count == 2 && strcmp(f.parts[1].filename, "big.bin") == 0 &&
		  f.parts[1].size > 1024 * 1024 && f.parts[1].size < 2 * 1024 * 1024,
	      "the attachment listed, its kept prefix decoded");
	CHECK(has_url(&f, "http://before.example.com/"), "the text before it read");
	CHECK(f.skipped_body_bytes > 47u * 1024 * 1024, "skipped_body_bytes says so");
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 10, "in bounded time");
	content_scan_free(&c);
	done(&a);
}

static void test_bounds(void)
{
	struct arena *a = arena_new(4096);
	struct content_facts f;
	struct content_limits l = defaults;
	char *msg = malloc(400000);
	size_t o = 0;

	o += (size_t)sprintf(msg + o, "Content-Type: text/plain\r\n\r\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)sprintf(msg + o, "http://h%d.example.com/ http://h%d.example.com/\r\n",
				     i, i);
	scan_with(a, msg, o, &l, &f);
	CHECK(f.url_count == 200 && f.skipped_urls == 100, "200 URLs listed, 100 counted");
	CHECK(f.domain_count == 1 && f.host_count == 200, "one domain, 200 hosts");

	o = (size_t)sprintf(msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(msg + o, "--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n",
				     i);
	o += (size_t)sprintf(msg + o, "--b--\r\n");
	scan_with(a, msg, o, &l, &f);
	CHECK(f.part_count == 100 && f.skipped_parts == 50, "100 parts listed, 50 counted");

	l.max_text = 1024;
	o = (size_t)sprintf(msg, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		o += (size_t)sprintf(msg + o, "\xc3\xa9");
	scan_with(a, msg, o, &l, &f);
	CHECK(f.text_len <= 1024 && f.text_len >= 1020 && f.skipped_text_bytes > 900 &&
		  utf8_ok(f.text, f.text_len) && f.raw_len == 1024,
	      "text capped on a character boundary (%zu, %zu skipped)", f.text_len,
	      f.skipped_text_bytes);
	l = defaults;
	l.max_bytes = 1024;
	scan_with(a, msg, o, &l, &f);
	CHECK(f.skipped_body_bytes > 0 && f.text_len < 1024, "max-bytes: the prefix scanned");
	free(msg);
	done(&a);
}

/* libmilter runs a thread per connection: scans on several threads at
 * once (after content_init) give each the same facts. */
static const char threaded_msg[] =
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n\x82\xb1\x82\xf1 "
    "http://b\xc3\xbc"
    "cher.de/\r\n"
    "--b\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
    "<a href=\"http://evil.example.net/\">www.paypal.com</a> caf\xe9\r\n--b--\r\n";

static void *scan_thread(void *arg)
{
	int *ok = arg;

	for (int i = 0; i < 50; i++) {
		struct arena *a = arena_new(4096);
		struct content_scan *c = content_scan_new(a, &defaults);
		const char *body = strstr(threaded_msg, "\r\n\r\n") + 4;
		struct content_facts f;

		content_scan_header(c, "Content-Type", " multipart/alternative; boundary=b");
		content_scan_body(c, (const unsigned char *)body, strlen(body));
		content_scan_finish(c, &f);
		*ok += f.part_count == 2 && f.url_count == 3 && f.link_text_mismatch &&
		       strstr(f.text, "\xe3\x81\x93\xe3\x82\x93") != NULL &&
		       strstr(f.text, "caf\xc3\xa9") != NULL && f.domain_count == 3;
		content_scan_free(&c);
		arena_free(&a);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	int ok[4] = {0};

	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, scan_thread, &ok[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(ok[0] + ok[1] + ok[2] + ok[3] == 200, "4 threads x 50 scans: the same facts (%d)",
	      ok[0] + ok[1] + ok[2] + ok[3]);
}

/* ----------------------------------------------- spilled to a spool file */

/* A body of about 60 kB: text with links, QP HTML, a message/rfc822 part,
 * a base64 attachment with a double extension. */
static char *big_body(size_t *len_r)
{
	return content_test_body(300, 200, 1, 100, len_r);
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_spill(const char *dir)
{
	struct arena *a = arena_new(4096);
	struct content_limits spill = defaults, cut = defaults, cut_spill;
	struct content_facts mem, file;
	struct content_scan *cm, *cf;
	size_t len;
	char *body = big_body(&len);
	int fds = open_fds();

	spill.spill_bytes = 4096;
	spill.spool_dir = dir;
	cm = content_scan_chunks(a, &defaults, body, len, 4000, &mem);
	CHECK(mem.scanned && mem.part_count == 4 && mem.url_count > 70 && mem.double_extension &&
		  mem.link_text_mismatch && strstr(mem.text, "inner") != NULL &&
		  strstr(mem.text, "caf\xc3\xa9 199") != NULL && mem.raw_len == len,
	      "a 60 kB body in memory: 4 parts, %zu links", mem.url_count);
	CHECK(mem.parts[3].sniffed != NULL, "the attachment sniffed (%s)", mem.parts[3].sniffed);
	cf = content_scan_chunks(a, &spill, body, len, 4000, NULL);
	CHECK(open_fds() == fds + 1, "spilled: one file open while the message is in transit");
	CHECK(dir_entries(dir) == 0, "and no name for it in the spool directory");
	content_scan_finish(cf, &file);
	CHECK(content_facts_same(&mem, &file), "spilled: the same facts as in memory");
	CHECK(open_fds() == fds, "the file closed at the end of the scan");
	content_scan_free(&cf);
	content_scan_free(&cm);

	/* 7-byte chunks, max-bytes and max-text cut inside the file */
	cut.max_bytes = 30000;
	cut.max_text = 5000;
	cut_spill = cut;
	cut_spill.spill_bytes = 4096;
	cut_spill.spool_dir = dir;
	cm = content_scan_chunks(a, &cut, body, len, 7, &mem);
	cf = content_scan_chunks(a, &cut_spill, body, len, 7, &file);
	CHECK(mem.skipped_body_bytes > 0 && mem.raw_len == 5000 && content_facts_same(&mem, &file),
	      "max-bytes and max-text past the spill: the same facts (%zu skipped)",
	      file.skipped_body_bytes);
	content_scan_free(&cf);
	content_scan_free(&cm);
	CHECK(open_fds() == fds, "no descriptor left");

	/* a message aborted in its body: the scan is freed, never finished */
	for (int i = 0; i < 20; i++) {
		cf = content_scan_chunks(a, &spill, body, len, 4000, NULL);
		content_scan_free(&cf);
	}
	CHECK(open_fds() == fds && cf == NULL, "20 aborted messages: no descriptor left");
	CHECK(dir_entries(dir) == 0, "and nothing in the spool directory");
	free(body);
	arena_free(&a);
}

/* The spool directory cannot take the file: what is kept is scanned, the
 * rest counted, and nothing fails. */
static void test_spill_fails(const char *dir)
{
	struct arena *a = arena_new(4096);
	struct content_limits l = defaults;
	struct content_facts f;
	struct content_scan *c;
	struct rlimit old, small;
	size_t len;
	char *body = big_body(&len);
	char file_path[4200], *error = NULL;
	int fds = open_fds(), rc;

	CHECK(content_spool_check(dir, &error) == 0, "content_spool_check: a directory that works");
	rc = content_spool_check("/nonexistent/authscore-spool", &error);
	CHECK(rc < 0 && error != NULL &&
		  strstr(error, "content-spool-dir /nonexistent/authscore-spool: ") != NULL,
	      "content_spool_check: one that does not exist, named (%s)", error ? error : "-");
	free(error);
	CHECK(open_fds() == fds && dir_entries(dir) == 0, "the checks leave nothing behind");
	l.spill_bytes = 4096;
	l.spool_dir = "/nonexistent/authscore-spool";
	c = content_scan_chunks(a, &l, body, len, 1000, &f);
	CHECK(f.scanned && f.part_count == 1 && strstr(f.text, "line 0 caf\xc3\xa9") != NULL &&
		  f.skipped_body_bytes > len - 5000 && f.raw_len < 5000,
	      "a missing spool directory: the first 4 kB scanned, the rest skipped (%zu)",
	      f.skipped_body_bytes);
	content_scan_free(&c);

	snprintf(file_path, sizeof(file_path), "%s/plain-file", dir);
	fclose(fopen(file_path, "w"));
	l.spool_dir = file_path;
	c = content_scan_chunks(a, &l, body, len, 1000, &f);
	CHECK(f.scanned && f.part_count == 1 && f.skipped_body_bytes > 0,
	      "a spool directory that is a file: the same");
	content_scan_free(&c);
	unlink(file_path);

	/* a write that fails half way (a full disk, here a file size limit) */
	l.spool_dir = dir;
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = 20000;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &small);
	c = content_scan_chunks(a, &l, body, len, 1000, &f);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(f.scanned && f.part_count >= 1 && f.skipped_body_bytes >= len - 20000 &&
		  f.raw_len <= 20000 && f.raw_len > 15000 && strstr(f.text, "line 0") != NULL,
	      "a write that fails at 20 kB: the 20 kB written scanned (raw %zu), the rest skipped",
	      f.raw_len);
	content_scan_free(&c);
	CHECK(open_fds() == fds && dir_entries(dir) == 0, "no descriptor or file left");
	free(body);
	arena_free(&a);
}

int main(void)
{
	content_init();
	test_plain();
	test_nested();
	test_encodings();
	test_charsets();
	test_html();
	test_html_edges();
	test_hosts();
	test_host_fast();
	test_bare_link_model();
	test_qp_runs();
	test_text_fast();
	test_domain_cache();
	test_single_direct();
	test_long_userinfo();
	test_idn_message();
	test_attachments();
	test_zip();
	test_malformed();
	test_deep();
	test_huge();
	test_bounds();
	test_threads();
	{
		char dir[] = "/tmp/content_test.XXXXXX";

		if (mkdtemp(dir) != NULL) {
			test_spill(dir);
			test_spill_fails(dir);
			rmdir(dir);
		} else
			CHECK(0, "mkdtemp");
	}
	content_scan_free(&last); /* NULL: nothing */
	return check_done();
}

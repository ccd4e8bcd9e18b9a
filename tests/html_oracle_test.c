/*
 * html_oracle_test - the HTML reduction (checks/content_html.c) held to
 * gumbo's HTML5 parse (tests/html_oracle.c) over every seed of the fuzz
 * target (tests/fuzz/corpus_html_oracle/, under $top_srcdir) and over
 * generated cases: each way of writing a link put in each context that
 * must not hide it.  One TAP line per case: ok, or not ok with the link
 * (or visible word) gumbo sees and we do not.  Strict: libxml2's HTML
 * parser is not an HTML5 one, and this test fails until the reduction
 * tokenizes as WHATWG HTML says.  Built only with gumbo (HAVE_GUMBO).
 *
 *   html_oracle_test [FILE...]   the files given instead (a fuzz input)
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "check.h"
#include "content.h"
#include "html_oracle.h"

/* A piece of HTML and its name in the test's output. */
struct named {
	const char *name, *html;
};

/* Contexts a link is put in (at %s): none of them hides it from a browser. */
static const struct named contexts[] = {
    {"alone", "%s"},
    {"after <!-->", "<p>x<!--> %s -->y</p>"},
    {"after <!--->", "<p>x<!---> %s -->y</p>"},
    {"after --!>", "<p>x<!-- a --!> %s -->y</p>"},
    {"after -- in a comment", "<p>x<!-- a -- b --> %s</p>"},
    {"after <?", "<?php echo 1 ?> %s"},
    {"between bogus comments", "<!x y> %s </z> w"},
    {"after title", "<title>t</title> %s"},
    {"after textarea", "<textarea>t</textarea> %s"},
    {"after script with <", "<script>if (a < b) x();</script> %s"},
    {"after style", "<style>p { color: red }</style> %s"},
    {"after svg CDATA", "<svg><![CDATA[x]]></svg> %s"},
    {"in a table cell", "<table><tr><td>%s</td></tr></table>"},
    {"after <!-- in an attribute", "<div title='<!--'>%s</div><!-- -->"},
    {"after odd references", "<p>&notit; &amp &period; %s</p>"},
    {"after select", "<select><option>o</option></select> %s"},
};

/* Ways of writing a link to evil.example a browser follows or loads. */
static const struct named forms[] = {
    {"a href", "<a href=\"http://evil.example/\">t</a>"},
    {"a/href", "<a/href=\"http://evil.example/\">t</a>"},
    {"unquoted", "<a href=http://evil.example/>t</a>"},
    {"single-quoted, blanks", "<a href = 'http://evil.example/'>t</a>"},
    {"&period;", "<a href=\"http://evil&period;example/\">t</a>"},
    {"&colon;", "<a href=\"http&colon;//evil.example/\">t</a>"},
    {"&#46;", "<a href=\"http://evil&#46;example/\">t</a>"},
    {"&#x2E;", "<a href=\"http://evil&#x2E;example/\">t</a>"},
    {"&copy= kept", "<a href=\"http://evil.example/?a=1&copy=2\">t</a>"},
    {"upper case", "<A HREF=\"HTTP://EVIL.EXAMPLE/\">t</A>"},
    {"img", "<img src=\"http://evil.example/p.gif\">"},
    {"image", "<image src=\"http://evil.example/p.gif\">"},
};

static void report(const char *name, const struct html_oracle_result *r)
{
	if (!CHECK(r->missing_url == NULL, "%s: gumbo's %zu links are ours", name, r->gumbo_urls))
		printf("#   FAIL %s: gumbo sees %s (%zu missing), we do not\n", name,
		       r->missing_url, r->missing_count);
	if (!CHECK(r->missing_word == NULL, "%s: gumbo's visible words are ours", name))
		printf("#   FAIL %s: gumbo shows the word \"%s\", we do not\n", name,
		       r->missing_word);
}

static char *file_read(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t size = 0, len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len == size && (data = realloc(data, size = size * 2 + 4096)) == NULL)
			abort();
		n = fread(data + len, 1, size - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*len_r = len;
	return data;
}

static int seed_name(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void test_file(const char *path, const char *name)
{
	struct arena *a = arena_new(4096);
	struct html_oracle_result r;
	size_t len = 0;
	char *html;

	if (CHECK((html = file_read(path, &len)) != NULL, "%s read", path)) {
		html_oracle_compare(a, html, len, 1, &r);
		report(name, &r);
	}
	free(html);
	arena_free(&a);
}

/* Every seed of the fuzz target: the same comparison, with the text. */
static void test_corpus(void)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], path[8192];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus_html_oracle", top != NULL ? top : ".");
	n = scandir(dir, &names, seed_name, alphasort);
	CHECK(n >= 30, "the seed corpus %s has its %d files", dir, n);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		test_file(path, names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

/* Each form in each context: gumbo sees the link (the case is not empty)
 * and so must we. */
static void test_generated(void)
{
	for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++)
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			struct arena *a = arena_new(4096);
			struct html_oracle_result r;
			char *html = arena_printf(a, contexts[c].html, forms[f].html), name[128];
			int bad = html_oracle_compare(a, html, strlen(html), 1, &r);

			snprintf(name, sizeof(name), "%s, %s", forms[f].name, contexts[c].name);
			if (!CHECK(r.compared && r.gumbo_urls >= 1, "%s: gumbo sees its link",
				   name))
				printf("#   %s\n", html);
			report(name, &r);
			if (bad)
				printf("#   %s\n", html);
			arena_free(&a);
		}
}

/* With arguments, only those files (an input the fuzz target kept). */
int main(int argc, char **argv)
{
	content_init();
	for (int i = 1; i < argc; i++)
		test_file(argv[i], argv[i]);
	if (argc > 1)
		return check_done();
	test_corpus();
	test_generated();
	return check_done();
}

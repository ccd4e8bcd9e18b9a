/*
 * fuzz_html_oracle - libFuzzer target holding checks/content_html.c's HTML
 * reduction to gumbo's HTML5 parse (tests/html_oracle.c): the input is one
 * HTML part, and every link an HTML5 parser (a mail client) sees in it
 * must be one content_html_reduce() reports.  A link it hides is printed
 * and the run aborts: that input is a way past the uri and uribl rules.
 * With HTML_ORACLE_TEXT=1 in the environment the visible text's words
 * are held too (looser: see html_oracle.c).  tests/fuzz/run-fuzz.sh builds
 * it with clang -fsanitize=fuzzer,address,undefined when gumbo is there;
 * its seeds (corpus_html_oracle/) are the cases tests/html_oracle_test runs.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "content.h"
#include "html_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int with_text = -1;
	struct arena *a = arena_new(4096);
	struct html_oracle_result r;

	if (with_text < 0) {
		const char *e = getenv("HTML_ORACLE_TEXT");

		content_init();
		with_text = e != NULL && e[0] == '1';
	}
	if (html_oracle_compare(a, (const char *)data, size, with_text, &r) != 0) {
		if (r.missing_url != NULL)
			fprintf(stderr, "html_oracle: gumbo sees %s (and %zu more), we do not\n",
				r.missing_url, r.missing_count - 1);
		if (r.missing_word != NULL)
			fprintf(stderr, "html_oracle: gumbo shows the word \"%s\", we do not\n",
				r.missing_word);
		abort();
	}
	arena_free(&a);
	return 0;
}

/*
 * history_content - the body's facts in words (issue 19), for `authscore
 * explain` (stored facts: no text, no URLs) and `authscore test` (a live
 * message): the parts with their types and file names, the links' count,
 * registrable domains and hosts, the flags the rules test, what was over a
 * bound, and each answer of a URL block list (uribl(zone)).  A body that
 * was not scanned prints one line saying so.  Pure output; thread-safe.
 */
#include "config.h"

#include <stdio.h>

#include "history.h"

#define SHOW_MAX 20 /* domains and hosts listed; the rest are counted */

static void names_line(FILE *out, const char *what, const char *const *s, size_t n)
{
	fprintf(out, "  %s (%zu):", what, n);
	for (size_t i = 0; s != NULL && i < n && i < SHOW_MAX; i++)
		fprintf(out, " %s", s[i] != NULL ? s[i] : "?");
	if (n > SHOW_MAX)
		fprintf(out, " ... (%zu more)", n - SHOW_MAX);
	fputc('\n', out);
}

static void parts_lines(FILE *out, const struct content_facts *c)
{
	for (size_t i = 0; c->parts != NULL && i < c->part_count; i++) {
		const struct content_part *p = &c->parts[i];

		fprintf(out, "  part %zu: %s%s%s%s, %zu bytes%s%s%s\n", i + 1,
			p->type != NULL ? p->type : "?", p->sniffed != NULL ? " (looks like " : "",
			p->sniffed != NULL ? p->sniffed : "", p->sniffed != NULL ? ")" : "",
			p->size, p->filename != NULL ? ", name " : "",
			p->filename != NULL ? p->filename : "",
			p->in_archive	? " (inside an archive)"
			: p->attachment ? " (attachment)"
					: "");
	}
}

void history_explain_content(FILE *out, const struct facts *f)
{
	const struct content_facts *c = &f->content;

	if (!c->scanned) {
		fprintf(out, "body: not scanned\n");
		return;
	}
	fprintf(out, "body: %zu part(s), %zu link(s), %zu bytes of text%s%s%s%s\n",
		c->part_count + c->skipped_parts, c->url_count, c->text_len,
		c->html_only ? ", HTML only" : "",
		c->link_text_mismatch ? ", a link's text names another domain" : "",
		c->double_extension ? ", an attachment with a double extension" : "",
		c->archive_executable ? ", an executable inside an archive" : "");
	parts_lines(out, c);
	names_line(out, "link domains", c->domains, c->domain_count);
	names_line(out, "link hosts", c->hosts, c->host_count);
	if (c->skipped_parts + c->skipped_urls + c->skipped_text_bytes > 0)
		fprintf(out, "  over the bounds: %zu part(s), %zu link(s), %zu bytes of text\n",
			c->skipped_parts, c->skipped_urls, c->skipped_text_bytes);
	for (size_t i = 0; i < f->domain_list_count; i++) {
		const struct dnsbl_result *r = &f->domain_lists[i].r;

		if (f->domain_lists[i].identity != IDENT_URI)
			continue;
		fprintf(out, "  uribl(%s) about %s: %s", r->zone != NULL ? r->zone : "?",
			r->subject != NULL ? r->subject : "?",
			r->status == DNSBL_NOT_LISTED ? "not listed"
						      : dnsbl_status_name(r->status));
		for (size_t k = 0; k < r->code_count && k < DNSBL_MAX_CODES; k++)
			fprintf(out, "%s%u.%u.%u.%u", k == 0 ? " " : ",", r->codes[k] >> 24,
				r->codes[k] >> 16 & 255, r->codes[k] >> 8 & 255, r->codes[k] & 255);
		fprintf(out, "%s%s\n", r->reason != NULL ? ": " : "",
			r->reason != NULL ? r->reason : "");
	}
}

/*
 * conf_doc_test - doc/authscore.conf.5 documents every key of the table and
 * no other: each key is a `.TP` entry whose tag line (.B, .BI or .BR) starts
 * with the key's name.  A failure names the key.  Reads the man page from
 * $top_srcdir (set by the test harness) or the current directory.
 *
 * The table's one-line help (`authscore-milter -k`): every key has one, not
 * empty and at most HELP_MAX characters, and conf_print_keys() prints one
 * line per key of the table, in its order, and nothing else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"

#define MAX_DOC_KEYS 256
#define HELP_MAX     72

static int in_table(const char *name)
{
	const char *k;

	for (size_t i = 0; (k = conf_key_name(i)) != NULL; i++)
		if (strcmp(k, name) == 0)
			return 1;
	return 0;
}

static void check_help(void)
{
	const char *k, *h;

	for (size_t i = 0; (k = conf_key_name(i)) != NULL; i++) {
		h = conf_key_help(i);
		CHECK(h != NULL && h[0] != '\0', "key %s has a help line", k);
		if (h != NULL) {
			CHECK(strlen(h) <= HELP_MAX, "key %s: help of %zu characters, at most %d",
			      k, strlen(h), HELP_MAX);
			CHECK(strchr(h, '\n') == NULL, "key %s: help is one line", k);
		}
	}
}

/* The printed list: line i starts with key i's name and ends with its help. */
static void check_printed(void)
{
	FILE *f = tmpfile();
	char line[1024], name[256];
	size_t n = 0;
	const char *k;

	if (!CHECK(f != NULL, "tmpfile"))
		return;
	conf_print_keys(f);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *h = conf_key_help(n);
		size_t len = strlen(line);

		k = conf_key_name(n++);
		if (!CHECK(k != NULL, "printed line %zu is a key of the table: %s", n, line))
			break;
		CHECK(sscanf(line, "%255s", name) == 1 && strcmp(name, k) == 0,
		      "printed line %zu names key %s", n, k);
		CHECK(len > 0 && line[len - 1] == '\n', "printed line %zu is whole", n);
		line[strcspn(line, "\n")] = '\0';
		len = strlen(line);
		CHECK(h != NULL && len >= strlen(h) && strcmp(line + len - strlen(h), h) == 0,
		      "printed line %zu ends with the help of %s", n, k);
	}
	CHECK(conf_key_name(n) == NULL, "the printed list has every key (%zu lines)", n);
	CHECK(n > 0, "the printed list is not empty");
	fclose(f);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[1024], prev[1024] = "";
	char *doc[MAX_DOC_KEYS];
	size_t ndoc = 0;
	const char *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/doc/authscore.conf.5", top != NULL ? top : ".");
	f = fopen(path, "r");
	if (!CHECK(f != NULL, "open %s", path))
		return check_done();
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[256];

		if (strncmp(prev, ".TP", 3) == 0 &&
		    (strncmp(line, ".B ", 3) == 0 || strncmp(line, ".BI ", 4) == 0 ||
		     strncmp(line, ".BR ", 4) == 0) &&
		    sscanf(line, "%*s %255s", name) == 1 && ndoc < MAX_DOC_KEYS)
			doc[ndoc++] = strdup(name);
		snprintf(prev, sizeof(prev), "%s", line);
	}
	fclose(f);
	CHECK(ndoc > 0, "the man page has key entries");
	for (size_t i = 0; (k = conf_key_name(i)) != NULL; i++) {
		int found = 0;

		for (size_t j = 0; j < ndoc; j++)
			found |= strcmp(doc[j], k) == 0;
		CHECK(found, "key %s is documented in authscore.conf(5)", k);
	}
	for (size_t j = 0; j < ndoc; j++)
		CHECK(in_table(doc[j]), "documented key %s is a key of the table", doc[j]);
	for (size_t j = 0; j < ndoc; j++)
		free(doc[j]);
	check_help();
	check_printed();
	return check_done();
}

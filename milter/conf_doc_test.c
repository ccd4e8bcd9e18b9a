/*
 * conf_doc_test - doc/authscore.conf.5 documents every key of the table and
 * no other: each key is a `.TP` entry whose tag line (.B, .BI or .BR) starts
 * with the key's name.  A failure names the key.  Reads the man page from
 * $top_srcdir (set by the test harness) or the current directory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"

#define MAX_DOC_KEYS 256

static int in_table(const char *name)
{
	const char *k;

	for (size_t i = 0; (k = conf_key_name(i)) != NULL; i++)
		if (strcmp(k, name) == 0)
			return 1;
	return 0;
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
	return check_done();
}

/*
 * rules_cmd - `authscore rules check FILE`: load a rules file as the daemon
 * would and say what is wrong with it (file:line:col, the line, a caret),
 * or summarise it in one line.  Exit status: 0 valid, 1 invalid, 2 usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static void threshold(const struct ruleset *rs, enum rules_action a)
{
	double t = rules_threshold(rs, a);

	if (t < 0)
		printf(" %s none", rules_action_name(a));
	else
		printf(" %s %g", rules_action_name(a), t);
}

int rules_cmd_main(int argc, char **argv)
{
	struct ruleset *rs;
	char *error = NULL;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: authscore rules check FILE\n");
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: authscore rules check FILE\n");
		return 2;
	}
	rs = rules_load(argv[2], &error);
	if (rs == NULL) {
		fprintf(stderr, "%s\n", error);
		free(error);
		return 1;
	}
	printf("%zu rules, %zu monitors, thresholds", rules_count(rs) - rules_monitor_count(rs),
	       rules_monitor_count(rs));
	threshold(rs, RULES_TAG);
	threshold(rs, RULES_QUARANTINE);
	threshold(rs, RULES_REJECT);
	printf("\n");
	rules_free(&rs);
	return 0;
}

/*
 * rules_info - what a loaded ruleset holds, rule by rule, for the admin's
 * tools (`authscore explain`, `replay`): a rule's name, description, score
 * and forced action, and which rules read header or body contents (header,
 * body, rawbody, uri: those cannot be replayed from stored facts, which
 * keep no header contents, no body text and no URLs, only their hosts and
 * domains).
 * Read-only on an immutable ruleset; thread-safe.
 */
#include "config.h"

#include <string.h>

#include "mem.h"
#include "rules_int.h"

void rules_rule(const struct ruleset *rs, size_t i, struct rules_rule *out)
{
	const struct rule *r = &rs->rules[i];

	memset(out, 0, sizeof(*out));
	out->name = r->name;
	out->description = r->description;
	out->text = r->text;
	out->score = r->score;
	out->monitor = r->monitor;
	out->hidden = r->hidden;
	out->action = (enum rules_action)r->action;
}

/* Does the expression at node n read headers?  Referenced rules are
 * already decided: rules are visited in evaluation order. */
static int node_reads_headers(const struct ruleset *rs, uint32_t n, const unsigned char *done)
{
	const struct rule_node *node = &rs->nodes[n];

	switch (node->kind) {
	case NODE_AND:
	case NODE_OR:
		for (uint32_t i = 0; i < node->n; i++)
			if (node_reads_headers(rs, rs->kids[node->arg + i], done))
				return 1;
		return 0;
	case NODE_NOT:
		return node_reads_headers(rs, node->arg, done);
	case NODE_RULE:
		return done[node->arg];
	case NODE_TEST:
		return rules_test_reads_text(&rs->tests[node->arg]);
	default:
		return 0;
	}
}

size_t rules_header_rules(const struct ruleset *rs, unsigned char *out)
{
	size_t n = 0;

	memset(out, 0, rs->rule_count);
	for (size_t i = 0; i < rs->rule_count; i++) {
		uint32_t r = rs->order[i];

		out[r] = (unsigned char)node_reads_headers(rs, rs->rules[r].root, out);
		n += out[r];
	}
	return n;
}

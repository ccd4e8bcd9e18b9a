/*
 * rules_check - after parsing: every rule reference resolved to a rule, the
 * reference graph walked once, iteratively (hostile input cannot recurse
 * deeply), to reject cycles and to fix the evaluation order rs->order.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "mem.h"
#include "rules_parse.h"

/* Every reference to the rule it names, or an error at the first unknown. */
static int resolve_names(struct parser *p)
{
	for (size_t i = 0; i < p->ref_count; i++) {
		long to = rule_lookup(p, p->refs[i].name, NULL);

		if (to < 0)
			return perr_loc(p, &p->refs[i].loc, "unknown rule or fact \"%s\"",
					p->refs[i].name);
		p->refs[i].to_rule = (uint32_t)to;
		p->rs->nodes[p->refs[i].node].arg = (uint32_t)to;
	}
	return 0;
}

/* The depth-first walk's state; color: 0 new, 1 on the stack, 2 done. */
struct walk {
	size_t *first_ref; /* rule r's references are refs[first_ref[r] .. first_ref[r + 1]) */
	uint8_t *color;
	uint32_t *stack;
	size_t *stack_ref; /* the next reference of stack[i] to follow */
	size_t depth, order_n;
};

/* Reference i of the rule on top of the stack closes a cycle: the message
 * names the stack from the referred rule up to there. */
static int cycle_error(struct parser *p, const struct walk *w, size_t i)
{
	const struct ruleset *rs = p->rs;
	uint32_t r = w->stack[w->depth - 1], to = p->refs[i].to_rule;
	struct buf b;
	size_t k = w->depth;
	int rc;

	while (k > 0 && w->stack[k - 1] != to)
		k--;
	buf_init(&b, 400);
	for (size_t j = k - 1; j < w->depth; j++)
		buf_printf(&b, "%s -> ", rs->rules[w->stack[j]].name);
	buf_puts(&b, rs->rules[to].name);
	if (to == r)
		rc = perr_loc(p, &p->refs[i].loc, "rule %s refers to itself", rs->rules[r].name);
	else
		rc = perr_loc(p, &p->refs[i].loc, "rule cycle: %s%s", buf_str(&b),
			      b.overflow ? " ..." : "");
	buf_release(&b);
	return rc;
}

/* Walks from root, iteratively, appending each rule to rs->order after the
 * rules it refers to. */
static int walk_from(struct parser *p, struct walk *w, uint32_t root)
{
	w->stack[0] = root;
	w->stack_ref[0] = w->first_ref[root];
	w->color[root] = 1;
	w->depth = 1;
	while (w->depth > 0) {
		uint32_t r = w->stack[w->depth - 1], to;
		size_t i = w->stack_ref[w->depth - 1];

		if (i == w->first_ref[r + 1]) {
			w->color[r] = 2;
			p->rs->order[w->order_n++] = r;
			w->depth--;
			continue;
		}
		w->stack_ref[w->depth - 1]++;
		to = p->refs[i].to_rule;
		if (w->color[to] == 1)
			return cycle_error(p, w, i);
		if (w->color[to] == 0) {
			w->color[to] = 1;
			w->stack[w->depth] = to;
			w->stack_ref[w->depth] = w->first_ref[to];
			w->depth++;
		}
	}
	return 0;
}

int resolve(struct parser *p)
{
	struct ruleset *rs = p->rs;
	size_t n = rs->rule_count, alloc_n = n == 0 ? 1 : n;
	struct walk w = {0};
	int rc = 0;

	if (resolve_names(p) < 0)
		return -1;
	/* refs are in rule order: count each rule's, then sum */
	w.first_ref = xcalloc(n + 1, sizeof(*w.first_ref));
	for (size_t i = 0; i < p->ref_count; i++)
		w.first_ref[p->refs[i].from_rule + 1]++;
	for (size_t r = 0; r < n; r++)
		w.first_ref[r + 1] += w.first_ref[r];
	w.color = xcalloc(alloc_n, 1);
	w.stack = xcalloc(alloc_n, sizeof(*w.stack));
	w.stack_ref = xcalloc(alloc_n, sizeof(*w.stack_ref));
	rs->order = arena_alloc(rs->arena, alloc_n * sizeof(*rs->order));
	for (size_t root = 0; root < n && rc == 0; root++)
		if (w.color[root] == 0)
			rc = walk_from(p, &w, (uint32_t)root);
	free(w.first_ref);
	free(w.color);
	free(w.stack);
	free(w.stack_ref);
	return rc;
}

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

int resolve(struct parser *p)
{
	struct ruleset *rs = p->rs;
	size_t n = rs->rule_count;
	uint8_t *color; /* 0 new, 1 on the stack, 2 done */
	size_t *first_ref, *stack_ref, order_n = 0;
	uint32_t *stack;
	size_t depth = 0;
	int rc = 0;

	for (size_t i = 0; i < p->ref_count; i++) {
		long to = rule_lookup(p, p->refs[i].name, NULL);

		if (to < 0)
			return perr_loc(p, &p->refs[i].loc, "unknown rule or fact \"%s\"",
					p->refs[i].name);
		p->refs[i].to_rule = (uint32_t)to;
		rs->nodes[p->refs[i].node].arg = (uint32_t)to;
	}
	/* refs are in rule order: rule r's references are refs[first_ref[r] ..
	 * first_ref[r + 1]) */
	first_ref = xcalloc(n + 1, sizeof(*first_ref));
	for (size_t i = 0; i < p->ref_count; i++)
		first_ref[p->refs[i].from_rule + 1]++;
	for (size_t r = 0; r < n; r++)
		first_ref[r + 1] += first_ref[r];
	color = xcalloc(n == 0 ? 1 : n, 1);
	stack = xcalloc(n == 0 ? 1 : n, sizeof(*stack));
	stack_ref = xcalloc(n == 0 ? 1 : n, sizeof(*stack_ref));
	rs->order = arena_alloc(rs->arena, (n == 0 ? 1 : n) * sizeof(*rs->order));
	for (size_t root = 0; root < n && rc == 0; root++) {
		if (color[root] != 0)
			continue;
		stack[0] = (uint32_t)root;
		stack_ref[0] = first_ref[root];
		color[root] = 1;
		depth = 1;
		while (depth > 0 && rc == 0) {
			uint32_t r = stack[depth - 1];
			size_t i = stack_ref[depth - 1];

			if (i == first_ref[r + 1]) {
				color[r] = 2;
				rs->order[order_n++] = r;
				depth--;
				continue;
			}
			stack_ref[depth - 1]++;
			{
				uint32_t to = p->refs[i].to_rule;

				if (color[to] == 2)
					continue;
				if (color[to] == 0) {
					color[to] = 1;
					stack[depth] = to;
					stack_ref[depth] = first_ref[to];
					depth++;
					continue;
				}
			}
			/* a cycle: the stack from the referred rule up to here */
			{
				struct buf b;
				size_t k = depth;
				uint32_t to = p->refs[i].to_rule;

				while (k > 0 && stack[k - 1] != to)
					k--;
				buf_init(&b, 400);
				for (size_t j = k - 1; j < depth; j++)
					buf_printf(&b, "%s -> ", rs->rules[stack[j]].name);
				buf_puts(&b, rs->rules[to].name);
				if (to == r)
					rc =
					    perr_loc(p, &p->refs[i].loc, "rule %s refers to itself",
						     rs->rules[r].name);
				else
					rc = perr_loc(p, &p->refs[i].loc, "rule cycle: %s%s",
						      buf_str(&b), b.overflow ? " ..." : "");
				buf_release(&b);
			}
		}
	}
	free(first_ref);
	free(color);
	free(stack);
	free(stack_ref);
	return rc;
}

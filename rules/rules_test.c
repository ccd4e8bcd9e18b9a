/*
 * rules_test - the rules language: every parser error with its exact
 * file:line:col, the caret lines, every fact kind evaluated against
 * hand-built struct facts, meta rules, monitors, forced-action precedence,
 * thresholds, includes (temporary files) and the shipped default.rules.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "mem.h"
#include "rules.h"

static char tmpdir[] = "/tmp/rules_test.XXXXXX";

/* ---- helpers ---- */

static void expect_error(const char *text, const char *want)
{
	char *error = NULL;
	struct ruleset *rs = rules_parse("t.rules", text, &error);
	size_t n = error != NULL ? strcspn(error, "\n") : 0;

	if (!CHECK(rs == NULL && error != NULL && strlen(want) == n && strncmp(error, want, n) == 0,
		   "error: %s", want))
		printf("#   got: %s\n", error ? error : "(none)");
	rules_free(&rs);
	free(error);
}

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static char *load_error(const char *name)
{
	char path[512], *error = NULL;
	struct ruleset *rs;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	rs = rules_load(path, &error);
	rules_free(&rs);
	return error;
}

/* The error's first line, with the temporary directory written as "D". */
static void expect_load_error(const char *name, const char *want)
{
	char *error = load_error(name), *got;
	size_t dl = strlen(tmpdir);

	got = error != NULL ? xstrndup(error, strcspn(error, "\n")) : NULL;
	for (char *s; got != NULL && (s = strstr(got, tmpdir)) != NULL;) {
		*s = 'D';
		memmove(s + 1, s + dl, strlen(s + dl) + 1);
	}
	CHECK_STR(got, want, "load error: %s", want);
	free(got);
	free(error);
}

static struct facts base_facts(void)
{
	static struct facts f;

	memset(&f, 0, sizeof(f));
	f.mail_from = "";
	return f;
}

/* Does "rule T <expr>" match these facts? -1 when it does not parse. */
static int hit(const char *expr, const struct facts *f)
{
	char text[2048], *error = NULL;
	struct ruleset *rs;
	struct arena *a = arena_new(4096);
	struct rules_verdict v;
	int matched;

	snprintf(text, sizeof(text), "rule T %s\n", expr);
	rs = rules_parse("t.rules", text, &error);
	if (rs == NULL) {
		printf("# %s\n", error);
		free(error);
		arena_free(&a);
		return -1;
	}
	rules_evaluate(rs, f, a, &v);
	matched = v.hit_count == 1;
	rules_free(&rs);
	arena_free(&a);
	return matched;
}

/* The expression on one line, for the test's description. */
static const char *oneline(const char *expr)
{
	static char out[256];
	size_t i;

	for (i = 0; expr[i] != '\0' && i + 1 < sizeof(out); i++)
		out[i] = expr[i] == '\n' ? ' ' : expr[i];
	out[i] = '\0';
	return out;
}

#define HIT(expr, f)  CHECK(hit(expr, f) == 1, "matches: %s", oneline(expr))
#define MISS(expr, f) CHECK(hit(expr, f) == 0, "does not match: %s", oneline(expr))

static int hits_contain(const struct rules_verdict *v, const char *name)
{
	for (size_t i = 0; i < v->hit_count; i++)
		if (strcmp(v->hits[i], name) == 0)
			return 1;
	return 0;
}

/* ---- parser errors ---- */

static void test_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    /* lexer */
	    {"rule A helo == \"abc\n", "t.rules:1:16: unterminated string"},
	    {"rule A helo =~ /abc\n",
	     "t.rules:1:16: unterminated regex (it ends with / on the same line)"},
	    {"rule A helo =~ //\n", "t.rules:1:16: empty regex"},
	    {"rule A helo =~ /a/ig\n", "t.rules:1:20: unknown regex flag 'g' (known: i, m, s, x)"},
	    {"rule A spf == fail \\ x\n",
	     "t.rules:1:20: a backslash continues a line only at its end"},
	    {"rule A spf == fail && iprev == pass\n",
	     "t.rules:1:20: \"&&\" is not an operator: write \"and\""},
	    {"rule A spf == fail || iprev == pass\n",
	     "t.rules:1:20: \"||\" is not an operator: write \"or\""},
	    {"rule A !spf == fail\n", "t.rules:1:8: \"!\" is not an operator: write \"not\""},
	    {"rule A spf == fail\x01\n", "t.rules:1:19: unexpected byte 0x01"},
	    {"rule A spf $ fail\n", "t.rules:1:12: unexpected character '$'"},
	    {"rule A spf = fail\n", "t.rules:1:12: unexpected character '='"},
	    /* an error right after a compiled regex (it must not leak) */
	    {"rule A helo =~ /x/ $\n", "t.rules:1:20: unexpected character '$'"},
	    /* statements */
	    {"\n\nrulez A spf == fail\n",
	     "t.rules:3:1: expected rule, monitor rule, actions or include, not \"rulez\""},
	    {"monitor A spf == fail\n",
	     "t.rules:1:9: expected \"rule\" after \"monitor\", not \"A\""},
	    {"include b.rules\n",
	     "t.rules:1:9: expected a \"file name\" after include, not \"b.rules\""},
	    {"include \"\"\n", "t.rules:1:9: expected a \"file name\" after include, not a string"},
	    {"include \"b.rules\" x\n",
	     "t.rules:1:19: expected the end of the line after the file name, not \"x\""},
	    {"include \"/nonexistent/b.rules\"\n",
	     "t.rules:1:9: cannot include \"/nonexistent/b.rules\": No such file or directory"},
	    /* rules */
	    {"rule 1A spf == fail\n",
	     "t.rules:1:6: expected a rule name (letters, digits and _, at most 64), not \"1A\""},
	    {"rule\n", "t.rules:1:5: expected a rule name (letters, digits and _, at most 64), not "
		       "end of line"},
	    {"rule spf spf == fail\n", "t.rules:1:6: \"spf\" is a fact, not a rule name"},
	    {"rule and spf == fail\n", "t.rules:1:6: \"and\" is a keyword, not a rule name"},
	    {"rule A spf == fail\nrule a spf == pass\n",
	     "t.rules:2:6: rule a is already defined at t.rules:1"},
	    {"rule A\n", "t.rules:1:7: rule A needs a condition"},
	    {"rule A spf == fail score 1 score 2\n", "t.rules:1:28: score given twice"},
	    {"rule __A spf == fail score 1\n",
	     "t.rules:1:22: a \"__\" sub-rule takes no score (it only feeds other rules)"},
	    {"rule A spf == fail score x\n",
	     "t.rules:1:26: expected a score such as 2.5 or -1 (at most 10000), not \"x\""},
	    {"rule A spf == fail score 1.\n",
	     "t.rules:1:26: expected a score such as 2.5 or -1 (at most 10000), not \"1.\""},
	    {"rule A spf == fail score 20000\n",
	     "t.rules:1:26: expected a score such as 2.5 or -1 (at most 10000), not \"20000\""},
	    {"rule A spf == fail action tag action tag\n", "t.rules:1:31: action given twice"},
	    {"rule __A spf == fail action tag\n",
	     "t.rules:1:22: a \"__\" sub-rule takes no action (it only feeds other rules)"},
	    {"rule A spf == fail action bounce\n",
	     "t.rules:1:27: expected an action (reject, tempfail, discard, quarantine or tag), not "
	     "\"bounce\""},
	    {"rule A spf == fail action reject \"\xc3\xa9t\xc3\xa9\"\n",
	     "t.rules:1:34: action text must be printable ASCII (it may become an SMTP reply)"},
	    {"rule A spf == fail \"a\" \"b\"\n", "t.rules:1:24: description given twice"},
	    {"rule A spf == fail iprev == fail\n",
	     "t.rules:1:20: expected \"and\", \"or\", score, action, a \"description\" or the end "
	     "of the rule, not \"iprev\""},
	    /* expressions */
	    {"rule A spf == fail and\n",
	     "t.rules:1:23: expected a fact, a rule name, \"not\" or \"(\", not end of line"},
	    {"rule A )\n",
	     "t.rules:1:8: expected a fact, a rule name, \"not\" or \"(\", not \")\""},
	    {"rule A spf == fail and or\n",
	     "t.rules:1:24: expected a fact, a rule name, \"not\" or \"(\", not \"or\""},
	    {"rule A (spf == fail\n", "t.rules:2:1: expected \")\", not end of file"},
	    {"rule A foo.bar == 1\n", "t.rules:1:8: unknown fact \"foo.bar\""},
	    {"rule A spff == fail\n", "t.rules:1:8: unknown fact \"spff\""},
	    {"rule A B\n", "t.rules:1:8: unknown rule or fact \"B\""},
	    {"rule A spf == fail and A\n", "t.rules:1:24: rule A refers to itself"},
	    {"rule A B\nrule B C\nrule C A\n", "t.rules:3:8: rule cycle: A -> B -> C -> A"},
	    /* fact arguments */
	    {"rule A dnsbl == 127.0.0.2\n",
	     "t.rules:1:14: dnsbl needs a zone in parentheses, e.g. dnsbl(zen.spamhaus.org)"},
	    {"rule A header =~ /x/\n",
	     "t.rules:1:15: header needs a header name in parentheses, e.g. header(Subject)"},
	    {"rule A spf(x) == fail\n", "t.rules:1:11: spf takes no argument"},
	    {"rule A dnsbl(==) == 127.0.0.2\n", "t.rules:1:14: expected a domain, not \"==\""},
	    {"rule A header(\"a b\") == x\n", "t.rules:1:15: \"a b\" is not a header field name"},
	    {"rule A header(\"\") == x\n", "t.rules:1:15: empty header field name"},
	    {"rule A dnsbl(-zen) == 127.0.0.2\n", "t.rules:1:14: \"-zen\" is not a domain name"},
	    {"rule A dbl(dbl.example, envelope) == 127.0.1.2\n",
	     "t.rules:1:25: expected an identity (mail_from, from, helo, dkim or uri), not "
	     "\"envelope\""},
	    {"rule A dnsbl(zen x) == 127.0.0.2\n", "t.rules:1:18: expected \")\", not \"x\""},
	    /* operators */
	    {"rule A spf not fail\n", "t.rules:1:16: expected \"in\" after \"not\", not \"fail\""},
	    {"rule A spf\n", "t.rules:1:11: spf needs a comparison (==, !=, in, not in)"},
	    {"rule A spf =~ /fail/\n",
	     "t.rules:1:12: spf does not take =~ (it takes ==, !=, in, not in)"},
	    {"rule A size & 4\n",
	     "t.rules:1:13: size does not take & (it takes ==, !=, in, not in, <, <=, >, >=)"},
	    {"rule A helo =~ abc\n", "t.rules:1:16: expected a /regex/, not \"abc\""},
	    {"rule A helo =~ /a(b/\n", "t.rules:1:20: bad regex: missing closing parenthesis"},
	    {"rule A spf in (pass fail)\n", "t.rules:1:21: expected \",\" or \")\", not \"fail\""},
	    {"rule A dnsbl(zen) & x\n",
	     "t.rules:1:21: expected a bit mask such as 0x4 or 4, not \"x\""},
	    {"rule A dnsbl(zen) & 0\n",
	     "t.rules:1:21: expected a bit mask such as 0x4 or 4, not \"0\""},
	    /* values */
	    {"rule A spf == (\n", "t.rules:1:15: expected an SPF result, not \"(\""},
	    {"rule A spf == fial\n", "t.rules:1:15: unknown SPF result \"fial\" (expected none, "
				     "neutral, pass, fail, softfail, temperror or permerror)"},
	    {"rule A dmarc.policy == strict\n", "t.rules:1:24: unknown DMARC policy \"strict\" "
						"(expected unset, none, quarantine or reject)"},
	    {"rule A arc == broken\n", "t.rules:1:15: unknown ARC result \"broken\" "
					"(expected none, pass, fail or temperror)"},
	    {"rule A arc.sealer(x) == a\n", "t.rules:1:18: arc.sealer takes no argument"},
	    {"rule A dnsbl(zen) in 127.0.0.2-127.0.0\n",
	     "t.rules:1:22: \"127.0.0.2-127.0.0\" is not a range of return codes such as "
	     "127.0.0.2-127.0.0.11"},
	    {"rule A dnsbl(zen) in 127.0.0.9-127.0.0.2\n",
	     "t.rules:1:22: empty range: 127.0.0.9-127.0.0.2"},
	    {"rule A dnsbl(zen) == 127.0.0.256\n",
	     "t.rules:1:22: \"127.0.0.256\" is not a return code (127.0.0.2, 127.0.*.3, "
	     "127.0.0.2-127.0.0.11, listed, unlisted, blocked or error)"},
	    {"rule A dnsbl(zen) == 10.0.0.2\n",
	     "t.rules:1:22: return codes are in 127.0.0.0/8 (RFC 5782 §2.3)"},
	    {"rule A tls < TLSv2\n", "t.rules:1:14: unknown TLS version \"TLSv2\" (expected SSLv3, "
				     "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"},
	    {"rule A geoip.country == USA\n",
	     "t.rules:1:25: \"USA\" is not a two-letter country code (or unknown)"},
	    {"rule A geoip.asn in 20-10\n",
	     "t.rules:1:21: \"20-10\" is not a range of numbers such as 10-20"},
	    {"rule A geoip.asn == 4294967296\n",
	     "t.rules:1:21: \"4294967296\" is not an AS number"},
	    {"rule A size > 10X\n", "t.rules:1:15: \"10X\" is not a size (e.g. 512k, 10M)"},
	    {"rule A client in 300.0.0.0/8\n",
	     "t.rules:1:18: \"300.0.0.0/8\" is not an address or network (a.b.c.d/n, x:y::/n)"},
	    {"rule A authenticated == yes\n",
	     "t.rules:1:22: authenticated does not take == (it takes alone)"},
	    {"rule A ratelimit.ip == yes\n",
	     "t.rules:1:21: ratelimit.ip does not take == (it takes alone)"},
	    /* actions */
	    {"actions { tag 5 }\nactions { tag 6 }\n",
	     "t.rules:2:1: actions already set at t.rules:1"},
	    {"actions tag 5\n", "t.rules:1:9: expected \"{\", not \"tag\""},
	    {"actions { spam 5 }\n",
	     "t.rules:1:11: expected tag, quarantine, reject or \"}\", not \"spam\""},
	    {"actions { tag 5; tag 6 }\n", "t.rules:1:18: threshold for tag given twice"},
	    {"actions { tag five }\n",
	     "t.rules:1:15: expected a threshold score such as 5, not \"five\""},
	    {"actions { tag -1 }\n", "t.rules:1:15: a threshold must not be negative"},
	    {"actions { tag 5 reject 6 }\n",
	     "t.rules:1:17: expected \";\" or \"}\", not \"reject\""},
	    {"actions { tag 5 } x\n",
	     "t.rules:1:19: expected the end of the line after \"}\", not \"x\""},
	    {"actions { tag 5; quarantine 10; reject 8 }\n",
	     "t.rules:1:33: reject threshold 8 is below the quarantine threshold 10"},
	    {"actions { tag 5\n", "t.rules:2:1: expected \";\" or \"}\", not end of file"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, cases[i].want);

	/* the caret lines: the line quoted, tabs kept so the caret lines up */
	{
		char *error = NULL;
		struct ruleset *rs = rules_parse("t.rules", "rule A\tspf == fial\n", &error);

		CHECK_STR(error,
			  "t.rules:1:15: unknown SPF result \"fial\" (expected none, neutral, "
			  "pass, fail, softfail, temperror or permerror)\n"
			  "rule A\tspf == fial\n"
			  "      \t       ^",
			  "error quotes the line and puts a caret under the column");
		rules_free(&rs);
		free(error);
	}
	{
		char *error = NULL;
		struct ruleset *rs =
		    rules_parse_buf("t.rules", "rule A spf\0 == fail\n", 20, &error);

		CHECK_STR(error, "t.rules:1:11: NUL byte\nrule A spf? == fail\n          ^",
			  "a NUL byte is an error, shown as ?");
		rules_free(&rs);
		free(error);
	}
	/* caps */
	{
		char *text = xmalloc(5000), want[64];

		memset(text, ' ', 4999);
		text[4999] = '\0';
		memcpy(text, "rule A spf == fail #", 20);
		snprintf(want, sizeof(want), "t.rules:1:4097: line longer than 4096 bytes");
		expect_error(text, want);
		free(text);
	}
	{
		struct buf b;

		buf_init(&b, 1024 * 1024);
		for (int i = 0; i < 10001; i++)
			buf_printf(&b, "rule R%d true\n", i);
		expect_error(buf_str(&b), "t.rules:10001:6: more than 10000 rules");
		buf_release(&b);
	}
	{
		struct buf b;

		buf_init(&b, 65536);
		buf_puts(&b, "rule A ");
		for (int i = 0; i < 33; i++)
			buf_puts(&b, "(");
		buf_puts(&b, "true\n");
		expect_error(buf_str(&b), "t.rules:1:40: expression nested deeper than 32");
		buf_reset(&b);
		buf_puts(&b, "rule A true");
		for (int i = 0; i < 1000; i++)
			buf_puts(&b, " or \\\n true");
		expect_error(buf_str(&b),
			     "t.rules:1001:2: rule too complex (more than 1000 terms)");
		buf_reset(&b);
		buf_puts(&b, "rule A spf in (");
		for (int i = 0; i < 257; i++)
			buf_puts(&b, "pass,");
		buf_puts(&b, "pass)\n");
		expect_error(buf_str(&b), "t.rules:1:1296: more than 256 values in a list");
		buf_reset(&b);
		buf_puts(&b, "rule A helo == \"");
		for (int i = 0; i < 1025; i++)
			buf_puts(&b, "x");
		buf_puts(&b, "\"\n");
		expect_error(buf_str(&b), "t.rules:1:16: string longer than 1024 bytes");
		buf_reset(&b);
		buf_puts(&b, "rule A helo =~ /");
		for (int i = 0; i < 1025; i++)
			buf_puts(&b, "x");
		buf_puts(&b, "/\n");
		expect_error(buf_str(&b), "t.rules:1:16: regex longer than 1024 bytes");
		buf_reset(&b);
		buf_puts(&b, "rule A spf == fail action reject \"");
		for (int i = 0; i < 401; i++)
			buf_puts(&b, "x");
		buf_puts(&b, "\"\n");
		expect_error(buf_str(&b), "t.rules:1:34: action text longer than 400 bytes");
		buf_reset(&b);
		buf_puts(&b, "rule A client == ");
		for (int i = 0; i < 130; i++)
			buf_puts(&b, "1");
		buf_puts(&b, "\n");
		expect_error(buf_str(&b), "t.rules:1:18: \"1111111111111111111111111111111111111111"
					  "\" is not an address or network");
		buf_release(&b);
	}
}

/* ---- includes and files ---- */

static void test_files(void)
{
	char path[512], *error = NULL;
	struct ruleset *rs;

	write_file("main.rules",
		   "actions { tag 5 }\ninclude \"sub/a.rules\"\nrule M A and B score 1\n");
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	mkdir(path, 0700);
	write_file("sub/a.rules", "rule A spf == fail score 2\ninclude \"b.rules\"\n");
	write_file("sub/b.rules", "rule B iprev == fail score 3\n");
	snprintf(path, sizeof(path), "%s/main.rules", tmpdir);
	rs = rules_load(path, &error);
	CHECK(rs != NULL && rules_count(rs) == 3, "includes relative to the including file");
	if (rs != NULL) {
		struct facts f = base_facts();
		struct arena *a = arena_new(4096);
		struct rules_verdict v;

		f.spf_mfrom.result = SPF_FAIL;
		f.iprev.result = IPREV_FAIL;
		rules_evaluate(rs, &f, a, &v);
		CHECK(v.hit_count == 3 && v.score == 6 && v.action == RULES_TAG,
		      "rules from every file evaluated, meta across files");
		arena_free(&a);
	}
	rules_free(&rs);
	free(error);

	write_file("bad.rules", "rule A spf == pass\ninclude \"sub/bad2.rules\"\n");
	write_file("sub/bad2.rules", "\nrule B spf == fial\n");
	expect_load_error("bad.rules",
			  "D/sub/bad2.rules:2:15: unknown SPF result \"fial\" (expected "
			  "none, neutral, pass, fail, softfail, temperror or permerror)");

	write_file("cycle.rules", "include \"cycle2.rules\"\n");
	write_file("cycle2.rules", "rule C true\ninclude \"cycle.rules\"\n");
	expect_load_error("cycle.rules",
			  "D/cycle2.rules:2:9: include cycle: D/cycle.rules is already being read");
	write_file("self.rules", "include \"self.rules\"\n");
	expect_load_error("self.rules",
			  "D/self.rules:1:9: include cycle: D/self.rules is already being read");

	/* a chain deeper than the cap: d0 includes d1 ... */
	for (int i = 0; i <= 10; i++) {
		char name[32], text[64];

		snprintf(name, sizeof(name), "d%d.rules", i);
		snprintf(text, sizeof(text), "include \"d%d.rules\"\n", i + 1);
		write_file(name, text);
	}
	expect_load_error("d0.rules", "D/d8.rules:1:9: includes nested deeper than 8");

	/* more than 64 files, side by side */
	{
		struct buf b;

		buf_init(&b, 8192);
		for (int i = 0; i < 70; i++)
			buf_printf(&b, "include \"leaf.rules\"\n");
		write_file("many.rules", buf_str(&b));
		write_file("leaf.rules", "# nothing\n");
		expect_load_error("many.rules", "D/many.rules:64:9: more than 64 files");
		buf_release(&b);
	}
	/* too big: a file over 1 MiB, and 8 MiB in all */
	{
		char *big = xmalloc(1024 * 1024 + 2);

		for (size_t i = 0; i < 1024 * 1024 + 1; i++)
			big[i] = (i % 100 == 99) ? '\n' : '#';
		big[1024 * 1024 + 1] = '\0';
		write_file("big.rules", big);
		expect_load_error("big.rules", "D/big.rules: larger than 1 MiB");
		write_file("incbig.rules", "include \"big.rules\"\n");
		expect_load_error(
		    "incbig.rules",
		    "D/incbig.rules:1:9: cannot include \"D/big.rules\": larger than 1 MiB");
		big[1024 * 1024 - 1000] = '\0';
		write_file("mib.rules", big);
		free(big);
		{
			struct buf b;

			buf_init(&b, 8192);
			for (int i = 0; i < 9; i++)
				buf_printf(&b, "include \"mib.rules\"\n");
			write_file("total.rules", buf_str(&b));
			buf_release(&b);
		}
		expect_load_error("total.rules",
				  "D/mib.rules:1:1: more than 8388608 bytes of rules in all");
	}
	expect_load_error("missing.rules", "D/missing.rules: No such file or directory");
	expect_load_error("sub", "D/sub: Is a directory");
}

/* ---- evaluation of each fact ---- */

static void test_facts(void)
{
	struct facts f = base_facts();
	struct dnsbl_result ip[3];
	struct domain_listing dl[2];
	struct dkim_sig sigs[2];
	struct header_field hdr[3] = {
	    {"Subject", "Buy VIAGRA now"}, {"X-Empty", ""}, {"subject", "second subject"}};
	const char *rcpts[2] = {"alice@example.com", "bob@example.org"};

	/* SPF, both identities */
	f.spf_mfrom.result = SPF_FAIL;
	f.spf_helo.result = SPF_PASS;
	HIT("spf == fail", &f);
	MISS("spf == pass", &f);
	HIT("spf != pass", &f);
	HIT("spf in (softfail, FAIL)", &f);
	MISS("spf not in (softfail, fail)", &f);
	HIT("spf.helo == pass", &f);
	MISS("spf.helo == fail", &f);

	/* DKIM: any signature; by domain; none when no signature */
	MISS("dkim == pass", &f);
	HIT("dkim == none", &f);
	sigs[0] = (struct dkim_sig){.result = DKIM_FAIL, .domain = "example.com"};
	sigs[1] = (struct dkim_sig){.result = DKIM_PASS, .domain = "esp.example"};
	f.dkim.sig = sigs;
	f.dkim.count = 2;
	HIT("dkim == fail", &f);
	HIT("dkim == pass", &f);
	MISS("dkim == none", &f);
	HIT("dkim(Example.COM) == fail", &f);
	MISS("dkim(example.com) == pass", &f);
	HIT("dkim(esp.example) == pass", &f);
	HIT("dkim(other.example) == none", &f);
	HIT("dkim(example.com) != pass", &f);

	/* DMARC */
	f.dmarc.result = DMARC_FAIL;
	f.dmarc.policy = DMARC_POLICY_REJECT;
	HIT("dmarc == fail and dmarc.policy == reject", &f);
	MISS("dmarc.policy in (none, quarantine)", &f);
	f.dmarc.policy = DMARC_POLICY_UNSET;
	HIT("dmarc.policy == unset", &f);

	/* ARC (RFC 8617): the chain's result and every set's sealer */
	HIT("arc == none", &f);
	MISS("arc.sealer", &f);
	HIT("arc.sealer not in (fwd.example)", &f);
	{
		struct arc_set sets[2] = {{.instance = 1, .seal_domain = "lists.example"},
					  {.instance = 2, .seal_domain = "Fwd.Example"}};

		f.arc.result = ARC_PASS;
		f.arc.sets = sets;
		f.arc.set_count = 2;
		HIT("arc == pass", &f);
		MISS("arc in (fail, temperror, none)", &f);
		HIT("arc.sealer == fwd.example", &f);
		HIT("arc.sealer in (other.example, lists.example)", &f);
		MISS("arc.sealer not in (lists.example)", &f);
		HIT("arc.sealer =~ /^fwd\\./i", &f);
		HIT("arc.sealer", &f);
		MISS("arc.sealer == example", &f);
		f.arc.result = ARC_TEMPERROR;
		HIT("arc == temperror and dmarc == fail", &f);
		f.arc.result = ARC_FAIL;
		HIT("arc != pass", &f);
		f.arc = (struct arc_outcome){0};
	}
	MISS("dmarc.override", &f);
	HIT("dmarc == fail and not dmarc.override", &f);
	f.dmarc_override = "trusted_forwarder";
	HIT("dmarc.override == trusted_forwarder", &f);
	MISS("dmarc == fail and not dmarc.override", &f);
	f.dmarc_override = NULL;

	/* iprev */
	f.iprev.result = IPREV_FAIL;
	HIT("iprev != pass", &f);
	HIT("iprev == fail", &f);

	/* IP lists: exact, wildcard, range, lists, masks, states */
	ip[0] = (struct dnsbl_result){.zone = "zen.spamhaus.org",
				      .status = DNSBL_LISTED,
				      .codes = {0x7f00000a, 0x7f000004},
				      .code_count = 2};
	ip[1] = (struct dnsbl_result){.zone = "list.dnswl.org.",
				      .status = DNSBL_LISTED,
				      .codes = {0x7f000f03},
				      .code_count = 1};
	ip[2] = (struct dnsbl_result){.zone = "bl.spamcop.net", .status = DNSBL_BLOCKED};
	f.ip_lists = ip;
	f.ip_list_count = 3;
	HIT("dnsbl(zen.spamhaus.org)", &f);
	HIT("dnsbl(zen.spamhaus.org) == 127.0.0.4", &f);
	MISS("dnsbl(zen.spamhaus.org) == 127.0.0.2", &f);
	HIT("dnsbl(zen.spamhaus.org) in 127.0.0.2-127.0.0.11", &f);
	HIT("dnsbl(zen.spamhaus.org) in (127.0.0.2, 127.0.0.3, 127.0.0.10)", &f);
	MISS("dnsbl(zen.spamhaus.org) in (127.0.0.2, 127.0.0.3)", &f);
	HIT("dnsbl(zen.spamhaus.org) & 0x4", &f);
	HIT("dnsbl(zen.spamhaus.org) & 2", &f);
	MISS("dnsbl(zen.spamhaus.org) & 0x1", &f);
	HIT("dnsbl(zen.spamhaus.org) != 127.0.0.2", &f);
	HIT("dnsbl(zen.spamhaus.org) == listed", &f);
	HIT("dnswl(list.dnswl.org) == 127.0.*.3", &f);
	MISS("dnswl(list.dnswl.org) == 127.0.*.2", &f);
	HIT("dnswl(LIST.dnswl.org) == 127.0.15.*", &f);
	MISS("dnsbl(other.example)", &f);
	HIT("dnsbl(other.example) != 127.0.0.2", &f);
	/* a blocked answer: no code test matches, not even a negative one */
	MISS("dnsbl(bl.spamcop.net)", &f);
	MISS("dnsbl(bl.spamcop.net) == 127.0.0.2", &f);
	MISS("dnsbl(bl.spamcop.net) != 127.0.0.2", &f);
	MISS("dnsbl(bl.spamcop.net) not in (127.0.0.2)", &f);
	MISS("dnsbl(bl.spamcop.net) & 0xffffffff", &f);
	HIT("dnsbl(bl.spamcop.net) == blocked", &f);
	MISS("dnsbl(bl.spamcop.net) != blocked", &f);
	ip[2].status = DNSBL_ERROR;
	HIT("dnsbl(bl.spamcop.net) == error", &f);
	MISS("dnsbl(bl.spamcop.net) != 127.0.0.2", &f);
	ip[2].status = DNSBL_NOT_LISTED;
	HIT("dnsbl(bl.spamcop.net) == unlisted", &f);
	HIT("dnsbl(bl.spamcop.net) != 127.0.0.2", &f);

	/* domain lists, by identity */
	dl[0] = (struct domain_listing){IDENT_FROM,
					{.zone = "dbl.spamhaus.org",
					 .status = DNSBL_LISTED,
					 .codes = {0x7f000102},
					 .code_count = 1}};
	dl[1] = (struct domain_listing){IDENT_MAIL_FROM,
					{.zone = "dbl.spamhaus.org", .status = DNSBL_NOT_LISTED}};
	f.domain_lists = dl;
	f.domain_list_count = 2;
	HIT("dbl(dbl.spamhaus.org, from) == 127.0.1.2", &f);
	MISS("dbl(dbl.spamhaus.org, mail_from) == 127.0.1.2", &f);
	HIT("dbl(dbl.spamhaus.org, mail_from) == unlisted", &f);
	HIT("dbl(dbl.spamhaus.org) in 127.0.1.2-127.0.1.99", &f);
	MISS("dbl(dbl.spamhaus.org, helo)", &f);

	/* geoip */
	memcpy(f.geoip.country, "KP", 3);
	f.geoip.asn = 64496;
	HIT("geoip.country in (kp, IR)", &f);
	MISS("geoip.country == US", &f);
	HIT("geoip.asn == 64496", &f);
	HIT("geoip.asn in (1-10, 64496-64511)", &f);
	MISS("geoip.asn != 64496", &f);
	f.geoip.country[0] = '\0';
	HIT("geoip.country == unknown", &f);

	/* client address */
	addr_parse("203.0.113.10", &f.client);
	HIT("client in (198.51.100.0/24, 203.0.113.0/24)", &f);
	HIT("client == 203.0.113.10", &f);
	MISS("client == 2001:db8::/32", &f);
	HIT("client != 2001:db8::/32", &f);

	/* strings: helo, envelope, client host, From */
	f.helo = "[203.0.113.10]";
	f.client_host = "unknown";
	HIT("helo =~ /^\\[[0-9.]+\\]$/", &f);
	MISS("helo !~ /^\\[/", &f);
	HIT("helo == \"[203.0.113.10]\"", &f);
	HIT("helo", &f);
	HIT("client.host == unknown", &f);
	MISS("mail_from", &f);
	HIT("mail_from == \"\"", &f);
	f.mail_from = "bounce@Example.com";
	f.mail_from_domain = "example.com";
	HIT("mail_from =~ /@example\\.com$/i", &f);
	MISS("mail_from =~ /@example\\.com$/", &f);
	HIT("mail_from.domain in (example.com, example.org)", &f);
	f.from_domain = "example.com";
	HIT("from.domain == EXAMPLE.com", &f);
	MISS("from.error", &f);
	f.from_error = "two From fields";
	HIT("from.error", &f);
	HIT("from.error =~ /two/", &f);

	/* recipients */
	MISS("rcpt", &f);
	HIT("rcpt != x@example.com", &f);
	f.rcpts = rcpts;
	f.rcpt_count = 2;
	HIT("rcpt == BOB@example.org", &f);
	HIT("rcpt =~ /^alice@/", &f);
	MISS("rcpt !~ /^alice@/", &f);
	HIT("rcpt.count > 1", &f);
	MISS("rcpt.count >= 3", &f);

	/* headers: every field of the name counts */
	f.headers = hdr;
	f.header_count = 3;
	HIT("header(Subject) =~ /viagra/i", &f);
	MISS("header(Subject) =~ /viagra/", &f);
	HIT("header(subject) =~ /^second/", &f);
	HIT("header(X-Empty)", &f);
	MISS("header(X-Missing)", &f);
	HIT("header(X-Missing) !~ /x/", &f);
	HIT("header(Subject) == \"second SUBJECT\"", &f);

	/* size, with suffixes */
	f.header_bytes = 1000;
	f.body_bytes = 2 * 1024 * 1024;
	HIT("size > 2M", &f);
	MISS("size > 3M", &f);
	HIT("size >= 2048k", &f);
	MISS("size >= 2049k", &f);
	HIT("size < 1G", &f);
	HIT("size in 1M-3M", &f);
	MISS("size == 0", &f);

	/* authentication and TLS */
	MISS("authenticated", &f);
	MISS("not not authenticated", &f);
	f.auth_user = "alice";
	HIT("authenticated", &f);
	HIT("auth == alice", &f);
	MISS("tls", &f);
	MISS("tls < TLSv1.2", &f);
	f.tls_version = "TLSv1.1";
	HIT("tls", &f);
	HIT("tls < TLSv1.2", &f);
	HIT("tls == tlsv1.1", &f);
	MISS("tls >= TLSv1.2", &f);
	f.tls_version = "TLSv1.3";
	HIT("tls >= tlsv1.2 and tls <= TLSv1.3 and tls > TLSv1", &f);
	f.tls_version = "QUIC";
	MISS("tls < TLSv1.3", &f);
	MISS("tls >= TLSv1", &f);

	/* rate limits: booleans, alone */
	MISS("ratelimit", &f);
	MISS("ratelimit.ip or ratelimit.sender or ratelimit.user", &f);
	f.ratelimit = RATELIMIT_BIT(RATELIMIT_SENDER);
	HIT("ratelimit", &f);
	HIT("ratelimit.sender and not ratelimit.ip and not ratelimit.user", &f);
	f.ratelimit = RATELIMIT_BIT(RATELIMIT_IP) | RATELIMIT_BIT(RATELIMIT_USER);
	HIT("ratelimit.ip and ratelimit.user and not ratelimit.sender", &f);
	HIT("RateLimit.IP", &f);
	f.ratelimit = 0;

	/* boolean structure */
	HIT("true", &f);
	MISS("false", &f);
	HIT("not false and (false or true)", &f);
	MISS("true and (false or not true)", &f);
	HIT("false or false or true", &f);
	HIT("spf == fail and \\\n  iprev == fail", &f);
	HIT("(spf == fail\n and\n iprev == fail)", &f);
}

/* A hostile header cannot make a regex take long: the match limit stops it
 * and the test is then false. */
static void test_regex_limits(void)
{
	struct facts f = base_facts();
	struct header_field h = {"Subject", NULL};
	char *v = xmalloc(30001);

	memset(v, 'a', 30000);
	v[29999] = '!';
	v[30000] = '\0';
	h.value = v;
	f.headers = &h;
	f.header_count = 1;
	MISS("header(Subject) =~ /^(a|aa)+$/", &f);
	MISS("header(Subject) =~ /^(\\w+\\s?)*$/", &f);
	HIT("header(Subject) =~ /a{29999}/", &f);
	free(v);
}

/* ---- the body: facts->content filled by hand (the MIME module's seam) ---- */

static struct content_facts phish_content(void)
{
	static const struct content_part parts[] = {
	    {.type = "text/html", .charset = "utf-8", .encoding = "quoted-printable", .size = 900},
	    {.type = "application/pdf",
	     .sniffed = "application/x-dosexec",
	     .encoding = "base64",
	     .filename = "Invoice.PDF.exe",
	     .size = 40000,
	     .depth = 1,
	     .attachment = 1},
	    {.type = "application/zip", .filename = "docs.zip", .size = 1000, .attachment = 1},
	    {.type = "application/octet-stream", .filename = "run.scr", .in_archive = 1},
	};
	static const struct content_url urls[] = {
	    {.url = "https://login-verify.evil.example/acct",
	     .host = "login-verify.evil.example",
	     .domain = "evil.example",
	     .text_domain = "bank.example",
	     .from_html = 1,
	     .mismatch = 1},
	    {.url = "http://192.0.2.7/x", .host = "192.0.2.7"},
	};
	static const char *const hosts[] = {"login-verify.evil.example", "192.0.2.7"};
	static const char *const domains[] = {"evil.example"};
	static const char text[] = "Dear customer,\nyour account is suspended\0hidden";
	struct content_facts c = {
	    .scanned = 1,
	    .text = text,
	    .text_len = sizeof(text) - 1,
	    .raw = "PGh0bWw+RGVhciBjdXN0b21lcg==",
	    .raw_len = 28,
	    .parts = parts,
	    .part_count = 4,
	    .urls = urls,
	    .url_count = 2,
	    .hosts = hosts,
	    .host_count = 2,
	    .domains = domains,
	    .domain_count = 1,
	    .html_only = 1,
	    .link_text_mismatch = 1,
	    .double_extension = 1,
	    .archive_executable = 1,
	    .skipped_parts = 2,
	};
	return c;
}

static void test_content(void)
{
	struct facts f = base_facts();
	struct domain_listing dl[4];

	/* not scanned: no values, every flag false, negations true */
	MISS("body =~ /./", &f);
	HIT("body !~ /./", &f);
	MISS("uri", &f);
	MISS("html-only", &f);
	HIT("mime-parts == 0", &f);
	MISS("uribl(dbl.spamhaus.org)", &f);
	HIT("uribl(dbl.spamhaus.org) != listed", &f);

	f.content = phish_content();
	HIT("body =~ /account is suspended/", &f);
	HIT("body =~ /suspended.hidden/s", &f); /* the length is kept past a NUL */
	MISS("body =~ /PGh0bWw/", &f);
	HIT("rawbody =~ /PGh0bWw/", &f);
	MISS("rawbody =~ /Dear/", &f);
	HIT("body", &f);
	HIT("uri =~ /login-verify\\./", &f);
	HIT("uri == \"http://192.0.2.7/x\"", &f);
	MISS("uri !~ /./", &f);
	HIT("uri !~ /paypal/", &f);
	HIT("uri-domain in (bank.example, EVIL.example)", &f);
	HIT("uri-domain == login-verify.evil.example", &f); /* a host */
	HIT("uri-domain == 192.0.2.7", &f);
	MISS("uri-domain == bank.example", &f);
	HIT("uri-domain not in (bank.example)", &f);
	HIT("attachment-name =~ /\\.exe$/i", &f);
	HIT("attachment-name == run.scr", &f); /* an archive member */
	MISS("attachment-name =~ /^$/", &f);
	HIT("attachment-type =~ /dosexec/", &f);       /* sniffed */
	HIT("attachment-type == application/pdf", &f); /* declared */
	MISS("attachment-type =~ /^text\\//", &f);     /* the body part is no attachment */
	HIT("mime-parts > 5", &f);		       /* 4 kept, 2 over the bounds */
	MISS("mime-parts > 6", &f);
	HIT("mime-parts in (1-3, 6)", &f);
	HIT("html-only and link-text-mismatch", &f);
	HIT("attachment-double-extension and attachment-executable-in-archive", &f);
	HIT("uri =~ /login-verify\\./ and link-text-mismatch", &f);
	f.content.html_only = 0;
	f.content.link_text_mismatch = 0;
	f.content.double_extension = 0;
	f.content.archive_executable = 0;
	MISS("html-only or link-text-mismatch", &f);
	MISS("attachment-double-extension or attachment-executable-in-archive", &f);
	HIT("not html-only", &f);

	/* uribl(zone): the answers about the links' domains, never a sender's */
	dl[0] = (struct domain_listing){IDENT_URI,
					{.zone = "dbl.spamhaus.org",
					 .subject = "evil.example",
					 .status = DNSBL_LISTED,
					 .codes = {0x7f000104},
					 .code_count = 1}};
	dl[1] = (struct domain_listing){IDENT_URI,
					{.zone = "multi.uribl.com",
					 .subject = "evil.example",
					 .status = DNSBL_BLOCKED,
					 .codes = {0x7f000001},
					 .code_count = 1}};
	dl[2] = (struct domain_listing){IDENT_FROM,
					{.zone = "dbl.spamhaus.org", .status = DNSBL_NOT_LISTED}};
	dl[3] = (struct domain_listing){IDENT_FROM,
					{.zone = "other.example",
					 .status = DNSBL_LISTED,
					 .codes = {0x7f000102},
					 .code_count = 1}};
	f.domain_lists = dl;
	f.domain_list_count = 4;
	HIT("uribl(dbl.spamhaus.org)", &f);
	HIT("uribl(dbl.spamhaus.org) in 127.0.1.2-127.0.1.99", &f);
	HIT("uribl(dbl.spamhaus.org) == 127.0.1.4", &f);
	HIT("dbl(dbl.spamhaus.org, uri) == 127.0.1.4", &f); /* the same test */
	MISS("uribl(dbl.spamhaus.org) in 127.0.1.102-127.0.1.106", &f);
	/* dbl(zone) without an identity is the sender's identities only */
	MISS("dbl(dbl.spamhaus.org) == listed", &f);
	MISS("uribl(other.example)", &f); /* listed for From, not for a link */
	/* a refusal ("query refused", 127.0.0.1 at URIBL) is never a listing */
	MISS("uribl(multi.uribl.com)", &f);
	MISS("uribl(multi.uribl.com) == 127.0.0.1", &f);
	MISS("uribl(multi.uribl.com) != 127.0.0.2", &f);
	HIT("uribl(multi.uribl.com) == blocked", &f);

	/* the issue's example reads and scores */
	{
		struct ruleset *rs;
		struct arena *a = arena_new(4096);
		struct rules_verdict v;
		char *error = NULL;

		f.content.link_text_mismatch = 1;
		rs = rules_parse("t.rules",
				 "rule PHISH_LINK uri =~ /login-verify\\./ and link-text-mismatch "
				 "score 3\n",
				 &error);
		if (CHECK(rs != NULL, "PHISH_LINK parses")) {
			rules_evaluate(rs, &f, a, &v);
			CHECK(v.hit_count == 1 && v.score == 3, "PHISH_LINK scores 3");
		} else {
			printf("# %s\n", error);
		}
		free(error);
		rules_free(&rs);
		arena_free(&a);
	}
}

/* A 1 MB decoded body against a pattern that backtracks: the match limits
 * stop it (no hang), and the rule does not match. */
static void test_content_limits(void)
{
	struct facts f = base_facts();
	size_t n = 1024 * 1024;
	char *text = xmalloc(n + 1);

	memset(text, 'a', n);
	text[n - 1] = '!';
	text[n] = '\0';
	f.content.scanned = 1;
	f.content.text = text;
	f.content.text_len = n;
	MISS("body =~ /^(a|aa)+$/", &f);
	MISS("body =~ /^(\\w+\\s?)*$/", &f);
	HIT("body =~ /a!$/", &f);
	free(text);
}

/* ---- verdicts ---- */

static struct ruleset *must_parse(const char *text)
{
	char *error = NULL;
	struct ruleset *rs = rules_parse("t.rules", text, &error);

	if (rs == NULL) {
		printf("# %s\n", error);
		free(error);
	}
	return rs;
}

static void test_verdicts(void)
{
	struct arena *a = arena_new(4096);
	struct facts f = base_facts();
	struct rules_verdict v;
	struct ruleset *rs;

	rs = must_parse("actions { tag 5; quarantine 10; reject 15 }\n"
			"rule SPF_FAIL spf == fail score 3.5 \"SPF hard fail\"\n"
			"rule NO_PTR iprev != pass score 1\n"
			"rule COMBO SPF_FAIL and NO_PTR score 1\n"
			"rule __SUB helo =~ /bot/\n"
			"rule USES_SUB __SUB and NO_PTR score 4\n"
			"monitor rule TRY iprev != pass score 3 action reject \"would reject\"\n"
			"rule NEG spf == pass score -2\n");
	CHECK(rs != NULL && rules_count(rs) == 7 && rules_monitor_count(rs) == 1,
	      "ruleset: 7 rules, 1 monitor");
	CHECK(rules_threshold(rs, RULES_TAG) == 5 && rules_threshold(rs, RULES_QUARANTINE) == 10 &&
		  rules_threshold(rs, RULES_REJECT) == 15 &&
		  rules_threshold(rs, RULES_TEMPFAIL) < 0,
	      "thresholds");

	f.iprev.result = IPREV_PASS;
	f.spf_mfrom.result = SPF_PASS;
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_ACCEPT && v.score == -2 && v.hit_count == 1 &&
		  strcmp(v.hits[0], "NEG") == 0 && v.hit_scores[0] == -2 && v.threshold == 5,
	      "clean: accepted, negative score, threshold of tag");

	f.spf_mfrom.result = SPF_FAIL;
	f.iprev.result = IPREV_FAIL;
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.score == 5.5 && v.action == RULES_TAG && v.threshold == 5 && v.hit_count == 3 &&
		  v.forced_by == NULL,
	      "meta rule adds: 3.5 + 1 + 1 tags");
	CHECK(v.monitor_count == 1 && strcmp(v.monitors[0], "TRY") == 0 && !hits_contain(&v, "TRY"),
	      "monitor listed, never scored, never forcing");

	f.helo = "bot.example";
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.score == 9.5 && v.action == RULES_TAG && hits_contain(&v, "USES_SUB") &&
		  !hits_contain(&v, "__SUB"),
	      "__ sub-rules feed others and are not listed");
	rules_free(&rs);

	/* score thresholds, with inexact decimal sums */
	rs = must_parse("actions { tag 0.3; quarantine 1; reject 2 }\n"
			"rule A true score 0.1\nrule B true score 0.2\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_TAG && v.threshold == 0.3, "0.1 + 0.2 reaches 0.3");
	rules_free(&rs);
	rs = must_parse("actions { tag 1\n quarantine 2\n reject 3 }\nrule A true score 2\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_QUARANTINE && v.threshold == 2, "quarantine by score");
	rules_free(&rs);
	rs = must_parse("actions { reject 3 }\nrule A true score 3\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_REJECT && v.threshold == 3 && v.text == NULL, "reject by score");
	rules_free(&rs);
	rs = must_parse("rule A true score 300\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_ACCEPT && v.threshold < 0,
	      "no thresholds: accept whatever the score");
	rules_free(&rs);

	/* forced actions: the most severe wins, whatever the score */
	rs = must_parse("actions { tag 1; quarantine 2; reject 3 }\n"
			"rule T true action tag score 10\n"
			"rule Q true action quarantine \"held for review\"\n"
			"rule F true action tempfail \"try later\"\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_TEMPFAIL && strcmp(v.forced_by, "F") == 0 &&
		  strcmp(v.text, "try later") == 0 && v.threshold < 0 && v.score == 10,
	      "tempfail beats quarantine and tag, and the score");
	rules_free(&rs);
	rs = must_parse("rule Q true action quarantine \"held\"\n"
			"rule R true action reject \"no\"\n"
			"rule D true action discard\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_REJECT && strcmp(v.forced_by, "R") == 0,
	      "reject and discard rank together: the first wins");
	rules_free(&rs);
	rs = must_parse("rule D true action discard \"dropped\"\nrule R true action reject\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_DISCARD && v.text == NULL && strcmp(v.forced_by, "D") == 0,
	      "discard first; a string after discard is the description");
	rules_free(&rs);
	rs = must_parse("actions { quarantine 2 }\n"
			"rule Q true action quarantine \"why\"\nrule T false action reject\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_QUARANTINE && v.threshold == 2 && strcmp(v.text, "why") == 0,
	      "only matched rules force; threshold of the forced action");
	rules_free(&rs);
	rs = must_parse("rule T true action tag\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.action == RULES_TAG && strcmp(v.forced_by, "T") == 0, "forced tag");
	rules_free(&rs);

	/* references: forward, and order of evaluation independent of order in
	 * the file */
	rs = must_parse("rule TOP MID and not LOW score 1\nrule MID LOW or true\nrule LOW false\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.hit_count == 2 && strcmp(v.hits[0], "TOP") == 0 && strcmp(v.hits[1], "MID") == 0,
	      "forward references; hits in file order");
	rules_free(&rs);

	/* an empty ruleset, and no ruleset */
	rs = must_parse("# nothing\n\n");
	rules_evaluate(rs, &f, a, &v);
	CHECK(rs != NULL && rules_count(rs) == 0 && v.action == RULES_ACCEPT && v.hit_count == 0,
	      "empty ruleset accepts");
	rules_free(&rs);
	rules_evaluate(NULL, &f, a, &v);
	CHECK(v.action == RULES_ACCEPT && v.threshold < 0, "NULL ruleset accepts");
	rules_free(&rs);
	CHECK(rs == NULL, "rules_free accepts NULL and clears the pointer");
	CHECK(strcmp(rules_action_name(RULES_QUARANTINE), "quarantine") == 0, "action names");
	arena_free(&a);
}

/* The design example, verbatim, and the shipped rules files. */
/* HELO_IS_IP: address literals (RFC 5321 §4.1.3) and bare addresses, never
 * a name that happens to be spelled in hex letters and dots. */
static void test_shipped_helo(const struct ruleset *rs, struct arena *a)
{
	static const struct {
		const char *helo;
		int is_ip;
	} cases[] = {
	    {"bead.cafe", 0},
	    {"cafe", 0},
	    {"dead.beef.cafe", 0},
	    {"a.b", 0},
	    {"mail.example.com", 0},
	    {"deadbeef", 0},
	    {"1.2.3", 0},
	    {"192.0.2.1.example", 0},
	    {"256.0.2.1", 0},
	    {"[bead.cafe]", 0},
	    {"[192.0.2.1", 0},
	    {"1::2::3", 0},
	    {"2001:db8:::1", 0},
	    {"12345::1", 0},
	    {"[IPv6:192.0.2.1]", 0},
	    {"192.0.2.1", 1},
	    {"[192.0.2.1]", 1},
	    {"2001:db8::1", 1},
	    {"[IPv6:2001:db8::1]", 1},
	    {"[ipv6:2001:DB8::1]", 1},
	    {"[2001:db8::1]", 1},
	    {"::1", 1},
	    {"::", 1},
	    {"2001:db8:0:0:0:0:0:1", 1},
	    {"::ffff:192.0.2.1", 1},
	    {"fe80::", 1},
	};
	struct facts f = base_facts();
	struct rules_verdict v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.helo = cases[i].helo;
		rules_evaluate(rs, &f, a, &v);
		CHECK(hits_contain(&v, "HELO_IS_IP") == cases[i].is_ip,
		      "default.rules: HELO %s %s HELO_IS_IP", cases[i].helo,
		      cases[i].is_ip ? "hits" : "does not hit");
	}
}

/* default.rules on the body: a phishing message tags, a refused DBL
 * answer is only a monitor notice, a plain message hits nothing. */
static void test_shipped_content(const struct ruleset *rs, struct arena *a)
{
	struct facts f = base_facts();
	struct rules_verdict v;
	struct domain_listing dl = {IDENT_URI,
				    {.zone = "dbl.spamhaus.org",
				     .subject = "evil.example",
				     .status = DNSBL_LISTED,
				     .codes = {0x7f000104},
				     .code_count = 1}};

	f.content = phish_content();
	f.domain_lists = &dl;
	f.domain_list_count = 1;
	rules_evaluate(rs, &f, a, &v);
	CHECK(hits_contain(&v, "URIBL_DBL_PHISH") && hits_contain(&v, "LINK_TEXT_MISMATCH") &&
		  hits_contain(&v, "MIME_HTML_ONLY") && hits_contain(&v, "ATTACH_EXECUTABLE") &&
		  hits_contain(&v, "ATTACH_DOUBLE_EXT") && hits_contain(&v, "ATTACH_ARCHIVE_EXE") &&
		  !hits_contain(&v, "URIBL_DBL_SPAM") && !hits_contain(&v, "DBL_ABUSED") &&
		  v.action == RULES_QUARANTINE,
	      "default.rules: a phishing message with an executable is quarantined (%.1f)",
	      v.score);
	dl.r.status = DNSBL_BLOCKED;
	dl.r.codes[0] = 0x7f0001ff;
	f.content.link_text_mismatch = f.content.html_only = 0;
	f.content.double_extension = f.content.archive_executable = 0;
	f.content.parts = NULL;
	f.content.part_count = 0;
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.hit_count == 0 && v.monitor_count == 1 &&
		  strcmp(v.monitors[0], "URIBL_DBL_BLOCKED") == 0,
	      "default.rules: a refused DBL answer scores nothing, the monitor notes it");
	f.domain_list_count = 0;
	f.content.urls = NULL;
	f.content.url_count = 0;
	rules_evaluate(rs, &f, a, &v);
	CHECK(v.hit_count == 0 && v.monitor_count == 0,
	      "default.rules: a plain scanned body hits nothing");
}

static void test_shipped(void)
{
	char *error = NULL, path[1024];
	const char *srcdir = getenv("top_srcdir");
	struct ruleset *rs = must_parse(
	    "actions { tag 5; quarantine 10; reject 15 }\n"
	    "rule SPF_FAIL     spf == fail                          score 3.5  \"SPF hard fail\"\n"
	    "rule DMARC_REJECT dmarc == fail and dmarc.policy == reject   action reject \"DMARC "
	    "policy of the From domain says reject\"\n"
	    "rule ZEN          dnsbl(zen.spamhaus.org) in 127.0.0.2-127.0.0.11   score 6\n"
	    "rule DNSWL_HI     dnswl(list.dnswl.org) == 127.0.*.3   score -5\n"
	    "rule RISKY_GEO    geoip.country in (KP, IR)            score 2\n"
	    "rule NO_PTR       iprev != pass                        score 1\n"
	    "rule COMBO        SPF_FAIL and NO_PTR                  score 1\n"
	    "monitor rule TRY  geoip.asn == 64496                   score 3   # counted and "
	    "logged, not scored\n");

	CHECK(rs != NULL && rules_count(rs) == 8, "the DESIGN.md example parses");
	rules_free(&rs);

	snprintf(path, sizeof(path), "%s/rules/default.rules", srcdir ? srcdir : ".");
	rs = rules_load(path, &error);
	if (!CHECK(rs != NULL, "default.rules loads"))
		printf("# %s\n", error);
	free(error);
	if (rs != NULL) {
		struct arena *a = arena_new(4096);
		struct facts f = base_facts();
		struct rules_verdict v;
		struct dnsbl_result zen = {
		    .zone = "zen.spamhaus.org", .status = DNSBL_LISTED, .code_count = 1};
		struct dkim_sig sig = {.result = DKIM_PASS, .domain = "example.com"};

		/* a clean, authenticated sender */
		f.spf_mfrom.result = SPF_PASS;
		f.spf_helo.result = SPF_PASS;
		f.dkim.sig = &sig;
		f.dkim.count = 1;
		f.dmarc.result = DMARC_PASS;
		f.iprev.result = IPREV_PASS;
		f.helo = "mail.example.com";
		rules_evaluate(rs, &f, a, &v);
		CHECK(v.action == RULES_ACCEPT && v.score < 5,
		      "default.rules: clean client accepted");
		/* every ZEN code from .2 to .11 rejects, even with good authentication */
		for (uint32_t c = 2; c <= 11; c++) {
			zen.codes[0] = 0x7f000000 | c;
			f.ip_lists = &zen;
			f.ip_list_count = 1;
			rules_evaluate(rs, &f, a, &v);
			CHECK(v.action == RULES_REJECT && hits_contain(&v, "RCVD_IN_ZEN"),
			      "default.rules: ZEN 127.0.0.%u rejected", (unsigned)c);
		}
		zen.status = DNSBL_BLOCKED;
		zen.code_count = 0;
		rules_evaluate(rs, &f, a, &v);
		CHECK(v.action == RULES_ACCEPT && v.monitor_count == 1,
		      "default.rules: a blocked ZEN answer is a monitor notice, not a listing");
		/* a forged sender from a nameless host: tagged */
		f.ip_list_count = 0;
		f.spf_mfrom.result = SPF_FAIL;
		f.iprev.result = IPREV_FAIL;
		f.dkim.count = 0;
		f.dmarc.result = DMARC_FAIL;
		f.dmarc.policy = DMARC_POLICY_NONE;
		rules_evaluate(rs, &f, a, &v);
		CHECK(v.action == RULES_TAG, "default.rules: SPF fail without PTR tagged (%g)",
		      v.score);
		/* any exceeded rate limit defers, whatever else the message is */
		for (int k = 0; k < RATELIMIT_KINDS; k++) {
			f.ratelimit = RATELIMIT_BIT(k);
			rules_evaluate(rs, &f, a, &v);
			CHECK(v.action == RULES_TEMPFAIL && v.forced_by != NULL &&
				  strcmp(v.forced_by, "RATE_LIMITED") == 0,
			      "default.rules: ratelimit.%s exceeded: tempfail by RATE_LIMITED",
			      ratelimit_kind_name((enum ratelimit_kind)k));
		}
		f.ratelimit = 0;
		test_shipped_helo(rs, a);
		test_shipped_content(rs, a);
		arena_free(&a);
		rules_free(&rs);
	}
	{
		static const char *const contrib[] = {"geo.rules", "strict-dmarc.rules",
						      "monitor-trial.rules"};

		for (size_t i = 0; i < sizeof(contrib) / sizeof(contrib[0]); i++) {
			snprintf(path, sizeof(path), "%s/contrib/rules/%s", srcdir ? srcdir : ".",
				 contrib[i]);
			error = NULL;
			rs = rules_load(path, &error);
			if (!CHECK(rs != NULL, "contrib/rules/%s loads", contrib[i]))
				printf("# %s\n", error);
			free(error);
			rules_free(&rs);
		}
	}
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_errors();
	test_files();
	test_facts();
	test_regex_limits();
	test_content();
	test_content_limits();
	test_verdicts();
	test_shipped();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	return check_done();
}

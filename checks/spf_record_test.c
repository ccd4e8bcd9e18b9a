/*
 * spf_record_test - spf_record.c against RFC 7208: the validator (record
 * text -> valid, or the error's words), the text rendered for libspf2, and
 * macro expansion in explanations.  One table row per case, citing the
 * section it checks.  Then a seeded random walk over records built from
 * SPF's pieces and stray bytes (a fuzzer's smoke test, for the sanitizer
 * build): no crash, and every record the validator accepts renders to text
 * libspf2 compiles.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>

#include <spf2/spf.h>

#include "addr.h"
#include "check.h"
#include "spf_record.h"

struct parse_case {
	const char *rfc;
	const char *record;
	size_t len;	   /* 0: strlen(record) */
	const char *error; /* NULL: valid; else a substring of the error */
};

#define OK NULL

static const struct parse_case parse_cases[] = {
    /* selection and bytes */
    {"§4.5", "v=spf1", 0, OK},
    {"§4.5", "V=SpF1 ~all", 0, OK},
    {"§4.5", "v=spf1mx", 0, "not an SPF record"},
    {"§4.5", "v=spf10 -all", 0, "not an SPF record"},
    {"§4.6.1", "v=spf1 a  -all", 0, OK},
    {"§4.6.1", "v=spf1 -all ", 0, OK},
    {"§4.6.1", "v=spf1 a\t-all", 0, "0x09"},
    {"§4.6.1", "v=spf1 a:ctrl.example.test\rptr -all", 0, "0x0d"},
    {"§3.1",
     "v=spf1 \x80"
     "a:example.test -all",
     0, "0x80"},
    {"§3.1", "v=spf1 a:\xef\xbb\xbfgarbage.example.test -all", 0, "0xef"},
    {"§3.1", "v=spf1 a:example.test -all\0+all", 27, "0x00"},
    {"§3.1", "v=spf1 +all\0 -all", 17, "0x00"},
    /* mechanisms */
    {"§5.1", "v=spf1 -all.", 0, "takes no argument"},
    {"§5.1", "v=spf1 -all:foobar", 0, "takes no argument"},
    {"§5.1", "v=spf1 -all/8", 0, "takes no argument"},
    {"§5.1", "v=spf1 all -all", 0, OK},
    {"§4.6.1", "v=spf1 ip4:192.0.2.1 -all moo", 0, "unknown mechanism"},
    {"§4.6.1", "v=spf1 redirect:r.example.test", 0, "unknown mechanism"},
    {"§4.6.1", "v=spf1 =all", 0, "unknown mechanism"},
    {"§4.6.1", "v=spf1 1up=foo", 0, "unknown mechanism"},
    {"§4.6.1", "v=spf1 moo.cow/far_out=man:dog/cat -all", 0, "unknown mechanism"},
    {"§4.6.1", "v=spf1 moo.cow:far_out=man:dog/cat -all", 0, "unknown mechanism"},
    {"§5.2", "v=spf1 include -all", 0, "needs"},
    {"§5.2", "v=spf1 include: -all", 0, "empty domain-spec"},
    {"§5.2", "v=spf1 include:i.example.test/24 -all", 0, "top-level label"},
    {"§5.3", "v=spf1 a:", 0, "empty domain-spec"},
    {"§5.3", "v=spf1 a:museum", 0, "top-level label"},
    {"§5.3", "v=spf1 a:museum.", 0, "top-level label"},
    {"§7.1", "v=spf1 a:example.test:8080", 0, "top-level label"},
    {"§7.1", "v=spf1 a:192.0.2.44", 0, "top-level label"},
    {"§7.1", "v=spf1 a:abc.123", 0, "top-level label"},
    {"§7.1", "v=spf1 a:example.-test", 0, "top-level label"},
    {"§7.1", "v=spf1 a:example.test-", 0, "top-level label"},
    {"§7.1", "v=spf1 a:foo-bar -all", 0, "top-level label"},
    {"§7.1", "v=spf1 a:foo.example.xn--zckzah -all", 0, OK},
    {"§7.1", "v=spf1 a:foo:bar/baz.example.test", 0, OK},
    {"§7.1", "v=spf1 a:mail.example...test -all", 0, OK},
    {"§7.1", "v=spf1 a:example.test. -all", 0, OK},
    {"§7.1", "v=spf1 a:%{d} a:%{d}. -all", 0, "top-level label"},
    {"§5.3", "v=spf1 a/24//64 a//0 a/0 a:d.example.test/32//128", 0, OK},
    {"§5.3", "v=spf1 a/33 -all", 0, "IPv4 prefix"},
    {"§5.3", "v=spf1 a//129 -all", 0, "IPv6 prefix"},
    {"§5.3", "v=spf1 a/24/64 -all", 0, "IPv4 prefix"},
    {"§5.3", "v=spf1 a/032 -all", 0, "IPv4 prefix"},
    {"§5.3", "v=spf1 a//0128 -all", 0, "IPv6 prefix"},
    {"§5.4", "v=spf1 mx: -all", 0, "empty domain-spec"},
    {"§5.4", "v=spf1 mx:abc.123", 0, "top-level label"},
    {"§5.4", "v=spf1 mx/0 mx//0 mx:m.example.test/24", 0, OK},
    {"§5.5", "v=spf1 ptr/0 -all", 0, "needs"},
    {"§5.5", "v=spf1 ptr:", 0, "empty domain-spec"},
    {"§5.5", "v=spf1 ptr ptr:example.test -all", 0, OK},
    {"§5.6", "v=spf1 ip4:192.0.2.1/0 ip4:192.0.2.1/32 ip4:0.0.0.0", 0, OK},
    {"§5.6", "v=spf1 ip4", 0, "needs"},
    {"§5.6", "v=spf1 ip4:192.0.2.1/33", 0, "prefix length"},
    {"§5.6", "v=spf1 ip4:192.0.2.1/032", 0, "prefix length"},
    {"§5.6", "v=spf1 ip4:192.0.2.1//32", 0, "prefix length"},
    {"§5.6", "v=spf1 ip4:192.0.2.1:8080", 0, "IPv4 address"},
    {"§5.6", "v=spf1 ip4:192.0.2", 0, "IPv4 address"},
    {"§5.6", "v=spf1 ip4:192.0.2.01", 0, "IPv4 address"},
    {"§5.6", "v=spf1 ip4:192.0.2.256", 0, "IPv4 address"},
    {"§5.6", "v=spf1 ip6:2001:db8::/0 ip6:::1.1.1.1/33 ip6:2001:DB8::1", 0, OK},
    {"§5.6", "v=spf1 -all ip6", 0, "needs"},
    {"§5.6", "v=spf1 ip6:::1.1.1.1/129", 0, "prefix length"},
    {"§5.6", "v=spf1 ip6:::1.1.1.1//33", 0, "prefix length"},
    {"§5.6", "v=spf1 ip6::CAFE::BABE", 0, "IPv6 address"},
    {"§5.7", "v=spf1 exists", 0, "needs"},
    {"§5.7", "v=spf1 exists:", 0, "empty domain-spec"},
    {"§5.7", "v=spf1 exists:x/24", 0, "top-level label"},
    {"§5.7", "v=spf1 exists:mail.example.test/24", 0, "top-level label"},
    /* modifiers */
    {"§6", "v=spf1 moo.cow-far_out=man:dog/cat ip4:192.0.2.1 -all", 0, OK},
    {"§6", "v=spf1 default=pass", 0, OK},
    {"§6", "v=spf1 default=+ x=", 0, OK},
    {"§6", "v=spf1 -all foo=%abc", 0, "not a macro"},
    {"§6", "v=spf1 exp=a.example.test -all exp=b.example.test", 0, "appears twice"},
    {"§6", "v=spf1 redirect=a.example.test REDIRECT=b.example.test", 0, "appears twice"},
    {"§6.2", "v=spf1 exp= -all", 0, "empty domain-spec"},
    {"§6.2", "v=spf1 exp=-all", 0, "top-level label"},
    {"§6.1", "v=spf1 ?all redirect=", 0, "empty domain-spec"},
    {"§6.1", "v=spf1 redirect=-all ?all", 0, "top-level label"},
    {"§6.1", "v=spf1 -redirect=r.example.test", 0, "unknown mechanism"},
    {"§6.2", "v=spf1 -all exp=%{r}.example.test", 0, "only in explanations"},
    /* macros */
    {"§7.1", "v=spf1 -exists:%(ir).sbl.example.test ?all", 0, "not a macro"},
    {"§7.1", "v=spf1 exists:foo%(ir).sbl.example.test ?all", 0, "not a macro"},
    {"§7.1", "v=spf1 exists:foo%.sbl.example.test ?all", 0, "not a macro"},
    {"§7.1", "v=spf1 exists:foo.example.test%", 0, "at the end"},
    {"§7.1", "v=spf1 a:macro%%percent%_%_space%-url-space.example.test -all", 0, OK},
    {"§7.1", "v=spf1 a:foo%%", 0, OK},
    {"§7.2", "v=spf1 a:%{a}.example.test -all", 0, "unknown macro letter"},
    {"§7.2", "v=spf1 -exists:%{t}.%{r}.%{c}.example.test", 0, "only in explanations"},
    {"§7.3", "v=spf1 exists:%{d0}.example.test", 0, "nonzero"},
    {"§7.1", "v=spf1 exists:%{l2r+-,/_=.}.user.%{d2} -all", 0, OK},
    {"§7.1", "v=spf1 exists:%{L}.%{IR}.%{v}.%{H}.%{P}.%{s}.%{o}", 0, OK},
    {"§7.1", "v=spf1 exists:%{l2x}.example.test", 0, "malformed macro"},
    {"§7.1", "v=spf1 exists:%{l.example.test", 0, "malformed macro"},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->record);
		char why[SPF_RECORD_WHY_MAX] = "";
		struct spf_record *r = spf_record_parse(c->record, len, why);

		if (c->error == NULL) {
			if (!CHECK(r != NULL, "%s valid: %s", c->rfc, c->record))
				printf("#   error: %s\n", why);
		} else if (!CHECK(r == NULL && strstr(why, c->error) != NULL, "%s invalid (%s): %s",
				  c->rfc, c->error, c->record)) {
			printf("#   got: %s\n", r ? "valid" : why);
		}
		spf_record_free(&r);
		CHECK(r == NULL, "%s spf_record_free clears the pointer", c->rfc);
	}
}

static void test_limits(void)
{
	char big[SPF_RECORD_MAX_LEN + 16], why[SPF_RECORD_WHY_MAX];
	struct spf_record *r;

	strcpy(big, "v=spf1");
	while (strlen(big) < SPF_RECORD_MAX_LEN - 20)
		strcat(big, " ip4:192.0.2.1");
	r = spf_record_parse(big, strlen(big), why);
	CHECK(r != NULL, "a record just under the cap parses");
	spf_record_free(&r);
	while (strlen(big) <= SPF_RECORD_MAX_LEN)
		strcat(big, " -all");
	r = spf_record_parse(big, strlen(big), why);
	CHECK(r == NULL && strstr(why, "longer than"), "a record over the cap is refused");
	CHECK(spf_record_is_spf("v=spf1", 6) && spf_record_is_spf("v=spf1 a", 8) &&
		  !spf_record_is_spf("v=spf1a", 7) && !spf_record_is_spf("v=spf", 5),
	      "§4.5 selection");
	CHECK(spf_record_is_spf("v=spf1 \0x", 9), "§4.5 a record with a NUL is still selected");
}

static const char *fixed_name(void *ctx)
{
	(*(int *)ctx)++;
	return "mx.example.test";
}

#define LONG_LOCAL "l123456789012345678901234567890123456789012345678901234567890123"
/* 26 labels of 9 characters, and the 24 the cut to 253 characters keeps */
#define LONG_LABELS_CUT                                                                            \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."         \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi."         \
	"abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi.abcdefghi"
#define LONG_LABELS "abcdefghi.abcdefghi." LONG_LABELS_CUT

struct render_case {
	const char *rfc;
	const char *what;
	const char *record;
	const char *client;
	const char *want;
};

static const struct render_case render_cases[] = {
    {"§6.1", "redirect= goes last", "v=spf1 redirect=r.example.test ip4:192.0.2.9", "192.0.2.9",
     "v=spf1 +ip4:192.0.2.9/32 redirect=r.example.test"},
    {"§6.1", "redirect= beside all is dropped", "v=spf1 redirect=r.example.test ~all", "192.0.2.9",
     "v=spf1 ~all"},
    {"§6", "unknown modifiers are dropped, exp kept",
     "v=spf1 moo.cow-far_out=man:dog/cat exp=e.example.test -all", "192.0.2.9",
     "v=spf1 -all exp=e.example.test"},
    /* ip4/ip6 runs: the first term matching the client, or nothing (§4.6.2) */
    {"§5.6", "ip4 that misses the client is dropped", "v=spf1 ip4:192.0.2.1 -all", "192.0.2.9",
     "v=spf1 -all"},
    {"§5.6", "ip4 /0 matches every IPv4 client", "v=spf1 -ip4:192.0.2.1/0", "192.0.2.9",
     "v=spf1 -ip4:192.0.2.9/32"},
    {"§5", "ip6 /0 does not match an IPv4 client", "v=spf1 ?ip6:2001:db8::1/0", "192.0.2.9",
     "v=spf1"},
    {"§5.6", "ip6 /0 matches every IPv6 client", "v=spf1 ?ip6:2001:db8::1/0", "2001:db8::9",
     "v=spf1 ?ip6:2001:db8::9/128"},
    {"§5.6", "ip6 prefix", "v=spf1 ip6:2001:DB8:0::1/64 ip6:2001:db8::9", "2001:db8::9",
     "v=spf1 +ip6:2001:db8::9/128"},
    {"§5", "ip4 does not match an IPv6 client", "v=spf1 ip4:0.0.0.0/0 ~ip6:2001:db8::/32",
     "2001:db8::9", "v=spf1 ~ip6:2001:db8::9/128"},
    {"§5.6", "prefix not on an octet boundary", "v=spf1 ip4:192.0.2.16/29 ~ip4:192.0.2.8/29",
     "192.0.2.9", "v=spf1 ~ip4:192.0.2.9/32"},
    {"§4.6.2", "the first match in a run decides, runs split by DNS terms",
     "v=spf1 ip4:192.0.2.128/25 -ip4:192.0.2.9 ~ip4:192.0.2.0/24 a ip4:10.0.0.0/8 "
     "?ip4:192.0.0.0/8 +ip4:192.0.2.9 mx ip4:10.0.0.1 -all",
     "192.0.2.9", "v=spf1 -ip4:192.0.2.9/32 +a/32//128 ?ip4:192.0.2.9/32 +mx/32//128 -all"},
    {"§5.1", "nothing after all", "v=spf1 ?all a ip4:192.0.2.9 redirect=r.example.test",
     "192.0.2.9", "v=spf1 ?all"},
    {"§4.6.4", "nothing after the eleventh DNS term",
     "v=spf1 a:t1.test mx:t2.test ptr:t3.test exists:t4.test include:t5.test a:t6.test "
     "a:t7.test a:t8.test a:t9.test a:t10.test ip4:192.0.2.9 include:t11.test a:t12.test "
     "ip4:192.0.2.9 redirect=r.example.test",
     "192.0.2.9",
     "v=spf1 +a:t1.test/32//128 +mx:t2.test/32//128 +ptr:t3.test +exists:t4.test "
     "+include:t5.test +a:t6.test/32//128 +a:t7.test/32//128 +a:t8.test/32//128 "
     "+a:t9.test/32//128 +a:t10.test/32//128 +ip4:192.0.2.9/32 +include:t11.test "
     "redirect=r.example.test"},
    {"§5.3", "a /0 for an IPv4 client is marked", "v=spf1 a/0 -all", "192.0.2.9",
     "v=spf1 +a:example.test" SPF_RECORD_ANY_ADDRESS "/32//128 -all"},
    {"§5.3", "a /0 is not marked for an IPv6 client", "v=spf1 a/0 -all", "2001:db8::9",
     "v=spf1 +a/32//128 -all"},
    {"§5.4", "mx //0 for an IPv6 client is marked", "v=spf1 mx:m.example.test//0 -all",
     "2001:db8::9", "v=spf1 +mx:m.example.test" SPF_RECORD_ANY_ADDRESS "/32//128 -all"},
    {"§5.3", "dual cidr kept", "v=spf1 a:%{d}.x.example.test/24//64", "192.0.2.9",
     "v=spf1 +a:example.test.x.example.test/24//64"},
    {"§7.3", "',' and '/' delimiters", "v=spf1 exists:%{l1r,/}.%{i}.example.test", "192.0.2.9",
     "v=spf1 +exists:a.192.0.2.9.example.test"},
    {"§7.3", "digits not below the number of parts", "v=spf1 include:_spf.%{d2}", "192.0.2.9",
     "v=spf1 +include:_spf.example.test"},
    {"§7.3", "a space in a value is %_ for libspf2", "v=spf1 exists:%{h}.x.example.test",
     "192.0.2.9", "v=spf1 +exists:J%_J.x.example.test"},
    {"§7.3", "upper case: URL-escaped here, '%' doubled for libspf2",
     "v=spf1 exists:%{L}.example.test", "192.0.2.9", "v=spf1 +exists:a%%2Cb%%2Fc%%27.example.test"},
    {"§7.3", "upper-case p asks for the validated name", "v=spf1 exists:%{P}.ok.example.test",
     "192.0.2.9", "v=spf1 +exists:mx.example.test.ok.example.test"},
    {"§7.3", "lower-case p stays with libspf2 (lazy)", "v=spf1 exists:%{p}.ok.example.test",
     "192.0.2.9", "v=spf1 +exists:%{p}.ok.example.test"},
    {"§7.3", "p with digits is expanded here", "v=spf1 exists:%{p2}.ok.example.test", "192.0.2.9",
     "v=spf1 +exists:example.test.ok.example.test"},
    {"§7.3", "p beside 259 characters: expanded here, cut (libspf2 takes 255)",
     "v=spf1 exists:%{p}." LONG_LABELS ".x.test", "192.0.2.9",
     "v=spf1 +exists:" LONG_LABELS_CUT ".x.test"},
    {"§7.3", "p beside another macro's long value: expanded here",
     "v=spf1 exists:%{p}.%{l}%{l}.%{l}%{l}.x.test", "192.0.2.9",
     "v=spf1 +exists:" LONG_LOCAL LONG_LOCAL ".x.test"},
    {"§7.1", "%% %_ %- expanded, then escaped", "v=spf1 a:m%%p%_s%-u.example.test", "192.0.2.9",
     "v=spf1 +a:m%%p%_s%%20u.example.test/32//128"},
    {"§7.3", "one label over 253 characters: no name", "v=spf1 exists:%{l}%{l}%{l}%{l}%{l}",
     "192.0.2.9", "v=spf1 +exists:.."},
};

static void test_render(void)
{
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		int asked = 0;
		struct spf_macro_env env = {
		    .sender = "a,b/c'@example.test",
		    .local = strstr(c->record, "%{l}%{l}") ? LONG_LOCAL : "a,b/c'",
		    .sender_domain = "example.test",
		    .domain = "example.test",
		    .helo = "J J",
		    .validated_name = fixed_name,
		    .ctx = &asked,
		};
		char why[SPF_RECORD_WHY_MAX];
		struct spf_record *r = spf_record_parse(c->record, strlen(c->record), why);
		char *text;

		addr_parse(c->client, &env.client);
		if (!CHECK(r != NULL, "%s %s: parses", c->rfc, c->what)) {
			printf("#   %s\n", why);
			continue;
		}
		text = spf_record_render(r, &env);
		CHECK_STR(text, c->want, "%s %s", c->rfc, c->what);
		/* p is asked for here exactly when it is not left to libspf2 */
		CHECK(asked == ((strstr(c->record, "%{p") || strstr(c->record, "%{P")) &&
					!strstr(c->want, "%{p")
				    ? 1
				    : 0),
		      "%s %s: p asked only if needed", c->rfc, c->what);
		free(text);
		spf_record_free(&r);
	}
}

/* Records of SPF_RECORD_MAX_LEN characters made of one term, repeated:
 * libspf2 1.2.10 keeps its mechanism count in an unsigned char, and the
 * rendering must stay within its limits (and SPF_RECORD_MAX_OUT) for any
 * record the validator accepts. */
static void test_render_full_size(void)
{
	static const char *const terms[] = {
	    "a",    "-mx",	     "ptr",	      "ip4:192.0.2.1",	    "ip6:2001:db8::1",
	    "?all", "ip4:1.2.3.4/8", "a:%{p}.x.test", "exists:%{i}.x.test", "include:i.test",
	};
	SPF_server_t *server = SPF_server_new(SPF_DNS_ZONE, 0);
	struct spf_macro_env env = {.sender = "u@example.test",
				    .local = "u",
				    .sender_domain = "example.test",
				    .domain = "example.test",
				    .helo = "h.example.test"};
	char record[SPF_RECORD_MAX_LEN + 1], why[SPF_RECORD_WHY_MAX];

	for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
		for (int family = 0; family < 2; family++) {
			SPF_response_t *resp = SPF_response_new(NULL);
			SPF_record_t *compiled = NULL;
			struct spf_record *r;
			size_t count = 0;
			char *text;

			addr_parse(family ? "2001:db8::1" : "192.0.2.1", &env.client);
			strcpy(record, "v=spf1");
			while (strlen(record) + 1 + strlen(terms[k]) <= SPF_RECORD_MAX_LEN) {
				strcat(record, " ");
				strcat(record, terms[k]);
				count++;
			}
			r = spf_record_parse(record, strlen(record), why);
			text = r ? spf_record_render(r, &env) : NULL;
			CHECK(text != NULL && SPF_record_compile(server, resp, &compiled, text) ==
						  SPF_E_SUCCESS,
			      "%zu x \"%s\" (%s client): rendered, compiled by libspf2", count,
			      terms[k], family ? "IPv6" : "IPv4");
			CHECK(compiled != NULL && compiled->num_mech <= 12,
			      "%zu x \"%s\" (%s client): at most 12 mechanisms (got %d)", count,
			      terms[k], family ? "IPv6" : "IPv4",
			      compiled ? compiled->num_mech : -1);
			if (compiled != NULL) /* 1.2.10's free does not take NULL */
				SPF_record_free(compiled);
			SPF_response_free(resp);
			free(text);
			spf_record_free(&r);
		}
	}
	SPF_server_free(server);
}

struct explain_case {
	const char *rfc;
	const char *text;
	const char *sender;
	const char *client;
	const char *want; /* NULL: not an explain-string */
};

static const struct explain_case explain_cases[] = {
    {"§6.2", "See me.", "foo@example.test", "192.0.2.9", "See me."},
    {"§7.1", "trailing dot kept.", "foo@example.test", "192.0.2.9", "trailing dot kept."},
    {"§7.1", "%{l} in implementation", "Macro Error@example.test", "192.0.2.9",
     "Macro Error in implementation"},
    {"§7.3", "Connections from %{c} not authorized.", "foo@example.test", "192.0.2.9",
     "Connections from 192.0.2.9 not authorized."},
    {"§7.3", "%{c} is queried as %{ir}.%{v}.arpa", "foo@example.test", "192.0.2.9",
     "192.0.2.9 is queried as 9.2.0.192.in-addr.arpa"},
    {"§7.3", "%{c} is queried as %{ir}.%{v}.arpa", "foo@example.test", "2001:db8::cb01",
     "2001:db8::cb01 is queried as "
     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"},
    {"§7.3", "http://example.test/why.html?l=%{L}", "~jack&jill=up-a_b3.c@example.test",
     "192.0.2.9", "http://example.test/why.html?l=~jack%26jill%3Dup-a_b3.c"},
    {"§7.4", "%{s} %{o} %{d} %{d4} %{d3} %{d2} %{d1} %{dr} %{d2r}", "strong-bad@email.example.com",
     "192.0.2.3",
     "strong-bad@email.example.com email.example.com email.example.com email.example.com "
     "email.example.com example.com com com.example.email example.email"},
    {"§7.4", "%{l} %{l-} %{lr} %{lr-} %{l1r-}", "strong-bad@email.example.com", "192.0.2.3",
     "strong-bad strong.bad strong-bad bad.strong strong"},
    {"§7.4", "%{ir}.%{v}._spf.%{d2}", "strong-bad@email.example.com", "192.0.2.3",
     "3.2.0.192.in-addr._spf.example.com"},
    {"§7.4", "%{lr-}.lp._spf.%{d2}", "strong-bad@email.example.com", "192.0.2.3",
     "bad.strong.lp._spf.example.com"},
    {"§7.1", "%% %_ %-", "foo@example.test", "192.0.2.9", "%   %20"},
    {"§7.3", "from %{p} at %{h}", "foo@example.test", "192.0.2.9",
     "from mx.example.test at mail.example.test"},
    {"§7.1", "The %{x}-files.", "foo@example.test", "192.0.2.9", NULL},
    {"§7.1", "100% sure", "foo@example.test", "192.0.2.9", NULL},
    {"§6.2",
     "\xef\xbb\xbf"
     "Explanation",
     "foo@example.test", "192.0.2.9", NULL},
    {"§6.2", "tab\there", "foo@example.test", "192.0.2.9", NULL},
};

static void test_explain(void)
{
	for (size_t i = 0; i < sizeof(explain_cases) / sizeof(explain_cases[0]); i++) {
		const struct explain_case *c = &explain_cases[i];
		const char *at = strrchr(c->sender, '@');
		char local[128];
		int asked = 0;
		struct spf_macro_env env = {
		    .sender = c->sender,
		    .local = local,
		    .sender_domain = at + 1,
		    .domain = at + 1,
		    .helo = "mail.example.test",
		    .validated_name = fixed_name,
		    .ctx = &asked,
		};
		char *text;

		snprintf(local, sizeof(local), "%.*s", (int)(at - c->sender), c->sender);
		addr_parse(c->client, &env.client);
		text = spf_record_explain(c->text, strlen(c->text), &env);
		CHECK_STR(text, c->want, "%s explain \"%s\"", c->rfc, c->text);
		free(text);
	}
}

/* Pieces records are made of, right and wrong. */
static const char *const pieces[] = {
    "a",
    "mx",
    "ptr",
    "all",
    "-all",
    "~all",
    "?all",
    "+all",
    "include:",
    "exists:",
    "ip4:",
    "ip6:",
    "a:",
    "mx:",
    "ptr:",
    "redirect=",
    "exp=",
    "foo.bar-x_y=",
    "x=",
    ":",
    "/",
    "//",
    "/0",
    "/24",
    "//64",
    "/33",
    "//129",
    "/032",
    "192.0.2.1",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    ".",
    "..",
    "example.test",
    ".test",
    "museum",
    "xn--zckzah",
    "-com",
    "%{d}",
    "%{l}",
    "%{L}",
    "%{i}",
    "%{ir}",
    "%{d2}",
    "%{l1r-,/}",
    "%{p}",
    "%{P}",
    "%{h}",
    "%{o}",
    "%{s}",
    "%{v}",
    "%{c}",
    "%{t}",
    "%{d0}",
    "%%",
    "%_",
    "%-",
    "%",
    "%{",
    "}",
    "%{x}",
    "=",
    "+",
    "-",
    "~",
    "?",
};

/* Octets no record may hold, sprinkled in now and then. */
static const char stray[] = {'\0', '\001', '\t', '\r', '\200', '\377'};

static void test_random(void)
{
	SPF_server_t *server = SPF_server_new(SPF_DNS_ZONE, 0);
	unsigned seed = 7208, valid = 0, compiled = 0, iterations = 20000;
	char record[512], why[SPF_RECORD_WHY_MAX];
	int asked = 0;
	struct spf_macro_env env = {
	    .sender = "first,second@example.test",
	    .local = "first,second",
	    .sender_domain = "example.test",
	    .domain = "example.test",
	    .helo = "mail.example.test",
	    .validated_name = fixed_name,
	    .ctx = &asked,
	};

	addr_parse("192.0.2.9", &env.client);
	for (unsigned i = 0; i < iterations; i++) {
		size_t len = 6, terms = (unsigned)rand_r(&seed) % 8;
		struct spf_record *r;

		memcpy(record, "v=spf1", 6);
		for (size_t t = 0; t < terms; t++) {
			size_t parts = 1 + (unsigned)rand_r(&seed) % 4;

			record[len++] = ' ';
			for (size_t k = 0; k < parts; k++) {
				const char *p = pieces[(unsigned)rand_r(&seed) %
						       (sizeof(pieces) / sizeof(pieces[0]))];
				size_t n = strlen(p);

				if ((unsigned)rand_r(&seed) % 40 == 0) {
					record[len++] =
					    stray[(unsigned)rand_r(&seed) % sizeof(stray)];
					continue;
				}
				memcpy(record + len, p, n);
				len += n;
			}
		}
		record[len] = '\0';
		if (i % 2 == 1)
			env.client.family = AF_INET6;
		else
			addr_parse("192.0.2.9", &env.client);
		r = spf_record_parse(record, len, why);
		if (r != NULL) {
			char *text = spf_record_render(r, &env);
			SPF_response_t *resp = SPF_response_new(NULL);
			SPF_record_t *compiled_record = NULL;

			valid++;
			if (text != NULL && SPF_record_compile(server, resp, &compiled_record,
							       text) == SPF_E_SUCCESS)
				compiled++;
			else
				printf("# libspf2 refuses the rendering of: %s\n#   %s\n", record,
				       text ? text : "(too long)");
			SPF_record_free(compiled_record);
			SPF_response_free(resp);
			free(text);
		}
		free(spf_record_explain(record + 6, len - 6, &env));
		spf_record_free(&r);
	}
	CHECK(valid > 500, "random records: some valid (%u of %u)", valid, iterations);
	CHECK(compiled == valid, "random records: libspf2 compiles every rendering (%u of %u)",
	      compiled, valid);
	SPF_server_free(server);
}

int main(void)
{
	test_parse();
	test_limits();
	test_render();
	test_render_full_size();
	test_explain();
	test_random();
	return check_done();
}

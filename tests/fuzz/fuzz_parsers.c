/*
 * fuzz_parsers - libFuzzer targets for the parsers of outside bytes other
 * than the rules: From mailbox lists (util/rfc5322.c), a raw message's
 * header fields (util/hsplit.c, for `authscore test`), the daemon
 * configuration (milter/conf.c), SPF records (checks/spf_record.c), DMARC
 * records (checks/dmarc.c), stored history records (history/record.c) and
 * the stored facts in them (history/record_facts.c), and the report
 * relay's AUTH file and setting (report/report_send.c), and the ARC
 * Authentication-Results a trusted sealer recorded (checks/arc_trust.c).
 * One source, one
 * target per FUZZ_* macro:
 * tests/fuzz/run-fuzz.sh builds each with clang -fsanitize=fuzzer,address,
 * undefined and -DFUZZ_<NAME>.  Each input is capped by the parser itself;
 * the target only checks that a parse never crashes, hangs or leaks, and
 * that what it returns is consistent.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#if defined(FUZZ_HEADERS)
#include "rfc5322.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(1024);
	char *text = malloc(size + 1);
	const char *domains[4], *error = NULL;
	int n;

	memcpy(text, data, size);
	text[size] = '\0';
	n = rfc5322_mailbox_domains(text, a, domains, 4, &error);
	if (n < 0 && error == NULL)
		abort(); /* a refusal always says why */
	for (int i = 0; i < n && i < 4; i++)
		if (domains[i] == NULL || domains[i][0] == '\0' || strchr(domains[i], ' ') != NULL)
			abort(); /* a domain is never empty or blank */
	free(text);
	arena_free(&a);
	return 0;
}

#elif defined(FUZZ_HSPLIT)
#include "hsplit.h"

/* The header splitter of `authscore test` (util/hsplit.c) over a whole
 * message: every field has a name Postfix would take, within the cap, and
 * the body starts inside the input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hsplit h;
	struct hsplit_field f;
	size_t fields = 0;

	hsplit_init(&h, (const char *)data, size);
	while (hsplit_next(&h, &f)) {
		size_t n = strlen(f.name);

		if (n == 0 || n + 1 + strlen(f.value) > HSPLIT_FIELD_MAX ||
		    hsplit_name_len(f.name) != n)
			abort(); /* a name is never empty or blank-ended; a field is capped */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)f.name[i] <= ' ' || f.name[i] == ':' ||
			    (unsigned char)f.name[i] >= 0x7f)
				abort(); /* printable US-ASCII but the colon (is_header.c) */
		if (++fields > size)
			abort(); /* at least one byte of input per field */
	}
	if (hsplit_next(&h, &f) != 0 || hsplit_body(&h) > size)
		abort(); /* the end is final; the body is inside the input */
	hsplit_release(&h);
	return 0;
}

#elif defined(FUZZ_CONF)
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *error = NULL;
	struct conf *c;

	memcpy(text, data, size);
	text[size] = '\0';
	c = conf_parse("fuzz.conf", text, &error);
	if ((c == NULL) == (error == NULL))
		abort(); /* either a configuration or an error, never both or neither */
	if (error != NULL && strncmp(error, "fuzz.conf:", 10) != 0)
		abort(); /* every error names file:line:column */
	conf_free(&c);
	free(error);
	free(text);
	return 0;
}

#elif defined(FUZZ_SPF)
#include "spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[SPF_RECORD_WHY_MAX];
	struct spf_record *r;

	(void)spf_record_is_spf((const char *)data, size);
	why[0] = '\0';
	r = spf_record_parse((const char *)data, size, why);
	if (r == NULL && why[0] == '\0')
		abort(); /* a syntax error is always described */
	spf_record_free(&r);
	return 0;
}

#elif defined(FUZZ_DMARC)
#include "dmarc.h"

/* dmarc.c names results in its explanations; the names are not under test. */
const char *spf_result_name(enum spf_result r)
{
	return r == SPF_PASS ? "pass" : "other";
}

const char *dkim_result_name(enum dkim_result r)
{
	return r == DKIM_PASS ? "pass" : "other";
}

/* dmarc.c counts the DNS answers it consumes; the counters are not under test. */
#include "metrics.h"
void metrics_dns(enum metrics_dns_kind kind, const char *zone, enum dns_status status,
		 int timed_out)
{
	(void)kind, (void)zone, (void)status, (void)timed_out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(1024);
	struct dmarc_record rec;

	memset(&rec, 0, sizeof(rec));
	(void)dmarc_record_parse((const char *)data, size, a, &rec);
	arena_free(&a);
	return 0;
}
#elif defined(FUZZ_DKIMTAGS)
#include <stdio.h>

#include "dkim_tags.h"

/* A DKIM-Signature value or key record (checks/dkim_tags.c): a repeated
 * name it reports lies inside the input, and the reason fits its buffer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *list = (const char *)data, *name = NULL;
	size_t n = 0;
	char why[64];

	if (dkim_tags_check(list, size, &name, &n) == DKIM_TAGS_DUPLICATE &&
	    (name == NULL || n == 0 || name < list || name + n > list + size))
		abort();
	if (dkim_tags_problem(list, size, why, sizeof(why)) != NULL && strlen(why) >= sizeof(why))
		abort();
	return 0;
}
#elif defined(FUZZ_RECORD)
#include "record.h"

/* record.c names results when it builds a record from facts; decoding, the
 * part under test, never does. */
const char *dkim_result_name(enum dkim_result r) { return r ? "x" : "none"; }
const char *dmarc_policy_name(enum dmarc_policy p) { return p ? "x" : "none"; }
const char *dmarc_result_name(enum dmarc_result r) { return r ? "x" : "none"; }
const char *dnsbl_status_name(enum dnsbl_status st) { return st ? "x" : "none"; }
const char *iprev_result_name(enum iprev_result r) { return r ? "x" : "none"; }
const char *spf_result_name(enum spf_result r) { return r ? "x" : "none"; }
const char *spf_scope_name(enum spf_scope sc) { return sc ? "helo" : "mfrom"; }
const char *verdict_action_name(enum verdict_action a) { return a ? "x" : "accept"; }
const char *arc_result_name(enum arc_result r) { return r ? "x" : "none"; }

/* A history record from the spool or the store: decoded strictly, and what
 * decodes encodes again. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	struct history_record r;
	const char *error = NULL;

	memset(&r, 0, sizeof(r));
	if (record_decode((const char *)data, size, a, &r, &error) == 0) {
		if (record_encode(&r, a) == NULL)
			abort(); /* a decoded record is always encodable */
	} else if (error == NULL) {
		abort(); /* a refusal always says why */
	}
	arena_free(&a);
	return 0;
}
#elif defined(FUZZ_FACTS)
#include "record.h"
#include "record_facts.h"

/* The names the milter writes (the decoder maps them back to enums). */
#define NAMES(fn, type, ...)                                                                       \
	const char *fn(type v)                                                                     \
	{                                                                                          \
		static const char *const n[] = {__VA_ARGS__};                                      \
		return (unsigned)v < sizeof(n) / sizeof(n[0]) ? n[v] : "?";                        \
	}
NAMES(spf_result_name, enum spf_result, "none", "neutral", "pass", "fail", "softfail", "temperror",
      "permerror")
NAMES(spf_scope_name, enum spf_scope, "mfrom", "helo")
NAMES(dkim_result_name, enum dkim_result, "none", "pass", "fail", "policy", "neutral", "temperror",
      "permerror")
NAMES(dmarc_result_name, enum dmarc_result, "none", "pass", "fail", "temperror", "permerror")
NAMES(dmarc_policy_name, enum dmarc_policy, "unset", "none", "quarantine", "reject")
NAMES(iprev_result_name, enum iprev_result, "none", "pass", "fail", "temperror", "permerror")
NAMES(dnsbl_status_name, enum dnsbl_status, "none", "listed", "blocked", "error")
NAMES(verdict_action_name, enum verdict_action, "accept", "tag", "quarantine", "tempfail", "reject",
      "discard")
NAMES(arc_result_name, enum arc_result, "none", "pass", "fail", "temperror")

/* Stored facts (record_facts.c), alone and inside a stored line: decoded
 * strictly, and what decodes is safe for the rules to read. */
static void facts_sane(const struct facts *f)
{
	size_t n = f->rcpt_count < FACTS_MAX_RCPTS ? f->rcpt_count : FACTS_MAX_RCPTS;

	for (size_t i = 0; i < n; i++)
		(void)f->rcpts[i]; /* readable up to FACTS_MAX_RCPTS (ASan checks) */
	if (f->ip_list_count > RECORD_FACTS_MAX_LISTS ||
	    f->domain_list_count > RECORD_FACTS_MAX_LISTS ||
	    f->dkim.count > RECORD_FACTS_MAX_DKIM || f->headers != NULL)
		abort();
	for (size_t i = 0; i < f->ip_list_count; i++)
		if (f->ip_lists[i].code_count > DNSBL_MAX_CODES ||
		    (f->ip_lists[i].list != NULL &&
		     f->ip_lists[i].list->zone != f->ip_lists[i].zone))
			abort();
	for (size_t i = 0; i < f->dkim.count; i++)
		(void)f->dkim.sig[i].result;
	for (size_t i = 0; i < f->rules_hit_count; i++)
		if (f->rules_hit[i] == NULL)
			abort();
	/* the body: counts match the arrays, which the rules may walk */
	if (f->content.part_count > RECORD_FACTS_MAX_PARTS ||
	    f->content.host_count > RECORD_FACTS_MAX_HOSTS ||
	    f->content.domain_count > RECORD_FACTS_MAX_HOSTS || f->content.text != NULL ||
	    f->content.raw != NULL || f->content.urls != NULL)
		abort();
	for (size_t i = 0; i < f->content.part_count; i++)
		(void)f->content.parts[i].size;
	for (size_t i = 0; i < f->content.host_count; i++)
		if (f->content.hosts[i] == NULL)
			abort();
	for (size_t i = 0; i < f->content.domain_count; i++)
		if (f->content.domains[i] == NULL)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	struct history_record r;
	struct facts f;
	const char *error = NULL;
	int rc;

	if (record_facts_decode((const char *)data, size, a, &f, &error) == 0)
		facts_sane(&f);
	else if (error == NULL)
		abort(); /* a refusal always says why */
	error = NULL;
	rc = record_facts_decode_line((const char *)data, size, a, &r, &f, &error);
	if (rc == 0)
		facts_sane(&f);
	else if (error == NULL)
		abort();
	arena_free(&a);
	return 0;
}
#elif defined(FUZZ_SMTPAUTH)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_send.h"

/* The report relay's AUTH file (report_send_auth_load) and relay setting
 * (report_send_check): the input as the file's bytes (mode 0600), then as
 * report-relay with and without a user.  A loaded user and password are
 * one non-empty line each; a refusal always says why. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "fuzz_smtpauth.XXXXXX"; /* in the fuzzer's own cwd */
	static int fd = -1;
	struct report_send_options o = {.helo = "fuzz.example"};
	char *user = NULL, *password = NULL, *error = NULL, *text;

	if (fd < 0 && ((fd = mkstemp(path)) < 0 || fchmod(fd, 0600) < 0))
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (report_send_auth_load(path, &user, &password, &error) == 0) {
		if (user == NULL || password == NULL || user[0] == '\0' || password[0] == '\0' ||
		    strpbrk(user, "\r\n") != NULL || strpbrk(password, "\r\n") != NULL)
			abort();
	} else if (error == NULL)
		abort();
	free(user);
	free(password);
	free(error);
	error = NULL;

	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	o.relay = text;
	for (int pass = 0; pass < 2; pass++) {
		o.user = pass ? "user" : NULL;
		if (report_send_check(&o, &error) < 0 && error == NULL)
			abort();
		free(error);
		error = NULL;
	}
	free(text);
	return 0;
}

#elif defined(FUZZ_AAR)
#include "arc_trust.h"

/* An ARC-Authentication-Results value (checks/arc_trust.c) as the newest
 * set of a passing chain sealed by a trusted forwarder: whatever it says,
 * the reader stays in its caps, and an override comes only with a sealer
 * and a reason. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *trusted[] = {"fwd.test", NULL};
	struct arena *a = arena_new(1024);
	char *text = malloc(size + 1);
	struct authres_resinfo res[ARC_AAR_MAX_RESULTS];
	struct arc_set set = {.instance = 1, .seal_domain = "fwd.test", .cv = "none", .ams_valid = 1};
	struct arc_outcome o = {.result = ARC_PASS, .sets = &set, .set_count = 1};
	struct arc_trust_input in = {
	    .arc = &o, .from_domain = "bank.test", .org_domain = "bank.test", .trusted = trusted};
	struct arc_trust t;
	const char *error;
	size_t n;

	memcpy(text, data, size);
	text[size] = '\0';
	if (arc_aar_parse(text, a, res, ARC_AAR_MAX_RESULTS, &n, &error) == 0) {
		if (n > ARC_AAR_MAX_RESULTS)
			abort();
		for (size_t i = 0; i < n; i++)
			if (res[i].method == NULL || res[i].result == NULL ||
			    res[i].prop_count > AUTHRES_READ_PROPS)
				abort();
	} else if (error == NULL) {
		abort();
	}
	set.aar = text;
	arc_trust_decide(&in, a, &t);
	if (t.override && (t.sealer == NULL || t.why == NULL))
		abort();
	free(text);
	arena_free(&a);
	return 0;
}
#else
#error "define one of FUZZ_HEADERS, FUZZ_CONF, FUZZ_SPF, FUZZ_DMARC, FUZZ_RECORD, FUZZ_FACTS, FUZZ_SMTPAUTH, FUZZ_AAR"
#endif

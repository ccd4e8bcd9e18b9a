/*
 * fuzz_arc - libFuzzer target for the ARC check (checks/arc.c and its
 * parsers in checks/arc_canon.c): the input is tried as an RFC 6376
 * tag-list and as a DKIM key record, then as a whole message (header
 * fields, one per line, continuation lines starting with WSP; an empty
 * line; the body), validated with the resolver faked (tests/fake_dns.c
 * serving one real key), and sealed with an Ed25519 key.
 * tests/fuzz/run-fuzz.sh builds it with clang -fsanitize=fuzzer,address,
 * undefined.  Checks that nothing crashes, hangs or leaks, and that the
 * outcome is consistent: a pass has sets, oldest-pass within them, and a
 * sealed set's fields.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arc.h"
#include "arc_canon.h"
#include "arena.h"
#include "fake_dns.h"

static const char zone[] =
    "dummy._domainkey.example.org TXT \"v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9Pzox"
    "ZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\"\n"
    "temp._domainkey.example.org SERVFAIL\n";

static EVP_PKEY *seal_key;

static void fuzz_init(void)
{
	static struct dns *dns;
	char *error = NULL;

	if (dns != NULL)
		return;
	dns = dns_new(&(struct dns_config){0}, &error);
	if (dns == NULL || arc_module_init(dns, &error) < 0)
		abort();
	fake_dns_load(zone);
	seal_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (seal_key == NULL)
		abort();
}

/* Header fields from text[0..end) into c; returns where the body starts. */
static size_t feed_headers(struct arc_check *c, char *text, size_t len)
{
	size_t i = 0;

	while (i < len && text[i] != '\n') {
		size_t start = i, colon = 0;

		while (i < len && (text[i] != '\n' ||
				   (i + 1 < len && (text[i + 1] == ' ' || text[i + 1] == '\t'))))
			i++;
		for (size_t k = start; k < i; k++)
			if (text[k] == ':') {
				colon = k;
				break;
			}
		if (colon > start) {
			char save = text[i];

			text[colon] = '\0';
			text[i] = '\0';
			arc_check_header(c, text + start, text + colon + 1);
			text[colon] = ':';
			text[i] = save;
		}
		if (i < len)
			i++;
	}
	return i < len ? i + 1 : len;
}

static void check_outcome(const struct arc_outcome *o)
{
	if ((unsigned)o->result > ARC_TEMPERROR)
		abort();
	if (o->result == ARC_PASS && (o->set_count == 0 || o->sets == NULL || o->oldest_pass == 0 ||
				      o->oldest_pass > o->set_count))
		abort();
	if (o->set_count > ARC_MAX_SETS ||
	    (o->result != ARC_PASS && o->result != ARC_NONE && o->reason == NULL))
		abort(); /* a fail or temperror always says why */
	for (size_t i = 0; i < o->set_count; i++)
		if (o->sets[i].instance != i + 1 || o->sets[i].aar == NULL)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_params p = {.lookup_timeout_ms = 100, .min_rsa_bits = 1024, .seal = 1};
	struct arc_seal_key key = {"fwd.example", "s1", NULL};
	struct arc_tag tags[ARC_TAGS_MAX];
	struct arc_seal_headers sealed;
	struct arena *a = arena_new(4096);
	struct arc_outcome out;
	struct arc_check *c;
	const char *why = NULL;
	char *text = malloc(size + 1);
	size_t n, body;

	fuzz_init();
	key.pkey = seal_key;
	memcpy(text, data, size);
	text[size] = '\0';
	arc_tags_parse(text, size, tags, ARC_TAGS_MAX, &n, &why);
	EVP_PKEY_free(arc_key_parse(text, size, 1024, &why));

	c = arc_check_new(&p, "FUZZ");
	body = feed_headers(c, text, size);
	arc_check_eoh(c);
	arc_check_body(c, (const unsigned char *)text + body, size - body);
	arc_check_finish(c, a, &out);
	check_outcome(&out);
	if (arc_check_seal(c, &key, "fuzz.example; arc=pass", 1700000000, a, &sealed, &why) == 0 &&
	    (sealed.aar == NULL || sealed.ams == NULL || sealed.seal == NULL ||
	     strstr(sealed.seal, "cv=") == NULL))
		abort();
	arc_check_free(&c);
	arena_free(&a);
	free(text);
	return 0;
}

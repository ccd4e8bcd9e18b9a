/*
 * geoip_test - geoip.c against MaxMind's test databases (tests/data/geoip,
 * see SOURCES.md there; expected values from MaxMind's source-data JSON):
 * country and ASN lookups for IPv4 and IPv6, unknown addresses, files that
 * are missing, of the wrong type or corrupt, and refresh: a file replaced
 * by rename() is picked up, a corrupt replacement keeps the old one, while
 * threads keep looking up (run it under ASan for the reference counting).
 * Data is read from $top_srcdir/tests/data/geoip.  Prints TAP.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "arena.h"
#include "check.h"
#include "geoip.h"
#include "log.h"
#include "mem.h"

#define LOOKUP_THREADS 4

static char data_dir[512];

static const char *data(const char *name)
{
	static char path[4][1200];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", data_dir, name);
	return p;
}

static struct addr ip(const char *text)
{
	struct addr a;

	if (addr_parse(text, &a) < 0) {
		printf("Bail out! bad address %s\n", text);
		exit(1);
	}
	return a;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[8192];
	size_t n;

	if (in == NULL || out == NULL) {
		printf("Bail out! copy %s to %s\n", from, to);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	if (fclose(out) != 0) {
		printf("Bail out! write %s\n", to);
		exit(1);
	}
}

/* Put a copy of from at to atomically, as a database updater does. */
static void replace_file(const char *from, const char *to)
{
	char tmp[1300];

	snprintf(tmp, sizeof(tmp), "%s.new", to);
	copy_file(from, tmp);
	if (rename(tmp, to) != 0) {
		printf("Bail out! rename %s\n", tmp);
		exit(1);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static struct geoip_result look(struct geoip *g, struct arena *a, const char *text)
{
	struct geoip_result r;
	struct addr addr = ip(text);

	if (geoip_lookup(g, &addr, a, &r) != 0)
		memset(&r, 0xff, sizeof(r.country)); /* garbage: the checks fail */
	return r;
}

static void test_lookups(void)
{
	char *error = NULL;
	struct geoip *g =
	    geoip_open(data("GeoLite2-Country-Test.mmdb"), data("GeoLite2-ASN-Test.mmdb"), &error);
	struct arena *a = arena_new(1024);
	struct geoip_result r;

	if (!CHECK(g != NULL, "open the GeoLite2 country and ASN test databases")) {
		printf("# %s\n", error);
		free(error);
		arena_free(&a);
		return;
	}
	r = look(g, a, "81.2.69.160");
	CHECK_STR(r.country, "GB", "81.2.69.160 is in GB");
	CHECK(r.asn == 0 && r.asn_org == NULL, "81.2.69.160 has no AS in the test data");
	r = look(g, a, "89.160.20.112");
	CHECK_STR(r.country, "SE", "89.160.20.112 is in SE");
	r = look(g, a, "217.65.48.1");
	CHECK_STR(r.country, "GI", "217.65.48.1 is in GI");
	r = look(g, a, "2001:218::1");
	CHECK_STR(r.country, "JP", "IPv6: 2001:218::1 is in JP");
	r = look(g, a, "1.128.0.1");
	CHECK(r.asn == 1221 && r.asn_org != NULL && strcmp(r.asn_org, "Telstra Pty Ltd") == 0,
	      "1.128.0.1 is AS1221 Telstra Pty Ltd");
	r = look(g, a, "::ffff:1.128.0.1");
	CHECK(r.asn == 1221, "an IPv4-mapped address is looked up as IPv4");
	r = look(g, a, "2600:6000::1");
	CHECK(r.asn == 237 && r.asn_org != NULL && strcmp(r.asn_org, "Merit Network Inc.") == 0,
	      "IPv6: 2600:6000::1 is AS237 Merit Network Inc.");
	r = look(g, a, "2001:1700::1");
	CHECK(r.asn == 6730 && r.asn_org != NULL &&
		  strcmp(r.asn_org, "Sunrise Communications AG") == 0,
	      "IPv6: 2001:1700::1 is AS6730 Sunrise Communications AG");
	r = look(g, a, "12.81.96.1");
	CHECK(r.asn == 7018 && r.asn_org == NULL, "AS7018 without an organisation");
	r = look(g, a, "192.0.2.1");
	CHECK(r.country[0] == '\0' && r.asn == 0 && r.asn_org == NULL,
	      "an unknown address: every field empty");
	r = look(g, a, "2001:db8::1");
	CHECK(r.country[0] == '\0' && r.asn == 0, "an unknown IPv6 address");
	{
		struct addr none = {0};

		CHECK(geoip_lookup(g, &none, a, &r) == 0 && r.country[0] == '\0' && r.asn == 0,
		      "an address of no family: nothing found");
	}
	geoip_free(&g);
	CHECK(g == NULL, "geoip_free clears the pointer");
	geoip_free(&g);

	g = geoip_open(data("GeoIP2-City-Test.mmdb"), NULL, &error);
	CHECK(g != NULL, "a City database serves as the country database");
	r = look(g, a, "81.2.69.160");
	CHECK(g != NULL && strcmp(r.country, "GB") == 0 && r.asn == 0,
	      "City: 81.2.69.160 in GB, no ASN database");
	geoip_free(&g);

	g = geoip_open(NULL, NULL, &error);
	CHECK(g != NULL && geoip_lookup(g, &(struct addr){.family = AF_INET}, a, &r) == -1,
	      "no database configured: lookup says so");
	geoip_free(&g);
	CHECK(geoip_lookup(NULL, &(struct addr){.family = AF_INET}, a, &r) == -1,
	      "lookup on NULL: -1");
	geoip_refresh(NULL);
	arena_free(&a);
}

/* Does opening fail with an error that says want and names the bad file
 * (the ASN one when given, else the country one)? */
static int open_fails(const char *country, const char *asn, const char *want)
{
	char *error = NULL;
	struct geoip *g = geoip_open(country, asn, &error);
	int ok = g == NULL && error != NULL && strstr(error, want) != NULL &&
		 strstr(error, asn ? asn : country) != NULL;

	if (!ok)
		printf("# error: %s\n", error ? error : "(none)");
	geoip_free(&g);
	free(error);
	return ok;
}

static const char *const bad_files[] = {
    "libmaxminddb-corrupt-search-tree.mmdb",
    "libmaxminddb-deep-array-nesting.mmdb",
    "libmaxminddb-deep-nesting.mmdb",
    "libmaxminddb-empty-array-last-in-metadata.mmdb",
    "libmaxminddb-empty-map-last-in-metadata.mmdb",
    "libmaxminddb-metadata-marker-only.mmdb",
    "libmaxminddb-offset-integer-overflow.mmdb",
    "libmaxminddb-oversized-array.mmdb",
    "libmaxminddb-oversized-map.mmdb",
    "libmaxminddb-separator-record-max-left.mmdb",
    "libmaxminddb-separator-record-min-left.mmdb",
    "libmaxminddb-separator-record-min-right.mmdb",
    "libmaxminddb-uint64-max-epoch.mmdb",
};

/* The same files with their database_type made "ASNx": past the type
 * check, so the data checks are what stands; NULL want: they open. */
static const struct {
	const char *file;
	const char *want;
} derived_files[] = {
    {"libmaxminddb-deep-array-nesting-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-deep-nesting-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-oversized-array-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-oversized-map-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-separator-record-max-left-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-separator-record-min-left-as-asn.mmdb", "is corrupt"},
    {"libmaxminddb-offset-integer-overflow-as-asn.mmdb", "not a usable MaxMind DB"},
    {"libmaxminddb-corrupt-search-tree-as-asn.mmdb", NULL},
    {"libmaxminddb-empty-array-last-in-metadata-as-asn.mmdb", NULL},
    {"libmaxminddb-empty-map-last-in-metadata-as-asn.mmdb", NULL},
    {"libmaxminddb-separator-record-min-right-as-asn.mmdb", NULL},
    {"libmaxminddb-uint64-max-epoch-as-asn.mmdb", NULL},
};

static void test_open_errors(void)
{
	char path[256];
	struct arena *a = arena_new(1024);

	CHECK(open_fails(data("no-such-file.mmdb"), NULL, "No such file"),
	      "a missing country file: error names the file and the cause");
	CHECK(open_fails(NULL, data("no-such-file.mmdb"), "No such file"), "a missing ASN file");
	{
		char *error = NULL;
		struct geoip *g =
		    geoip_open(data("no-such-file.mmdb"), data("GeoLite2-ASN-Test.mmdb"), &error);

		CHECK(g == NULL && error != NULL && strstr(error, "country database") != NULL &&
			  strstr(error, "no-such-file.mmdb") != NULL,
		      "a missing country file beside a good ASN file: refused, named");
		free(error);
	}
	CHECK(open_fails(data("GeoLite2-ASN-Test.mmdb"), NULL, "not a country database"),
	      "an ASN file given as the country file");
	CHECK(open_fails(NULL, data("GeoLite2-Country-Test.mmdb"), "not an ASN database"),
	      "a country file given as the ASN file");
	CHECK(open_fails(data("GeoLite2-Country-Test.mmdb"), data("LICENSE-MIT"),
			 "not a usable MaxMind DB"),
	      "a good country file with a text file as ASN: refused whole");
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		snprintf(path, sizeof(path), "bad-data/%s", bad_files[i]);
		CHECK(open_fails(data(path), NULL, "database") && open_fails(NULL, data(path), ""),
		      "corrupt %s refused as country and as ASN file", bad_files[i]);
	}
	for (size_t i = 0; i < sizeof(derived_files) / sizeof(derived_files[0]); i++) {
		snprintf(path, sizeof(path), "derived/%s", derived_files[i].file);
		if (derived_files[i].want != NULL) {
			CHECK(open_fails(NULL, data(path), derived_files[i].want), "%s refused: %s",
			      derived_files[i].file, derived_files[i].want);
		} else {
			char *error = NULL;
			struct geoip *g = geoip_open(NULL, data(path), &error);
			static const char *const probes[] = {
			    "1.1.1.1", "0.0.0.0", "255.255.255.255",
			    "::",      "ffff::1", "81.2.69.160"};
			int ok = g != NULL;

			for (size_t j = 0; ok && j < sizeof(probes) / sizeof(probes[0]); j++) {
				struct addr addr = ip(probes[j]);
				struct geoip_result r;

				ok = geoip_lookup(g, &addr, a, &r) == 0;
			}
			CHECK(ok, "%s opens (its defect is not in reach) and lookups return",
			      derived_files[i].file);
			free(error);
			geoip_free(&g);
		}
	}
	arena_free(&a);
}

/* ---- refresh, with lookups running ---- */

struct hammer {
	struct geoip *g;
	int stop; /* __atomic */
	unsigned lookups, wrong;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct arena *a = arena_new(4096);
	struct addr gb = ip("81.2.69.160"), telstra = ip("1.128.0.1");
	unsigned n = 0, wrong = 0;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		struct geoip_result r;

		/* Both country files put it in GB: any other answer is a
		 * lookup on a closed or half-swapped database. */
		if (geoip_lookup(h->g, &gb, a, &r) != 0 || strcmp(r.country, "GB") != 0)
			wrong++;
		if (geoip_lookup(h->g, &telstra, a, &r) != 0 || r.asn != 1221)
			wrong++;
		if (++n % 512 == 0) {
			arena_free(&a);
			a = arena_new(4096);
		}
	}
	arena_free(&a);
	__atomic_add_fetch(&h->lookups, n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->wrong, wrong, __ATOMIC_RELAXED);
	return NULL;
}

/* Refresh once after the once-a-second limit; count warnings logged. */
static int refresh_warnings(struct geoip *g)
{
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO), count = 0;
	char line[2048];

	sleep_ms(1100);
	fflush(stderr);
	dup2(fileno(capture), STDERR_FILENO);
	geoip_refresh(g);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(capture);
	while (fgets(line, sizeof(line), capture) != NULL)
		if (strstr(line, "[warning]") != NULL && strstr(line, "keeping the one loaded"))
			count++;
	fclose(capture);
	return count;
}

static void test_refresh(void)
{
	char dir[] = "/tmp/geoip_test.XXXXXX", country[64], asn[64];
	struct arena *a = arena_new(1024);
	struct hammer h = {0};
	pthread_t threads[LOOKUP_THREADS];
	char *error = NULL;
	struct geoip_result r;
	int warnings;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	snprintf(country, sizeof(country), "%s/country.mmdb", dir);
	snprintf(asn, sizeof(asn), "%s/asn.mmdb", dir);
	copy_file(data("GeoLite2-Country-Test.mmdb"), country);
	copy_file(data("GeoLite2-ASN-Test.mmdb"), asn);
	h.g = geoip_open(country, asn, &error);
	if (!CHECK(h.g != NULL, "open copies in a temporary directory")) {
		printf("# %s\n", error);
		free(error);
		return;
	}
	for (int i = 0; i < LOOKUP_THREADS; i++)
		pthread_create(&threads[i], NULL, hammer_run, &h);

	/* 149.101.100.1: absent from GeoLite2-Country-Test, US in
	 * GeoIP2-City-Test (MaxMind source-data). */
	r = look(h.g, a, "149.101.100.1");
	CHECK(r.country[0] == '\0', "before: 149.101.100.1 unknown");
	replace_file(data("GeoIP2-City-Test.mmdb"), country);
	geoip_refresh(h.g);
	r = look(h.g, a, "149.101.100.1");
	CHECK(r.country[0] == '\0', "a refresh within the second does not look yet");
	warnings = refresh_warnings(h.g);
	r = look(h.g, a, "149.101.100.1");
	CHECK_STR(r.country, "US", "after a refresh the replaced file answers");
	CHECK(warnings == 0, "a good replacement logs no warning");
	r = look(h.g, a, "1.128.0.1");
	CHECK(r.asn == 1221, "the ASN database, unchanged, still answers");

	replace_file(data("bad-data/libmaxminddb-metadata-marker-only.mmdb"), country);
	warnings = refresh_warnings(h.g);
	r = look(h.g, a, "149.101.100.1");
	CHECK_STR(r.country, "US", "a corrupt replacement keeps the database loaded");
	CHECK(warnings == 1, "and is warned about (%d)", warnings);
	CHECK(refresh_warnings(h.g) == 0, "once, not at every refresh");

	replace_file(data("GeoLite2-Country-Test.mmdb"), country);
	replace_file(data("derived/libmaxminddb-deep-nesting-as-asn.mmdb"), asn);
	warnings = refresh_warnings(h.g);
	r = look(h.g, a, "149.101.100.1");
	CHECK(r.country[0] == '\0', "a good file after a bad one is picked up");
	r = look(h.g, a, "2600:6000::1");
	CHECK(warnings == 1 && r.asn == 237,
	      "a corrupt ASN replacement keeps the old ASN database (%d)", warnings);

	__atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < LOOKUP_THREADS; i++)
		pthread_join(threads[i], NULL);
	CHECK(h.lookups > 0 && h.wrong == 0, "%u lookups in %d threads across the swaps, %u wrong",
	      h.lookups, LOOKUP_THREADS, h.wrong);

	geoip_free(&h.g);
	unlink(country);
	unlink(asn);
	rmdir(dir);
	arena_free(&a);
}

int main(void)
{
	const char *top = getenv("top_srcdir");

	log_init("geoip_test", 1);
	snprintf(data_dir, sizeof(data_dir), "%s/tests/data/geoip", top ? top : ".");
	test_lookups();
	test_open_errors();
	test_refresh();
	return check_done();
}

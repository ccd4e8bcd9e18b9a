/*
 * geoip - country and AS of an address from .mmdb files (see geoip.h).
 *
 * Each configured file is a slot holding its current database: an opened
 * MMDB_s (mmap mode) with a reference count and the stat(2) stamp (device,
 * inode, size, mtime) of the file it came from.  The slot owns one
 * reference; a lookup takes one on each current database under the mutex,
 * looks up without it (libmaxminddb lookups on a shared MMDB_s are
 * read-only), and drops it under the mutex: whoever drops the last
 * reference closes the database, outside the lock.  geoip_refresh() lets
 * one thread at a time, at most once a second, compare each file's stamp;
 * a changed file is opened and checked outside the lock and swapped in
 * under it.  A file that fails is warned about once per stamp, and the
 * old database stays.
 *
 * Checks on open: libmaxminddb's own (metadata, tree size), the metadata's
 * database_type ("Country" or "City" for the country file, "ASN" for the
 * ASN file, any case), and lookups of a few addresses that must not fail
 * and whose records must decode in full (catches corrupt data sections).
 * Field names are those of MaxMind (GeoLite2/GeoIP2, and DB-IP's
 * compatible files) and of IPinfo; the first present wins.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <maxminddb.h>

#include "geoip.h"
#include "log.h"
#include "mem.h"

#define GEOIP_REFRESH_MS 1000
#define GEOIP_ORG_MAX	 256

enum geoip_kind { GEOIP_COUNTRY, GEOIP_ASN, GEOIP_KINDS };

struct geoip_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct geoip_db {
	MMDB_s mmdb;
	int refs;   /* the slot's, plus one per lookup in progress */
	int warned; /* a lookup error was logged (under the mutex) */
	struct geoip_stamp stamp;
};

struct geoip_slot {
	char *path;		   /* NULL: not configured */
	struct geoip_db *db;	   /* current; written under the mutex */
	struct geoip_stamp failed; /* the stamp last warned about */
	int has_failed;
};

struct geoip {
	pthread_mutex_t lock;
	struct geoip_slot slot[GEOIP_KINDS];
	struct timespec last_check;
	int refreshing;
};

static const struct {
	const char *what, *a_what;
	const char *const type_words[3]; /* one must occur in database_type */
} geoip_kinds[GEOIP_KINDS] = {
    [GEOIP_COUNTRY] = {"country", "a country", {"Country", "City", NULL}},
    [GEOIP_ASN] = {"ASN", "an ASN", {"ASN", NULL, NULL}},
};

/* Where each value lives, first match wins. */
static const char *const geoip_country_paths[][3] = {
    {"country", "iso_code", NULL},	      /* MaxMind, DB-IP */
    {"registered_country", "iso_code", NULL}, /* MaxMind, no located country */
    {"country_code", NULL, NULL},	      /* IPinfo Lite */
    {"country", NULL, NULL},		      /* IPinfo country_asn: a string */
};
static const char *const geoip_asn_paths[][2] = {
    {"autonomous_system_number", NULL}, /* MaxMind: an integer */
    {"asn", NULL},			/* IPinfo: "AS15169" */
};
static const char *const geoip_org_paths[][2] = {
    {"autonomous_system_organization", NULL},
    {"as_name", NULL},
};

/* Probed on open: inside and outside typical test and real data. */
static const char *const geoip_probe_addresses[] = {
    "1.1.1.1", "8.8.8.8", "81.2.69.160", "2001:4860:4860::8888", "2a02:cf40::1",
};

static void geoip_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long geoip_ms_since(const struct timespec *then)
{
	struct timespec now;

	geoip_now(&now);
	return (long long)(now.tv_sec - then->tv_sec) * 1000 +
	       (now.tv_nsec - then->tv_nsec) / 1000000;
}

static int geoip_stat(const char *path, struct geoip_stamp *st_r)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	st_r->dev = st.st_dev;
	st_r->ino = st.st_ino;
	st_r->size = st.st_size;
	st_r->mtime = st.st_mtim;
	return 0;
}

static int geoip_stamp_equal(const struct geoip_stamp *a, const struct geoip_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void geoip_db_close(struct geoip_db *db)
{
	MMDB_close(&db->mmdb);
	free(db);
}

/* Look every probe address up and decode what it finds; NULL or why not. */
static char *geoip_probe(MMDB_s *mmdb)
{
	for (size_t i = 0; i < sizeof(geoip_probe_addresses) / sizeof(geoip_probe_addresses[0]);
	     i++) {
		const char *ip = geoip_probe_addresses[i];
		int gai_error = 0, mmdb_error = MMDB_SUCCESS, status;
		MMDB_lookup_result_s res;
		MMDB_entry_data_list_s *list = NULL;

		if (mmdb->metadata.ip_version == 4 && strchr(ip, ':') != NULL)
			continue;
		res = MMDB_lookup_string(mmdb, ip, &gai_error, &mmdb_error);
		if (gai_error != 0)
			log_panic("geoip: probe address %s does not parse", ip);
		if (mmdb_error != MMDB_SUCCESS)
			return xasprintf("lookup of %s: %s", ip, MMDB_strerror(mmdb_error));
		if (!res.found_entry)
			continue;
		status = MMDB_get_entry_data_list(&res.entry, &list);
		MMDB_free_entry_data_list(list);
		if (status != MMDB_SUCCESS)
			return xasprintf("record of %s: %s", ip, MMDB_strerror(status));
	}
	return NULL;
}

/* Open and check one database; NULL with *error_r (malloc'd) on failure. */
static struct geoip_db *geoip_db_open(const char *path, enum geoip_kind kind, char **error_r)
{
	struct geoip_db *db = xcalloc(1, sizeof(*db));
	const char *type;
	char *why;
	int status, type_ok = 0;

	if (geoip_stat(path, &db->stamp) < 0) {
		*error_r = xasprintf("geoip: %s database %s: %s", geoip_kinds[kind].what, path,
				     strerror(errno));
		free(db);
		return NULL;
	}
	status = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
	if (status != MMDB_SUCCESS) {
		*error_r = xasprintf("geoip: %s database %s: not a usable MaxMind DB file: %s%s%s",
				     geoip_kinds[kind].what, path, MMDB_strerror(status),
				     status == MMDB_IO_ERROR ? ": " : "",
				     status == MMDB_IO_ERROR ? strerror(errno) : "");
		free(db);
		return NULL;
	}
	type = db->mmdb.metadata.database_type ? db->mmdb.metadata.database_type : "";
	for (size_t i = 0; geoip_kinds[kind].type_words[i] != NULL && i < 3; i++)
		if (strcasestr(type, geoip_kinds[kind].type_words[i]) != NULL)
			type_ok = 1;
	if (!type_ok) {
		*error_r = xasprintf("geoip: %s database %s: its type is \"%s\", not %s database",
				     geoip_kinds[kind].what, path, type, geoip_kinds[kind].a_what);
		geoip_db_close(db);
		return NULL;
	}
	why = geoip_probe(&db->mmdb);
	if (why != NULL) {
		*error_r = xasprintf("geoip: %s database %s is corrupt: %s", geoip_kinds[kind].what,
				     path, why);
		free(why);
		geoip_db_close(db);
		return NULL;
	}
	db->refs = 1;
	return db;
}

struct geoip *geoip_open(const char *country_path, const char *asn_path, char **error_r)
{
	struct geoip *g = xcalloc(1, sizeof(*g));
	const char *paths[GEOIP_KINDS] = {[GEOIP_COUNTRY] = country_path, [GEOIP_ASN] = asn_path};

	pthread_mutex_init(&g->lock, NULL);
	geoip_now(&g->last_check);
	for (int k = 0; k < GEOIP_KINDS; k++) {
		if (paths[k] == NULL || *paths[k] == '\0')
			continue;
		g->slot[k].path = xstrdup(paths[k]);
		g->slot[k].db = geoip_db_open(paths[k], (enum geoip_kind)k, error_r);
		if (g->slot[k].db == NULL) {
			geoip_free(&g);
			return NULL;
		}
	}
	return g;
}

void geoip_free(struct geoip **gp)
{
	struct geoip *g = *gp;

	if (g == NULL)
		return;
	for (int k = 0; k < GEOIP_KINDS; k++) {
		struct geoip_db *db = g->slot[k].db;

		if (db != NULL && --db->refs != 0)
			log_panic("geoip: freed with %d lookups in progress", db->refs);
		if (db != NULL)
			geoip_db_close(db);
		free(g->slot[k].path);
	}
	pthread_mutex_destroy(&g->lock);
	xfree(gp);
}

/* Drop a reference; the last one closes the database. */
static void geoip_db_release(struct geoip *g, struct geoip_db *db)
{
	int last;

	if (db == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	last = --db->refs == 0;
	pthread_mutex_unlock(&g->lock);
	if (last)
		geoip_db_close(db);
}

static void geoip_refresh_slot(struct geoip *g, enum geoip_kind kind)
{
	struct geoip_slot *s = &g->slot[kind];
	struct geoip_stamp st;
	struct geoip_db *db, *old;
	char *error = NULL;

	if (s->path == NULL)
		return;
	if (geoip_stat(s->path, &st) < 0) {
		/* Mid-update (removed before the new one is renamed in) or
		 * gone: keep what is open, say so once. */
		if (!s->has_failed || s->failed.ino != 0) {
			log_warn("geoip: %s database %s: %s; keeping the one loaded",
				 geoip_kinds[kind].what, s->path, strerror(errno));
			memset(&s->failed, 0, sizeof(s->failed));
			s->has_failed = 1;
		}
		return;
	}
	/* Only this thread writes s->db (refreshing is set): no lock to read it. */
	if (geoip_stamp_equal(&st, &s->db->stamp))
		return;
	if (s->has_failed && geoip_stamp_equal(&st, &s->failed))
		return;
	db = geoip_db_open(s->path, kind, &error);
	if (db == NULL) {
		log_warn("%s; keeping the one loaded", error);
		free(error);
		s->failed = st;
		s->has_failed = 1;
		return;
	}
	s->has_failed = 0;
	log_info("geoip: %s database %s reloaded (%s, built %llu)", geoip_kinds[kind].what, s->path,
		 db->mmdb.metadata.database_type,
		 (unsigned long long)db->mmdb.metadata.build_epoch);
	pthread_mutex_lock(&g->lock);
	old = s->db;
	s->db = db;
	pthread_mutex_unlock(&g->lock);
	geoip_db_release(g, old);
}

void geoip_refresh(struct geoip *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	if (g->refreshing || geoip_ms_since(&g->last_check) < GEOIP_REFRESH_MS) {
		pthread_mutex_unlock(&g->lock);
		return;
	}
	g->refreshing = 1;
	geoip_now(&g->last_check);
	pthread_mutex_unlock(&g->lock);

	for (int k = 0; k < GEOIP_KINDS; k++)
		geoip_refresh_slot(g, (enum geoip_kind)k);

	pthread_mutex_lock(&g->lock);
	g->refreshing = 0;
	pthread_mutex_unlock(&g->lock);
}

/* The first of paths found in entry, of one of the types wanted. */
static int geoip_value(MMDB_entry_s *entry, const char *const *path, MMDB_entry_data_s *data)
{
	MMDB_entry_s e = *entry;

	if (MMDB_aget_value(&e, data, path) != MMDB_SUCCESS || !data->has_data)
		return -1;
	return 0;
}

static void geoip_warn_once(struct geoip *g, struct geoip_db *db, const char *what, int status)
{
	int warn;

	pthread_mutex_lock(&g->lock);
	warn = !db->warned;
	db->warned = 1;
	pthread_mutex_unlock(&g->lock);
	if (warn)
		log_warn("geoip: %s lookup failed: %s (the database may be corrupt)", what,
			 MMDB_strerror(status));
}

/* Find ip in db: 1 with *res, 0 not found, -1 an error (warned). */
static int geoip_find(struct geoip *g, struct geoip_db *db, const char *what, const struct addr *ip,
		      MMDB_lookup_result_s *res)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	const struct sockaddr *sa;
	int error = MMDB_SUCCESS;

	if (ip->family == AF_INET) {
		sin.sin_addr = ip->u.v4;
		sa = (const struct sockaddr *)&sin;
	} else if (ip->family == AF_INET6) {
		sin6.sin6_addr = ip->u.v6;
		sa = (const struct sockaddr *)&sin6;
	} else {
		return 0;
	}
	*res = MMDB_lookup_sockaddr(&db->mmdb, sa, &error);
	if (error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return 0;
	if (error != MMDB_SUCCESS) {
		geoip_warn_once(g, db, what, error);
		return -1;
	}
	return res->found_entry ? 1 : 0;
}

static void geoip_country(struct geoip *g, struct geoip_db *db, const struct addr *ip,
			  struct geoip_result *out)
{
	MMDB_lookup_result_s res;

	if (geoip_find(g, db, "country", ip, &res) <= 0)
		return;
	for (size_t i = 0; i < sizeof(geoip_country_paths) / sizeof(geoip_country_paths[0]); i++) {
		MMDB_entry_data_s d;

		if (geoip_value(&res.entry, geoip_country_paths[i], &d) < 0 ||
		    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
			continue;
		if (!((d.utf8_string[0] >= 'A' && d.utf8_string[0] <= 'Z') &&
		      (d.utf8_string[1] >= 'A' && d.utf8_string[1] <= 'Z')))
			continue;
		memcpy(out->country, d.utf8_string, 2);
		out->country[2] = '\0';
		return;
	}
}

static void geoip_asn(struct geoip *g, struct geoip_db *db, const struct addr *ip, struct arena *a,
		      struct geoip_result *out)
{
	MMDB_lookup_result_s res;

	if (geoip_find(g, db, "ASN", ip, &res) <= 0)
		return;
	for (size_t i = 0; i < sizeof(geoip_asn_paths) / sizeof(geoip_asn_paths[0]) && !out->asn;
	     i++) {
		MMDB_entry_data_s d;

		if (geoip_value(&res.entry, geoip_asn_paths[i], &d) < 0)
			continue;
		if (d.type == MMDB_DATA_TYPE_UINT32) {
			out->asn = d.uint32;
		} else if (d.type == MMDB_DATA_TYPE_UINT16) {
			out->asn = d.uint16;
		} else if (d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size > 2 &&
			   d.data_size < 13 && strncasecmp(d.utf8_string, "AS", 2) == 0) {
			char num[12];
			char *end;
			unsigned long v;

			memcpy(num, d.utf8_string + 2, d.data_size - 2);
			num[d.data_size - 2] = '\0';
			v = strtoul(num, &end, 10);
			if (*end == '\0' && end != num && v <= UINT32_MAX)
				out->asn = (uint32_t)v;
		}
	}
	for (size_t i = 0; i < sizeof(geoip_org_paths) / sizeof(geoip_org_paths[0]); i++) {
		MMDB_entry_data_s d;

		if (geoip_value(&res.entry, geoip_org_paths[i], &d) < 0 ||
		    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size == 0)
			continue;
		out->asn_org = arena_strndup(
		    a, d.utf8_string, d.data_size < GEOIP_ORG_MAX ? d.data_size : GEOIP_ORG_MAX);
		return;
	}
}

int geoip_lookup(struct geoip *g, const struct addr *ip, struct arena *a, struct geoip_result *out)
{
	struct geoip_db *country, *asn;

	memset(out, 0, sizeof(*out));
	if (g == NULL)
		return -1;
	pthread_mutex_lock(&g->lock);
	country = g->slot[GEOIP_COUNTRY].db;
	asn = g->slot[GEOIP_ASN].db;
	if (country != NULL)
		country->refs++;
	if (asn != NULL)
		asn->refs++;
	pthread_mutex_unlock(&g->lock);
	if (country == NULL && asn == NULL)
		return -1;

	if (country != NULL)
		geoip_country(g, country, ip, out);
	if (asn != NULL)
		geoip_asn(g, asn, ip, a, out);

	geoip_db_release(g, country);
	geoip_db_release(g, asn);
	return 0;
}

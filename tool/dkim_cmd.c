/*
 * dkim_cmd - the admin's DKIM key commands (see dkim_cmd.h).
 *
 * keygen makes the key with OpenSSL's libcrypto (EVP_PKEY_Q_keygen: RSA of
 * --bits, 2048 by default, or Ed25519), writes SELECTOR.private (PEM,
 * PKCS#8, created 0600 and never over an existing file) and SELECTOR.txt
 * (the TXT record, in zone-file form) into --directory, and prints the
 * record.  check asks the published record through the project's resolver
 * (dns/, with the configuration's dns-forwarders and dns-stub lines, as
 * the daemon would) and compares it with the private key: --key, or the
 * file the configuration's dkim-key line names for that domain and
 * selector.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "dkim_cmd.h"
#include "dkim_keys.h"
#include "dns.h"
#include "domain.h"
#include "log.h"
#include "mem.h"
#include "runtime.h"

#define TXT_STRING_MAX 255 /* RFC 1035 §3.3: one character-string */

struct dkim_opts {
	const char *domain, *selector, *type, *directory, *key, *config;
	unsigned bits;
	int bits_given;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: authscore dkim keygen --domain D --selector S [--type rsa|ed25519] "
		     "[--bits N] [--directory DIR]\n"
		     "       authscore dkim check [-c config] --domain D --selector S [--key FILE]\n");
}

/* 0: parsed; otherwise the exit status (help or bad usage). */
static int parse(int argc, char **argv, struct dkim_opts *o)
{
	static const struct option longopts[] = {
	    {"domain", required_argument, NULL, 'd'},	{"selector", required_argument, NULL, 's'},
	    {"type", required_argument, NULL, 't'},	{"bits", required_argument, NULL, 'b'},
	    {"directory", required_argument, NULL, 'D'}, {"key", required_argument, NULL, 'k'},
	    {"config", required_argument, NULL, 'c'},	{"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int c;
	char *end;

	*o = (struct dkim_opts){.type = "rsa", .directory = ".", .bits = 2048};
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->domain = optarg; break;
		case 's': o->selector = optarg; break;
		case 't': o->type = optarg; break;
		case 'D': o->directory = optarg; break;
		case 'k': o->key = optarg; break;
		case 'c': o->config = optarg; break;
		case 'b':
			errno = 0;
			o->bits = (unsigned)strtoul(optarg, &end, 10);
			o->bits_given = 1;
			if (errno != 0 || *end != '\0' || o->bits < 1024 || o->bits > 8192) {
				fprintf(stderr, "authscore dkim: --bits %s: from 1024 to 8192\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (o->domain == NULL || o->selector == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!domain_valid(o->domain, DOMAIN_HOSTLIKE) || !domain_valid(o->selector, 0)) {
		fprintf(stderr, "authscore dkim: \"%s\" or \"%s\" is not a domain or selector\n",
			o->domain, o->selector);
		return 2;
	}
	return 0;
}

/* "v=DKIM1; k=rsa; p=..." as a zone file's TXT record, split in strings
 * of at most 255 characters. */
static char *zone_record(const struct dkim_opts *o, const char *record)
{
	size_t len = strlen(record), size = len + len / TXT_STRING_MAX * 8 + 256, n;
	char *z = xmalloc(size);

	n = (size_t)snprintf(z, size, "%s._domainkey.%s.\tIN\tTXT\t(", o->selector, o->domain);
	for (size_t i = 0; i < len; i += TXT_STRING_MAX)
		n += (size_t)snprintf(z + n, size - n, " \"%.*s\"", TXT_STRING_MAX, record + i);
	snprintf(z + n, size - n, " )\n");
	return z;
}

/* Created, never replaced: a key in use is not overwritten by mistake. */
static FILE *create(const char *path, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		fprintf(stderr, "authscore dkim keygen: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fchmod(fd, mode); /* whatever the umask */
	return fdopen(fd, "w");
}

static int write_files(const struct dkim_opts *o, EVP_PKEY *k, const char *zone)
{
	char *kp = xasprintf("%s/%s.private", o->directory, o->selector);
	char *tp = xasprintf("%s/%s.txt", o->directory, o->selector);
	FILE *f;
	int rc = 2;

	if ((f = create(kp, 0600)) == NULL)
		goto out;
	if (PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f) != 0) {
		fprintf(stderr, "authscore dkim keygen: cannot write %s\n", kp);
		goto out;
	}
	if ((f = create(tp, 0644)) == NULL)
		goto out;
	if (fputs(zone, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "authscore dkim keygen: cannot write %s\n", tp);
		goto out;
	}
	rc = 0;
out:
	free(kp);
	free(tp);
	return rc;
}

static int keygen(const struct dkim_opts *o)
{
	EVP_PKEY *k;
	char *record, *zone;
	int rc;

	if (strcmp(o->type, "ed25519") == 0 && o->bits_given) {
		fprintf(stderr, "authscore dkim keygen: --bits is for rsa keys\n");
		return 2;
	}
	if (strcmp(o->type, "rsa") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->bits);
	else if (strcmp(o->type, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else {
		fprintf(stderr, "authscore dkim keygen: --type %s: rsa or ed25519\n", o->type);
		return 2;
	}
	if (k == NULL || (record = dkim_keys_record(k)) == NULL) {
		fprintf(stderr, "authscore dkim keygen: libcrypto could not make the key\n");
		EVP_PKEY_free(k);
		return 2;
	}
	zone = zone_record(o, record);
	rc = write_files(o, k, zone);
	if (rc == 0)
		fputs(zone, stdout);
	free(zone);
	free(record);
	EVP_PKEY_free(k);
	return rc;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* --key, or the file of the configuration's dkim-key line. */
static EVP_PKEY *private_key(const struct dkim_opts *o, const struct conf *cfg)
{
	const char *path = o->key;
	EVP_PKEY *k = NULL;
	FILE *f;

	for (size_t i = 0; path == NULL && i < cfg->dkim_keys.count; i++) {
		const struct conf_line *l = &cfg->dkim_keys.items[i];

		if (l->count == 3 && strcasecmp(l->words[0], o->domain) == 0 &&
		    strcasecmp(l->words[1], o->selector) == 0)
			path = l->words[2];
	}
	if (path == NULL) {
		fprintf(stderr, "authscore dkim check: no --key, and %s has no dkim-key %s %s\n",
			cfg->path, o->domain, o->selector);
		return NULL;
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "authscore dkim check: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, no_password, NULL);
	fclose(f);
	if (k == NULL)
		fprintf(stderr, "authscore dkim check: %s holds no unencrypted PEM private key\n",
			path);
	return k;
}

/* 0 the record matches; 1 it does not, or is missing, or DNS failed. */
static int compare(const struct dkim_opts *o, struct dns *dns, const struct conf *cfg,
		   EVP_PKEY *k)
{
	char *name = xasprintf("%s._domainkey.%s", o->selector, o->domain);
	struct dns_query *q = NULL;
	const struct dns_answer *a = dns_lookup(dns, name, DNS_T_TXT, cfg->dns_timeout_ms, &q);
	const char *why = "no TXT record";
	int rc = 1;

	if (a->status == DNS_TEMPFAIL)
		why = a->why != NULL ? a->why : "temporary DNS failure";
	else if (a->status == DNS_OK && a->count > 1)
		why = "more than one TXT record";
	else if (a->status == DNS_OK && a->count == 1 && dkim_keys_record_matches(a->rr[0].u.text, k, &why))
		rc = 0;
	if (rc == 0)
		printf("%s: the published key matches the private key (%s)\n", name,
		       EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? "ed25519" : "rsa");
	else
		printf("%s: does not match: %s\n", name, why);
	dns_query_free(&q);
	free(name);
	return rc;
}

static int check(const struct dkim_opts *o)
{
	char *error = NULL;
	struct conf *cfg = conf_load(o->config ? o->config : CONF_DEFAULT_PATH, o->config != NULL,
				     &error);
	struct dns *dns;
	EVP_PKEY *k;
	int rc;

	if (cfg == NULL) {
		fprintf(stderr, "authscore dkim check: %s\n", error);
		free(error);
		return 2;
	}
	if ((k = private_key(o, cfg)) == NULL) {
		conf_free(&cfg);
		return 2;
	}
	log_init("authscore", 1);
	log_set_level(LOG_LEVEL_WARN);
	if ((dns = runtime_dns_new(cfg, &error)) == NULL) {
		fprintf(stderr, "authscore dkim check: %s\n", error);
		free(error);
		EVP_PKEY_free(k);
		conf_free(&cfg);
		return 2;
	}
	rc = compare(o, dns, cfg, k);
	dns_free(&dns);
	EVP_PKEY_free(k);
	conf_free(&cfg);
	return rc;
}

int dkim_cmd_main(int argc, char **argv)
{
	struct dkim_opts o;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "keygen") != 0 && strcmp(argv[1], "check") != 0) {
		usage(stderr);
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
		return rc < 0 ? 0 : rc;
	return strcmp(argv[1], "keygen") == 0 ? keygen(&o) : check(&o);
}

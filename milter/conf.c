/*
 * conf - parse and validate the daemon configuration (see conf.h).
 *
 * Every key is one row of `keys[]`: its name, the kind of value it takes,
 * where the value goes, its default, written as in the file, and one line of
 * help (printed by `authscore-milter -k`, conf_print_keys()).  Adding a
 * setting is adding a row (and an entry in doc/authscore.conf.5; the test
 * milter/conf_doc_test holds the two together).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "conf.h"

#define CONF_MAX_BYTES (1024 * 1024)
#define CONF_MAX_LINE 8192
#define CONF_MAX_WORDS 256

enum key_kind {
	K_TEMPLATE, K_SOCKET, K_MODE, K_STRING, K_WORDS, K_BOOL, K_DURATION, K_COUNT, K_ACTION,
	K_LOGLEVEL, K_LOGTO, K_CIDRS, K_LISTEN, K_LOGFORMAT, K_RATE, K_PREFIX4, K_PREFIX6,
	K_FACILITY, K_LINES, K_SIZE,
	K_SIZE_OR_0,
};

#define A_ACCEPT (1u << ACTION_ACCEPT)
#define A_TEMPFAIL (1u << ACTION_TEMPFAIL)
#define A_REJECT (1u << ACTION_REJECT)
#define A_QUARANTINE (1u << ACTION_QUARANTINE)
#define A_TAG (1u << ACTION_TAG)
#define A_ENFORCE (A_ACCEPT | A_TEMPFAIL | A_REJECT | A_QUARANTINE)

struct key {
	const char *name;
	enum key_kind kind;
	size_t offset;
	unsigned actions; /* K_ACTION: the actions this key may take */
	int repeatable;	  /* K_WORDS: each line adds one entry ("zone addr...") */
	const char *def;  /* the default, as a file would say it, or NULL: none */
	const char *help; /* one line for `authscore-milter -k`, at most 72 characters */
};

#define F(field) offsetof(struct conf, field)
static const struct key keys[] = {
	{"socket", K_SOCKET, F(socket), 0, 0, "unix:/run/authscore/milter.sock",
	 "Listen on unix:/path, local:/path, inet:PORT@HOST or inet6:PORT@HOST"},
	{"socket-mode", K_MODE, F(socket_mode), 0, 0, "0660",
	 "Permissions of a unix socket (octal)"},
	{"user", K_STRING, F(user), 0, 0, NULL,
	 "Become this user[:group] after binding the socket"},
	{"pidfile", K_STRING, F(pidfile), 0, 0, NULL,
	 "Write the process id to this file"},
	{"authserv-id", K_STRING, F(authserv_id), 0, 0, NULL,
	 "The name in our Authentication-Results headers (default: host name)"},
	{"trusted-networks", K_CIDRS, F(trusted), 0, 0, "127.0.0.0/8 ::1/128",
	 "Clients in these networks are not checked; none trusts nobody"},
	{"skip-authenticated", K_BOOL, F(skip_authenticated), 0, 0, "yes",
	 "Do not check messages from clients that used SMTP AUTH"},
	{"dns-forwarders", K_WORDS, F(dns_forwarders), 0, 0, NULL,
	 "Send every query to these resolvers (default: full recursion)"},
	{"dns-stub", K_WORDS, F(dns_stubs), 0, 1, NULL,
	 "zone address[@port]...: ask these servers for names under zone"},
	{"dns-trust-anchor", K_STRING, F(dns_trust_anchor), 0, 0, NULL,
	 "Validate DNSSEC with this root trust anchor file"},
	{"dns-timeout", K_DURATION, F(dns_timeout_ms), 0, 0, "5s",
	 "Deadline of one DNS lookup"},
	{"dns-probe", K_STRING, F(dns_probe), 0, 0, ".",
	 "Name asked for NS at start, to log whether DNS works (none: nothing)"},
	{"spf-timeout", K_DURATION, F(spf_timeout_ms), 0, 0, "20s",
	 "Deadline of a whole SPF evaluation (all its lookups)"},
	{"iprev-trust-mta", K_BOOL, F(iprev_trust_mta), 0, 0, "yes",
	 "Take the MTA's client name as forward-confirmed reverse DNS"},
	{"log-level", K_LOGLEVEL, F(log_level), 0, 0, "info",
	 "debug, info, notice, warning or error"},
	{"log-to", K_LOGTO, F(log_to_stderr), 0, 0, NULL,
	 "syslog or stderr (default: syslog, stderr in the foreground)"},
	{"log-facility", K_FACILITY, F(log_facility), 0, 0, "mail",
	 "The syslog facility of log-to syslog"},
	{"on-spf-fail", K_ACTION, F(on_spf_fail), A_ACCEPT | A_REJECT, 0, "accept",
	 "accept, or reject (5.7.23) mail whose MAIL FROM gets SPF fail"},
	{"on-spf-permerror", K_ACTION, F(on_spf_permerror), A_ACCEPT | A_REJECT, 0, "accept",
	 "accept, or reject (5.7.24) on SPF permerror"},
	{"on-spf-temperror", K_ACTION, F(on_spf_temperror), A_ACCEPT | A_TEMPFAIL, 0, "tempfail",
	 "tempfail (4.4.3) or accept on SPF temperror"},
	{"max-recipients", K_COUNT, F(max_recipients), 0, 0, "1000",
	 "Recipients counted per message"},
	{"dkim-max-signatures", K_COUNT, F(dkim_max_signatures), 0, 0, "5",
	 "Verify at most this many DKIM signatures per message"},
	{"on-dkim-temperror", K_ACTION, F(on_dkim_temperror), A_ENFORCE, 0, "tempfail",
	 "Action when a DKIM key lookup failed temporarily and DMARC would act"},
	{"on-dkim-permerror", K_ACTION, F(on_dkim_permerror), A_ENFORCE, 0, "accept",
	 "Action when a DKIM key is missing or unusable and DMARC would act"},
	{"on-dmarc-temperror", K_ACTION, F(on_dmarc_temperror), A_ENFORCE, 0, "tempfail",
	 "Action when the DMARC policy could not be looked up"},
	{"on-dmarc-permerror", K_ACTION, F(on_dmarc_permerror), A_ENFORCE, 0, "accept",
	 "Action when the DMARC record is unusable"},
	{"on-dmarc-reject", K_ACTION, F(on_dmarc_reject), A_ACCEPT | A_REJECT | A_QUARANTINE | A_TAG,
	 0, "reject",
	 "A DMARC failure under p=reject: reject, quarantine, tag or accept"},
	{"on-dmarc-quarantine", K_ACTION, F(on_dmarc_quarantine), A_ACCEPT | A_QUARANTINE | A_TAG, 0,
	 "quarantine",
	 "A DMARC failure under p=quarantine: quarantine, tag or accept"},
	{"on-from-error", K_ACTION, F(on_from_error), A_ACCEPT | A_TEMPFAIL | A_REJECT, 0, "reject",
	 "Action when From names no one Author Domain (none, several, no domain)"},
	{"dmarc-reject-text", K_TEMPLATE, F(dmarc_reject_text), 0, 0,
	 "\"rejected by the DMARC policy of {domain}\"",
	 "The reply text of a DMARC rejection; {domain} is the Author Domain"},
	{"dmarc-override-domains", K_WORDS, F(dmarc_override_domains), 0, 0, NULL,
	 "MAIL FROM domains whose DMARC failures are recorded, not enforced"},
	{"dmarc-override-networks", K_CIDRS, F(dmarc_override_networks), 0, 0, NULL,
	 "Client networks whose DMARC failures are recorded, not enforced"},
	{"rules", K_STRING, F(rules_path), 0, 0, NULL,
	 "The rules file (default: the built-in default rules)"},
	{"geoip-country", K_STRING, F(geoip_country_path), 0, 0, NULL,
	 "MaxMind DB country or city database for geoip.country"},
	{"geoip-asn", K_STRING, F(geoip_asn_path), 0, 0, NULL,
	 "MaxMind DB ASN database for geoip.asn"},
	{"dnsbl-blocked", K_WORDS, F(dnsbl_blocked), 0, 1, NULL,
	 "zone code...: the answers by which a list refuses our queries"},
	{"result-header", K_BOOL, F(result_header), 0, 0, "yes",
	 "Add X-Authscore-Result to every checked message"},
	{"tag-subject-prefix", K_STRING, F(tag_subject_prefix), 0, 0, NULL,
	 "Prepended to the Subject of tagged and quarantined messages"},
	{"state-dir", K_STRING, F(state_dir), 0, 0, LOCALSTATEDIR "/lib/authscore",
	 "Where the SQLite history, the spool and kept reports live"},
	{"history", K_STRING, F(history), 0, 0, NULL,
	 "sqlite:path, postgresql:// URL or none (default: state-dir/history.db)"},
	{"history-retention-days", K_COUNT, F(history_retention_days), 0, 0, "180",
	 "Records older than this many days are deleted"},
	{"report-org-name", K_STRING, F(report_org_name), 0, 0, NULL,
	 "The <org_name> of our reports (default: the receiver domain)"},
	{"report-email", K_STRING, F(report_email), 0, 0, NULL,
	 "The From address of our reports (default: noreply-dmarc@fqdn)"},
	{"report-relay", K_STRING, F(report_relay), 0, 0, NULL,
	 "Send reports by SMTP through this relay (default: sendmail)"},
	{"report-smtp-tls", K_STRING, F(report_smtp_tls), 0, 0, NULL,
	 "TLS towards report-relay: none, may, starttls or tls"},
	{"report-smtp-auth-file", K_STRING, F(report_smtp_auth_file), 0, 0, NULL,
	 "File with the user name and password for the relay's SMTP AUTH"},
	{"report-smtp-ca-file", K_STRING, F(report_smtp_ca_file), 0, 0, NULL,
	 "The CA certificates (PEM) the relay's certificate must chain to"},
	{"report-smtp-verify", K_BOOL, F(report_smtp_verify), 0, 0, "yes",
	 "Check the relay's certificate and name whenever TLS is used"},
	{"report-suppress", K_WORDS, F(report_suppress), 0, 0, NULL,
	 "Destinations never sent a report"},
	{"metrics-listen", K_LISTEN, F(metrics_listen), 0, 0, NULL,
	 "Serve Prometheus metrics on port, ipv4:port or [ipv6]:port, or none"},
	{"log-format", K_LOGFORMAT, F(log_json), 0, 0, NULL,
	 "kv or json: the form of the one summary line per message (default: kv)"},
	{"ratelimit-ip", K_RATE, F(ratelimit.ip), 0, 0, NULL,
	 "count/period per client address, or per IPv6 network"},
	{"ratelimit-sender", K_RATE, F(ratelimit.sender), 0, 0, NULL,
	 "count/period per envelope sender"},
	{"ratelimit-user", K_RATE, F(ratelimit.user), 0, 0, NULL,
	 "count/period per SMTP AUTH name"},
	{"ratelimit-ipv4-prefix", K_PREFIX4, F(ratelimit.ipv4_prefix), 0, 0, "32",
	 "IPv4 clients in one network of this size share a bucket"},
	/* one site's or one host's (RFC 6177) */
	{"ratelimit-ipv6-prefix", K_PREFIX6, F(ratelimit.ipv6_prefix), 0, 0, "64",
	 "IPv6 clients in one network of this size share a bucket"},
	{"ratelimit-table-size", K_COUNT, F(ratelimit_table_size), 0, 0, "50000",
	 "Buckets kept per limit (takes effect at the next restart)"},
	/* DKIM signing of outgoing mail (issue 18) */
	{"dkim-key", K_LINES, F(dkim_keys), 0, 1, NULL,
	 "domain selector file: a private key to sign with"},
	{"dkim-sign", K_LINES, F(dkim_signing), 0, 1, NULL,
	 "pattern domain:selector...: sign matching mail with these keys"},
	{"dkim-sign-trusted", K_BOOL, F(dkim_sign_trusted), 0, 0, "yes",
	 "Sign mail from trusted-networks"},
	{"dkim-sign-authenticated", K_BOOL, F(dkim_sign_authenticated), 0, 0, "yes",
	 "Sign mail of clients that authenticated (SMTP AUTH)"},
	{"dkim-sign-expire-days", K_COUNT, F(dkim_sign_expire_days), 0, 0, NULL,
	 "Add x= this many days after t= (default: no x=)"},
	{"on-dkim-sign-error", K_ACTION, F(on_dkim_sign_error), A_ACCEPT | A_TEMPFAIL, 0, "accept",
	 "accept (unsigned) or tempfail a message that cannot be signed"},
	/* the body's content (checks/content.c): MIME walk, text, links */
	{"content-scan", K_BOOL, F(content_scan), 0, 0, "yes",
	 "Scan the body: its MIME parts, text and links"},
	{"content-max-bytes", K_SIZE, F(content_max_bytes), 0, 0, "2M",
	 "Bytes of the message kept in memory for the MIME walk"},
	{"content-max-text", K_SIZE, F(content_max_text), 0, 0, "1M",
	 "Decoded text kept per message"},
	{"content-max-parts", K_COUNT, F(content_max_parts), 0, 0, "100",
	 "MIME leaf parts listed per message"},
	{"content-max-depth", K_COUNT, F(content_max_depth), 0, 0, "20",
	 "Levels of multipart and attached-message nesting walked"},
	{"content-max-urls", K_COUNT, F(content_max_urls), 0, 0, "200",
	 "Distinct links listed per message"},
	/* issue 19: the links' domains asked of uribl(zone) lists per message */
	{"uribl-max-domains", K_COUNT, F(uribl_max_domains), 0, 0, "20",
	 "Registrable domains of the links asked of uribl() lists per message"},
	/* ARC (issue 18): trusted forwarders, and sealing what we accept */
	{"arc-trusted-sealers", K_WORDS, F(arc_trusted_sealers), 0, 0, NULL,
	 "Forwarders whose ARC seals may lift a DMARC failure"},
	{"on-arc-temperror", K_ACTION, F(on_arc_temperror), A_TEMPFAIL | A_REJECT | A_QUARANTINE, 0,
	 "tempfail",
	 "Action when a DNS error keeps ARC from a possible override"},
	{"arc-seal", K_LINES, F(arc_seal), 0, 0, NULL,
	 "domain selector [keyfile]: seal the messages we accept with ARC"},
	/* issue 19, memory: where a body past 16 kB waits for its scan */
	{"content-spool-dir", K_STRING, F(content_spool_dir), 0, 0, NULL,
	 "Where bodies over 16 kB wait, unlinked (default state-dir; none: memory)"},
	/* issue 19, scan cost: what of those bodies may stay in memory */
	{"content-spool-memory", K_SIZE_OR_0, F(content_spool_memory), 0, 0, "2M",
	 "Bodies' bytes over 16 kB kept in memory, all messages (0: to files)"},
};
#undef F

static const char *const action_names[] = {
	[ACTION_ACCEPT] = "accept",
	[ACTION_TEMPFAIL] = "tempfail",
	[ACTION_REJECT] = "reject",
	[ACTION_QUARANTINE] = "quarantine",
	[ACTION_TAG] = "tag",
};

const char *conf_action_name(enum conf_action a)
{
	return action_names[a];
}

const char *conf_key_name(size_t i)
{
	return i < sizeof(keys) / sizeof(keys[0]) ? keys[i].name : NULL;
}

const char *conf_key_help(size_t i)
{
	return i < sizeof(keys) / sizeof(keys[0]) ? keys[i].help : NULL;
}

void conf_print_keys(FILE *out)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		fprintf(out, "%-24s %-12s %s\n", keys[i].name,
			keys[i].def != NULL ? keys[i].def : "-", keys[i].help);
}

/* String keys that take one of a few words: "a or b or c". */
static const struct {
	const char *key, *choices;
} string_choice_table[] = {
	{"report-smtp-tls", "none or may or starttls or tls"},
};

static const char *string_choices(const char *key)
{
	for (size_t i = 0; i < sizeof(string_choice_table) / sizeof(string_choice_table[0]); i++)
		if (strcmp(string_choice_table[i].key, key) == 0)
			return string_choice_table[i].choices;
	return NULL;
}

/* Is w one of the words of "a or b or c"? */
static int word_in(const char *w, const char *choices)
{
	size_t n = strlen(w);

	for (const char *c = choices; *c != '\0';) {
		size_t len = strcspn(c, " ");

		if (len == n && strncmp(c, w, n) == 0 && strcmp(w, "or") != 0)
			return 1;
		c += len;
		c += strspn(c, " ");
	}
	return 0;
}

struct word {
	char *text;
	unsigned col;
};

struct parser {
	const char *name;
	unsigned line;
	char *error;
	struct conf *cfg;
	unsigned seen[sizeof(keys) / sizeof(keys[0])];
};

static int perr(struct parser *p, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, unsigned col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->error = xasprintf("%s:%u:%u: %s", p->name, p->line, col, msg);
	return -1;
}

/* Split a line into words; returns the count or -1 (error in p). */
static int split_words(struct parser *p, char *line, struct word *w, int max)
{
	int n = 0;
	char *s = line;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return perr(p, (unsigned)(s - line) + 1, "too many values on one line");
		w[n].col = (unsigned)(s - line) + 1;
		if (*s == '"') {
			char *out = s, *in = s + 1;

			w[n].text = out;
			for (;; in++) {
				if (*in == '\0')
					return perr(p, w[n].col, "unterminated quoted string");
				if (*in == '"')
					break;
				if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
					in++;
				*out++ = *in;
			}
			*out = '\0';
			s = in + 1;
			if (*s != '\0' && *s != ' ' && *s != '\t')
				return perr(p, (unsigned)(s - line) + 1,
					    "a quoted string must be followed by a blank");
		} else {
			w[n].text = s;
			while (*s != '\0' && *s != ' ' && *s != '\t')
				s++;
			if (*s != '\0')
				*s++ = '\0';
			n++;
			continue;
		}
		n++;
	}
}

static int parse_duration(const char *s, unsigned *ms_r)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else
		return -1;
	if (v == 0 || v > 3600000)
		return -1;
	*ms_r = (unsigned)v;
	return 0;
}

/* "PORT" (on 127.0.0.1), "IPv4:PORT" or "[IPv6]:PORT"; "none" turns it off. */
static int parse_listen(const char *s, struct conf_listen *l)
{
	const char *colon = strrchr(s, ':'), *port = s;
	char host[ADDR_STRLEN + 2];
	char *end;
	unsigned long v;

	memset(l, 0, sizeof(*l));
	if (strcmp(s, "none") == 0)
		return 0;
	if (colon != NULL) {
		size_t hlen = (size_t)(colon - s);

		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		/* an IPv6 address needs its brackets, or its last group is the port */
		if (strchr(host, ':') != NULL && (host[0] != '[' || host[hlen - 1] != ']'))
			return -1;
		if (addr_parse(host, &l->addr) < 0)
			return -1;
		port = colon + 1;
	} else {
		addr_parse("127.0.0.1", &l->addr);
	}
	if (*port < '1' || *port > '9')
		return -1;
	errno = 0;
	v = strtoul(port, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	l->port = (unsigned)v;
	return 0;
}

/* "COUNT/PERIOD": 100/1m, 50/h, 500/1d; "off" is no limit.  Returns the
 * 0-based offset of the bad part, or -1 when the value is good. */
#define RATE_COUNT_MAX 1000000
#define RATE_PERIOD_MAX (7 * 86400)
static int parse_rate(const char *s, struct ratelimit_rate *r, const char **why_r)
{
	static const struct {
		char unit;
		unsigned seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	const char *p = s, *slash;
	unsigned long count, n = 1;
	char *end;

	if (strcmp(s, "off") == 0) {
		r->count = r->period_s = 0;
		return -1;
	}
	*why_r = "expected COUNT/PERIOD, e.g. 100/1m (s, m, h or d), or off";
	if ((slash = strchr(s, '/')) == NULL || *p < '0' || *p > '9')
		return 0;
	errno = 0;
	count = strtoul(p, &end, 10);
	if (end != slash)
		return (int)(end - s);
	if (errno != 0 || count == 0 || count > RATE_COUNT_MAX) {
		*why_r = "the count must be from 1 to 1000000";
		return 0;
	}
	p = slash + 1;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		n = strtoul(p, &end, 10);
		if (errno != 0 || n == 0 || n > RATE_PERIOD_MAX) {
			*why_r = "the period must be from 1s to 7d";
			return (int)(p - s);
		}
		p = end;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (p[0] == units[i].unit && p[1] == '\0') {
			if (n * units[i].seconds > RATE_PERIOD_MAX) {
				*why_r = "the period must be from 1s to 7d";
				return (int)(slash + 1 - s);
			}
			r->count = (unsigned)count;
			r->period_s = (unsigned)(n * units[i].seconds);
			return -1;
		}
	}
	*why_r = "the period needs a unit: s, m, h or d";
	return (int)(p - s);
}

static char **words_append(char **list, const char *s)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	list = xrealloc(list, (n + 2) * sizeof(*list));
	list[n] = xstrdup(s);
	list[n + 1] = NULL;
	return list;
}

static void words_free(char ***listp)
{
	for (char **l = *listp; l != NULL && *l != NULL; l++)
		free(*l);
	xfree(listp);
}

/* One parser per kind of value: w[0..n-1] are the key's values (n >= 1;
 * more than one only for K_WORDS and K_CIDRS), field is where it goes. */
typedef int parse_fn(struct parser *p, const struct key *k, struct word *w, int n, void *field);

static int parse_mode(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	char *end;
	unsigned long v = strtoul(w[0].text, &end, 8);

	(void)n;
	if (w[0].text[0] != '0' || *end != '\0' || v > 0777)
		return perr(p, w[0].col, "%s: \"%s\" is not an octal mode such as 0660", k->name,
			    w[0].text);
	*(unsigned *)field = (unsigned)v;
	return 0;
}

/* reply text: printable, and {domain} the only placeholder */
static int parse_template(struct parser *p, const struct key *k, struct word *w, int n,
			  void *field)
{
	const char *t = w[0].text;

	(void)n;
	for (const char *b = strchr(t, '{'); b != NULL; b = strchr(b + 1, '{'))
		if (strncmp(b, "{domain}", 8) != 0)
			return perr(p, w[0].col + (unsigned)(b - t) + 1,
				    "%s: unknown placeholder (only {domain} is known)", k->name);
	if (strlen(t) > 400)
		return perr(p, w[0].col, "%s: longer than 400 characters", k->name);
	free(*(char **)field);
	*(char **)field = xstrdup(t);
	return 0;
}

static int parse_string(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	char **s = field;
	const char *choices;

	(void)n;
	if (strlen(w[0].text) == 0)
		return perr(p, w[0].col, "%s must not be empty", k->name);
	if ((choices = string_choices(k->name)) != NULL && !word_in(w[0].text, choices))
		return perr(p, w[0].col, "%s: expected %s, not \"%s\"", k->name, choices, w[0].text);
	free(*s);
	*s = xstrdup(w[0].text);
	return 0;
}

/* stored as a string */
static int parse_socket(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	if (strncmp(w[0].text, "unix:/", 6) != 0 && strncmp(w[0].text, "local:/", 7) != 0 &&
	    strncmp(w[0].text, "inet:", 5) != 0 && strncmp(w[0].text, "inet6:", 6) != 0 &&
	    w[0].text[0] != '/')
		return perr(p, w[0].col,
			    "%s \"%s\": expected unix:/path, local:/path, inet:PORT@HOST or "
			    "inet6:PORT@HOST",
			    k->name, w[0].text);
	return parse_string(p, k, w, n, field);
}

static int parse_words(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	char ***list = field;

	if (k->repeatable) {
		struct buf b;

		if (n < 2)
			return perr(p, w[0].col, "%s: expected a zone and one or more addresses",
				    k->name);
		buf_init(&b, CONF_MAX_LINE);
		for (int i = 0; i < n; i++)
			buf_printf(&b, "%s%s", i ? " " : "", w[i].text);
		*list = words_append(*list, buf_str(&b));
		buf_release(&b);
	} else {
		words_free(list);
		for (int i = 0; i < n; i++)
			*list = words_append(*list, w[i].text);
	}
	return 0;
}

static int parse_bool(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	int *b = field;

	(void)n;
	if (strcmp(w[0].text, "yes") == 0 || strcmp(w[0].text, "true") == 0)
		*b = 1;
	else if (strcmp(w[0].text, "no") == 0 || strcmp(w[0].text, "false") == 0)
		*b = 0;
	else
		return perr(p, w[0].col, "%s: expected yes or no, not \"%s\"", k->name, w[0].text);
	return 0;
}

static int parse_duration_key(struct parser *p, const struct key *k, struct word *w, int n,
			      void *field)
{
	(void)n;
	if (parse_duration(w[0].text, field) < 0)
		return perr(p, w[0].col, "%s: \"%s\" is not a duration (e.g. 500ms, 5s, 2m; at most 1h)",
			    k->name, w[0].text);
	return 0;
}

static int parse_count(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	char *end;
	unsigned long v = strtoul(w[0].text, &end, 10);

	(void)n;
	if (w[0].text[0] < '0' || w[0].text[0] > '9' || *end != '\0' || v == 0 || v > 100000)
		return perr(p, w[0].col, "%s: \"%s\" is not a count from 1 to 100000", k->name,
			    w[0].text);
	*(unsigned *)field = (unsigned)v;
	return 0;
}

static int parse_action(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	struct buf allowed;
	int e;

	(void)n;
	for (unsigned a = 0; a < sizeof(action_names) / sizeof(action_names[0]); a++) {
		if ((k->actions & (1u << a)) && strcmp(w[0].text, action_names[a]) == 0) {
			*(enum conf_action *)field = (enum conf_action)a;
			return 0;
		}
	}
	buf_init(&allowed, 256);
	for (unsigned a = 0; a < sizeof(action_names) / sizeof(action_names[0]); a++)
		if (k->actions & (1u << a))
			buf_printf(&allowed, "%s%s", allowed.len ? " or " : "", action_names[a]);
	e = perr(p, w[0].col, "%s: expected %s, not \"%s\"", k->name, buf_str(&allowed), w[0].text);
	buf_release(&allowed);
	return e;
}

static int parse_loglevel(struct parser *p, const struct key *k, struct word *w, int n,
			  void *field)
{
	(void)n;
	if (log_level_parse(w[0].text, field) < 0)
		return perr(p, w[0].col,
			    "%s: expected debug, info, notice, warning or error, not \"%s\"", k->name,
			    w[0].text);
	return 0;
}

static int parse_logto(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	(void)n;
	if (strcmp(w[0].text, "stderr") == 0)
		*(int *)field = 1;
	else if (strcmp(w[0].text, "syslog") == 0)
		*(int *)field = 0;
	else
		return perr(p, w[0].col, "%s: expected syslog or stderr, not \"%s\"", k->name,
			    w[0].text);
	return 0;
}

static int parse_facility(struct parser *p, const struct key *k, struct word *w, int n,
			  void *field)
{
	(void)n;
	if (log_facility_parse(w[0].text, field) < 0)
		return perr(p, w[0].col,
			    "%s: expected mail, daemon, user or local0 to local7, not \"%s\"", k->name,
			    w[0].text);
	return 0;
}

static int parse_listen_key(struct parser *p, const struct key *k, struct word *w, int n,
			    void *field)
{
	(void)n;
	if (parse_listen(w[0].text, field) < 0)
		return perr(p, w[0].col, "%s: \"%s\" is not PORT, IPv4:PORT, [IPv6]:PORT or none",
			    k->name, w[0].text);
	return 0;
}

static int parse_logformat(struct parser *p, const struct key *k, struct word *w, int n,
			   void *field)
{
	(void)n;
	/* "text": kv's old name, still accepted so old files keep working */
	if (strcmp(w[0].text, "kv") == 0 || strcmp(w[0].text, "text") == 0 ||
	    strcmp(w[0].text, "json") == 0)
		*(int *)field = strcmp(w[0].text, "json") == 0;
	else
		return perr(p, w[0].col, "%s: expected kv or json, not \"%s\"", k->name, w[0].text);
	return 0;
}

static int parse_rate_key(struct parser *p, const struct key *k, struct word *w, int n,
			  void *field)
{
	const char *why = NULL;
	int at = parse_rate(w[0].text, field, &why);

	(void)n;
	if (at >= 0)
		return perr(p, w[0].col + (unsigned)at, "%s: \"%s\": %s", k->name, w[0].text, why);
	return 0;
}

static int parse_prefix(struct parser *p, const struct key *k, struct word *w, void *field,
			unsigned max)
{
	char *end;
	unsigned long v = strtoul(w[0].text, &end, 10);

	if (w[0].text[0] < '0' || w[0].text[0] > '9' || *end != '\0' || v == 0 || v > max)
		return perr(p, w[0].col, "%s: \"%s\" is not a prefix length from 1 to %u", k->name,
			    w[0].text, max);
	*(unsigned *)field = (unsigned)v;
	return 0;
}

static int parse_prefix4(struct parser *p, const struct key *k, struct word *w, int n,
			 void *field)
{
	(void)n;
	return parse_prefix(p, k, w, field, 32);
}

static int parse_prefix6(struct parser *p, const struct key *k, struct word *w, int n,
			 void *field)
{
	(void)n;
	return parse_prefix(p, k, w, field, 128);
}

static int parse_cidrs(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	struct cidr_list *l = field;

	free(l->nets);
	l->nets = xcalloc((size_t)n, sizeof(*l->nets));
	l->count = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(w[i].text, "none") == 0 && n == 1)
			break;
		if (cidr_parse(w[i].text, &l->nets[l->count]) < 0)
			return perr(p, w[i].col,
				    "%s: \"%s\" is not an IPv4 or IPv6 address or network", k->name,
				    w[i].text);
		l->count++;
	}
	return 0;
}

/* Kept as written, with each word's column, for the module that reads it. */
static int parse_lines(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	struct conf_lines *l = field;
	struct conf_line *line;

	(void)k;
	l->items = xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	line = &l->items[l->count++];
	line->line = p->line;
	line->count = n;
	line->words = xcalloc((size_t)n, sizeof(*line->words));
	line->cols = xcalloc((size_t)n, sizeof(*line->cols));
	for (int i = 0; i < n; i++) {
		line->words[i] = xstrdup(w[i].text);
		line->cols[i] = w[i].col;
	}
	return 0;
}

static void lines_free(struct conf_lines *l)
{
	for (size_t i = 0; i < l->count; i++) {
		for (int j = 0; j < l->items[i].count; j++)
			free(l->items[i].words[j]);
		free(l->items[i].words);
		free(l->items[i].cols);
	}
	free(l->items);
}

/* A size in bytes: a number, with k or M for 1024 or 1048576; 1k to 1G. */
static int parse_size(struct parser *p, const struct key *k, struct word *w, int n, void *field)
{
	char *end;
	unsigned long long v = strtoull(w[0].text, &end, 10);
	unsigned long long unit = 1;

	(void)n;
	if (*end == 'k' || *end == 'K')
		unit = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		unit = 1024 * 1024, end++;
	if (w[0].text[0] < '0' || w[0].text[0] > '9' || *end != '\0' || v > (1ull << 30) ||
	    v * unit < 1024 || v * unit > (1ull << 30))
		return perr(p, w[0].col, "%s: \"%s\" is not a size from 1k to 1024M", k->name,
			    w[0].text);
	*(size_t *)field = (size_t)(v * unit);
	return 0;
}

/* A size, or 0 for none (content-spool-memory 0: every large body to a file). */
static int parse_size_or_0(struct parser *p, const struct key *k, struct word *w, int n,
			   void *field)
{
	if (strcmp(w[0].text, "0") == 0) {
		*(size_t *)field = 0;
		return 0;
	}
	if (parse_size(p, k, w, n, field) < 0) {
		free(p->error);
		return perr(p, w[0].col, "%s: \"%s\" is not 0 or a size from 1k to 1024M", k->name,
			    w[0].text);
	}
	return 0;
}

static parse_fn *const parsers[] = {
	[K_TEMPLATE] = parse_template,	 [K_SOCKET] = parse_socket,
	[K_MODE] = parse_mode,		 [K_STRING] = parse_string,
	[K_WORDS] = parse_words,	 [K_BOOL] = parse_bool,
	[K_DURATION] = parse_duration_key, [K_COUNT] = parse_count,
	[K_ACTION] = parse_action,	 [K_LOGLEVEL] = parse_loglevel,
	[K_LOGTO] = parse_logto,	 [K_CIDRS] = parse_cidrs,
	[K_LISTEN] = parse_listen_key,	 [K_LOGFORMAT] = parse_logformat,
	[K_RATE] = parse_rate_key,	 [K_PREFIX4] = parse_prefix4,
	[K_PREFIX6] = parse_prefix6,	 [K_FACILITY] = parse_facility,
	[K_LINES] = parse_lines,
	[K_SIZE] = parse_size,
	[K_SIZE_OR_0] = parse_size_or_0,
};

static int set_value(struct parser *p, const struct key *k, struct word *w, int n)
{
	if (n == 0)
		return perr(p, w[-1].col + (unsigned)strlen(k->name), "%s needs a value", k->name);
	if (k->kind != K_WORDS && k->kind != K_CIDRS && k->kind != K_LINES && n > 1)
		return perr(p, w[1].col, "%s takes one value", k->name);
	return parsers[k->kind](p, k, w, n, (char *)p->cfg + k->offset);
}

static int parse_line(struct parser *p, char *line);

/* The defaults are the table's: each key's `def` parsed as a line of the
 * file would be.  Two are not words a file could hold: the authserv-id is
 * the host's name, and log-to depends on whether the daemon is in the
 * foreground (-1: not set). */
static void conf_defaults(struct parser *p)
{
	char host[256], line[CONF_MAX_LINE];

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	p->cfg->authserv_id = xstrdup(host);
	p->cfg->log_to_stderr = -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].def == NULL)
			continue;
		snprintf(line, sizeof(line), "%s %s", keys[i].name, keys[i].def);
		if (parse_line(p, line) < 0) {
			fprintf(stderr, "authscore: built-in default: %s\n", p->error);
			abort();
		}
	}
	memset(p->seen, 0, sizeof(p->seen));
}

static int parse_line(struct parser *p, char *line)
{
	struct word w[CONF_MAX_WORDS];
	int n = split_words(p, line, w, CONF_MAX_WORDS);

	if (n <= 0)
		return n;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, w[0].text) != 0)
			continue;
		if (p->seen[i] && !keys[i].repeatable)
			return perr(p, w[0].col, "%s is set twice (first on line %u)",
				    keys[i].name, p->seen[i]);
		p->seen[i] = p->line;
		return set_value(p, &keys[i], w + 1, n - 1);
	}
	return perr(p, w[0].col, "unknown key \"%s\"", w[0].text);
}

struct conf *conf_parse(const char *name, const char *text, char **error_r)
{
	struct parser p = {.name = name};
	const char *s = text;

	*error_r = NULL;
	p.cfg = xcalloc(1, sizeof(*p.cfg));
	p.cfg->path = xstrdup(name);
	conf_defaults(&p);
	while (*s != '\0') {
		const char *eol = strchr(s, '\n');
		size_t len = eol ? (size_t)(eol - s) : strlen(s);
		char line[CONF_MAX_LINE];

		p.line++;
		if (len >= sizeof(line)) {
			perr(&p, 1, "line longer than %d bytes", CONF_MAX_LINE - 1);
			goto fail;
		}
		memcpy(line, s, len);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		for (size_t i = 0; line[i] != '\0'; i++) {
			unsigned char c = (unsigned char)line[i];

			if (c < ' ' && c != '\t') {
				perr(&p, (unsigned)i + 1, "control character 0x%02x", c);
				goto fail;
			}
		}
		if (parse_line(&p, line) < 0)
			goto fail;
		s += len + (eol != NULL);
	}
	return p.cfg;
fail:
	*error_r = p.error;
	conf_free(&p.cfg);
	return NULL;
}

struct conf *conf_load(const char *path, int must_exist, char **error_r)
{
	FILE *f = fopen(path, "r");
	struct conf *cfg;
	char *text;
	size_t len;

	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return conf_parse(path, "", error_r);
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	text = xmalloc(CONF_MAX_BYTES + 1);
	len = fread(text, 1, CONF_MAX_BYTES + 1, f);
	if (ferror(f) || len > CONF_MAX_BYTES) {
		*error_r = ferror(f) ? xasprintf("%s: read error", path)
				     : xasprintf("%s: larger than %d bytes", path, CONF_MAX_BYTES);
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		*error_r = xasprintf("%s: contains a NUL byte", path);
		free(text);
		return NULL;
	}
	cfg = conf_parse(path, text, error_r);
	free(text);
	return cfg;
}

void conf_free(struct conf **confp)
{
	struct conf *cfg = *confp;

	if (cfg == NULL)
		return;
	free(cfg->path);
	/* Every owned field is a key of the table: its kind says how to free it,
	 * so a new key can never be forgotten here. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		void *field = (char *)cfg + keys[i].offset;

		switch (keys[i].kind) {
		case K_TEMPLATE:
		case K_SOCKET:
		case K_STRING:
			free(*(char **)field);
			break;
		case K_WORDS:
			words_free(field);
			break;
		case K_CIDRS:
			free(((struct cidr_list *)field)->nets);
			break;
		case K_LINES:
			lines_free(field);
			break;
		default:
			break;
		}
	}
	xfree(confp);
}

int cidr_list_contains(const struct cidr_list *l, const struct addr *a)
{
	for (size_t i = 0; i < l->count; i++)
		if (cidr_contains(&l->nets[i], a))
			return 1;
	return 0;
}

int conf_is_trusted(const struct conf *cfg, const struct addr *client)
{
	return cidr_list_contains(&cfg->trusted, client);
}

int conf_domain_listed(char *const *list, const char *domain)
{
	size_t dlen = domain != NULL ? strlen(domain) : 0;

	for (; dlen > 0 && list != NULL && *list != NULL; list++) {
		size_t llen = strlen(*list);

		if (llen == dlen && strcasecmp(*list, domain) == 0)
			return 1;
		if (llen < dlen && domain[dlen - llen - 1] == '.' &&
		    strcasecmp(*list, domain + dlen - llen) == 0)
			return 1;
	}
	return 0;
}

char *conf_history_location(const struct conf *cfg)
{
	if (cfg->history != NULL)
		return strcmp(cfg->history, "none") == 0 ? NULL : xstrdup(cfg->history);
	return xasprintf("sqlite:%s/history.db", cfg->state_dir);
}

const char *conf_content_spool_dir(const struct conf *cfg)
{
	const char *dir = cfg->content_spool_dir != NULL ? cfg->content_spool_dir : cfg->state_dir;

	return strcmp(dir, "none") == 0 ? NULL : dir;
}

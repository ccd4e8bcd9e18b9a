/*
 * conf - the daemon's configuration file, validated whole at load.
 *
 * Format: one `key value...` per line; `#` starts a comment; values are
 * words separated by blanks, or "double quoted" (\" and \\ escapes).  Every
 * key is in one table (config.c); an unknown key, a bad value or a repeated
 * single-valued key is an error naming file:line:column.  A file that does
 * not exist is an error unless it is the default path, where built-in
 * defaults apply.
 *
 * conf_load() returns a new struct conf or NULL with *error_r set (a
 * malloc'd message for the caller to log and free).  A loaded config is
 * immutable and may be shared by threads; conf_free() releases it.
 */
#ifndef AUTHSCORE_CONF_H
#define AUTHSCORE_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "addr.h"
#include "log.h"
#include "ratelimit.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/authscore/authscore.conf"

/* What a check's outcome does to the message (the DNS-error table). */
enum conf_action { ACTION_ACCEPT, ACTION_TEMPFAIL, ACTION_REJECT, ACTION_QUARANTINE, ACTION_TAG };

struct cidr_list {
	struct cidr *nets;
	size_t count;
};

/* An address to listen on (metrics-listen); port 0: not configured. */
struct conf_listen {
	struct addr addr;
	unsigned port;
};

/* Lines of a repeatable key kept as written, with where each word stood,
 * for a module that reads them later (dkim-key, dkim-sign: dkim_keys.c)
 * and names file:line:column in its errors. */
struct conf_line {
	unsigned line;
	int count;    /* words */
	char **words; /* count words, each malloc'd */
	unsigned *cols;
};

struct conf_lines {
	struct conf_line *items;
	size_t count;
};

struct conf {
	char *path;
	char *socket;
	unsigned socket_mode; /* of a unix socket */
	char *user; /* "user" or "user:group"; NULL: stay who we are */
	char *pidfile;
	char *authserv_id;
	struct cidr_list trusted;
	int skip_authenticated;
	char **dns_forwarders; /* NULL-terminated; empty: full recursion */
	char **dns_stubs;      /* NULL-terminated "zone addr..." strings */
	char *dns_trust_anchor;
	unsigned dns_timeout_ms;
	char *dns_probe; /* asked (NS) at start to see that DNS works; "none": not */
	unsigned spf_timeout_ms;
	int iprev_trust_mta; /* take the MTA's forward-confirmed client name as iprev=pass */
	enum log_level log_level;
	int log_to_stderr; /* 1 stderr, 0 syslog, -1 unset: stderr in the foreground */
	int log_facility;  /* syslog(3) facility; default LOG_MAIL */
	enum conf_action on_spf_fail;
	enum conf_action on_spf_permerror;
	enum conf_action on_spf_temperror;
	unsigned max_recipients;

	/* DKIM and DMARC */
	unsigned dkim_max_signatures;
	enum conf_action on_dkim_temperror;  /* a key lookup failed and DMARC could not pass */
	enum conf_action on_dkim_permerror;
	enum conf_action on_dmarc_temperror; /* the policy could not be discovered */
	enum conf_action on_dmarc_permerror;
	enum conf_action on_dmarc_reject;     /* what p=reject does */
	enum conf_action on_dmarc_quarantine; /* what p=quarantine does */
	enum conf_action on_from_error;	      /* no, several or unusable From */
	char *dmarc_reject_text;	      /* template; {domain} is the Author Domain */
	char **dmarc_override_domains;	      /* envelope domains whose DMARC failure is not enforced */
	struct cidr_list dmarc_override_networks;

	/* reputation and scoring */
	char *rules_path;	    /* NULL: the built-in default rules */
	char *geoip_country_path;   /* NULL: no country database */
	char *geoip_asn_path;	    /* NULL: no ASN database */
	char **dnsbl_blocked;	    /* "zone code..." lines: a list's refusal codes */
	int result_header;	    /* add X-Authscore-Result */
	char *tag_subject_prefix;   /* NULL: the Subject is left alone */

	/* history and reports */
	char *state_dir;	   /* the store's file and spool live here */
	char *history;		   /* store location; "none": no history */
	unsigned history_retention_days;
	char *report_org_name;	   /* <org_name> of our reports */
	char *report_email;	   /* From: of our reports */
	char *report_relay;	   /* host:port or smtp[s]://; NULL: sendmail(1) */
	char *report_smtp_tls;	   /* none may starttls tls; NULL: by relay and auth */
	char *report_smtp_auth_file; /* user and password lines; NULL: no AUTH */
	char *report_smtp_ca_file;   /* NULL: the system's CAs */
	int report_smtp_verify;	     /* check the relay's certificate (default yes) */
	char **report_suppress;	   /* destinations (addresses or domains) never mailed */

	/* operations */
	struct conf_listen metrics_listen; /* the Prometheus endpoint; off unless set */
	int log_json;			   /* log-format json: the summary line as JSON */
	/* rate limits (ratelimit.h); all off by default */
	struct ratelimit_limits ratelimit;
	unsigned ratelimit_table_size; /* buckets per limit; a change needs a restart */

	/* DKIM signing (dkim_keys.h reads the tables; dkim_sign.h signs) */
	struct conf_lines dkim_keys;	/* dkim-key DOMAIN SELECTOR FILE */
	struct conf_lines dkim_signing;	/* dkim-sign PATTERN DOMAIN:SELECTOR... */
	int dkim_sign_trusted;		/* sign mail from trusted-networks */
	int dkim_sign_authenticated;	/* sign mail of SMTP AUTH clients */
	unsigned dkim_sign_expire_days;	/* x= this many days after t=; 0: no x= */
	enum conf_action on_dkim_sign_error; /* accept (unsigned, warned) or tempfail */
	/* the body's content (content.h); over a bound is skipped and counted */
	int content_scan;	  /* walk the MIME tree at all */
	size_t content_max_bytes; /* MIME header fields and body kept for the parse */
	size_t content_max_text;  /* decoded text (and rawbody) kept */
	unsigned content_max_parts, content_max_depth, content_max_urls;
	/* URL block lists (issue 19) */
	unsigned uribl_max_domains; /* registrable domains asked per message */
	/* ARC (RFC 8617, issue 18) */
	char **arc_trusted_sealers; /* ARC-Seal d= whose recorded results may override DMARC */
	enum conf_action on_arc_temperror; /* such an override could not be checked (DNS) */
	struct conf_lines arc_seal; /* DOMAIN SELECTOR [KEYFILE], at most one line */
	/* issue 19, memory (content.h) */
	char *content_spool_dir; /* bodies past CONTENT_SPILL_BYTES; NULL: state_dir; "none" */
	size_t content_spool_memory; /* of those bodies, bytes past it kept in memory (all
					messages); 0: all to files */
};

/* Where bodies past CONTENT_SPILL_BYTES wait: content-spool-dir, else the
 * state directory; NULL for "none" (in memory). */
const char *conf_content_spool_dir(const struct conf *cfg);
/* The store location the configuration means: `history`, or the SQLite
 * file in the state directory; NULL when history is off.  malloc'd. */
char *conf_history_location(const struct conf *cfg);

struct conf *conf_load(const char *path, int must_exist, char **error_r);
/* Parse from memory; `name` is used in error messages. */
struct conf *conf_parse(const char *name, const char *text, char **error_r);
void conf_free(struct conf **confp);

int conf_is_trusted(const struct conf *cfg, const struct addr *client);
int cidr_list_contains(const struct cidr_list *l, const struct addr *a);
/* Is domain, or a parent of it, in the NULL-terminated list? */
int conf_domain_listed(char *const *list, const char *domain);
const char *conf_action_name(enum conf_action a);
/* The name of the i-th key of the table (0-based); NULL past the last.
 * tests: milter/conf_doc_test holds doc/authscore.conf.5 to it. */
const char *conf_key_name(size_t i);
/* Its one line of help (the same indexing). */
const char *conf_key_help(size_t i);
/* One line per key, in table order: name, default ("-": none), help. */
void conf_print_keys(FILE *out);

#endif

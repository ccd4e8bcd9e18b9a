/*
 * report_run - build, check and deliver one period's reports (see
 * report_run.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"
#include "mem.h"
#include "report_mail.h"
#include "report_rua.h"
#include "report_run.h"

static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0;

	for (char *s = p + 1; rc == 0; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) < 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* Written whole under a temporary name, then renamed: never half a file. */
static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", dir, name), *tmp = xasprintf("%s.tmp", path);
	FILE *f;
	int rc = -1;

	if (mkdir_p(dir) == 0 && (f = fopen(tmp, "w")) != NULL) {
		int ok = fwrite(data, 1, len, f) == len;

		if (fclose(f) == 0 && ok && rename(tmp, path) == 0)
			rc = 0;
		else
			unlink(tmp);
	}
	if (rc < 0)
		log_err("report: cannot write %s: %s", path, strerror(errno));
	free(path);
	free(tmp);
	return rc;
}

/* The usable destinations of d's rua=, each refusal logged. *tempfail_r
 * is set when one could not be verified for now. */
static size_t destinations(const struct report_run_options *o, const char *domain, const char *rua,
			   size_t gz_len, struct arena *a, const char **to, int *tempfail_r)
{
	struct report_rua r[REPORT_RUA_MAX];
	size_t n = report_rua_parse(rua, a, r, REPORT_RUA_MAX), count = 0;

	*tempfail_r = 0;
	for (size_t i = 0; i < n; i++) {
		int dup = 0;

		if (r[i].error != NULL) {
			log_notice("report %s: rua %s skipped: %s", domain, r[i].uri, r[i].error);
			continue;
		}
		for (size_t j = 0; j < count; j++)
			dup |= strcasecmp(to[j], r[i].address) == 0;
		if (dup)
			continue;
		if (report_rua_suppressed(o->suppress, r[i].address)) {
			log_info("report %s: %s skipped: suppressed (report-suppress)", domain,
				 r[i].address);
			continue;
		}
		if (r[i].max_size > 0 && gz_len > r[i].max_size) {
			log_notice("report %s: %s skipped: the report (%zu bytes) is over its "
				   "!size limit of %" PRIu64 " bytes",
				   domain, r[i].address, gz_len, r[i].max_size);
			continue;
		}
		if (report_rua_external(domain, r[i].domain)) {
			enum report_auth auth =
			    o->dns != NULL ? report_rua_authorized(o->dns, domain, r[i].domain,
								   o->dns_timeout_ms)
					   : REPORT_AUTH_TEMPFAIL;

			if (auth == REPORT_AUTH_NO) {
				log_notice("report %s: %s skipped: external destination not "
					   "authorised (no v=DMARC1 at %s._report._dmarc.%s)",
					   domain, r[i].address, domain, r[i].domain);
				continue;
			}
			if (auth == REPORT_AUTH_TEMPFAIL) {
				log_warn("report %s: %s skipped for now: %s._report._dmarc.%s "
					 "could not be looked up",
					 domain, r[i].address, domain, r[i].domain);
				*tempfail_r = 1;
				continue;
			}
		}
		to[count++] = r[i].address;
	}
	return count;
}

static int run_domain(const struct report_run_options *o, const struct report_domain *d,
		      struct report_run_stats *st)
{
	const char *domain = d->policy.domain, *to[REPORT_RUA_MAX];
	int64_t last = o->end - 1; /* date_range and file names are inclusive */
	char *id = report_mail_id(o->receiver, domain, o->begin, last);
	char *file = report_mail_filename(o->receiver, domain, o->begin, last, id), *error = NULL;
	struct report_meta meta = {
	    .org_name = o->org_name,
	    .email = o->email,
	    .report_id = id,
	    .begin = o->begin,
	    .end = last,
	    .generator = o->generator,
	};
	struct buf xml = {0}, gz = {0}, msg = {0};
	struct arena *a = arena_new(4096);
	size_t count, stem = strlen(file) - 3; /* without ".gz" */
	int tempfail, rc = 0;

	if (o->ledger != NULL && o->ledger->sent(o->ledger->arg, domain, o->begin, o->end) > 0) {
		if (o->dry_run_dir == NULL) {
			log_info("report %s: already sent for this period (%s)", domain, id);
			st->already_sent++;
			goto out;
		}
		log_info("report %s: already sent for this period; dry run writes it again",
			 domain);
	}
	if (report_xml_build(&meta, d, &xml, &error) < 0) {
		log_err("report %s: %s", domain, error);
		st->failed++;
		rc = 1;
		goto out;
	}
	if (report_xml_validate(o->schema, xml.data, xml.len, &error) < 0) {
		char *name = xasprintf("%.*s", (int)stem, file);

		log_err("report %s: not sent: the report does not validate against the RFC 9990 "
			"schema: %s; kept as %s/%s",
			domain, error, o->failed_dir ? o->failed_dir : "(nowhere)", name);
		if (o->failed_dir != NULL)
			write_file(o->failed_dir, name, xml.data, xml.len);
		free(name);
		st->invalid++;
		rc = 1;
		goto out;
	}
	if (report_mail_gzip(xml.data, xml.len, &gz) < 0) {
		log_err("report %s: cannot compress the report", domain);
		st->failed++;
		rc = 1;
		goto out;
	}
	count = destinations(o, domain, d->policy.rua, gz.len, a, to, &tempfail);
	if (count == 0) {
		if (tempfail) {
			rc = 1;
			st->failed++;
		} else {
			log_notice("report %s: no usable destination in rua=%s", domain,
				   d->policy.rua ? d->policy.rua : "(none)");
			st->no_destination++;
		}
		goto out;
	}
	{
		struct report_mail m = {
		    .from = o->email,
		    .org_name = o->org_name,
		    .to = to,
		    .to_count = count,
		    .receiver = o->receiver,
		    .domain = domain,
		    .report_id = id,
		    .filename = file,
		    .begin = o->begin,
		    .end = last,
		    .date = o->now,
		    .gz = gz.data,
		    .gz_len = gz.len,
		};
		if (report_mail_compose(&m, &msg) < 0) {
			log_err("report %s: the message is too large", domain);
			st->failed++;
			rc = 1;
			goto out;
		}
	}
	if (o->dry_run_dir != NULL) {
		char *eml = xasprintf("%.*s.eml", (int)(stem - 4), file); /* without ".xml" */

		if (write_file(o->dry_run_dir, file, gz.data, gz.len) < 0 ||
		    write_file(o->dry_run_dir, eml, msg.data, msg.len) < 0) {
			st->failed++;
			rc = 1;
		} else {
			log_notice("report %s: dry run: %s/%s (%zu rows, %" PRIu64
				   " messages) for %zu destination(s)",
				   domain, o->dry_run_dir, file, d->row_count, d->messages, count);
			st->written++;
		}
		free(eml);
		goto out;
	}
	if (o->sender->send(o->sender->arg, o->email, to, count, msg.data, msg.len, &error) < 0) {
		log_err("report %s: not sent: %s", domain, error);
		st->failed++;
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		log_notice("report %s: sent %s to %s (%zu rows, %" PRIu64 " messages)", domain, id,
			   to[i], d->row_count, d->messages);
	st->sent++;
	if (o->ledger != NULL &&
	    o->ledger->mark(o->ledger->arg, domain, o->begin, o->end, id, &error) < 0) {
		/* sent but unrecorded: a re-run resends it with the same report_id,
		 * which consumers de-duplicate */
		log_err("report %s: sent, but not recorded as sent: %s", domain, error);
		rc = 1;
	}
	if (tempfail)
		rc = 1;
out:
	free(error);
	free(id);
	free(file);
	buf_release(&xml);
	buf_release(&gz);
	buf_release(&msg);
	arena_free(&a);
	return rc;
}

int report_run(const struct report_run_options *o, struct report_agg *agg,
	       struct report_run_stats *stats)
{
	size_t n = report_agg_domain_count(agg);
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	for (size_t i = 0; i < n; i++) {
		const struct report_domain *d = report_agg_domain(agg, i);

		if (o->only_domain != NULL && strcasecmp(o->only_domain, d->policy.domain) != 0)
			continue;
		stats->domains++;
		if (d->policy.rua == NULL || d->policy.rua[0] == '\0') {
			log_debug("report %s: no rua=, nothing to send", d->policy.domain);
			stats->no_destination++;
			continue;
		}
		rc |= run_domain(o, d, stats);
	}
	return rc;
}

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

/* One domain's report on its way, from the XML to the mail; run_domain()
 * frees it whichever step ended it. */
struct job {
	const struct report_run_options *o;
	const struct report_domain *d;
	const char *domain;
	int64_t last; /* date_range and file names are inclusive */
	char *id, *file, *error;
	size_t stem; /* the file name without ".gz" */
	struct buf xml, gz, msg;
	struct arena *a;
	const char *to[REPORT_RUA_MAX];
	size_t count; /* of to */
	int tempfail; /* a destination could not be verified for now */
};

/* The XML, checked against the schema (kept in failed_dir when it is not
 * valid), then compressed; 0, or 1 counted and logged. */
static int job_build(struct job *j, struct report_run_stats *st)
{
	const struct report_run_options *o = j->o;
	struct report_meta meta = {
	    .org_name = o->org_name,
	    .email = o->email,
	    .report_id = j->id,
	    .begin = o->begin,
	    .end = j->last,
	    .generator = o->generator,
	};

	if (report_xml_build(&meta, j->d, &j->xml, &j->error) < 0) {
		log_err("report %s: %s", j->domain, j->error);
		st->failed++;
		return 1;
	}
	if (report_xml_validate(o->schema, j->xml.data, j->xml.len, &j->error) < 0) {
		char *name = xasprintf("%.*s", (int)j->stem, j->file);

		log_err("report %s: not sent: the report does not validate against the RFC 9990 "
			"schema: %s; kept as %s/%s",
			j->domain, j->error, o->failed_dir ? o->failed_dir : "(nowhere)", name);
		if (o->failed_dir != NULL)
			write_file(o->failed_dir, name, j->xml.data, j->xml.len);
		free(name);
		st->invalid++;
		return 1;
	}
	if (report_mail_gzip(j->xml.data, j->xml.len, &j->gz) < 0) {
		log_err("report %s: cannot compress the report", j->domain);
		st->failed++;
		return 1;
	}
	return 0;
}

/* The mail to j->to with the report attached; 0, or 1 counted and logged. */
static int job_compose(struct job *j, struct report_run_stats *st)
{
	const struct report_run_options *o = j->o;
	struct report_mail m = {
	    .from = o->email,
	    .org_name = o->org_name,
	    .to = j->to,
	    .to_count = j->count,
	    .receiver = o->receiver,
	    .domain = j->domain,
	    .report_id = j->id,
	    .filename = j->file,
	    .begin = o->begin,
	    .end = j->last,
	    .date = o->now,
	    .gz = j->gz.data,
	    .gz_len = j->gz.len,
	};

	if (report_mail_compose(&m, &j->msg) < 0) {
		log_err("report %s: the message is too large", j->domain);
		st->failed++;
		return 1;
	}
	return 0;
}

/* A dry run: the report and its mail written to dry_run_dir. */
static int job_write(struct job *j, struct report_run_stats *st)
{
	const struct report_run_options *o = j->o;
	char *eml = xasprintf("%.*s.eml", (int)(j->stem - 4), j->file); /* without ".xml" */
	int rc = 0;

	if (write_file(o->dry_run_dir, j->file, j->gz.data, j->gz.len) < 0 ||
	    write_file(o->dry_run_dir, eml, j->msg.data, j->msg.len) < 0) {
		st->failed++;
		rc = 1;
	} else {
		log_notice("report %s: dry run: %s/%s (%zu rows, %" PRIu64
			   " messages) for %zu destination(s)",
			   j->domain, o->dry_run_dir, j->file, j->d->row_count, j->d->messages,
			   j->count);
		st->written++;
	}
	free(eml);
	return rc;
}

/* The mail sent, then marked sent in the ledger. */
static int job_send(struct job *j, struct report_run_stats *st)
{
	const struct report_run_options *o = j->o;
	int rc = 0;

	if (o->sender->send(o->sender->arg, o->email, j->to, j->count, j->msg.data, j->msg.len,
			    &j->error) < 0) {
		log_err("report %s: not sent: %s", j->domain, j->error);
		st->failed++;
		return 1;
	}
	for (size_t i = 0; i < j->count; i++)
		log_notice("report %s: sent %s to %s (%zu rows, %" PRIu64 " messages)", j->domain,
			   j->id, j->to[i], j->d->row_count, j->d->messages);
	st->sent++;
	if (o->ledger != NULL &&
	    o->ledger->mark(o->ledger->arg, j->domain, o->begin, o->end, j->id, &j->error) < 0) {
		/* sent but unrecorded: a re-run resends it with the same report_id,
		 * which consumers de-duplicate */
		log_err("report %s: sent, but not recorded as sent: %s", j->domain, j->error);
		rc = 1;
	}
	if (j->tempfail)
		rc = 1;
	return rc;
}

/* 1 when the ledger has the period sent and this is not a dry run (which
 * writes it again). */
static int job_already_sent(const struct job *j, struct report_run_stats *st)
{
	const struct report_run_options *o = j->o;

	if (o->ledger == NULL || o->ledger->sent(o->ledger->arg, j->domain, o->begin, o->end) <= 0)
		return 0;
	if (o->dry_run_dir == NULL) {
		log_info("report %s: already sent for this period (%s)", j->domain, j->id);
		st->already_sent++;
		return 1;
	}
	log_info("report %s: already sent for this period; dry run writes it again", j->domain);
	return 0;
}

static int run_domain(const struct report_run_options *o, const struct report_domain *d,
		      struct report_run_stats *st)
{
	struct job j = {.o = o, .d = d, .domain = d->policy.domain, .last = o->end - 1};
	int rc = 0;

	j.id = report_mail_id(o->receiver, j.domain, o->begin, j.last);
	j.file = report_mail_filename(o->receiver, j.domain, o->begin, j.last, j.id);
	j.stem = strlen(j.file) - 3;
	j.a = arena_new(4096);
	if (job_already_sent(&j, st) || (rc = job_build(&j, st)) != 0)
		goto out;
	j.count = destinations(o, j.domain, d->policy.rua, j.gz.len, j.a, j.to, &j.tempfail);
	if (j.count == 0) {
		if (j.tempfail) {
			rc = 1;
			st->failed++;
		} else {
			log_notice("report %s: no usable destination in rua=%s", j.domain,
				   d->policy.rua ? d->policy.rua : "(none)");
			st->no_destination++;
		}
		goto out;
	}
	if ((rc = job_compose(&j, st)) != 0)
		goto out;
	rc = o->dry_run_dir != NULL ? job_write(&j, st) : job_send(&j, st);
out:
	free(j.error);
	free(j.id);
	free(j.file);
	buf_release(&j.xml);
	buf_release(&j.gz);
	buf_release(&j.msg);
	arena_free(&j.a);
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

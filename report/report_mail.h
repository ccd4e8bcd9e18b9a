/*
 * report_mail - a report's identity, file name, gzip member and e-mail.
 *
 * report_mail_id() is a stable report_id: a hash of receiver, policy
 * domain and period, so a re-run gives the same id and consumers that
 * de-duplicate on org + report_id (parsedmarc) drop a resend.
 * report_mail_filename() follows RFC 9990's
 * `receiver!policy-domain!begin!end!id.xml.gz`.  report_mail_gzip() makes
 * one real gzip member (zlib, mtime 0: same input, same bytes).
 * report_mail_compose() writes the message: multipart/mixed with a text
 * part and the application/gzip attachment in base64, the Subject of RFC
 * 9990's ABNF ("Report Domain: D Submitter: R Report-ID: <id>"; Submitter
 * is a domain-name there: our receiver domain, not the org name), and
 * Auto-Submitted: auto-generated so vacation responders stay quiet.
 * Lines end in LF (sendmail(1) and the SMTP client convert).
 * Pure functions; thread-safe.  Returned strings are malloc'd.
 */
#ifndef AUTHSCORE_REPORT_MAIL_H
#define AUTHSCORE_REPORT_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define REPORT_MAIL_MAX (512u * 1024 * 1024)

char *report_mail_id(const char *receiver, const char *domain, int64_t begin, int64_t end);
/* Characters other than [A-Za-z0-9.-_] in receiver/domain become '_'. */
char *report_mail_filename(const char *receiver, const char *domain, int64_t begin, int64_t end,
			   const char *id);
/* 0, or -1 (zlib error or over out's cap). out is initialised here. */
int report_mail_gzip(const void *data, size_t len, struct buf *out);
/* base64 in lines of 76 characters, each ended by LF. */
int report_mail_base64(const void *data, size_t len, struct buf *out);

struct report_mail {
	const char *from;      /* envelope and header address */
	const char *org_name;  /* display name of From, may be NULL */
	const char *const *to; /* count addresses */
	size_t to_count;
	const char *receiver; /* our domain: Submitter and Message-ID */
	const char *domain;   /* the policy domain */
	const char *report_id;
	const char *filename;
	int64_t begin, end; /* the period, end inclusive */
	int64_t date;	    /* the Date: field */
	const void *gz;
	size_t gz_len;
};
/* 0, or -1 when the message would exceed REPORT_MAIL_MAX.  out is
 * initialised here. */
int report_mail_compose(const struct report_mail *m, struct buf *out);

#endif

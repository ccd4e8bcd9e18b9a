/*
 * report_mail - report id, file name, gzip and MIME message (see
 * report_mail.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "mem.h"
#include "report_mail.h"

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

char *report_mail_id(const char *receiver, const char *domain, int64_t begin, int64_t end)
{
	char *in = xasprintf("%s!%s!%" PRId64 "!%" PRId64, receiver, domain, begin, end);
	/* two FNV-1a passes with different offsets: 128 bits, stable
	 * everywhere (no seed, no endianness), not a secret */
	uint64_t a = fnv1a(0xcbf29ce484222325ULL, in), b = fnv1a(0x84222325cbf29ce4ULL, in);
	char *id = xasprintf("%016" PRIx64 "%016" PRIx64, a, b);

	free(in);
	return id;
}

static char *token(const char *s)
{
	char *t = xstrdup(s != NULL && *s != '\0' ? s : "_");

	for (char *p = t; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	return t;
}

char *report_mail_filename(const char *receiver, const char *domain, int64_t begin, int64_t end,
			   const char *id)
{
	char *r = token(receiver), *d = token(domain), *i = token(id);
	char *name = xasprintf("%s!%s!%" PRId64 "!%" PRId64 "!%s.xml.gz", r, d, begin, end, i);

	free(r);
	free(d);
	free(i);
	return name;
}

int report_mail_gzip(const void *data, size_t len, struct buf *out)
{
	unsigned char chunk[65536];
	z_stream z;
	int rc;

	buf_init(out, REPORT_MAIL_MAX);
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952) with mtime 0 */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)data;
	do {
		size_t give = len > UINT32_MAX ? UINT32_MAX : len;

		z.avail_in = (uInt)give;
		len -= give;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = deflate(&z, len == 0 ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR ||
			    buf_append(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
				deflateEnd(&z);
				buf_release(out);
				return -1;
			}
		} while (z.avail_out == 0);
	} while (len > 0);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

int report_mail_base64(const void *data, size_t len, struct buf *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char line[78];
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		line[n++] = abc[(v >> 18) & 63];
		line[n++] = abc[(v >> 12) & 63];
		line[n++] = left > 1 ? abc[(v >> 6) & 63] : '=';
		line[n++] = left > 2 ? abc[v & 63] : '=';
		if (n == 76 || i + 3 >= len) {
			line[n++] = '\n';
			if (buf_append(out, line, n) < 0)
				return -1;
			n = 0;
		}
	}
	return 0;
}

/* For header fields: printable ASCII only, so nothing can fold or inject. */
static char *header_safe(const char *s)
{
	char *t = xstrdup(s != NULL ? s : "");

	for (char *p = t; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
	return t;
}

/* "Org" <addr>, or the bare address when the name is not plain ASCII. */
static void put_from(struct buf *out, const char *org, const char *from)
{
	char *addr = header_safe(from);
	int plain = org != NULL && *org != '\0';

	for (const char *p = org; plain && *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			plain = 0;
	if (plain) {
		buf_puts(out, "From: \"");
		for (const char *p = org; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_puts(out, "\\");
			buf_append(out, p, 1);
		}
		buf_printf(out, "\" <%s>\n", addr);
	} else {
		buf_printf(out, "From: %s\n", addr);
	}
	free(addr);
}

static void utc(char *dst, size_t size, const char *fmt, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(dst, size, fmt, &tm);
}

int report_mail_compose(const struct report_mail *m, struct buf *out)
{
	char *domain = header_safe(m->domain), *receiver = header_safe(m->receiver);
	char *id = header_safe(m->report_id), *file = header_safe(m->filename);
	char date[64], begin[32], end[32];

	buf_init(out, REPORT_MAIL_MAX);
	put_from(out, m->org_name, m->from);
	buf_puts(out, "To: ");
	for (size_t i = 0; i < m->to_count; i++) {
		char *to = header_safe(m->to[i]);

		buf_printf(out, "%s%s", i > 0 ? ",\n " : "", to);
		free(to);
	}
	utc(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", m->date);
	utc(begin, sizeof(begin), "%Y-%m-%d %H:%M:%S", m->begin);
	utc(end, sizeof(end), "%Y-%m-%d %H:%M:%S", m->end);
	buf_printf(out,
		   "\nSubject: Report Domain: %s Submitter: %s Report-ID: <%s>\n"
		   "Date: %s\n"
		   "Message-ID: <%s.%s@%s>\n"
		   "MIME-Version: 1.0\n"
		   "Auto-Submitted: auto-generated\n"
		   "Content-Type: multipart/mixed; boundary=\"=_authscore_%s\"\n"
		   "\n"
		   "This is a MIME-formatted message.\n"
		   "\n"
		   "--=_authscore_%s\n"
		   "Content-Type: text/plain; charset=us-ascii\n"
		   "Content-Transfer-Encoding: 7bit\n"
		   "\n"
		   "This is a DMARC aggregate report (RFC 9990) from %s\n"
		   "for %s, covering %s to %s UTC.\n"
		   "Report-ID: %s\n"
		   "\n"
		   "--=_authscore_%s\n"
		   "Content-Type: application/gzip; name=\"%s\"\n"
		   "Content-Disposition: attachment; filename=\"%s\"\n"
		   "Content-Transfer-Encoding: base64\n"
		   "\n",
		   domain, receiver, id, date, id, domain, receiver, id, id, receiver, domain,
		   begin, end, id, id, file, file);
	report_mail_base64(m->gz, m->gz_len, out);
	buf_printf(out, "\n--=_authscore_%s--\n", id);
	free(domain);
	free(receiver);
	free(id);
	free(file);
	if (out->overflow) {
		buf_release(out);
		return -1;
	}
	return 0;
}

/*
 * content - the MIME walk (see content.h).
 *
 * Why GMime 3: it is the MIME library Debian's mail programs are built on
 * (Balsa, notmuch...), kept for two decades, and does in one place what a
 * filter must not get wrong by itself: a parser that recovers from broken
 * boundaries and unterminated parts (and stops at 1024 levels of nesting),
 * base64 and quoted-printable decoding tolerant of noise, RFC 2047 and
 * RFC 2231 file names, and charset conversion over iconv with the aliases
 * mail uses (ks_c_5601-1987, x-sjis...).  It stays behind this file:
 * nothing else sees a GLib type.
 *
 * Why parse once at the end: GMime's parser pulls from a stream, which a
 * milter cannot hand it as the body arrives without a thread per message.
 * The MIME header fields and the body are appended, as they come, to one
 * buffer capped at max_bytes (the body beyond is only counted, and the
 * prefix is what is scanned); at end of message a memory stream over that
 * buffer is parsed with stream persistence, so part contents are not
 * copied again: a 7bit/8bit part is read where it lies, a base64 or
 * quoted-printable one decoded once, in one step, and cleaned to UTF-8
 * in place (part_decode, to_utf8).  A message of one part whose fields
 * leave no doubt is not given to the parser at all: its three fields are
 * parsed by GMime alone and its body decoded where it lies (walk_single;
 * fuzz_content holds the two paths to the same facts).  The buffer is the
 * memory a message costs (at most max_bytes, a few MB, and only for as
 * long as the message); the rawbody of the facts points into it, and the
 * decoded text is one growing buffer, so nothing is copied twice.
 *
 * Why a spool file: between its first body chunk and its end of message
 * a message only waits, and a busy MX has hundreds waiting.  Past
 * spill_bytes what is kept goes to an unlinked file (content_spool.c) as
 * it comes, and is read back in one read when its end of message has a
 * scan slot: held, a large message costs a descriptor and page cache, and
 * only the messages being scanned or finishing hold their bodies.  The
 * slots (one per CPU) bound both the walks and the bodies read back.  But
 * the file costs every such message kernel time when few are in flight:
 * so past spill_bytes a scan stays in memory while the process-wide pool
 * (content_pool.c, spill_pool_bytes) has room, and only the scans that
 * find it full spill.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "content.h"
#include "content_int.h"
#include "content_pool.h"
#include "json.h"
#include "log.h"

#define FILENAME_MAX_BYTES  255
#define ARCHIVE_MEMBERS_MAX 1000 /* names read from one archive's directory */

struct content_scan {
	struct arena *a;
	struct content_limits lim;
	GByteArray *kept;  /* MIME header fields, a blank line, the body; after
			      the scan, the rawbody of the facts points into it;
			      NULL once spilled */
	int fd;		   /* the spool file holding them instead, or -1 */
	int spool_failed;  /* the file could not be made or written: no more kept */
	size_t len;	   /* bytes kept, in kept or in the file */
	char *text;	   /* the decoded text of the facts (g_malloc'd) */
	size_t body_start; /* where the body begins in what is kept; 0: header not ended */
	size_t dropped;	   /* bytes past max_bytes */
	size_t pooled;	   /* of the pool (content_pool.h): bytes kept past spill_bytes */
	/* the fields that shape a single part, for walk_single (NULL: none) */
	const char *type, *encoding, *disposition;
	int fields_odd; /* a field twice, or one GMime might read otherwise */
};

/* The walk's state at end of message. */
struct walk {
	struct content_scan *c;
	struct content_facts *out;
	struct content_part *parts;
	size_t parts_size;
	struct content_text text;
	struct content_urls *urls;
	unsigned plain_parts, html_parts;
	unsigned archive_depth; /* of the archive whose members are being listed */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Scans finishing at once: one per CPU, at least 2.  The walk is CPU-bound,
 * and libmilter runs every connection's end of message on its own thread:
 * 70 walks at once on 2 CPUs take no less time than 2 at a time, but hold
 * 35 times the memory (parser trees, decoded parts). */
static sem_t scan_slots;

static void init_libraries(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	g_mime_init();
	content_url_init();
	if (sem_init(&scan_slots, 0, cpus > 2 ? (unsigned)cpus : 2) < 0)
		log_panic("content: sem_init: %s", strerror(errno));
}

void content_init(void)
{
	pthread_once(&init_once, init_libraries);
}

struct content_scan *content_scan_new(struct arena *a, const struct content_limits *limits)
{
	struct content_scan *c = arena_alloc(a, sizeof(*c));

	content_init();
	c->a = a;
	c->lim = *limits;
	if (limits->spool_dir != NULL && limits->spill_bytes > 0)
		c->lim.spool_dir = arena_strdup(a, limits->spool_dir);
	else
		c->lim.spill_bytes = 0;
	c->fd = -1;
	return c;
}

/* Something went wrong with the spool file: what is kept is scanned, the
 * rest only counted (memory stays bounded by spill_bytes); said once. */
static void spool_failed(struct content_scan *c, const char *what, int err)
{
	c->spool_failed = 1;
	log_warn("content: cannot %s a spool file in %s (%s): only the %zu bytes kept so far are "
		 "scanned",
		 what, c->lim.spool_dir, strerror(err), c->len);
}

/* What is kept so far goes to a new spool file, and the memory is freed. */
static void spill(struct content_scan *c)
{
	int fd = content_spool_open(c->lim.spool_dir);

	if (fd < 0) {
		spool_failed(c, "make", errno);
		return;
	}
	if (c->kept != NULL && content_spool_write(fd, c->kept->data, c->kept->len) < 0) {
		int err = errno;

		close(fd);
		spool_failed(c, "write", err);
		return;
	}
	if (c->kept != NULL)
		g_byte_array_unref(c->kept);
	c->kept = NULL;
	c->fd = fd;
	content_pool_give(c->pooled); /* (not when it failed: kept is still held) */
	c->pooled = 0;
}

/* Can len more bytes stay in memory past spill_bytes?  Takes the part of
 * them past spill_bytes from the pool, or nothing. */
static int pool_keep(struct content_scan *c, size_t len)
{
	size_t past = c->len + len - c->lim.spill_bytes; /* > 0: c->len + len > spill_bytes */

	if (!content_pool_take(past - c->pooled, c->lim.spill_pool_bytes))
		return 0;
	c->pooled = past;
	return 1;
}

static void keep(struct content_scan *c, const void *data, size_t len)
{
	size_t room = c->lim.max_bytes > c->len ? c->lim.max_bytes - c->len : 0;

	if (len > room) {
		c->dropped += len - room;
		len = room;
	}
	if (len == 0)
		return;
	if (c->fd < 0 && !c->spool_failed && c->lim.spill_bytes > 0 &&
	    c->len + len > c->lim.spill_bytes && !pool_keep(c, len))
		spill(c);
	if (c->spool_failed) {
		c->dropped += len;
		return;
	}
	if (c->fd >= 0) {
		if (content_spool_write(c->fd, data, len) < 0) {
			spool_failed(c, "write", errno);
			c->dropped += len; /* a partial write lies past len: never read */
			return;
		}
	} else {
		if (c->kept == NULL)
			c->kept = g_byte_array_sized_new(4096);
		g_byte_array_append(c->kept, data, (guint)len);
	}
	c->len += len;
}

/* Is this field's text read by GMime's parser as one field of this name,
 * its value as it is?  A name of letters, digits and '-', and a value of
 * printable ASCII on one line with no blank at its end: the parser
 * converts an 8-bit value to UTF-8, unfolds a folded one and drops the
 * blanks at its end before it parses it (fuzz_content found each). */
static int field_plain(const char *name, const char *value)
{
	size_t n = strlen(value);

	for (const char *p = name; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)value[i] < ' ' || (unsigned char)value[i] >= 0x7f)
			return 0;
	return n == 0 || value[n - 1] != ' ';
}

/* The three fields a single part's description comes from, once each. */
static void note_field(struct content_scan *c, const char *name, const char *value)
{
	const char **slot = NULL;

	if (!field_plain(name, value))
		c->fields_odd = 1;
	if (strcasecmp(name, "Content-Type") == 0)
		slot = &c->type;
	else if (strcasecmp(name, "Content-Transfer-Encoding") == 0)
		slot = &c->encoding;
	else if (strcasecmp(name, "Content-Disposition") == 0)
		slot = &c->disposition;
	if (slot != NULL && *slot != NULL)
		c->fields_odd = 1;
	else if (slot != NULL)
		*slot = arena_strdup(c->a, value);
}

/* Only the fields that shape the MIME tree are kept: the parse needs no
 * others, and they cost memory. */
void content_scan_header(struct content_scan *c, const char *name, const char *value)
{
	if (c == NULL || c->body_start > 0 ||
	    (strncasecmp(name, "Content-", 8) != 0 && strcasecmp(name, "MIME-Version") != 0))
		return;
	keep(c, name, strlen(name));
	keep(c, ":", 1);
	keep(c, value, strlen(value));
	keep(c, "\r\n", 2);
	note_field(c, name, value);
}

static void end_header(struct content_scan *c)
{
	if (c->body_start > 0)
		return;
	keep(c, "\r\n", 2);
	c->body_start = c->len;
}

void content_scan_body(struct content_scan *c, const unsigned char *data, size_t len)
{
	if (c == NULL)
		return;
	end_header(c);
	keep(c, data, len);
}

size_t content_scan_dropped(const struct content_scan *c)
{
	return c != NULL ? c->dropped : 0;
}

void content_scan_free(struct content_scan **cp)
{
	if (*cp == NULL)
		return;
	if ((*cp)->kept != NULL)
		g_byte_array_unref((*cp)->kept);
	(*cp)->kept = NULL;
	if ((*cp)->fd >= 0)
		close((*cp)->fd); /* aborted before its end of message */
	(*cp)->fd = -1;
	content_pool_give((*cp)->pooled);
	(*cp)->pooled = 0;
	g_free((*cp)->text);
	(*cp)->text = NULL;
	*cp = NULL;
}

/* ---------------------------------------------------------- text sink */

/* Room for n more bytes and a NUL, n within the cap. */
static void text_grow(struct content_text *t, size_t n)
{
	size_t size = t->size ? t->size : 4096;

	if (t->len + n + 1 <= t->size)
		return;
	while (size < t->len + n + 1)
		size *= 2;
	if (size > t->cap + 1) /* n fits the cap: len + n + 1 <= cap + 1 */
		size = t->cap + 1;
	t->data = g_realloc(t->data, size);
	t->size = size;
}

char *content_text_room(struct content_text *t, size_t n)
{
	if (n > t->cap - t->len)
		return NULL;
	text_grow(t, n);
	return t->data + t->len;
}

void content_text_append(struct content_text *t, const char *s, size_t n)
{
	size_t room = t->cap - t->len;

	if (n > room) {
		size_t cut = room;

		/* back to a character boundary */
		while (cut > 0 && cut < n && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
		t->skipped += n - cut;
		n = cut;
	}
	if (n == 0)
		return;
	text_grow(t, n);
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

/* ------------------------------------------------------------- decoding */

/* How many of s's first n bytes are plain ASCII: 0x01-0x7f but "\r",
 * which utf8_clean copies as they are; copied to out as they are read
 * when out is not NULL (out <= s, as in utf8_write: a word is read before
 * its bytes are written, and no write reaches a byte not yet read).
 * Eight at a time: nearly all of a part is such bytes. */
static size_t ascii_copy(char *out, const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u,
		       crs = 0x0d0d0d0d0d0d0d0du;
	size_t i = 0;
	uint64_t w, x;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		x = w ^ crs; /* a zero byte where w has a CR */
		/* a byte with its high bit set, a NUL or a CR ends the run */
		if (((w | ((w - ones) & ~w) | ((x - ones) & ~x)) & highs) != 0)
			break;
		if (out != NULL)
			memcpy(out + i, &w, 8);
	}
	for (; i < n && (unsigned char)s[i] - 1u < 0x7fu && s[i] != '\r'; i++)
		if (out != NULL)
			out[i] = s[i];
	return i;
}

static size_t ascii_run(const char *s, size_t n)
{
	return ascii_copy(NULL, s, n);
}

static int utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, len; i < n; i += len) {
		if ((unsigned char)s[i] - 1u < 0x7fu) { /* ASCII but NUL: the common case */
			len = 1 + ascii_run(s + i + 1, n - i - 1);
			continue;
		}
		if ((len = json_utf8_len((const unsigned char *)s + i, n - i)) == 0 || s[i] == '\0')
			return 0;
	}
	return 1;
}

/* How many of s's first n bytes are ASCII (NUL and CR too). */
static size_t seven_bit_run(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080u)
			break;
	}
	while (i < n && (unsigned char)s[i] < 0x80)
		i++;
	return i;
}

/* How many bytes of s are not part of a UTF-8 character. */
static size_t utf8_bad(const char *s, size_t n)
{
	size_t bad = 0;

	for (size_t i = 0, len; i < n; i += len)
		if ((unsigned char)s[i] < 0x80)
			len = 1 + seven_bit_run(s + i + 1, n - i - 1);
		else if ((len = json_utf8_len((const unsigned char *)s + i, n - i)) == 0)
			bad++, len = 1;
	return bad;
}

/* s's n bytes written to out as utf8_clean describes; out may be s when
 * s has no bad byte (nothing then gets longer); returns the length. */
static size_t utf8_write(char *out, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0, len; i < n; i += len) {
		unsigned char c = (unsigned char)s[i];

		if (c - 1u < 0x7fu && c != '\r') {
			len = ascii_copy(out + o, s + i, n - i);
			o += len;
		} else if ((len = json_utf8_len((const unsigned char *)s + i, n - i)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			len = 1;
		} else if (c == '\0')
			out[o++] = ' ';
		else if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		else {
			memmove(out + o, s + i, len);
			o += len;
		}
	}
	out[o] = '\0';
	return o;
}

/* utf8_write() of a text with nothing to replace (valid UTF-8, no NUL),
 * where it only makes each CR LF one LF: a line at a time with memchr and
 * memmove instead of a test of every byte.  out may be s. */
static size_t crlf_squeeze(char *out, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *cr;
	char *o = out;

	while ((cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		/* the run, and the CR unless an LF follows it */
		size_t keep = (size_t)(cr - p) + !(cr + 1 < end && cr[1] == '\n');

		memmove(o, p, keep);
		o += keep;
		p = cr + 1;
	}
	memmove(o, p, (size_t)(end - p));
	o += end - p;
	*o = '\0';
	return (size_t)(o - out);
}

/* Tests only: 0 sends every text through utf8_write (content_int.h). */
static int squeeze_ok = 1;

void content_text_fast(int on)
{
	squeeze_ok = on;
}

/* utf8_write(out, s, n) for a text with bad bytes bad. */
static size_t clean_write(char *out, const char *s, size_t n, size_t bad)
{
	return bad == 0 && squeeze_ok && memchr(s, '\0', n) == NULL ? crlf_squeeze(out, s, n)
								    : utf8_write(out, s, n);
}

/* s as valid UTF-8: a byte that is not part of a character becomes
 * U+FFFD, a NUL a blank, CRLF one "\n" (as the rules' patterns expect).
 * In the arena, or g_malloc'd when a is NULL (a part's text, needed only
 * while it is read).  Only U+FFFD makes it longer than s.  Runs of plain
 * ASCII are counted and copied whole. */
static char *utf8_clean(struct arena *a, const char *s, size_t n, size_t *len_r)
{
	size_t bad = utf8_bad(s, n), size = n + 1 + 2 * bad;
	char *out = a != NULL ? arena_alloc(a, size) : g_malloc(size);

	*len_r = clean_write(out, s, n, bad);
	return out;
}

/* The same for a g_malloc'd s of at least n + 1 bytes that the caller
 * gives up: cleaned where it is when nothing gets longer (the common
 * case: no second copy of a part), else copied and freed. */
static char *utf8_clean_owned(char *s, size_t n, size_t *len_r)
{
	char *out;

	if (utf8_bad(s, n) == 0) {
		*len_r = clean_write(s, s, n, 0);
		return s;
	}
	out = utf8_clean(NULL, s, n, len_r);
	g_free(s);
	return out;
}

static int is_utf8_name(const char *charset)
{
	return strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0 ||
	       strcasecmp(charset, "us-ascii") == 0 || strcasecmp(charset, "ascii") == 0;
}

/* utf8_clean of s, or in place when owned (s itself, given up). */
static char *clean_given(const char *s, size_t n, char *owned, size_t *len_r)
{
	return owned != NULL ? utf8_clean_owned(owned, n, len_r) : utf8_clean(NULL, s, n, len_r);
}

/* A text part's bytes as UTF-8, g_malloc'd.  Without a charset, or with
 * one iconv does not know, 8-bit text is taken as windows-1252 (what
 * undeclared mail mostly is, and a superset of ISO-8859-1's printables).
 * owned: s itself when the caller gives s up (g_malloc'd, n + 1 bytes at
 * least), which may then be returned cleaned in place; else NULL. */
static char *to_utf8(const char *s, size_t n, const char *charset, char *owned, size_t *len_r)
{
	const char *from = charset;
	iconv_t cd;
	char *conv, *out;

	if (from == NULL || is_utf8_name(from)) {
		if ((from != NULL && strcasecmp(from, "us-ascii") != 0 &&
		     strcasecmp(from, "ascii") != 0) ||
		    utf8_valid(s, n))
			return clean_given(s, n, owned, len_r);
		from = "windows-1252";
	}
	cd = g_mime_iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		cd = g_mime_iconv_open("UTF-8", "windows-1252");
	if (cd == (iconv_t)-1)
		return clean_given(s, n, owned, len_r);
	conv = g_mime_iconv_strndup(cd, s, n);
	g_mime_iconv_close(cd);
	if (conv == NULL)
		return clean_given(s, n, owned, len_r);
	out = utf8_clean_owned(conv, strlen(conv), len_r);
	g_free(owned);
	return out;
}

/* A part's content, transfer encoding undone. */
struct part_bytes {
	const unsigned char *data;
	size_t len;
	void *owned;	     /* g_free'd after the part: decoded bytes, or NULL */
	GMimeStream *stream; /* unref'd after the part, or NULL */
};

/* Where the part's content lies in kept, if its stream is the parser's
 * view of that buffer (the parse persists the stream): 0 and *start_r,
 * *len_r; -1 otherwise.  GMime's stream positions are those of the buffer
 * it reads. */
static int part_in_kept(const struct content_scan *c, GMimeStream *stream, size_t *start_r,
			size_t *len_r)
{
	gint64 start, len;

	if (stream == NULL || !GMIME_IS_STREAM_MEM(stream) ||
	    g_mime_stream_mem_get_byte_array((GMimeStreamMem *)stream) != c->kept ||
	    g_mime_stream_reset(stream) < 0 || (start = g_mime_stream_tell(stream)) < 0 ||
	    (len = g_mime_stream_length(stream)) < 0 || (guint64)start > c->kept->len ||
	    (guint64)len > c->kept->len - (guint64)start)
		return -1;
	*start_r = (size_t)start;
	*len_r = (size_t)len;
	return 0;
}

/* Content in kept, transfer encoding undone in one step: 0, or -1 for an
 * encoding this does not do (uuencode). */
/* GMime's quoted-printable decoder copies every byte but "=" as it is
 * (RFC 2045 6.7, rule 2) and decodes from each "=" on.  Its byte-at-a-time
 * loop was ~10 instructions a byte, the scan's largest cost on an HTML
 * newsletter; here the runs between escapes go by memchr and memcpy, and
 * GMime still decodes every escape: 3 bytes at a time from each "=" (an
 * escape's length), its state carried from call to call, until it is back
 * in its copying state.  The bytes are those of one g_mime_encoding_step
 * over all of it (content_test and fuzz_content compare them). */
size_t content_qp_decode(const char *in, size_t len, char *out)
{
	const char *p = in, *end = in + len;
	GMimeEncoding state;
	size_t o = 0;

	g_mime_encoding_init_decode(&state, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	while (p < end) {
		size_t k;

		if (state.state == 0) { /* copying */
			const char *eq = memchr(p, '=', (size_t)(end - p));
			size_t run = (size_t)((eq != NULL ? eq : end) - p);

			memcpy(out + o, p, run);
			o += run;
			p += run;
			if (eq == NULL)
				break;
		}
		k = end - p < 3 ? (size_t)(end - p) : 3;
		o += g_mime_encoding_step(&state, p, k, out + o);
		p += k;
	}
	return o;
}

static int decode_kept(GMimeContentEncoding enc, const unsigned char *in, size_t len,
		       struct part_bytes *b)
{
	GMimeEncoding state;

	switch (enc) {
	case GMIME_CONTENT_ENCODING_DEFAULT:
	case GMIME_CONTENT_ENCODING_7BIT:
	case GMIME_CONTENT_ENCODING_8BIT:
	case GMIME_CONTENT_ENCODING_BINARY:
		b->data = in;
		b->len = len;
		return 0;
	case GMIME_CONTENT_ENCODING_BASE64:
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		g_mime_encoding_init_decode(&state, enc);
		b->owned = g_malloc(g_mime_encoding_outlen(&state, len) + 1);
		b->len = enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
			     ? content_qp_decode((const char *)in, len, b->owned)
			     : g_mime_encoding_step(&state, (const char *)in, len, b->owned);
		b->data = b->owned;
		return 0;
	default:
		return -1;
	}
}

/* The part's content, transfer encoding undone; -1 if none.  Unencoded
 * content (7bit, 8bit, binary) is read where it lies in kept, and base64
 * and quoted-printable are decoded from there in one step into a buffer
 * of the size GMime asks for: no stream, filter or growing copy per part,
 * and the same bytes as g_mime_data_wrapper_write_to_stream (whose decode
 * filter runs the same steps a chunk at a time), which is still what
 * anything else (uuencode, a part not in kept) goes through. */
static int part_decode(const struct content_scan *c, GMimePart *part, struct part_bytes *b)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeContentEncoding enc;
	size_t start, len;

	memset(b, 0, sizeof(*b));
	if (content == NULL)
		return -1;
	enc = g_mime_data_wrapper_get_encoding(content);
	if (part_in_kept(c, g_mime_data_wrapper_get_stream(content), &start, &len) == 0 &&
	    decode_kept(enc, c->kept->data + start, len, b) == 0)
		return 0;
	b->stream = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(content, b->stream) < 0) {
		g_object_unref(b->stream);
		b->stream = NULL;
		return -1;
	}
	b->data = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)b->stream)->data;
	b->len = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)b->stream)->len;
	return 0;
}

static const char *lower_dup(struct arena *a, const char *s, size_t max)
{
	char *out = arena_strndup(a, s, strnlen(s, max));

	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* A file name as the seam wants it: valid UTF-8, at most 255 bytes. */
static const char *name_clean(struct arena *a, const char *s, size_t n)
{
	size_t len;

	if (n > FILENAME_MAX_BYTES) {
		n = FILENAME_MAX_BYTES;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return utf8_clean(a, s, n, &len);
}

/* ------------------------------------------------------------- the walk */

/* A new part in the list (the caller has checked max_parts), which grows
 * by doubling: most messages have a few. */
static struct content_part *part_new(struct walk *w)
{
	if (w->out->part_count == w->parts_size) {
		size_t size = w->parts_size ? w->parts_size * 2 : 4;
		struct content_part *grown = arena_alloc(w->c->a, size * sizeof(*grown));

		if (w->out->part_count > 0)
			memcpy(grown, w->parts, w->out->part_count * sizeof(*grown));
		w->parts = grown;
		w->parts_size = size;
	}
	return &w->parts[w->out->part_count++];
}

/* A part as its header fields describe it (ct never NULL). */
static void describe(struct walk *w, GMimeContentType *ct, GMimeContentDisposition *disp,
		     GMimeContentEncoding enc, const char *filename, unsigned depth,
		     struct content_part *p)
{
	char *type = g_mime_content_type_get_mime_type(ct);
	const char *charset = g_mime_content_type_get_parameter(ct, "charset");

	p->type = lower_dup(w->c->a, type != NULL ? type : "text/plain", 255);
	g_free(type);
	p->charset = charset != NULL ? lower_dup(w->c->a, charset, 64) : NULL;
	p->encoding = enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT
			  ? NULL
			  : lower_dup(w->c->a, g_mime_content_encoding_to_string(enc), 32);
	if (filename != NULL && filename[0] != '\0')
		p->filename = name_clean(w->c->a, filename, strlen(filename));
	p->depth = depth;
	p->attachment =
	    p->filename != NULL || (disp != NULL && g_mime_content_disposition_is_attachment(disp));
}

static void part_describe(struct walk *w, GMimePart *part, unsigned depth, struct content_part *p)
{
	GMimeObject *o = (GMimeObject *)part;

	describe(w, g_mime_object_get_content_type(o), g_mime_object_get_content_disposition(o),
		 g_mime_part_get_content_encoding(part), g_mime_part_get_filename(part), depth, p);
}

static int archive_member(void *ctx, const char *name, size_t len, uint64_t size)
{
	struct walk *w = ctx;
	struct content_part *p;

	if (w->out->part_count >= w->c->lim.max_parts) {
		w->out->skipped_parts++;
		return 0;
	}
	p = part_new(w);
	p->type = "application/octet-stream";
	p->filename = name_clean(w->c->a, name, len);
	p->size = (size_t)size;
	p->depth = w->archive_depth + 1;
	p->attachment = 1;
	p->in_archive = 1;
	if (content_name_executable(p->filename))
		w->out->archive_executable = 1;
	if (content_name_double_extension(p->filename))
		w->out->double_extension = 1;
	return 0;
}

/* (Takes over bytes->owned.) */
static void part_text(struct walk *w, const struct content_part *p, struct part_bytes *bytes)
{
	int html = strcmp(p->type, "text/html") == 0;
	struct content_text *t = &w->text;
	size_t room = t->cap - t->len, n = bytes->len, len;
	char *text;

	if (!p->attachment)
		html ? w->html_parts++ : w->plain_parts++;
	/* No more is converted than can fit, whatever the charset's ratio
	 * (HTML is reduced after: markup is most of it, so it gets more). */
	if (n > (html ? 16 : 4) * room + 64) {
		t->skipped += n - ((html ? 16 : 4) * room + 64);
		n = (html ? 16 : 4) * room + 64;
	}
	text = to_utf8((const char *)bytes->data, n, p->charset,
		       bytes->owned != NULL && bytes->data == bytes->owned ? bytes->owned : NULL,
		       &len);
	if (bytes->data == bytes->owned)
		bytes->owned = NULL; /* to_utf8's now, returned or freed */
	bytes->data = NULL;
	if (t->len > 0 && t->data[t->len - 1] != '\n')
		content_text_append(t, "\n", 1);
	if (html)
		content_html_reduce(text, len, t, w->urls);
	else {
		size_t start = t->len;

		content_text_append(t, text, len);
		if (t->len > start)
			content_urls_scan_text(w->urls, t->data + start, t->len - start);
	}
	g_free(text);
}

/* A leaf part's content, decoded: its size, sniffed type, archive members
 * and text. */
static void leaf_content(struct walk *w, struct content_part *p, struct part_bytes *bytes,
			 unsigned depth)
{
	struct part_bytes b = *bytes;

	p->size = b.len;
	if (p->attachment || strncmp(p->type, "text/", 5) != 0)
		p->sniffed = content_sniff(b.data, b.len);
	w->archive_depth = depth;
	if (p->sniffed != NULL && strcmp(p->sniffed, "application/zip") == 0)
		content_zip_names(b.data, b.len, ARCHIVE_MEMBERS_MAX, archive_member, w);
	if (strcmp(p->type, "text/plain") == 0 || strcmp(p->type, "text/html") == 0)
		part_text(w, p, &b);
	g_free(b.owned);
	if (b.stream != NULL)
		g_object_unref(b.stream);
}

static void walk_leaf(struct walk *w, GMimePart *part, unsigned depth)
{
	struct content_part *p;
	struct part_bytes bytes;

	if (w->out->part_count >= w->c->lim.max_parts) {
		w->out->skipped_parts++;
		return;
	}
	p = part_new(w);
	part_describe(w, part, depth, p);
	if (p->filename != NULL && content_name_double_extension(p->filename))
		w->out->double_extension = 1;
	if (part_decode(w->c, part, &bytes) < 0)
		return;
	leaf_content(w, p, &bytes, depth);
}

static void walk_object(struct walk *w, GMimeObject *o, unsigned depth)
{
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = (GMimeMultipart *)o;
		int n = g_mime_multipart_get_count(mp);

		if (depth + 1 > w->c->lim.max_depth) {
			w->out->skipped_parts += (size_t)(n > 0 ? n : 0);
			return;
		}
		for (int i = 0; i < n; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *msg = g_mime_message_part_get_message((GMimeMessagePart *)o);
		GMimeObject *body = msg != NULL ? g_mime_message_get_mime_part(msg) : NULL;

		if (body != NULL && depth + 1 > w->c->lim.max_depth)
			w->out->skipped_parts++;
		else if (body != NULL)
			walk_object(w, body, depth + 1);
	} else if (GMIME_IS_PART(o))
		walk_leaf(w, (GMimePart *)o, depth);
}

/* content_scan_direct(): tests compare the two paths. */
static int direct = 1;

void content_scan_direct(int on)
{
	direct = on;
}

/* A message that is one part (no multipart or message type), its fields
 * once each and all kept: described from GMime's own parses of its
 * Content-Type, -Disposition and -Transfer-Encoding and decoded where it
 * lies, without the parser and the part, stream, header and wrapper
 * objects it makes (half the scan of a short text message).  1 if done;
 * 0 to leave it to the parser. */
static int walk_single(struct walk *w)
{
	struct content_scan *c = w->c;
	GMimeContentType *ct;
	GMimeContentDisposition *disp;
	GMimeContentEncoding enc;
	struct content_part *p;
	struct part_bytes bytes = {0};
	const char *filename = NULL;

	enc = c->encoding != NULL ? g_mime_content_encoding_from_string(c->encoding)
				  : GMIME_CONTENT_ENCODING_DEFAULT;
	if (!direct || c->fields_odd || c->dropped > 0 || enc == GMIME_CONTENT_ENCODING_UUENCODE ||
	    (c->type != NULL &&
	     strncasecmp(c->type + strspn(c->type, " \t"), "multipart/", 10) == 0))
		return 0; /* (a multipart's type is parsed once, by the parser) */
	ct = c->type != NULL ? g_mime_content_type_parse(NULL, c->type)
			     : g_mime_content_type_new("text", "plain");
	if (g_mime_content_type_is_type(ct, "multipart", "*") ||
	    g_mime_content_type_is_type(ct, "message", "*")) {
		g_object_unref(ct);
		return 0;
	}
	disp =
	    c->disposition != NULL ? g_mime_content_disposition_parse(NULL, c->disposition) : NULL;
	if (disp != NULL)
		filename = g_mime_content_disposition_get_parameter(disp, "filename");
	if (filename == NULL)
		filename = g_mime_content_type_get_parameter(ct, "name");
	p = part_new(w);
	describe(w, ct, disp, enc, filename, 0, p);
	if (p->filename != NULL && content_name_double_extension(p->filename))
		w->out->double_extension = 1;
	decode_kept(enc, c->kept->data + c->body_start, c->kept->len - c->body_start, &bytes);
	leaf_content(w, p, &bytes, 0);
	if (disp != NULL)
		g_object_unref(disp);
	g_object_unref(ct);
	return 1;
}

/* The body as received, for rawbody: the first max_text bytes, in place
 * (the parse is over: the byte after them may become the NUL). */
static void raw_body(struct content_scan *c, struct content_facts *out)
{
	size_t len = c->kept->len - c->body_start;

	if (len > c->lim.max_text) { /* (at max_text the NUL would be past kept) */
		len = c->lim.max_text;
		c->kept->data[c->body_start + len] = '\0';
	} else {
		g_byte_array_append(c->kept, (const guint8 *)"", 1);
		g_byte_array_set_size(c->kept, c->kept->len - 1);
	}
	out->raw = (const char *)c->kept->data + c->body_start;
	out->raw_len = len;
}

/* A spilled message back in memory for the parse, in one read, as if it
 * had been kept there (the rawbody points into it, and GMime reads parts
 * where they lie), and its file closed, so gone.  A read cut short counts
 * the rest as skipped. */
static void read_back(struct content_scan *c)
{
	size_t got;

	if (c->fd < 0) {
		if (c->kept == NULL)
			c->kept = g_byte_array_new();
		return;
	}
	c->kept = g_byte_array_sized_new((guint)c->len + 1);
	g_byte_array_set_size(c->kept, (guint)c->len);
	got = content_spool_read(c->fd, 0, c->kept->data, c->len);
	if (got < c->len) {
		log_warn("content: cannot read back a spool file in %s (%s): only its first %zu "
			 "bytes are scanned",
			 c->lim.spool_dir, strerror(errno), got);
		c->dropped += c->len - got;
		g_byte_array_set_size(c->kept, (guint)got);
		c->len = got;
		if (c->body_start > got)
			c->body_start = got;
	}
	close(c->fd);
	c->fd = -1;
}

void content_scan_finish(struct content_scan *c, struct content_facts *out)
{
	struct walk w = {.c = c, .out = out};
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeObject *top;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	end_header(c);
	out->scanned = 1;
	w.text = (struct content_text){.cap = c->lim.max_text};
	w.urls = content_urls_new(c->a, c->lim.max_urls);
	while (sem_wait(&scan_slots) < 0 && errno == EINTR)
		;
	read_back(c); /* in a slot: at most one body per CPU back in memory at once */
	out->skipped_body_bytes = c->dropped;
	if (!walk_single(&w)) {
		stream = g_mime_stream_mem_new_with_byte_array(c->kept);
		g_mime_stream_mem_set_owner((GMimeStreamMem *)stream, FALSE); /* ours: rawbody */
		parser = g_mime_parser_new_with_stream(stream);
		g_mime_parser_set_persist_stream(parser, TRUE);
		top = g_mime_parser_construct_part(parser, NULL);
		if (top != NULL) {
			walk_object(&w, top, 0);
			g_object_unref(top);
		}
		g_object_unref(parser);
		g_object_unref(stream);
	}
	raw_body(c, out);
	sem_post(&scan_slots);
	/* the text lives until the message ends, past the DNS waits of every
	 * message in its end of message: at its size, not its doubling's */
	if (w.text.data != NULL && w.text.size > w.text.len + 1)
		w.text.data = g_realloc(w.text.data, w.text.len + 1);
	c->text = w.text.data;
	out->parts = w.parts;
	out->text = w.text.data != NULL ? w.text.data : "";
	out->text_len = w.text.len;
	out->skipped_text_bytes = w.text.skipped;
	out->html_only = w.html_parts > 0 && w.plain_parts == 0;
	content_urls_finish(w.urls, out);
}

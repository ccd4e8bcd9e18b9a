/*
 * dkim - DKIM verification with libopendkim over our resolver (see dkim.h).
 *
 * libopendkim parses, canonicalizes and does the cryptography; this file
 * feeds it, fetches the keys and decides the RFC 8601 result of each
 * signature.  Flow of one message:
 *   header  "Name: value" rebuilt, bare LF made CRLF, fed to dkim_header();
 *   eoh     dkim_eoh() parses every signature (DELAYSIGPROC: no key is
 *           fetched yet); signatures past max_signatures, rsa-sha1 ones
 *           and ones with syntax errors are marked "ignore" so
 *           libopendkim never asks for their keys; the key of every other
 *           one is asked for at once with dns_start(), one query per name;
 *   body    bare LF made CRLF, fed to dkim_body();
 *   finish  dns_wait() on every key query (they run in parallel, so this
 *           is one wait, for the slowest), then dkim_eom(): libopendkim
 *           asks for each key through our dkim_dns_set_query_* hooks,
 *           which answer at once from the prefetched query, as a DNS wire
 *           reply built from the decoded answer.
 * The hooks do not see the message (libopendkim hands them only the
 * library-wide service handle), so the check being worked on is kept in a
 * thread-local pointer, set around every libopendkim call.  The resolver
 * cache is never relied on: a key with TTL 0 is still answered.
 *
 * Threads: dkim_module_init() once before threads; a dkim_check belongs to one
 * message thread.  Memory: the check and its queries are malloc'd and
 * freed by dkim_check_free(); results go to the caller's arena.
 */
#include "config.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "arena.h"
#include "buf.h"
#include "dkim.h"
#include "dkim_tags.h"
#include "dns.h"
#include "log.h"
#include "mem.h"
#include "metrics_dns.h"

/*
 * libopendkim 2.11.0~beta2 quirks seen in its source and worked around:
 * - by default it fetches keys and checks header signatures inside
 *   dkim_eoh(), one blocking query after the other: DELAYSIGPROC moves
 *   that to dkim_eom(), after our parallel prefetch;
 * - signatures with syntax errors are dropped from the signature list
 *   unless BADSIGHANDLES is set: we want a result for each;
 * - it reads a key record into a 1,025-byte buffer and silently cuts what
 *   is longer (RSA keys over ~6,000 bits): the record length is noted
 *   here and such a key is a permerror with that reason, never a pass;
 * - more than one TXT record at the selector is a "multiple replies"
 *   error (RFC 6376 §3.6.2.2 leaves it undefined): permerror;
 * - the DNS hooks get no per-message context (see above);
 * - a body not ending in CRLF makes dkim_eom() fail with "CRLF at end of
 *   body missing", where RFC 6376 §3.4.3/§3.4.4 add one: we add it;
 * - dkim_sig_geterror() mixes the signature's own errors (known at eoh)
 *   with the key's and the verification's: which is which is noted at
 *   eoh, since they map to different results;
 * - its minimum key size (DKIM_OPTS_MINKEYBITS, set to RFC 8301's 1024)
 *   only clears the pass flag: the size is reported here as `policy`;
 * - a tag repeated in a signature or a key record keeps its last value,
 *   where RFC 6376 §3.2 makes the whole tag-list invalid: dkim_tags.c
 *   finds the repeat; such a signature or key is a permerror, and neither
 *   is handed to libopendkim to verify with.
 */
#define DKIM_FEED_BUF	     8192  /* bytes handed to dkim_body() at a time */
#define DKIM_KEY_READ_MAX    1024  /* what libopendkim reads of a key record */
#define DKIM_HEADER_MAX	     65536 /* one header field, name and value */
#define DKIM_RSA_MIN_BITS    1024  /* RFC 8301 §3.2 */
#define DKIM_DEFAULT_TIMEOUT 10000 /* ms, when the parameters say 0 */
#define DKIM_REASON_MAX	     120
#define DKIM_NAME_MAX	     1024
#define DKIM_REPLY_TTL	     0
#define DKIM_TAGS_WHY_MAX    64

/* One key query: the TXT record at selector._domainkey.domain. */
struct dkim_key {
	char *name; /* as libopendkim builds it */
	struct dns_query *query;
	const struct dns_answer *answer; /* after dns_wait() */
	size_t text_len;		 /* of the first TXT record */
	char *invalid;			 /* why its tag-list is invalid (§3.2), or NULL */
};

struct dkim_check {
	DKIM *dkim; /* NULL: libopendkim refused the message */
	struct dkim_params params;
	char *queue_id;
	int eoh_done, finished;
	int nosig;	/* dkim_eoh() found no signature */
	int unusable;	/* libopendkim said the message cannot be verified */
	int body_cr;	/* the last body byte fed was CR */
	int body_open;	/* body bytes fed since the last LF */
	unsigned count; /* signatures seen at eoh */
	unsigned limit; /* of them, verified: min(count, max_signatures) */
	struct dkim_key *keys;
	size_t nkeys, keys_size;
	char **domains; /* distinct d= of the signatures verified */
	size_t ndomains;
	unsigned char *bad_syntax; /* per signature: libopendkim refused it at eoh */
	/* RFC 6376 §3.2: why the tag-list of the n-th DKIM-Signature field is
	 * invalid (NULL: it is not), for the first max_signatures fields. */
	char **sig_invalid;
	unsigned nsigfields; /* DKIM-Signature fields libopendkim took */
	int any_invalid;     /* one of them, maybe past max_signatures */
};

static DKIM_LIB *dkim_lib;
static struct dns *dkim_dns;
static __thread struct dkim_check *dkim_current;

/*
 * libopendkim's per-signature errors (dkim_sig_geterror()) to RFC 8601
 * §2.7.1 results.  Errors of the signature itself (missing or malformed
 * tags, h= without From, l= beyond the body, i= outside d=, expiry) are
 * `neutral`: "the signature or signatures contained syntax errors or were
 * not otherwise able to be processed" (RFC 6376 §6.1.1 calls them
 * PERMFAIL; RFC 8601 gives them this word).  Errors of the key record --
 * none, revoked, unparseable, unknown k= or h=, not for e-mail -- are
 * `permerror`: the signer's DNS is wrong and "a later attempt is unlikely
 * to produce a final result" (RFC 6376 §6.1.2, RFC 8601 §2.7.1).  A key
 * lookup that failed is `temperror` (RFC 6376 §6.1.2 TEMPFAIL).
 */
static const struct {
	int error;
	enum dkim_result result;
	const char *reason; /* NULL: libopendkim's own words */
} dkim_error_map[] = {
    {DKIM_SIGERROR_NOKEY, DKIM_PERMERROR, "no key record"},
    {DKIM_SIGERROR_KEYFAIL, DKIM_TEMPERROR, "key lookup failed"},
    {DKIM_SIGERROR_DNSSYNTAX, DKIM_PERMERROR, "key record syntax error"},
    {DKIM_SIGERROR_MULTIREPLY, DKIM_PERMERROR, "more than one key record"},
    {DKIM_SIGERROR_KEYREVOKED, DKIM_PERMERROR, "key revoked (empty p=)"},
    {DKIM_SIGERROR_KEYDECODE, DKIM_PERMERROR, "key could not be decoded"},
    {DKIM_SIGERROR_KEYVERSION, DKIM_PERMERROR, "unknown key version"},
    {DKIM_SIGERROR_KEYUNKNOWNHASH, DKIM_PERMERROR, "unknown hash in key h="},
    {DKIM_SIGERROR_KEYHASHMISMATCH, DKIM_PERMERROR, "key h= does not allow this hash"},
    {DKIM_SIGERROR_NOTEMAILKEY, DKIM_PERMERROR, "key not for e-mail"},
    {DKIM_SIGERROR_KEYTYPEMISSING, DKIM_PERMERROR, "key type missing"},
    {DKIM_SIGERROR_KEYTYPEUNKNOWN, DKIM_PERMERROR, "unknown key type (k=)"},
    {DKIM_SIGERROR_BADSIG, DKIM_FAIL, "signature did not verify"},
};

/* ---- the resolver hooks ---- */

static struct dkim_key *dkim_key_find(struct dkim_check *c, const char *name)
{
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcasecmp(c->keys[i].name, name) == 0)
			return &c->keys[i];
	return NULL;
}

static struct dkim_key *dkim_key_start(struct dkim_check *c, const char *name)
{
	struct dkim_key *k = dkim_key_find(c, name);

	if (k != NULL)
		return k;
	if (c->nkeys == c->keys_size) {
		c->keys_size = c->keys_size ? c->keys_size * 2 : 4;
		c->keys = xrealloc(c->keys, c->keys_size * sizeof(*c->keys));
	}
	k = &c->keys[c->nkeys++];
	memset(k, 0, sizeof(*k));
	k->name = xstrdup(name);
	k->query = dns_start(dkim_dns, name, DNS_T_TXT, c->params.lookup_timeout_ms);
	return k;
}

static const struct dns_answer *dkim_key_wait(struct dkim_key *k)
{
	if (k->answer == NULL) {
		k->answer = dns_wait(k->query);
		metrics_dns(METRICS_DNS_DKIM, NULL, k->answer->status, k->answer->timed_out);
		if (k->answer->status == DNS_OK && k->answer->count > 0) {
			char why[DKIM_TAGS_WHY_MAX];
			const char *bad = dkim_tags_problem(k->answer->rr[0].u.text,
							    k->answer->rr[0].len, why, sizeof(why));

			k->text_len = k->answer->rr[0].len;
			k->invalid = bad != NULL ? xstrdup(bad) : NULL;
		}
	}
	return k->answer;
}

/* Append the wire form of name (RFC 1035 §3.1); -1 if it is not a DNS
 * name, which cannot come from DNS either. */
static int dkim_wire_name(unsigned char *p, size_t room, const char *name, size_t *len_r)
{
	size_t n = 0;
	const char *label = name;

	if (*name == '\0' || strlen(name) > 253)
		return -1;
	for (;;) {
		const char *dot = strchr(label, '.');
		size_t ll = dot ? (size_t)(dot - label) : strlen(label);

		if (ll == 0 && dot == NULL)
			break; /* a final dot */
		if (ll == 0 || ll > 63 || n + 1 + ll >= room)
			return -1;
		p[n++] = (unsigned char)ll;
		memcpy(p + n, label, ll);
		n += ll;
		if (dot == NULL)
			break;
		label = dot + 1;
	}
	if (n + 1 > room)
		return -1;
	p[n++] = 0;
	*len_r = n;
	return 0;
}

static void dkim_put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void dkim_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/*
 * The reply libopendkim parses (dkim-keys.c): a header with the rcode, one
 * question (it checks only type and class), then the TXT answers, each
 * one's text cut into character-strings of at most 255 octets (RFC 1035
 * §3.3.14).  NXDOMAIN is rcode 3, NODATA no answer.  Text that does not
 * fit in buf is cut: libopendkim reads only DKIM_KEY_READ_MAX of it, and
 * such a key is judged by its length (dkim_sig_result).  Returns the
 * length, 0 if buf is too small even for the header and question.
 */
static size_t dkim_wire_reply(unsigned char *buf, size_t size, const char *name,
			      const struct dns_answer *ans)
{
	size_t n = 12, qlen;
	unsigned ancount = 0;

	if (size < 12 + 1 + 4)
		return 0;
	memset(buf, 0, 12);
	buf[2] = 0x81; /* QR, RD */
	buf[3] = 0x80 | (ans->status == DNS_NXDOMAIN ? 3 : 0);
	dkim_put16(buf + 4, 1);
	if (dkim_wire_name(buf + n, size - n - 4, name, &qlen) < 0) {
		buf[n] = 0; /* the root: the name is only echoed */
		qlen = 1;
	}
	n += qlen;
	dkim_put16(buf + n, DNS_T_TXT);
	dkim_put16(buf + n + 2, 1); /* IN */
	n += 4;
	for (size_t i = 0; ans->status == DNS_OK && i < ans->count; i++) {
		const unsigned char *text = (const unsigned char *)ans->rr[i].u.text;
		size_t len = ans->rr[i].len, rdlen = 0, rdstart;

		if (n + 12 + 1 > size)
			break;
		dkim_put16(buf + n, 0xc00c); /* the question's name */
		dkim_put16(buf + n + 2, DNS_T_TXT);
		dkim_put16(buf + n + 4, 1);
		dkim_put32(buf + n + 6, DKIM_REPLY_TTL);
		rdstart = n + 12;
		n = rdstart;
		do {
			size_t chunk = len > 255 ? 255 : len;

			if (n + 1 + chunk > size)
				chunk = size - n - 1;
			buf[n++] = (unsigned char)chunk;
			if (chunk > 0)
				memcpy(buf + n, text, chunk);
			n += chunk;
			rdlen += 1 + chunk;
			text += chunk;
			len -= chunk;
		} while (len > 0 && n + 1 < size && rdlen + 256 <= 0xffff);
		dkim_put16(buf + rdstart - 2, (unsigned)rdlen);
		ancount++;
	}
	dkim_put16(buf + 6, ancount);
	return n;
}

struct dkim_hook_query {
	struct dkim_check *check;
	size_t key; /* index: c->keys may move */
	unsigned char *buf;
	size_t size;
};

static int dkim_hook_start(void *service, int type, unsigned char *query, unsigned char *buf,
			   size_t buflen, void **qh)
{
	struct dkim_check *c = dkim_current;
	struct dkim_hook_query *hq;

	(void)service;
	if (c == NULL || type != DNS_T_TXT || query == NULL)
		return -1; /* libopendkim: DKIM_STAT_KEYFAIL */
	hq = xcalloc(1, sizeof(*hq));
	/* Normally prefetched at eoh; a name libopendkim asks for that was
	 * not (none is known) is started now. */
	hq->check = c;
	hq->key = (size_t)(dkim_key_start(c, (const char *)query) - c->keys);
	hq->buf = buf;
	hq->size = buflen;
	*qh = hq;
	return 0;
}

static int dkim_hook_cancel(void *service, void *qh)
{
	(void)service;
	free(qh);
	return 0;
}

static int dkim_hook_waitreply(void *service, void *qh, struct timeval *timeout, size_t *bytes,
			       int *error, int *dnssec)
{
	struct dkim_hook_query *hq = qh;
	static const struct dns_answer no_key = {.status = DNS_NODATA};
	struct dkim_key *key = &hq->check->keys[hq->key];
	const struct dns_answer *ans;
	size_t len;

	(void)service;
	(void)timeout; /* our deadline is the query's */
	ans = dkim_key_wait(key);
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = ans->secure ? DKIM_DNSSEC_SECURE : DKIM_DNSSEC_INSECURE;
	/* A temporary failure must never read as "no key": report a
	 * transport error, which libopendkim turns into KEYFAIL. */
	if (ans->status == DNS_TEMPFAIL)
		return ans->timed_out ? DKIM_DNS_EXPIRED : DKIM_DNS_ERROR;
	/* An invalid key record (RFC 6376 §3.2) is no key: libopendkim
	 * gets an empty answer; dkim_sig_result() says why. */
	if (key->invalid != NULL)
		ans = &no_key;
	len = dkim_wire_reply(hq->buf, hq->size, key->name, ans);
	if (len == 0)
		return DKIM_DNS_ERROR;
	if (bytes != NULL)
		*bytes = len;
	return DKIM_DNS_SUCCESS;
}

/* ---- set-up ---- */

int dkim_module_init(struct dns *dns, char **error_r)
{
	u_int flags = DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_BADSIGHANDLES;
	u_int minbits = DKIM_RSA_MIN_BITS;

	if (dkim_lib != NULL)
		log_panic("dkim_module_init() called twice");
	dkim_lib = dkim_init(NULL, NULL);
	if (dkim_lib == NULL) {
		*error_r = xstrdup("libopendkim: dkim_init() failed");
		return -1;
	}
	if (!dkim_libfeature(dkim_lib, DKIM_FEATURE_SHA256) ||
	    !dkim_libfeature(dkim_lib, DKIM_FEATURE_ED25519)) {
		*error_r = xstrdup("libopendkim lacks sha256 or ed25519 support");
		dkim_close(dkim_lib);
		dkim_lib = NULL;
		return -1;
	}
	if (dkim_options(dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
		DKIM_STAT_OK ||
	    dkim_options(dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
			 sizeof(minbits)) != DKIM_STAT_OK) {
		*error_r = xstrdup("libopendkim: dkim_options() failed");
		dkim_close(dkim_lib);
		dkim_lib = NULL;
		return -1;
	}
	dkim_dns = dns;
	/* Our resolver needs no init or close from libopendkim; its default
	 * close would be handed our struct dns. */
	(void)dkim_dns_set_query_service(dkim_lib, dns);
	dkim_dns_set_init(dkim_lib, NULL);
	dkim_dns_set_close(dkim_lib, NULL);
	dkim_dns_set_query_start(dkim_lib, dkim_hook_start);
	dkim_dns_set_query_cancel(dkim_lib, dkim_hook_cancel);
	dkim_dns_set_query_waitreply(dkim_lib, dkim_hook_waitreply);
	return 0;
}

void dkim_module_deinit(void)
{
	if (dkim_lib != NULL)
		dkim_close(dkim_lib);
	dkim_lib = NULL;
	dkim_dns = NULL;
}

/* ---- one message ---- */

struct dkim_check *dkim_check_new(const struct dkim_params *p, const char *queue_id)
{
	struct dkim_check *c = xcalloc(1, sizeof(*c));
	DKIM_STAT st = DKIM_STAT_INTERNAL;

	if (dkim_lib == NULL)
		log_panic("dkim_check_new() before dkim_module_init()");
	c->params = *p;
	if (c->params.lookup_timeout_ms == 0)
		c->params.lookup_timeout_ms = DKIM_DEFAULT_TIMEOUT;
	if (c->params.min_rsa_bits < DKIM_RSA_MIN_BITS)
		c->params.min_rsa_bits = DKIM_RSA_MIN_BITS;
	c->queue_id = xstrdup(queue_id != NULL && *queue_id != '\0' ? queue_id : "-");
	c->sig_invalid = xcalloc(c->params.max_signatures + 1, sizeof(*c->sig_invalid));
	/* libopendkim keeps the id pointer: it lives in the check. */
	c->dkim = dkim_verify(dkim_lib, (const unsigned char *)c->queue_id, NULL, &st);
	if (c->dkim == NULL) {
		log_warn("%s: dkim: dkim_verify(): %s", c->queue_id, dkim_getresultstr(st));
		c->unusable = 1;
	}
	return c;
}

/* RFC 6376 §3.2 for the DKIM-Signature field libopendkim just took: its
 * place in libopendkim's signature list is the count of those before it. */
static void dkim_sig_tags(struct dkim_check *c, const char *value)
{
	char why[DKIM_TAGS_WHY_MAX];
	const char *bad = dkim_tags_problem(value, strlen(value), why, sizeof(why));

	if (bad != NULL) {
		c->any_invalid = 1;
		if (c->nsigfields < c->params.max_signatures)
			c->sig_invalid[c->nsigfields] = xstrdup(bad);
	}
	c->nsigfields++;
}

/* libopendkim wants each field as it stands in the message, without the
 * final CRLF and with CRLF inside folded values.  The milter gives the
 * value without the space after the colon (Postfix strips one unless
 * SMFIP_HDR_LEADSPC is negotiated): one space is put back, as OpenDKIM's
 * filter does.  A field that had no space, or a tab, there will not
 * verify under c=simple -- the price of what the milter protocol hands
 * us. */
void dkim_check_header(struct dkim_check *c, const char *name, const char *value)
{
	struct buf b;
	DKIM_STAT st;

	if (c == NULL || c->dkim == NULL || c->unusable || c->eoh_done)
		return;
	buf_init(&b, DKIM_HEADER_MAX);
	if (buf_puts(&b, name) < 0 || buf_puts(&b, ":") < 0)
		goto too_long;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r')) {
			if (buf_append(&b, "\r\n", 2) < 0)
				goto too_long;
		} else if (buf_append(&b, p, 1) < 0) {
			goto too_long;
		}
	}
	dkim_current = c;
	st = dkim_header(c->dkim, (unsigned char *)b.data, b.len);
	dkim_current = NULL;
	/* SYNTAX: a malformed field (libopendkim keeps a bad signature's
	 * set and reports it per signature); anything else is the end of
	 * verifying this message. */
	if (st != DKIM_STAT_OK && st != DKIM_STAT_SYNTAX) {
		log_warn("%s: dkim: dkim_header(): %s", c->queue_id, dkim_getresultstr(st));
		c->unusable = 1;
	} else if (strcasecmp(name, "DKIM-Signature") == 0) {
		dkim_sig_tags(c, value);
	}
	buf_release(&b);
	return;
too_long:
	/* Left out: a signature covering it will not verify, which is the
	 * right outcome for a field no sane signer produced. */
	log_info("%s: dkim: header field %.40s over %d bytes not fed", c->queue_id, name,
		 DKIM_HEADER_MAX);
	buf_release(&b);
}

static int dkim_sig_syntax_ok(DKIM_SIGINFO *sig)
{
	int err = dkim_sig_geterror(sig);

	return err == DKIM_SIGERROR_UNKNOWN || err == DKIM_SIGERROR_OK;
}

static int dkim_sig_is_sha1(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

	return dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK && alg == DKIM_SIGN_RSASHA1;
}

static void dkim_domain_add(struct dkim_check *c, const char *d)
{
	for (size_t i = 0; i < c->ndomains; i++)
		if (strcasecmp(c->domains[i], d) == 0)
			return;
	c->domains = xrealloc(c->domains, (c->ndomains + 1) * sizeof(*c->domains));
	c->domains[c->ndomains++] = xstrdup(d);
}

/* libopendkim lists one signature per DKIM-Signature field it took, in
 * order.  Should the counts ever differ, which signature had the invalid
 * tag-list is unknown: then none of them may pass. */
static void dkim_sig_tags_match(struct dkim_check *c)
{
	if (!c->any_invalid || c->nsigfields == c->count)
		return;
	log_info("%s: dkim: %u signature fields, %u signatures: a tag-list is invalid, "
		 "every signature is a permerror",
		 c->queue_id, c->nsigfields, c->count);
	for (unsigned i = 0; i < c->limit; i++)
		if (c->sig_invalid[i] == NULL)
			c->sig_invalid[i] = xstrdup("invalid tag-list in another signature");
}

void dkim_check_eoh(struct dkim_check *c)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	DKIM_STAT st;

	if (c == NULL || c->eoh_done)
		return;
	c->eoh_done = 1;
	if (c->dkim == NULL || c->unusable)
		return;
	dkim_current = c;
	st = dkim_eoh(c->dkim);
	dkim_current = NULL;
	if (st == DKIM_STAT_NOSIG) {
		c->nosig = 1;
		return;
	}
	if (st != DKIM_STAT_OK) {
		/* E.g. a required header missing: every signature is reported
		 * from what libopendkim says of it, if it got that far. */
		log_info("%s: dkim: dkim_eoh(): %s", c->queue_id, dkim_getresultstr(st));
	}
	if (dkim_getsiglist(c->dkim, &sigs, &nsigs) != DKIM_STAT_OK || nsigs <= 0) {
		c->unusable = st != DKIM_STAT_OK;
		c->nosig = st == DKIM_STAT_OK;
		return;
	}
	c->count = (unsigned)nsigs;
	c->limit = c->count < c->params.max_signatures ? c->count : c->params.max_signatures;
	c->bad_syntax = xcalloc(c->count, 1);
	dkim_sig_tags_match(c);
	for (int i = 0; i < nsigs; i++) {
		DKIM_SIGINFO *sig = sigs[i];
		const char *d, *s;
		char name[DKIM_NAME_MAX];

		/* Errors set by now are the signature's own (its tags);
		 * later ones come from the key or the verification. */
		c->bad_syntax[i] = !dkim_sig_syntax_ok(sig);
		/* RFC 6376 §6.1: a verifier may limit the signatures it
		 * checks; rsa-sha1 never passes (RFC 8301 §3.1), so its key
		 * is not asked for; a signature with a syntax error has no
		 * key to ask for. */
		if ((unsigned)i >= c->limit || dkim_sig_is_sha1(sig) || c->bad_syntax[i] ||
		    c->sig_invalid[i] != NULL) {
			dkim_sig_ignore(sig);
			continue;
		}
		d = (const char *)dkim_sig_getdomain(sig);
		s = (const char *)dkim_sig_getselector(sig);
		if (d == NULL || s == NULL)
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d) >= sizeof(name))
			continue; /* libopendkim refuses such a name too */
		(void)dkim_key_start(c, name);
		dkim_domain_add(c, d);
	}
}

size_t dkim_check_domains(const struct dkim_check *c, const char **out, size_t max)
{
	size_t n = 0;

	for (; c != NULL && n < c->ndomains && n < max; n++)
		out[n] = c->domains[n];
	return n;
}

/* Bare LF becomes CRLF (the milter protocol gives CRLF; this keeps a test
 * file or an odd MTA from breaking every body hash).  The runs between
 * LFs are copied whole, not a byte at a time. */
static DKIM_STAT dkim_body_out(struct dkim_check *c, unsigned char *out, size_t *n, size_t room)
{
	DKIM_STAT st = DKIM_STAT_OK;

	if (*n + room > DKIM_FEED_BUF) {
		st = dkim_body(c->dkim, out, *n);
		*n = 0;
	}
	return st;
}

static void dkim_body_feed(struct dkim_check *c, const unsigned char *data, size_t len)
{
	unsigned char out[DKIM_FEED_BUF];
	size_t n = 0, i = 0;
	DKIM_STAT st = DKIM_STAT_OK;

	dkim_current = c;
	while (i < len && st == DKIM_STAT_OK) {
		const unsigned char *nl = memchr(data + i, '\n', len - i);
		size_t run = nl != NULL ? (size_t)(nl - data) - i : len - i;

		while (run > 0 && st == DKIM_STAT_OK) {
			size_t take = run < DKIM_FEED_BUF / 2 ? run : DKIM_FEED_BUF / 2;

			if ((st = dkim_body_out(c, out, &n, take)) != DKIM_STAT_OK)
				break;
			memcpy(out + n, data + i, take);
			n += take, i += take, run -= take;
			c->body_cr = data[i - 1] == '\r';
			c->body_open = 1;
		}
		if (nl == NULL || st != DKIM_STAT_OK ||
		    (st = dkim_body_out(c, out, &n, 2)) != DKIM_STAT_OK)
			break;
		if (!c->body_cr)
			out[n++] = '\r';
		out[n++] = '\n';
		i++;
		c->body_cr = 0;
		c->body_open = 0;
	}
	if (n > 0 && st == DKIM_STAT_OK)
		st = dkim_body(c->dkim, out, n);
	dkim_current = NULL;
	if (st != DKIM_STAT_OK) {
		log_warn("%s: dkim: dkim_body(): %s", c->queue_id, dkim_getresultstr(st));
		c->unusable = 1;
	}
}

void dkim_check_body(struct dkim_check *c, const unsigned char *data, size_t len)
{
	if (c == NULL || c->dkim == NULL || c->unusable || c->nosig || !c->eoh_done || c->finished)
		return;
	dkim_body_feed(c, data, len);
}

static char *dkim_tag(struct arena *a, DKIM_SIGINFO *sig, const char *tag, size_t cap)
{
	const unsigned char *v = dkim_sig_gettagvalue(sig, 0, (unsigned char *)tag);
	size_t len;
	char *t;

	if (v == NULL)
		return NULL;
	len = strlen((const char *)v);
	t = arena_strndup(a, (const char *)v, len > cap ? cap : len);
	for (char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			*p = '?';
	return t;
}

static struct dkim_key *dkim_sig_key(struct dkim_check *c, DKIM_SIGINFO *sig)
{
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	char name[DKIM_NAME_MAX];

	if (d == NULL || s == NULL ||
	    (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d) >= sizeof(name))
		return NULL;
	return dkim_key_find(c, name);
}

/* What our own view of the key decides before libopendkim's verdict:
 * a DNS failure, no key, a key record that is invalid or too long for
 * libopendkim to read.  Returns 1 when *out is set. */
static int dkim_key_result(const struct dkim_key *key, struct arena *a, struct dkim_sig *out)
{
	if (key->answer != NULL && key->answer->status == DNS_TEMPFAIL) {
		out->result = DKIM_TEMPERROR;
		out->reason = key->answer->timed_out
				  ? "key lookup timed out"
				  : arena_printf(a, "key lookup failed: %.60s",
						 key->answer->why ? key->answer->why : "DNS error");
		return 1;
	}
	if (key->answer != NULL && key->answer->status == DNS_NXDOMAIN) {
		out->result = DKIM_PERMERROR;
		out->reason = "no key record (NXDOMAIN)";
		return 1;
	}
	if (key->invalid != NULL) {
		out->result = DKIM_PERMERROR;
		out->reason =
		    arena_printf(a, "%s in the key record (RFC 6376 section 3.2)", key->invalid);
		return 1;
	}
	if (key->text_len > DKIM_KEY_READ_MAX) {
		out->result = DKIM_PERMERROR;
		out->reason = arena_printf(a, "key record of %zu bytes, over the %d read",
					   key->text_len, DKIM_KEY_READ_MAX);
		return 1;
	}
	return 0;
}

/* The result of one verified signature, from libopendkim's verdict, our
 * key query and RFC 8301. */
static void dkim_sig_result(struct dkim_check *c, unsigned index, DKIM_SIGINFO *sig,
			    struct arena *a, struct dkim_sig *out)
{
	unsigned flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig), bh = dkim_sig_getbh(sig);
	unsigned bits = 0;
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	struct dkim_key *key;

	out->domain = dkim_tag(a, sig, "d", 253);
	out->selector = dkim_tag(a, sig, "s", 253);
	out->algorithm = dkim_tag(a, sig, "a", 32);
	out->b8 = dkim_tag(a, sig, "b", 8);
	if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK)
		out->key_bits = bits;
	(void)dkim_sig_getsignalg(sig, &alg);

	/* RFC 6376 §3.2: "the entire tag-list is invalid". */
	if (c->sig_invalid[index] != NULL) {
		out->result = DKIM_PERMERROR;
		out->reason = arena_printf(a, "%s in the signature (RFC 6376 section 3.2)",
					   c->sig_invalid[index]);
		return;
	}
	if (alg == DKIM_SIGN_RSASHA1 && !c->bad_syntax[index]) {
		out->result = DKIM_POLICY;
		out->reason = "rsa-sha1 (RFC 8301)";
		return;
	}
	if (c->bad_syntax[index]) {
		const char *why = dkim_sig_geterrorstr(err);

		out->result = DKIM_NEUTRAL;
		out->reason = arena_printf(a, "%.*s", DKIM_REASON_MAX, why ? why : "syntax error");
		return;
	}
	key = dkim_sig_key(c, sig);
	if (key != NULL && dkim_key_result(key, a, out))
		return;
	if (err == DKIM_SIGERROR_KEYTOOSMALL ||
	    (alg != DKIM_SIGN_ED25519SHA256 && out->key_bits != 0 &&
	     out->key_bits < c->params.min_rsa_bits)) {
		out->result = DKIM_POLICY;
		out->reason = arena_printf(a, "RSA key of %u bits (RFC 8301)", out->key_bits);
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH &&
	    (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN)) {
		out->result = DKIM_PASS;
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MISMATCH) {
		out->result = DKIM_FAIL;
		out->reason = "body hash mismatch";
		return;
	}
	for (size_t i = 0; i < sizeof(dkim_error_map) / sizeof(dkim_error_map[0]); i++) {
		if (dkim_error_map[i].error == err) {
			out->result = dkim_error_map[i].result;
			out->reason = dkim_error_map[i].reason;
			return;
		}
	}
	if ((flags & DKIM_SIGFLAG_PROCESSED) &&
	    (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN)) {
		out->result = DKIM_FAIL;
		out->reason =
		    bh == DKIM_SIGBH_MISMATCH ? "body hash mismatch" : "signature did not verify";
		return;
	}
	/* Not covered above: RFC 8601 §2.7.1 "neutral ... also used for
	 * other failures not covered elsewhere in this list". */
	out->result = DKIM_NEUTRAL;
	out->reason =
	    err == DKIM_SIGERROR_UNKNOWN
		? "not verified"
		: arena_printf(a, "%.*s", DKIM_REASON_MAX,
			       dkim_sig_geterrorstr(err) ? dkim_sig_geterrorstr(err) : "error");
}

void dkim_check_finish(struct dkim_check *c, struct arena *a, struct dkim_results *out)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	_Bool testkey = 0;
	DKIM_STAT st;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	if (c->finished)
		log_panic("dkim_check_finish() called twice");
	c->finished = 1;
	if (!c->eoh_done)
		dkim_check_eoh(c);
	if (c->dkim == NULL || c->nosig)
		return;
	if (c->unusable && c->count == 0) {
		/* Nothing libopendkim could say per signature: none. */
		return;
	}
	/* The one wait: the queries run in parallel since eoh. */
	for (size_t i = 0; i < c->nkeys; i++)
		(void)dkim_key_wait(&c->keys[i]);
	/* RFC 6376 §3.4.3, §3.4.4: a body not ending in CRLF is hashed
	 * with one added; libopendkim refuses it instead. */
	if (c->body_open && !c->unusable)
		dkim_body_feed(c, (const unsigned char *)"\r\n", 2);
	if (!c->unusable) {
		dkim_current = c;
		st = dkim_eom(c->dkim, &testkey);
		dkim_current = NULL;

		/* Its overall status sums up one signature; ours are per
		 * signature.  Only a broken invariant is logged. */
		if (st == DKIM_STAT_INTERNAL || st == DKIM_STAT_INVALID ||
		    st == DKIM_STAT_NORESOURCE)
			log_warn("%s: dkim: dkim_eom(): %s", c->queue_id, dkim_getresultstr(st));
	}
	if (dkim_getsiglist(c->dkim, &sigs, &nsigs) != DKIM_STAT_OK || nsigs <= 0)
		return;
	out->skipped = c->count > c->limit ? c->count - c->limit : 0;
	out->sig = arena_alloc(a, c->limit * sizeof(*out->sig) + 1);
	for (unsigned i = 0; i < c->limit && i < (unsigned)nsigs; i++) {
		dkim_sig_result(c, i, sigs[i], a, &out->sig[out->count]);
		if (c->unusable && out->sig[out->count].result == DKIM_PASS) {
			/* The body was not all fed: never a pass. */
			out->sig[out->count].result = DKIM_NEUTRAL;
			out->sig[out->count].reason = "message could not be processed";
		}
		out->count++;
	}
}

void dkim_check_free(struct dkim_check **cp)
{
	struct dkim_check *c = *cp;

	if (c == NULL)
		return;
	if (c->dkim != NULL)
		(void)dkim_free(c->dkim);
	for (size_t i = 0; i < c->nkeys; i++) {
		dns_query_free(&c->keys[i].query);
		free(c->keys[i].name);
		free(c->keys[i].invalid);
	}
	free(c->keys);
	for (size_t i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	free(c->bad_syntax);
	for (unsigned i = 0; i < c->params.max_signatures; i++)
		free(c->sig_invalid[i]);
	free(c->sig_invalid);
	free(c->queue_id);
	free(c);
	*cp = NULL;
}

/*
 * summary - the summary line (see summary.h).  One list of fields, in the
 * order of authscore-milter(8); each writer below knows both forms.  kv
 * names keep the historical text line's ("header.from", "spf.helo"), json
 * names make '.' '_'; kv writes the client as NAME[IP] and the sender as
 * <ADDR>, json has client, client_ip and from apart.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "ratelimit.h"
#include "summary.h"

/* How much of each string goes in: the first try keeps what message.c
 * keeps (RFC 5321's 998 for an address); a line over SUMMARY_MAX_LINE is
 * written again with the next, smaller caps, and says "truncated".  The
 * last caps fit whatever the bytes are (6 bytes per escaped byte). */
static const struct caps {
	size_t field, name, dkim, rules;
} caps[] = {{998, 255, SUMMARY_MAX_DKIM, SUMMARY_MAX_RULES},
	    {255, 128, 5, 32},
	    {64, 32, 3, 8},
	    {16, 16, 1, 3}};

struct line {
	struct buf *b;
	enum summary_format fmt;
	const struct caps *c;
	int more;
};

void summary_kv_value(struct buf *b, const char *s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), len;
	int bare = n > 0;

	for (size_t i = 0; i < n && bare; i += len ? len : 1) {
		len = json_utf8_len(p + i, n - i);
		if (len == 0 || p[i] <= ' ' || p[i] == '"' || p[i] == '\\' || p[i] == '=' ||
		    p[i] == 0x7f)
			bare = 0;
	}
	if (bare) {
		buf_append(b, s, n);
		return;
	}
	buf_puts(b, "\"");
	for (size_t i = 0; i < n; i += len) {
		len = json_utf8_len(p + i, n - i);
		if (p[i] == '"' || p[i] == '\\') {
			buf_printf(b, "\\%c", p[i]);
		} else if (len == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			buf_printf(b, "\\x%c%c", hex[p[i] >> 4], hex[p[i] & 0xf]);
			len = 1;
		} else {
			buf_append(b, p + i, len);
		}
	}
	buf_puts(b, "\"");
}

/* kv: " key=" (the queue id prefix ends in ':'); json: ",\"key\":".  A
 * writer that serves one form only passes NULL for the other's name. */
static void key(struct line *l, const char *kv, const char *json)
{
	if (l->fmt == SUMMARY_KV)
		buf_printf(l->b, " %s=", kv != NULL ? kv : "");
	else
		buf_printf(l->b, "%s\"%s\":", l->more ? "," : "", json != NULL ? json : "");
	l->more = 1;
}

/* A string from anywhere; absent: kv writes `none`, json null. */
static void str(struct line *l, const char *kv, const char *json, const char *s, const char *none,
		size_t max)
{
	key(l, kv, json);
	if (l->fmt == SUMMARY_JSON && s == NULL)
		buf_puts(l->b, "null");
	else if (l->fmt == SUMMARY_JSON)
		json_string(l->b, s, max);
	else
		summary_kv_value(l->b, s != NULL ? s : none, s != NULL ? max : SIZE_MAX);
}

/* A number, as is in both forms. */
static void num(struct line *l, const char *kv, const char *json, const char *text)
{
	key(l, kv, json);
	buf_puts(l->b, text);
}

/* A list item of kv's comma-separated values: a comma or colon in a name
 * (a hostile d= domain) would forge an item; domain names and rule names
 * have neither, so they become '?'. */
static void kv_item(struct buf *t, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	for (size_t i = 0; i < n; i++)
		buf_printf(t, "%c", s[i] == ',' || s[i] == ':' ? '?' : s[i]);
}

/* A rule's score as written in the rules file: 5.0, 0.25, -1.0 */
static void score_text(char *out, size_t size, double score)
{
	if (!isfinite(score)) {
		snprintf(out, size, "null");
		return;
	}
	snprintf(out, size, "%.15g", score);
	if (strpbrk(out, ".e") == NULL)
		snprintf(out + strlen(out), size - strlen(out), ".0");
}

/* kv: the temporary buffer t, built by the caller, as one value */
static void kv_flush(struct line *l, struct buf *t)
{
	summary_kv_value(l->b, buf_str(t), SIZE_MAX);
	buf_release(t);
}

/* kv "client=NAME[IP]", json "client", "client_ip" */
static void client(struct line *l, const struct facts *f)
{
	struct buf t;

	if (l->fmt == SUMMARY_JSON) {
		str(l, NULL, "client", f->client_host, NULL, l->c->name);
		str(l, NULL, "client_ip", f->client_ip, NULL, sizeof(f->client_ip));
		return;
	}
	key(l, "client", NULL);
	buf_init(&t, SUMMARY_MAX_BYTES);
	buf_printf(&t, "%.*s[%s]",
		   (int)strnlen(f->client_host ? f->client_host : "unknown", l->c->name),
		   f->client_host ? f->client_host : "unknown", f->client_ip);
	kv_flush(l, &t);
}

/* kv "from=<ADDR>", json "from" */
static void sender(struct line *l, const struct facts *f)
{
	struct buf t;

	if (l->fmt == SUMMARY_JSON) {
		str(l, NULL, "from", f->mail_from, NULL, l->c->field);
		return;
	}
	key(l, "from", NULL);
	buf_init(&t, SUMMARY_MAX_BYTES);
	buf_printf(&t, "<%.*s>", (int)strnlen(f->mail_from, l->c->field), f->mail_from);
	kv_flush(l, &t);
}

/* kv "ratelimit=ip,sender" when any; json "ratelimit":["ip","sender"] */
static void ratelimits(struct line *l, unsigned bits)
{
	int first = 1;

	if (l->fmt == SUMMARY_KV && bits == 0)
		return;
	key(l, "ratelimit", "ratelimit");
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "[" : "");
	for (int k = 0; k < RATELIMIT_KINDS; k++) {
		const char *name = ratelimit_kind_name((enum ratelimit_kind)k);

		if ((bits & RATELIMIT_BIT(k)) == 0)
			continue;
		if (l->fmt == SUMMARY_JSON)
			buf_printf(l->b, "%s\"%s\"", first ? "" : ",", name);
		else
			buf_printf(l->b, "%s%s", first ? "" : ",", name);
		first = 0;
	}
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "]" : "");
}

/* kv "dkim=RESULT:DOMAIN,..." or none; json an array of {result, domain} */
static void dkim(struct line *l, const struct facts *f)
{
	size_t n = f->dkim.count < l->c->dkim ? f->dkim.count : l->c->dkim;
	struct buf t;

	if (l->fmt == SUMMARY_JSON) {
		key(l, NULL, "dkim");
		buf_puts(l->b, "[");
		for (size_t i = 0; i < n; i++) {
			struct line sig = {.b = l->b, .fmt = SUMMARY_JSON, .c = l->c};

			buf_puts(l->b, i ? ",{" : "{");
			str(&sig, NULL, "result", dkim_result_name(f->dkim.sig[i].result), NULL,
			    l->c->name);
			str(&sig, NULL, "domain", f->dkim.sig[i].domain, NULL, l->c->name);
			buf_puts(l->b, "}");
		}
		buf_puts(l->b, "]");
		return;
	}
	key(l, "dkim", NULL);
	buf_init(&t, SUMMARY_MAX_BYTES);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&t, "%s%s:", i ? "," : "", dkim_result_name(f->dkim.sig[i].result));
		kv_item(&t, f->dkim.sig[i].domain ? f->dkim.sig[i].domain : "?", l->c->name);
	}
	if (n == 0)
		buf_puts(&t, "none");
	kv_flush(l, &t);
}

/* kv "rules=NAME:SCORE,..." ("" when none); json an array of {name, score} */
static void rules(struct line *l, const struct facts *f)
{
	size_t n = f->rules_hit_count < l->c->rules ? f->rules_hit_count : l->c->rules;
	struct buf t;
	char score[40];

	key(l, "rules", "rules");
	buf_init(&t, SUMMARY_MAX_BYTES);
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "[" : "");
	for (size_t i = 0; i < n; i++) {
		score_text(score, sizeof(score),
			   f->rules_hit_scores != NULL ? f->rules_hit_scores[i] : NAN);
		if (l->fmt == SUMMARY_JSON) {
			struct line r = {.b = l->b, .fmt = SUMMARY_JSON, .c = l->c};

			buf_puts(l->b, i ? ",{" : "{");
			str(&r, NULL, "name", f->rules_hit[i], NULL, l->c->name);
			num(&r, NULL, "score", score);
			buf_puts(l->b, "}");
		} else {
			buf_puts(&t, i ? "," : "");
			kv_item(&t, f->rules_hit[i], l->c->name);
			buf_printf(&t, ":%s", score);
		}
	}
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "]" : "");
	if (l->fmt == SUMMARY_KV)
		kv_flush(l, &t);
	else
		buf_release(&t);
}

/* kv "monitors=NAME,..." when any; json an array of names */
static void monitors(struct line *l, const struct facts *f)
{
	size_t n = f->monitors_hit_count < l->c->rules ? f->monitors_hit_count : l->c->rules;
	struct buf t;

	if (l->fmt == SUMMARY_KV && n == 0)
		return;
	key(l, "monitors", "monitors");
	buf_init(&t, SUMMARY_MAX_BYTES);
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "[" : "");
	for (size_t i = 0; i < n; i++) {
		if (l->fmt == SUMMARY_JSON) {
			buf_puts(l->b, i ? "," : "");
			json_string(l->b, f->monitors_hit[i], l->c->name);
		} else {
			buf_puts(&t, i ? "," : "");
			kv_item(&t, f->monitors_hit[i], l->c->name);
		}
	}
	buf_puts(l->b, l->fmt == SUMMARY_JSON ? "]" : "");
	if (l->fmt == SUMMARY_KV)
		kv_flush(l, &t);
	else
		buf_release(&t);
}

/* kv's "QUEUEID:" prefix: the MTA's queue id is letters and digits; any
 * other byte would let it end the prefix early, so it becomes '?'. */
static void start(struct line *l, const struct facts *f)
{
	const char *q = f->queue_id ? f->queue_id : "NOQUEUE";

	if (l->fmt == SUMMARY_JSON) {
		buf_puts(l->b, "{");
		str(l, NULL, "queue_id", f->queue_id, NULL, 64);
		return;
	}
	for (size_t i = 0; q[i] != '\0' && i < 64; i++) {
		char c = q[i];
		int plain = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z') || c == '.' || c == '-' || c == '_';

		buf_printf(l->b, "%c", plain ? c : '?');
	}
	buf_puts(l->b, ":");
}

static void finish(struct line *l, int truncated)
{
	if (truncated)
		num(l, "truncated", "truncated", l->fmt == SUMMARY_JSON ? "true" : "yes");
	if (l->fmt == SUMMARY_JSON)
		buf_puts(l->b, "}");
}

static void render(struct line *l, int truncated, const struct facts *f, const struct verdict *v,
		   size_t forged_ar, long ms)
{
	const size_t field = l->c->field, name = l->c->name;
	char n[64];

	start(l, f);
	client(l, f);
	if (f->skipped != NULL) {
		sender(l, f);
		str(l, "skipped", "skipped", f->skipped, NULL, name);
		if (f->dkim_signed != NULL)
			str(l, "dkim.signed", "dkim_signed", f->dkim_signed, NULL, field);
		if (f->dkim_sign_error != NULL)
			str(l, "dkim.sign_error", "dkim_sign_error", f->dkim_sign_error, NULL, field);
		ratelimits(l, f->ratelimit);
		str(l, "action", "action", verdict_action_name(v->action), NULL, name);
		finish(l, truncated);
		return;
	}
	str(l, "helo", "helo", f->helo, "(none)", name);
	sender(l, f);
	str(l, "header.from", "header_from", f->from_domain, "(none)", name);
	str(l, "spf", "spf", spf_result_name(f->spf_mfrom.result), NULL, name);
	str(l, "spf.helo", "spf_helo", spf_result_name(f->spf_helo.result), NULL, name);
	dkim(l, f);
	str(l, "dmarc", "dmarc", dmarc_result_name(f->dmarc.result), NULL, name);
	if (f->dmarc_record.found || l->fmt == SUMMARY_JSON)
		str(l, "policy", "policy",
		    f->dmarc_record.found ? dmarc_policy_name(f->dmarc.policy) : NULL, NULL, name);
	/* ARC and an override only when there is one: lines without stay as
	 * they were */
	if (f->arc.result != ARC_NONE)
		str(l, "arc", "arc", arc_result_name(f->arc.result), NULL, name);
	if (f->dmarc_override != NULL)
		str(l, "override", "override", f->dmarc_override, NULL, name);
	if (f->arc_override_by != NULL)
		str(l, "arc.sealer", "arc_sealer", f->arc_override_by, NULL, name);
	str(l, "iprev", "iprev", iprev_result_name(f->iprev.result), NULL, name);
	str(l, "country", "country", f->geoip.country[0] ? f->geoip.country : NULL, "-",
	    sizeof(f->geoip.country));
	snprintf(n, sizeof(n), "%u", f->geoip.asn);
	num(l, "asn", "asn", n);
	if (isfinite(f->score))
		snprintf(n, sizeof(n), "%.1f", f->score);
	else
		snprintf(n, sizeof(n), "%s", l->fmt == SUMMARY_JSON ? "null" : "nan");
	num(l, "score", "score", n);
	rules(l, f);
	monitors(l, f);
	snprintf(n, sizeof(n), "%zu", forged_ar);
	num(l, "forged_ar", "forged_ar", n);
	/* the ratelimit field where each form always had it */
	if (l->fmt == SUMMARY_JSON)
		ratelimits(l, f->ratelimit);
	str(l, "action", "action", verdict_action_name(v->action), NULL, name);
	if (v->why != NULL || l->fmt == SUMMARY_JSON)
		str(l, "reason", "reason", v->why, NULL, field);
	if (l->fmt == SUMMARY_KV)
		ratelimits(l, f->ratelimit);
	snprintf(n, sizeof(n), "%ld", ms);
	num(l, "ms", "ms", n);
	finish(l, truncated);
}

void summary_line(struct buf *b, enum summary_format format, const struct facts *f,
		  const struct verdict *v, size_t forged_ar, long ms)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct line l = {.b = b, .fmt = format, .c = &caps[i]};

		buf_reset(b); /* undo the try that did not fit */
		render(&l, i > 0, f, v, forged_ar, ms);
		if (!b->overflow && b->len <= SUMMARY_MAX_LINE)
			return;
	}
}

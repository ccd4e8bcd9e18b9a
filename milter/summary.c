/*
 * summary - the JSON summary line (see summary.h).  The fields follow the
 * text line in message.c, in its order; names are its keys with '.' made
 * '_' (header.from is header_from), client's host and address split.
 */
#include "config.h"

#include <math.h>
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
	size_t field, name, dkim;
} caps[] = {{998, 255, SUMMARY_MAX_DKIM}, {255, 128, 5}, {64, 32, 3}, {16, 16, 1}};

struct jl {
	struct buf *b;
	int more;
};

static void key(struct jl *j, const char *k)
{
	buf_printf(j->b, "%s\"%s\":", j->more ? "," : "", k);
	j->more = 1;
}

static void str(struct jl *j, const char *k, const char *s, size_t max)
{
	key(j, k);
	if (s == NULL)
		buf_puts(j->b, "null");
	else
		json_string(j->b, s, max);
}

/* "ratelimit":["ip","sender"]: the limits this message went over */
static void ratelimits(struct jl *j, unsigned bits)
{
	int first = 1;

	key(j, "ratelimit");
	buf_puts(j->b, "[");
	for (int k = 0; k < RATELIMIT_KINDS; k++) {
		if ((bits & RATELIMIT_BIT(k)) == 0)
			continue;
		buf_printf(j->b, "%s\"%s\"", first ? "" : ",",
			   ratelimit_kind_name((enum ratelimit_kind)k));
		first = 0;
	}
	buf_puts(j->b, "]");
}

static void render(struct buf *b, const struct caps *c, int truncated, const struct facts *f,
		   const struct verdict *v, size_t forged_ar, long ms)
{
	const size_t FIELD_MAX = c->field, NAME_MAX_LEN = c->name;
	struct jl j = {.b = b};

	buf_puts(b, "{");
	str(&j, "queue_id", f->queue_id, 64);
	str(&j, "client", f->client_host, NAME_MAX_LEN);
	str(&j, "client_ip", f->client_ip, sizeof(f->client_ip));
	if (f->skipped != NULL) {
		str(&j, "from", f->mail_from, FIELD_MAX);
		str(&j, "skipped", f->skipped, NAME_MAX_LEN);
		ratelimits(&j, f->ratelimit);
		str(&j, "action", verdict_action_name(v->action), NAME_MAX_LEN);
		if (truncated) {
			key(&j, "truncated");
			buf_puts(b, "true");
		}
		buf_puts(b, "}");
		return;
	}
	str(&j, "helo", f->helo, NAME_MAX_LEN);
	str(&j, "from", f->mail_from, FIELD_MAX);
	str(&j, "header_from", f->from_domain, NAME_MAX_LEN);
	str(&j, "spf", spf_result_name(f->spf_mfrom.result), NAME_MAX_LEN);
	str(&j, "spf_helo", spf_result_name(f->spf_helo.result), NAME_MAX_LEN);
	key(&j, "dkim");
	buf_puts(b, "[");
	for (size_t i = 0; i < f->dkim.count && i < c->dkim; i++) {
		struct jl sig = {.b = b};

		buf_puts(b, i ? ",{" : "{");
		str(&sig, "result", dkim_result_name(f->dkim.sig[i].result), NAME_MAX_LEN);
		str(&sig, "domain", f->dkim.sig[i].domain, NAME_MAX_LEN);
		buf_puts(b, "}");
	}
	buf_puts(b, "]");
	str(&j, "dmarc", dmarc_result_name(f->dmarc.result), NAME_MAX_LEN);
	str(&j, "policy", f->dmarc_record.found ? dmarc_policy_name(f->dmarc.policy) : NULL,
	    NAME_MAX_LEN);
	str(&j, "iprev", iprev_result_name(f->iprev.result), NAME_MAX_LEN);
	str(&j, "country", f->geoip.country[0] ? f->geoip.country : NULL, sizeof(f->geoip.country));
	key(&j, "asn");
	buf_printf(b, "%u", f->geoip.asn);
	key(&j, "score");
	if (isfinite(f->score))
		buf_printf(b, "%.1f", f->score);
	else
		buf_puts(b, "null");
	key(&j, "forged_ar");
	buf_printf(b, "%zu", forged_ar);
	ratelimits(&j, f->ratelimit);
	str(&j, "action", verdict_action_name(v->action), NAME_MAX_LEN);
	str(&j, "reason", v->why, FIELD_MAX);
	key(&j, "ms");
	buf_printf(b, "%ld", ms);
	if (truncated) {
		key(&j, "truncated");
		buf_puts(b, "true");
	}
	buf_puts(b, "}");
}

void summary_json(struct buf *b, const struct facts *f, const struct verdict *v, size_t forged_ar,
		  long ms)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		buf_reset(b); /* undo the try that did not fit */
		render(b, &caps[i], i > 0, f, v, forged_ar, ms);
		if (!b->overflow && b->len <= SUMMARY_MAX_LINE)
			return;
	}
}

/*
 * verdict - the actions of the configuration applied to the facts (see
 * verdict.h).  The SPF outcome that counts is the MAIL FROM identity's
 * (for the null sender, that is the HELO name, RFC 7208 §2.4); the HELO
 * identity's own result is recorded, never enforced on its own.
 */
#include "config.h"

#include <string.h>

#include "arc_trust.h"
#include "buf.h"
#include "verdict.h"

static void set(struct verdict *v, enum verdict_action action, const char *rcode,
		const char *xcode, const char *text, const char *why)
{
	v->action = action;
	v->rcode = rcode;
	v->xcode = xcode;
	v->text = text;
	v->why = why;
}

/* A configured action with the reply that goes with it.  `perm` and `temp`
 * are the enhanced codes to use for reject and tempfail. */
static void apply(struct verdict *v, enum conf_action action, const char *perm, const char *temp,
		  const char *text, const char *why)
{
	switch (action) {
	case ACTION_ACCEPT:
		break;
	case ACTION_TAG:
		set(v, VERDICT_TAG, NULL, NULL, text, why);
		break;
	case ACTION_QUARANTINE:
		set(v, VERDICT_QUARANTINE, NULL, NULL, text, why);
		break;
	case ACTION_TEMPFAIL:
		set(v, VERDICT_TEMPFAIL, "451", temp, text, why);
		break;
	case ACTION_REJECT:
		set(v, VERDICT_REJECT, "550", perm, text, why);
		break;
	}
}

static const char *reject_text(const struct conf *conf, const char *domain, struct arena *a)
{
	struct buf b;
	const char *t = conf->dmarc_reject_text, *out;

	buf_init(&b, 1024);
	for (const char *p; (p = strstr(t, "{domain}")) != NULL; t = p + 8) {
		buf_append(&b, t, (size_t)(p - t));
		buf_puts(&b, domain);
	}
	buf_puts(&b, t);
	out = arena_strdup(a, buf_str(&b));
	buf_release(&b);
	return out;
}

static int dkim_had(const struct facts *f, enum dkim_result r)
{
	for (size_t i = 0; i < f->dkim.count; i++)
		if (f->dkim.sig[i].result == r)
			return 1;
	return 0;
}

/* DMARC failed under an enforcing policy.  Returns 1 when it decided. */
static int dmarc_enforce(const struct conf *conf, const struct facts *f, struct arena *a,
			 struct verdict *v)
{
	const struct dmarc_outcome *d = &f->dmarc;
	const char *domain = d->header_from;

	/* A lookup that failed might have passed: answer "later", not "no". */
	if (dkim_had(f, DKIM_TEMPERROR)) {
		apply(v, conf->on_dkim_temperror, "5.7.5", "4.7.5",
		      arena_printf(a, "temporary DNS error verifying a DKIM signature; the DMARC "
				      "policy of %s cannot be applied now", domain),
		      "dkim=temperror");
		return 1;
	}
	if (f->spf_mfrom.result == SPF_TEMPERROR) {
		apply(v, conf->on_spf_temperror, "5.7.24", "4.4.3",
		      arena_printf(a, "temporary DNS error checking SPF; the DMARC policy of %s "
				      "cannot be applied now", domain),
		      "spf=temperror");
		return 1;
	}
	if (dkim_had(f, DKIM_PERMERROR) && conf->on_dkim_permerror != ACTION_ACCEPT) {
		apply(v, conf->on_dkim_permerror, "5.7.5", "4.7.5",
		      arena_printf(a, "DKIM key of a signature is unusable (DMARC policy of %s)",
				   domain),
		      "dkim=permerror");
		return 1;
	}
	if (f->dmarc_override != NULL)
		return 0;
	/* A trusted sealer's ARC set could have overridden the failure, but its
	 * keys could not be looked up: "later", never an override (RFC 8617
	 * gives temperror no verdict on the chain). */
	if (arc_trust_pending(conf->arc_trusted_sealers, &f->arc)) {
		apply(v, conf->on_arc_temperror, "5.7.5", "4.7.5",
		      arena_printf(a, "temporary DNS error verifying the ARC chain; the DMARC "
				      "policy of %s cannot be applied now", domain),
		      "arc=temperror");
		return 1;
	}
	if (d->policy == DMARC_POLICY_REJECT) {
		apply(v, conf->on_dmarc_reject, "5.7.1", "4.7.1", reject_text(conf, domain, a),
		      "dmarc=fail policy=reject");
		v->dmarc_disposition = conf->on_dmarc_reject == ACTION_REJECT ? DMARC_POLICY_REJECT
				       : conf->on_dmarc_reject == ACTION_QUARANTINE
					       ? DMARC_POLICY_QUARANTINE
					       : DMARC_POLICY_NONE;
	} else {
		apply(v, conf->on_dmarc_quarantine, "5.7.1", "4.7.1",
		      arena_printf(a, "DMARC policy of %s says quarantine", domain),
		      "dmarc=fail policy=quarantine");
		v->dmarc_disposition = conf->on_dmarc_quarantine == ACTION_QUARANTINE
					       ? DMARC_POLICY_QUARANTINE
					       : DMARC_POLICY_NONE;
	}
	return 1;
}

static void spf_actions(const struct conf *conf, const struct facts *f, struct arena *a,
			struct verdict *v)
{
	const struct spf_outcome *spf = &f->spf_mfrom;
	const char *domain = spf->domain != NULL ? spf->domain : "the sender";

	switch (spf->result) {
	case SPF_FAIL:
		/* RFC 7372 §3.2: 5.7.23 SPF validation failed.  RFC 7208 §6.2:
		 * the domain's own explanation, when it gives one, is the text
		 * (printable ASCII, capped: spf.c). */
		if (conf->on_spf_fail == ACTION_REJECT)
			set(v, VERDICT_REJECT, "550", "5.7.23",
			    spf->explanation != NULL
				? arena_printf(a, "SPF check failed: %s", spf->explanation)
				: arena_printf(a, "SPF check failed: %s does not permit this client",
					       domain),
			    "spf=fail");
		break;
	case SPF_PERMERROR:
		/* RFC 7372 §3.2: 5.7.24 SPF validation error */
		if (conf->on_spf_permerror == ACTION_REJECT)
			set(v, VERDICT_REJECT, "550", "5.7.24",
			    arena_printf(a, "SPF record of %s is invalid", domain), "spf=permerror");
		break;
	case SPF_TEMPERROR:
		/* RFC 3463: 4.4.3 directory server failure (DNS) */
		if (conf->on_spf_temperror == ACTION_TEMPFAIL)
			set(v, VERDICT_TEMPFAIL, "451", "4.4.3",
			    arena_printf(a,
					 "temporary DNS error checking SPF for %s; try again later",
					 domain),
			    "spf=temperror");
		break;
	default:
		break;
	}
}

static void protocol_decide(const struct conf *conf, const struct facts *f, struct arena *a,
			    struct verdict *v)
{
	const struct dmarc_outcome *d = &f->dmarc;

	memset(v, 0, sizeof(*v));
	set(v, VERDICT_ACCEPT, NULL, NULL, NULL, NULL);
	v->dmarc_disposition = DMARC_POLICY_NONE;
	if (f->skipped != NULL) {
		/* The rules do not run on a message whose checks are skipped (their
		 * facts would be empty): an exceeded limit is enforced here. */
		if (f->ratelimit != 0)
			set(v, VERDICT_TEMPFAIL, "451", "4.7.1",
			    "too many messages; try again later", "ratelimit");
		return;
	}
	if (f->from_error != NULL) {
		apply(v, conf->on_from_error, "5.7.1", "4.7.1",
		      arena_printf(a, "message refused: %s", f->from_error), "from-error");
		if (v->action != VERDICT_ACCEPT)
			return;
	}
	switch (d->result) {
	case DMARC_TEMPERROR:
		apply(v, conf->on_dmarc_temperror, "5.7.5", "4.7.5",
		      arena_printf(a, "temporary DNS error looking up the DMARC policy of %s; try "
				      "again later", d->header_from ? d->header_from : "the author"),
		      "dmarc=temperror");
		if (v->action != VERDICT_ACCEPT)
			return;
		break;
	case DMARC_PERMERROR:
		if (f->from_error == NULL) {
			apply(v, conf->on_dmarc_permerror, "5.7.1", "4.7.1",
			      arena_printf(a, "the DMARC policy of %s is unusable",
					   d->header_from ? d->header_from : "the author"),
			      "dmarc=permerror");
			if (v->action != VERDICT_ACCEPT)
				return;
		}
		break;
	case DMARC_FAIL:
		if ((d->policy == DMARC_POLICY_REJECT || d->policy == DMARC_POLICY_QUARANTINE) &&
		    dmarc_enforce(conf, f, a, v))
			return;
		break;
	case DMARC_PASS:
		return; /* the author's domain vouches for it: SPF alone does not overrule */
	case DMARC_NONE:
		break;
	}
	spf_actions(conf, f, a, v);
}

/* How bad an action is, to take the more severe of two. */
static int severity(enum verdict_action a)
{
	static const int rank[] = {
		[VERDICT_ACCEPT] = 0,	  [VERDICT_TAG] = 1,	  [VERDICT_QUARANTINE] = 2,
		[VERDICT_TEMPFAIL] = 3, [VERDICT_REJECT] = 4, [VERDICT_DISCARD] = 4,
	};
	return rank[a];
}

static void rules_decide(const struct rules_verdict *rv, struct arena *a, struct verdict *r)
{
	const char *why = rv->forced_by != NULL
				  ? arena_printf(a, "rule %s", rv->forced_by)
				  : arena_printf(a, "score %.1f", rv->score);

	memset(r, 0, sizeof(*r));
	switch (rv->action) {
	case RULES_ACCEPT:
		set(r, VERDICT_ACCEPT, NULL, NULL, NULL, NULL);
		break;
	case RULES_TAG:
		set(r, VERDICT_TAG, NULL, NULL, rv->text, why);
		break;
	case RULES_QUARANTINE:
		set(r, VERDICT_QUARANTINE, NULL, NULL,
		    rv->text ? rv->text : arena_printf(a, "spam score %.1f", rv->score), why);
		break;
	case RULES_TEMPFAIL:
		set(r, VERDICT_TEMPFAIL, "451", "4.7.1",
		    rv->text ? rv->text : "message deferred by local policy; try again later", why);
		break;
	case RULES_REJECT:
		set(r, VERDICT_REJECT, "550", "5.7.1",
		    rv->text ? rv->text
			     : arena_printf(a, "message refused by local policy (spam score %.1f)",
					    rv->score),
		    why);
		break;
	case RULES_DISCARD:
		set(r, VERDICT_DISCARD, NULL, NULL, rv->text, why);
		break;
	}
	r->by_rules = 1;
}

void verdict_decide(const struct conf *conf, const struct facts *f,
		    const struct rules_verdict *rv, struct arena *a, struct verdict *v)
{
	struct verdict r;

	protocol_decide(conf, f, a, v);
	if (f->skipped != NULL || rv == NULL)
		return;
	/* A protocol "no" or "later" stands: an uncertain fact never becomes a
	 * reject through the back door of a score. */
	if (v->action == VERDICT_REJECT || v->action == VERDICT_TEMPFAIL)
		return;
	rules_decide(rv, a, &r);
	if (severity(r.action) > severity(v->action)) {
		r.dmarc_disposition = v->dmarc_disposition;
		*v = r;
	}
}

/*
 * verdict - the actions of the configuration applied to the facts (see
 * verdict.h).  The SPF outcome that counts is the MAIL FROM identity's
 * (for the null sender, that is the HELO name, RFC 7208 §2.4); the HELO
 * identity's own result is recorded, never enforced on its own.
 */
#include "config.h"

#include "verdict.h"

static const char *const action_names[] = {
	[VERDICT_ACCEPT] = "accept",
	[VERDICT_TEMPFAIL] = "tempfail",
	[VERDICT_REJECT] = "reject",
};

const char *verdict_action_name(enum verdict_action action)
{
	return action_names[action];
}

static void set(struct verdict *v, enum verdict_action action, const char *rcode,
		const char *xcode, const char *text, const char *why)
{
	v->action = action;
	v->rcode = rcode;
	v->xcode = xcode;
	v->text = text;
	v->why = why;
}

void verdict_decide(const struct conf *conf, const struct facts *f, struct arena *a,
		    struct verdict *v)
{
	const struct spf_outcome *spf = &f->spf_mfrom;
	const char *domain = spf->domain != NULL ? spf->domain : "the sender";

	set(v, VERDICT_ACCEPT, NULL, NULL, NULL, NULL);
	if (f->skipped != NULL)
		return;
	switch (spf->result) {
	case SPF_FAIL:
		if (conf->on_spf_fail == ACTION_REJECT)
			/* RFC 7372 §3.2: 5.7.23 SPF validation failed */
			set(v, VERDICT_REJECT, "550", "5.7.23",
			    arena_printf(a, "SPF check failed: %s does not permit this client",
					 domain),
			    "spf=fail");
		break;
	case SPF_PERMERROR:
		if (conf->on_spf_permerror == ACTION_REJECT)
			/* RFC 7372 §3.2: 5.7.24 SPF validation error */
			set(v, VERDICT_REJECT, "550", "5.7.24",
			    arena_printf(a, "SPF record of %s is invalid", domain),
			    "spf=permerror");
		break;
	case SPF_TEMPERROR:
		if (conf->on_spf_temperror == ACTION_TEMPFAIL)
			/* RFC 3463: 4.4.3 directory server failure (DNS) */
			set(v, VERDICT_TEMPFAIL, "451", "4.4.3",
			    arena_printf(a, "temporary DNS error checking SPF for %s; try again later",
					 domain),
			    "spf=temperror");
		break;
	default:
		break;
	}
}

/*
 * arc_trust - the trusted-forwarder decision over a validated ARC chain,
 * and the bounded reader of ARC-Authentication-Results text (see
 * arc_trust.h; authres_read() reads it).  Every path that is not a clear
 * "the trusted sealer saw it pass" is no override: this is the one place a
 * failed DMARC check can be forgiven, so it fails closed.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "arc_trust.h"
#include "authres.h"

int arc_aar_parse(const char *aar, struct arena *a, struct authres_resinfo *out, size_t max,
		  size_t *count_r, const char **error_r)
{
	*count_r = 0;
	*error_r = NULL;
	if (strnlen(aar, ARC_AAR_MAX_BYTES + 1) > ARC_AAR_MAX_BYTES) {
		*error_r = "too long";
		return -1;
	}
	return authres_read(aar, a, out, max, count_r, error_r);
}

/* ---- the decision ---- */

static const char *prop(const struct authres_resinfo *r, const char *name)
{
	for (size_t i = 0; i < r->prop_count; i++)
		if (strcmp(r->props[i].name, name) == 0)
			return r->props[i].value;
	return NULL;
}

/* The domain of "local@domain" or of "domain"; NULL for none. */
static const char *domain_of(const char *v)
{
	const char *at;

	if (v == NULL)
		return NULL;
	at = strrchr(v, '@');
	return at != NULL ? at + 1 : v;
}

static int same_domain(const char *x, const char *y)
{
	size_t xl = strlen(x), yl = strlen(y);

	if (xl > 0 && x[xl - 1] == '.')
		xl--;
	if (yl > 0 && y[yl - 1] == '.')
		yl--;
	return xl > 0 && xl == yl && strncasecmp(x, y, xl) == 0;
}

int arc_trust_listed(char *const *trusted, const char *domain)
{
	for (; domain != NULL && trusted != NULL && *trusted != NULL; trusted++)
		if (same_domain(*trusted, domain))
			return 1;
	return 0;
}

/* DMARC identifier alignment (RFC 9989 §3.2.10) as far as the facts tell:
 * strict is the same domain; relaxed is also the Organizational Domain or
 * a name under it. */
static int aligned(const struct arc_trust_input *in, const char *d, int strict)
{
	size_t dl, ol;

	if (d == NULL || *d == '\0')
		return 0;
	if (same_domain(d, in->from_domain))
		return 1;
	if (strict || in->org_domain == NULL || *in->org_domain == '\0')
		return 0;
	dl = strlen(d);
	ol = strlen(in->org_domain);
	return same_domain(d, in->org_domain) ||
	       (dl > ol + 1 && d[dl - ol - 1] == '.' && same_domain(d + dl - ol, in->org_domain));
}

/* What one resinfo of the trusted sealer's AAR says about our From domain:
 * 1 an aligned pass, -1 a DMARC failure, 0 nothing (*dmarc_r set for a
 * dmarc result about it). */
static int resinfo_says(const struct arc_trust_input *in, const struct authres_resinfo *r,
			int *dmarc_r)
{
	int pass = strcmp(r->result, "pass") == 0;

	if (strcmp(r->method, "dmarc") == 0) {
		const char *hf = domain_of(prop(r, "header.from"));

		/* A pass counts only for our From domain, named: should the
		 * sealer's AMS not sign From, a pass that names no domain could
		 * be carried onto another author's message.  A failure counts
		 * unless it names another author. */
		if (hf != NULL ? !same_domain(hf, in->from_domain) : pass)
			return 0;
		*dmarc_r = 1;
		return pass ? 1 : -1;
	}
	if (!pass)
		return 0;
	if (strcmp(r->method, "dkim") == 0) {
		const char *d = prop(r, "header.d");

		return aligned(in, d != NULL ? d : domain_of(prop(r, "header.i")),
			       in->adkim_strict);
	}
	if (strcmp(r->method, "spf") == 0)
		return aligned(in, domain_of(prop(r, "smtp.mailfrom")), in->aspf_strict);
	return 0;
}

/* Did the sealer's recorded results pass the message?  A dmarc result for
 * our From domain decides (a failure anywhere wins); without one, an
 * aligned SPF or DKIM pass does. */
static int aar_passes(const struct arc_trust_input *in, const char *aar, struct arena *a,
		      const char **why_r)
{
	struct authres_resinfo res[ARC_AAR_MAX_RESULTS];
	size_t n;
	const char *error, *aligned_pass = NULL;
	int dmarc_pass = 0, dmarc_fail = 0;

	if (aar == NULL || arc_aar_parse(aar, a, res, ARC_AAR_MAX_RESULTS, &n, &error) < 0) {
		*why_r = arena_printf(a, "trusted sealer's results unreadable (%s)",
				      aar == NULL ? "none" : error);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int dmarc = 0, says = resinfo_says(in, &res[i], &dmarc);

		if (says < 0) {
			dmarc_fail = 1;
			*why_r = arena_printf(a, "trusted sealer saw dmarc=%s", res[i].result);
		} else if (says > 0 && dmarc) {
			dmarc_pass = 1;
		} else if (says > 0 && aligned_pass == NULL) {
			aligned_pass = arena_printf(a, "%s=pass", res[i].method);
		}
	}
	if (dmarc_fail)
		return 0;
	if (dmarc_pass || aligned_pass != NULL) {
		*why_r = dmarc_pass ? "dmarc=pass" : aligned_pass;
		return 1;
	}
	*why_r = "trusted sealer saw no aligned pass";
	return 0;
}

void arc_trust_decide(const struct arc_trust_input *in, struct arena *a, struct arc_trust *out)
{
	const struct arc_outcome *arc = in->arc;
	const struct arc_set *newest;

	memset(out, 0, sizeof(*out));
	switch (arc->result) {
	case ARC_PASS:
		break;
	case ARC_TEMPERROR:
		out->why = "ARC chain not verified (temporary DNS error)";
		return;
	case ARC_FAIL:
		out->why = "ARC chain fails";
		return;
	default:
		out->why = "no ARC chain";
		return;
	}
	/* The newest set is the one a passing chain vouches for as received
	 * here (its AMS verified); an older set's results may describe a
	 * message that an untrusted later hop has changed since. */
	newest = arc->set_count > 0 && arc->sets != NULL ? &arc->sets[arc->set_count - 1] : NULL;
	if (newest == NULL || newest->instance != arc->set_count || !newest->ams_valid) {
		out->why = "ARC chain incomplete";
		return;
	}
	if (!arc_trust_listed(in->trusted, newest->seal_domain)) {
		out->why = "newest ARC sealer not trusted";
		return;
	}
	out->sealer = newest->seal_domain;
	if (in->from_domain == NULL) {
		out->why = "no Author Domain";
		return;
	}
	out->override = aar_passes(in, newest->aar, a, &out->why);
}

int arc_trust_pending(char *const *trusted, const struct arc_outcome *arc)
{
	if (arc->result != ARC_TEMPERROR || trusted == NULL || *trusted == NULL)
		return 0;
	/* the sealer may be unknown when the chain could not be read far */
	if (arc->set_count == 0 || arc->sets == NULL)
		return 1;
	return arc_trust_listed(trusted, arc->sets[arc->set_count - 1].seal_domain);
}

/*
 * spf_record - RFC 7208 SPF record text: strict validation, macro expansion,
 * and the text handed to libspf2's parser.
 *
 * spf_record_parse() checks a whole record against the ABNF of RFC 7208
 * §12 and the rules of §4.6, §5, §6 and §7.1 (a syntax error anywhere is a
 * permerror, §4.6) and keeps its terms.  spf_record_render() writes the
 * same policy as text libspf2 1.2.10 evaluates right: redirect= last and
 * dropped beside "all" (§6.1), unknown modifiers dropped (§6), /0 prefix
 * lengths rewritten (see SPF_RECORD_ANY_ADDRESS), the macros libspf2
 * expands wrongly expanded here (§7.3: ',' and '/' delimiters, URL
 * escaping of upper-case letters), and only the terms evaluation can
 * reach for this client (§4.6.2): a run of ip4/ip6 terms becomes its
 * first match on the client's address, or nothing, and nothing follows
 * "all" or the eleventh DNS-querying term (§4.6.4) -- libspf2 counts
 * mechanisms in an unsigned char, and a record of SPF_RECORD_MAX_LEN
 * renders to a few dozen at most.  spf_record_explain() expands an
 * explanation TXT (§6.2, §7).  Inputs are capped (SPF_RECORD_MAX_LEN,
 * SPF_RECORD_EXP_MAX); outputs are malloc'd and the caller frees them.
 * Knows no DNS: the p macro's value comes from the caller's callback.
 * Pure functions; thread-safe.
 */
#ifndef AUTHSCORE_SPF_RECORD_H
#define AUTHSCORE_SPF_RECORD_H

#include <stddef.h>
#include <time.h>

#include "addr.h"

#define SPF_RECORD_MAX_LEN 4096 /* record text we validate (§3.4 keeps real ones < 512) */
#define SPF_RECORD_MAX_OUT 8192 /* text rendered for libspf2 */
#define SPF_RECORD_EXP_MAX 1024 /* explanation TXT we expand */
#define SPF_RECORD_WHY_MAX 160	/* a syntax error's description, with its NUL */

/*
 * A domain ending in this suffix, in rendered text, means "any address of
 * the client's family matches": libspf2 cannot represent a /0 prefix on
 * a or mx (it stores 0 as "full length"), so the renderer marks the
 * domain and the caller's DNS layer strips the suffix, looks the real name
 * up, and answers with the client's own address.  Under .invalid, which
 * never resolves (RFC 6761 §6.4).
 */
#define SPF_RECORD_ANY_ADDRESS "._any-address.authscore.invalid"

struct spf_record;

/* The values macros expand to (RFC 7208 §7.2); NULL strings expand to "". */
struct spf_macro_env {
	const char *sender;	   /* s: local-part@domain */
	const char *local;	   /* l */
	const char *sender_domain; /* o */
	const char *domain;	   /* d: the current domain */
	const char *helo;	   /* h */
	const char *receiver;	   /* r */
	struct addr client;	   /* i, c, v */
	time_t now;		   /* t */
	/* p: the validated name of the client, or NULL for "unknown"; asked
	 * only when a p macro is expanded here. */
	const char *(*validated_name)(void *ctx);
	void *ctx;
};

/* §4.5: does this TXT string select as an SPF record ("v=spf1" then SP or end)? */
int spf_record_is_spf(const char *text, size_t len);

/* NULL on a syntax error, described in why (SPF_RECORD_WHY_MAX bytes). */
struct spf_record *spf_record_parse(const char *text, size_t len, char *why);
void spf_record_free(struct spf_record **rp);

/* Text for SPF_record_compile(); NULL if it would exceed SPF_RECORD_MAX_OUT. */
char *spf_record_render(const struct spf_record *r, const struct spf_macro_env *env);

/* The expanded explanation, or NULL if text is not an explain-string
 * (§6.2: then there is no explanation). */
char *spf_record_explain(const char *text, size_t len, const struct spf_macro_env *env);

#endif

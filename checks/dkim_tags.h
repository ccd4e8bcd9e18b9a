/*
 * dkim_tags - the duplicate-tag check of an RFC 6376 §3.2 tag-list, which
 * libopendkim 2.11 does not make.
 *
 * RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a single
 * tag-list; if a tag name does occur more than once, the entire tag-list is
 * invalid."  libopendkim keeps the last value of a repeated tag and goes on
 * (its dkim_add_plist() overwrites), so a DKIM-Signature or a key record
 * with a repeated tag would verify.  dkim_tags_check() finds the repeat;
 * dkim.c calls it on every DKIM-Signature value and every key record.
 *
 * Only tag names are looked at (tag-spec = [FWS] tag-name [FWS] "="
 * ...; tag-name = ALPHA *(ALPHA / DIGIT / "_")): a tag-spec that is not one
 * is left for libopendkim to refuse.  Names compare case-insensitively, as
 * libopendkim folds case when it stores them ("D=" would overwrite "d=").
 * Capped: past DKIM_TAGS_MAX tag-specs the list is refused as hostile.
 * Pure, no allocation, thread-safe; linear in the length.
 */
#ifndef AUTHSCORE_DKIM_TAGS_H
#define AUTHSCORE_DKIM_TAGS_H

#include <stddef.h>

#define DKIM_TAGS_MAX 64 /* tag-specs in one list; RFC 6376 defines 14 for signatures */

enum dkim_tags_status {
	DKIM_TAGS_OK,
	DKIM_TAGS_DUPLICATE, /* *name_r, *name_len_r: the repeated name, in list */
	DKIM_TAGS_TOO_MANY,  /* more than DKIM_TAGS_MAX tag-specs */
};

/* list is len bytes, need not be NUL-terminated; name_r and name_len_r
 * may be NULL. */
enum dkim_tags_status dkim_tags_check(const char *list, size_t len, const char **name_r,
				      size_t *name_len_r);

/* The same as words for a result's reason ("duplicate tag d=", "more than
 * 64 tags"), written to buf; NULL when the list is fine. */
const char *dkim_tags_problem(const char *list, size_t len, char *buf, size_t size);

#endif

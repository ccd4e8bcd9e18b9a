/*
 * report_xml - the RFC 9990 aggregate report as XML, and its validation.
 *
 * report_xml_build() writes one domain's report (namespace
 * urn:ietf:params:xml:ns:dmarc-2.0, elements in the order of the schema)
 * with libxml2's tree API, which escapes markup; every string first goes
 * through report_xml_clean(), which replaces what cannot be XML 1.0 text
 * (bad UTF-8, control characters, U+FFFE/U+FFFF) with U+FFFD, so no input
 * can break the document.  report_xml_validate() parses the bytes back
 * and checks them against the schema (libxml2 xmlSchemaValidateDoc): what
 * is validated is what would be sent.  The schema is compiled in
 * (dmarc-aggregate-2.0.xsd) unless a file is named.
 *
 * Output and error strings are malloc'd for the caller.  Thread-safety:
 * one struct report_schema per thread.
 */
#ifndef AUTHSCORE_REPORT_XML_H
#define AUTHSCORE_REPORT_XML_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "report_agg.h"

#define REPORT_XML_NS  "urn:ietf:params:xml:ns:dmarc-2.0"
#define REPORT_XML_MAX (256u * 1024 * 1024)

struct report_meta {
	const char *org_name, *email, *extra_contact_info; /* extra: NULL to omit */
	const char *report_id;
	int64_t begin, end;    /* date_range, both inclusive (UNIX seconds, UTC) */
	const char *generator; /* NULL to omit */
};

/* 0 with the document in out (a buf with cap REPORT_XML_MAX), or -1. */
int report_xml_build(const struct report_meta *m, const struct report_domain *d, struct buf *out,
		     char **error_r);

/* s as valid XML text: s itself when it already is, or a malloc'd copy
 * (*copy_r set, the caller frees) with U+FFFD for each offending byte. */
const char *report_xml_clean(const char *s, char **copy_r);

struct report_schema;
/* path NULL: the compiled-in schema. */
struct report_schema *report_xml_schema_new(const char *path, char **error_r);
void report_xml_schema_free(struct report_schema **sp);
/* 0 when the bytes are a well-formed document the schema accepts; -1 with
 * the first error (line and message) in *error_r. */
int report_xml_validate(struct report_schema *s, const char *xml, size_t len, char **error_r);

#endif

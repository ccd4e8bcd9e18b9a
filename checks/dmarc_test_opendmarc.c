/*
 * dmarc_test_opendmarc - dmarc_test's window on libopendmarc 1.4.2's record
 * parser, kept apart because <opendmarc/dmarc.h> defines DMARC_POLICY_*
 * macros that clash with checks/dmarc.h.  Test-only; not thread-safe.
 */
#include "config.h"

#include <string.h>

#include <opendmarc/dmarc.h>

int opendmarc_probe_init(void);
int opendmarc_probe_store(const char *record);
const char *opendmarc_probe_status(int status);
void opendmarc_probe_shutdown(void);

static OPENDMARC_LIB_T lib;

int opendmarc_probe_init(void)
{
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
	return opendmarc_policy_library_init(&lib) == DMARC_PARSE_OKAY ? 0 : -1;
}

/* opendmarc_policy_store_dmarc()'s status for one record. */
int opendmarc_probe_store(const char *record)
{
	DMARC_POLICY_T *pctx = opendmarc_policy_connect_init((u_char *)"192.0.2.1", 4);
	int st =
	    opendmarc_policy_store_dmarc(pctx, (u_char *)record, (u_char *)"example.test", NULL);

	opendmarc_policy_connect_shutdown(pctx);
	return st;
}

const char *opendmarc_probe_status(int status)
{
	return opendmarc_policy_status_to_str(status);
}

void opendmarc_probe_shutdown(void)
{
	opendmarc_policy_library_shutdown(&lib);
}

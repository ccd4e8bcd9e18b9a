/*
 * arc_stub - TEMPORARY stand-in for milter/arc.c and facts/arc_result.c
 * (issue 18, part 2), so the daemon's ARC wiring (branch arcwire) builds
 * and its unit tests run before the ARC module (branch arc) is merged.
 *
 * THE LEAD DELETES THIS FILE AT MERGE, with its line in Makefile.am and in
 * tests/fuzz/run-fuzz.sh, once milter/arc.c and facts/arc_result.c are in.
 *
 * Every chain is "none" here: no header is parsed, nothing is looked up,
 * and sealing says it cannot seal.  Only the milter/arc.h API is provided;
 * nothing else may depend on this file.
 */
#include "config.h"

#include <string.h>

#include "arc.h"

struct arc_check {
	int unused;
};

static struct arc_check stub_check;

const char *arc_result_name(enum arc_result r)
{
	static const char *const names[] = {
	    [ARC_NONE] = "none",
	    [ARC_PASS] = "pass",
	    [ARC_FAIL] = "fail",
	    [ARC_TEMPERROR] = "temperror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "none";
}

int arc_module_init(struct dns *dns, char **error_r)
{
	(void)dns;
	*error_r = NULL;
	return 0;
}

void arc_module_deinit(void)
{
}

struct arc_check *arc_check_new(const struct arc_params *p, const char *queue_id)
{
	(void)p;
	(void)queue_id;
	return &stub_check;
}

void arc_check_header(struct arc_check *c, const char *name, const char *value)
{
	(void)c;
	(void)name;
	(void)value;
}

void arc_check_eoh(struct arc_check *c)
{
	(void)c;
}

void arc_check_body(struct arc_check *c, const unsigned char *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
}

void arc_check_finish(struct arc_check *c, struct arena *a, struct arc_outcome *out)
{
	(void)c;
	(void)a;
	memset(out, 0, sizeof(*out));
	out->result = ARC_NONE;
}

int arc_check_seal(struct arc_check *c, const struct arc_seal_key *k, const char *authres,
		   time_t now, struct arena *a, struct arc_seal_headers *out, const char **error_r)
{
	(void)c;
	(void)k;
	(void)authres;
	(void)now;
	(void)a;
	memset(out, 0, sizeof(*out));
	*error_r = "ARC sealing is not built in (milter/arc_stub.c)";
	return -1;
}

void arc_check_free(struct arc_check **cp)
{
	*cp = NULL;
}

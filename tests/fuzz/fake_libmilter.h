/*
 * fake_libmilter - the part of libmilter milter/callbacks.c calls, for the
 * fuzzer (tests/fuzz/fuzz_milter.c): link it instead of -lmilter.
 *
 * smfi_register() keeps the callback table; fake_milter_desc() returns it,
 * so the fuzzer calls xxfi_* itself in any order with any arguments.  A
 * context (fake_milter_ctx_new) holds the private pointer, the macros the
 * fuzzer sets (fake_milter_macro; smfi_getsymval returns them) and the
 * stage now running (fake_milter_stage), and checks what a filter may do
 * in it as libmilter would: header edits and quarantine only at end of
 * message, macro lists only in negotiation, well-formed replies and
 * headers.  A breach is a bug in the filter: abort().  Single-threaded.
 */
#ifndef AUTHSCORE_FAKE_LIBMILTER_H
#define AUTHSCORE_FAKE_LIBMILTER_H

#include <libmilter/mfapi.h>

enum fake_milter_stage { FAKE_STAGE_OTHER, FAKE_STAGE_NEGOTIATE, FAKE_STAGE_EOM };

const struct smfiDesc *fake_milter_desc(void);
SMFICTX *fake_milter_ctx_new(void);
/* Aborts if the filter left its private data behind (xxfi_close not called
 * last, or it did not clear it): libmilter would warn and leak it. */
void fake_milter_ctx_free(SMFICTX **ctxp);
void fake_milter_stage(SMFICTX *ctx, enum fake_milter_stage stage);
/* value NULL removes the macro; the value is copied */
void fake_milter_macro(SMFICTX *ctx, const char *name, const char *value);
/* Edits recorded since the context was made (insheader, addheader, ...). */
unsigned fake_milter_edits(const SMFICTX *ctx);

#endif

/*
 * arc_int - the ARC check's insides, shared by checks/arc.c (validation)
 * and checks/arc_seal.c (sealing); nothing else includes this.
 *
 * A struct arc_check keeps every header field of the message (in its own
 * arena), the ARC fields parsed into their instance's slot, the body
 * hashes and the key queries.  One check per message, one thread.
 */
#ifndef AUTHSCORE_ARC_INT_H
#define AUTHSCORE_ARC_INT_H

#include <openssl/evp.h>

#include "arc.h"
#include "arc_canon.h"

#define ARC_FIELDS_MAX 1000	     /* header fields kept */
#define ARC_BYTES_MAX  (1024 * 1024) /* header bytes kept */
#define ARC_FIELD_MAX  (64 * 1024)   /* one ARC field */
#define ARC_H_MAX      256	     /* names in an AMS h= (this host signs at most 17 x 8) */
#define ARC_NAME_MAX   256	     /* selector._domainkey.domain */

enum arc_kind { ARC_AAR, ARC_AMS, ARC_AS, ARC_KINDS };
extern const char *const arc_kind_names[ARC_KINDS];

struct arc_field {
	const char *name;
	const char *value;
	size_t len;
};

struct arc_key {
	char *name; /* selector._domainkey.domain */
	struct dns_query *query;
	int done;
	enum dns_status status;
	EVP_PKEY *pkey;
	const char *why;
};

/* A parsed AMS or AS; why is set when it cannot verify. */
struct arc_sig {
	const char *why;
	enum arc_alg alg;
	unsigned char *b;
	size_t b_len;
	unsigned char bh[ARC_HASH_LEN];
	enum arc_canon hcanon, bcanon;
	const char *d, *s, *h, *cv;
	size_t b_start, b_end; /* b='s value in the field, left out when hashing */
	struct arc_key *key;
};

struct arc_slot {
	int field[ARC_KINDS]; /* index in fields, or -1 */
	struct arc_sig ams, as;
	int ams_ok;
};

enum arc_verdict { ARC_V_OK, ARC_V_FAIL, ARC_V_TEMP };

struct arc_check {
	struct arc_params p;
	char *queue_id;
	struct arena *mem;
	struct arc_field *fields;
	size_t nfields, fields_size, bytes;
	int overflow, arc_seen, eoh_done, finished;
	const char *broken;    /* the structural failure, or NULL */
	unsigned n;	       /* highest instance seen */
	struct arc_slot *slot; /* [ARC_MAX_SETS + 1], made at the first ARC field:
				  most mail has none, and it is 16 kB */
	int body_on[2], body_done;
	struct arc_body body[2]; /* [enum arc_canon] */
	unsigned char bh[2][ARC_HASH_LEN];
	struct arc_key *keys;
	size_t nkeys;
	const char *seal_h; /* tests: the AMS h= list to seal with */
	enum arc_result result;
};

/* RFC 6376 §5.4.2: the fields h= names, each the lowest not yet taken;
 * extra (the new AAR, when sealing) sits above every field.  -1 when h=
 * names no field, too many, or ARC-Seal. */
int arc_hash_h(struct arc_check *c, EVP_MD_CTX *md, enum arc_canon canon, const char *h,
	       const struct arc_field *extra);
/* RFC 8617 §5.1.1: AAR, AMS, AS of the sets 1..upto, relaxed. */
void arc_hash_sets(struct arc_check *c, EVP_MD_CTX *md, unsigned upto);
/* A SHA-256 context (abort() when libcrypto cannot make one). */
EVP_MD_CTX *arc_md_new(void);

#endif

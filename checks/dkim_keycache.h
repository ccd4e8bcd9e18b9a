/*
 * dkim_keycache - decoded DKIM public keys kept between messages.
 *
 * libopendkim turns a signer's public key from DER bytes into an OpenSSL
 * key for every signature it verifies, with d2i_PUBKEY_bio().  Under
 * OpenSSL 3 that call goes through the provider decoder framework, which
 * enumerates every decoder each time: measured at 15 % of the milter's CPU
 * per message, four times the RSA verification it prepares.  Mail comes
 * from the same signers over and over.
 *
 * dkim_keycache.c defines d2i_PUBKEY_bio() itself.  The dynamic linker
 * resolves libopendkim's call to the program's definition first (ELF
 * symbol interposition, the way allocators replace malloc); ours looks the
 * DER bytes up in a small table and otherwise calls libcrypto's function
 * (dlvsym RTLD_NEXT), keeping what it decoded.  Keys are compared by their
 * whole DER bytes, so a key changed in DNS is a new entry: nothing can go
 * stale.  Only memory BIOs with no output argument (libopendkim's use) are
 * served from the table; any other call passes straight through.  Shared
 * keys are only read (verification), which OpenSSL allows from several
 * threads; each caller gets its own reference.  Thread-safe.
 */
#ifndef AUTHSCORE_DKIM_KEYCACHE_H
#define AUTHSCORE_DKIM_KEYCACHE_H

#include <stddef.h>

#define DKIM_KEYCACHE_MAX 512 /* keys kept, least recently used dropped */

struct dkim_keycache_stats {
	size_t entries;
	unsigned long hits, misses;
};

/* The programs list this file among their own sources: in a static
 * library, a symbol only libopendkim refers to would not pull it in. */
void dkim_keycache_stats(struct dkim_keycache_stats *out);
/* Drop every key (tests; the program never needs to). */
void dkim_keycache_clear(void);

#endif

/*
 * runtime - the immutable snapshot every message works with.
 *
 * A runtime bundles the loaded configuration with the process's shared
 * services (the resolver).  It is reference-counted: a session takes a
 * reference when its connection opens and keeps that snapshot to the end,
 * so a reload (SIGHUP) never changes the rules under a message in flight.
 * runtime_publish() makes a new snapshot current; runtime_current()
 * returns a new reference to it.  Thread-safe.
 */
#ifndef AUTHSCORE_RUNTIME_H
#define AUTHSCORE_RUNTIME_H

#include "conf.h"
#include "dns.h"

struct runtime {
	struct conf *conf; /* owned */
	struct dns *dns;   /* shared by every snapshot; owned by main */
	int refs;	   /* guarded by runtime.c's lock */
};

struct runtime *runtime_new(struct conf *conf, struct dns *dns);
struct runtime *runtime_ref(struct runtime *rt);
void runtime_unref(struct runtime **rtp);

void runtime_publish(struct runtime *rt); /* takes over the caller's reference */
struct runtime *runtime_current(void);	  /* a new reference, or NULL before the first */

#endif

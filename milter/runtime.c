/*
 * runtime - reference-counted configuration snapshots (see runtime.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "mem.h"
#include "runtime.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;

struct runtime *runtime_new(struct conf *conf, struct dns *dns)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));

	rt->conf = conf;
	rt->dns = dns;
	rt->refs = 1;
	return rt;
}

struct runtime *runtime_ref(struct runtime *rt)
{
	pthread_mutex_lock(&lock);
	rt->refs++;
	pthread_mutex_unlock(&lock);
	return rt;
}

void runtime_unref(struct runtime **rtp)
{
	struct runtime *rt = *rtp;
	int last;

	if (rt == NULL)
		return;
	pthread_mutex_lock(&lock);
	last = --rt->refs == 0;
	pthread_mutex_unlock(&lock);
	if (last) {
		conf_free(&rt->conf);
		free(rt);
	}
	*rtp = NULL;
}

void runtime_publish(struct runtime *rt)
{
	struct runtime *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = rt;
	pthread_mutex_unlock(&lock);
	runtime_unref(&old);
}

struct runtime *runtime_current(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&lock);
	rt = current;
	if (rt != NULL)
		rt->refs++;
	pthread_mutex_unlock(&lock);
	return rt;
}

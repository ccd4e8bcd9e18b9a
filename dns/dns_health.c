/*
 * dns_health - count failed lookups in a row, log the state changes (see
 * dns_health.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns_health.h"
#include "log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dns_health_stats st = {.up = 1};
static unsigned run_timeouts; /* timeouts in the current run */
static time_t down_since;     /* monotonic seconds */
static char consequence[256] = "the on-*-temperror actions";

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void dns_health_set_consequence(const char *text)
{
	pthread_mutex_lock(&lock);
	snprintf(consequence, sizeof(consequence), "%s", text);
	pthread_mutex_unlock(&lock);
}

void dns_health_consequence(char *buf, size_t size)
{
	pthread_mutex_lock(&lock);
	snprintf(buf, size, "%s", consequence);
	pthread_mutex_unlock(&lock);
}

void dns_health_mark_down(void)
{
	pthread_mutex_lock(&lock);
	if (st.up) {
		st.up = 0;
		st.outages++;
		down_since = now_s();
	}
	pthread_mutex_unlock(&lock);
}

void dns_health_record(int failed, int timed_out, const char *why, const char *name)
{
	enum { NOTHING, WENT_DOWN, CAME_UP } change = NOTHING;
	unsigned run = 0, timeouts = 0;
	long down_for = 0;
	char what[sizeof(consequence)];

	pthread_mutex_lock(&lock);
	if (failed) {
		st.failures++;
		st.timeouts += timed_out != 0;
		st.run++;
		run_timeouts += timed_out != 0;
		if (st.up && st.run >= DNS_HEALTH_FAILURES) {
			st.up = 0;
			st.outages++;
			down_since = now_s();
			change = WENT_DOWN;
			run = st.run;
			timeouts = run_timeouts;
			snprintf(what, sizeof(what), "%s", consequence);
		}
	} else {
		if (!st.up) {
			st.up = 1;
			change = CAME_UP;
			run = st.run;
			down_for = (long)(now_s() - down_since);
		}
		st.run = 0;
		run_timeouts = 0;
	}
	pthread_mutex_unlock(&lock);
	if (change == WENT_DOWN)
		log_err("DNS resolution failing: %s for %s (%u lookups failed in a row, %u timed "
			"out); messages get %s",
			why != NULL ? why : "error", name != NULL ? name : "?", run, timeouts,
			what);
	else if (change == CAME_UP)
		log_notice("DNS resolution works again: %s answered after %u failed lookups "
			   "(failing for %lds)",
			   name != NULL ? name : "?", run, down_for);
}

void dns_health_get(struct dns_health_stats *s)
{
	pthread_mutex_lock(&lock);
	*s = st;
	pthread_mutex_unlock(&lock);
}

void dns_health_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(&st, 0, sizeof(st));
	st.up = 1;
	run_timeouts = 0;
	pthread_mutex_unlock(&lock);
}

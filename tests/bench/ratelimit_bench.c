/*
 * ratelimit_bench - what a rate limit check costs per message.
 *
 * ratelimit_check() with all three limits on, against a baseline of an
 * uncontended mutex lock and unlock (the least a shared table costs): one
 * hot client; 50,000 clients cycling in a table of 50,000 (every lookup a
 * hit); 1,000,000 distinct clients in that table (every lookup a miss that
 * evicts); and the hot client from two threads at once.  Prints ns per
 * message for each.  Each measurement runs for about a second.  Never part
 * of `make check`.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ratelimit.h"

#define TABLE 50000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct conf *cfg;
static struct ratelimit *rl;
static volatile unsigned sink;

static void client_of(unsigned i, struct addr *a, char *from, size_t size)
{
	a->family = AF_INET6;
	memset(&a->u.v6, 0, sizeof(a->u.v6));
	a->u.v6.s6_addr[0] = 0x20;
	a->u.v6.s6_addr[1] = 0x01;
	memcpy(&a->u.v6.s6_addr[4], &i, sizeof(i));
	snprintf(from, size, "user%u@example%u.com", i, i % 97);
}

#define CLIENTS 1000000
static struct addr *addrs;
static char (*froms)[32];

/* ns per check over `n` checks cycling through `clients` distinct ones */
static double run(unsigned clients, unsigned n)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		unsigned c = i % clients;

		sink += ratelimit_check(rl, cfg, &addrs[c], froms[c], NULL, (int64_t)i);
	}
	return (now_ns() - t0) / n;
}

static void *thread_run(void *arg)
{
	double *ns = arg;

	*ns = run(1, 2000000);
	return NULL;
}

int main(void)
{
	char *error = NULL;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	double t0, base, ns[2];
	pthread_t th[2];
	const unsigned n = 2000000;

	cfg = conf_parse("bench.conf",
			 "ratelimit-ip 100/1m\nratelimit-sender 50/1h\nratelimit-user 500/1h\n",
			 &error);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", error);
		return 1;
	}
	addrs = calloc(CLIENTS, sizeof(*addrs));
	froms = calloc(CLIENTS, sizeof(*froms));
	for (unsigned i = 0; i < CLIENTS; i++)
		client_of(i, &addrs[i], froms[i], sizeof(froms[i]));
	t0 = now_ns();
	for (unsigned i = 0; i < 20 * n; i++) {
		pthread_mutex_lock(&m);
		sink += i;
		pthread_mutex_unlock(&m);
	}
	base = (now_ns() - t0) / (20 * n);
	printf("baseline (mutex lock+unlock)      %7.1f ns\n", base);
	rl = ratelimit_new(TABLE);
	printf("one hot client (ip + sender)      %7.1f ns/message\n", run(1, n));
	run(TABLE, TABLE); /* fill */
	printf("%u clients, all hits           %7.1f ns/message\n", TABLE, run(TABLE, n));
	printf("%u clients, all evictions    %7.1f ns/message\n", CLIENTS, run(CLIENTS, n));
	ratelimit_free(&rl);
	rl = ratelimit_new(TABLE);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, thread_run, &ns[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("one hot client, 2 threads         %7.1f ns/message (per thread)\n",
	       (ns[0] + ns[1]) / 2);
	ratelimit_free(&rl);
	conf_free(&cfg);
	free(addrs);
	free(froms);
	return 0;
}

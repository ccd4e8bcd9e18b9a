/*
 * metrics_http - the daemon's Prometheus endpoint (libmicrohttpd).
 *
 * metrics_http_listen() binds and listens on the configured address at
 * start-up, as root and before anything else is started, so that a port
 * in use or a foreign address is a start-up error that names it.
 * metrics_http_start() then serves GET /metrics from one libmicrohttpd
 * thread (a handful of connections at most, each with a short timeout):
 * the counters of metrics.c plus the history store's figures, read at
 * scrape time.  Only this file and main.c know about it; the message path
 * never waits for a scrape.  Started and stopped by the main thread.
 */
#ifndef AUTHSCORE_METRICS_HTTP_H
#define AUTHSCORE_METRICS_HTTP_H

#include "addr.h"

struct metrics_http;
struct store;

struct metrics_http *metrics_http_listen(const struct addr *a, unsigned port, char **error_r);
/* store may be NULL (history off); spool_path: the store's spool file. */
int metrics_http_start(struct metrics_http *h, struct store *store, const char *spool_path,
		       char **error_r);
void metrics_http_stop(struct metrics_http **hp);

#endif

/*
 * metrics_http - GET /metrics over libmicrohttpd (see metrics_http.h).
 */
#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "dns_health.h"
#include "metrics.h"
#include "metrics_http.h"
#include "store.h"

#define RENDER_CAP	     (8 * 1024 * 1024) /* 512 rules and zones fit many times over */
#define CONNECTIONS_MAX	     16
#define CONNECTION_TIMEOUT_S 10

struct metrics_http {
	int fd;
	struct MHD_Daemon *daemon;
	struct store *store;
	char *spool_path;
};

struct metrics_http *metrics_http_listen(const struct addr *a, unsigned port, char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;
	char text[ADDR_STRLEN];

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->u.v6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = a->u.v4;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	}
	addr_format(a, text, sizeof(text));
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (a->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
		*error_r = xasprintf("metrics-listen %s%s%s:%u: cannot listen: %s",
				     a->family == AF_INET6 ? "[" : "", text,
				     a->family == AF_INET6 ? "]" : "", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	{
		struct metrics_http *h = xcalloc(1, sizeof(*h));

		h->fd = fd;
		return h;
	}
}

static void gather(const struct metrics_http *h, struct metrics_extra *x)
{
	struct stat st;

	memset(x, 0, sizeof(*x));
	x->spool_bytes = -1;
	if (h->store != NULL) {
		struct store_stats s;

		store_stats(h->store, &s);
		x->have_store = 1;
		x->store_queued = s.queued;
		x->store_written = s.written;
		x->store_spooled = s.spooled;
		x->store_reloaded = s.reloaded;
		x->store_dropped = s.dropped;
		x->store_queue_depth = s.queue_depth;
	}
	if (h->spool_path != NULL && stat(h->spool_path, &st) == 0)
		x->spool_bytes = (long long)st.st_size;
	{
		struct dns_health_stats d;

		dns_health_get(&d);
		x->have_dns_health = 1;
		x->dns_up = d.up;
		x->dns_failures = d.failures;
		x->dns_timeouts = d.timeouts;
		x->dns_outages = d.outages;
	}
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	const struct metrics_http *h = cls;
	struct metrics_extra x;
	struct buf b;
	enum MHD_Result ret;

	(void)version, (void)upload_data, (void)con_cls;
	if (*upload_data_size != 0) { /* a body we never asked for: drop it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET /metrics\n", 13);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, text, "not found: try /metrics\n", 24);
	gather(h, &x);
	buf_init(&b, RENDER_CAP);
	if (metrics_render(&b, &x) < 0) {
		buf_release(&b);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "metrics too large\n", 18);
	}
	ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b),
		    b.len);
	buf_release(&b);
	return ret;
}

int metrics_http_start(struct metrics_http *h, struct store *store, const char *spool_path,
		       char **error_r)
{
	h->store = store;
	h->spool_path = spool_path != NULL ? xstrdup(spool_path) : NULL;
	/* poll or epoll, not select(): a busy milter has descriptors past
	 * FD_SETSIZE, and select() could not watch a scrape's connection. */
	h->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, h,
				     MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (h->daemon == NULL) {
		*error_r = xasprintf("metrics: libmicrohttpd did not start");
		return -1;
	}
	return 0;
}

void metrics_http_stop(struct metrics_http **hp)
{
	struct metrics_http *h = *hp;

	if (h == NULL)
		return;
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon); /* closes the listening socket too */
	else
		close(h->fd);
	free(h->spool_path);
	xfree(hp);
}

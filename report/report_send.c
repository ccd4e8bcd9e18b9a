/*
 * report_send - sendmail(1) or a small SMTP client (see report_send.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "report_send.h"

#define REPLY_MAX 4096

static int via_sendmail(const char *path, const char *from, const char *const *rcpts, size_t n,
			const char *msg, size_t len, char **error_r)
{
	const char **argv = xcalloc(n + 6, sizeof(*argv));
	int fds[2], status;
	size_t argc = 0, off = 0;
	pid_t pid;

	argv[argc++] = path;
	argv[argc++] = "-oi";
	argv[argc++] = "-f";
	argv[argc++] = from;
	argv[argc++] = "--";
	for (size_t i = 0; i < n; i++)
		argv[argc++] = rcpts[i];
	if (pipe(fds) < 0) {
		*error_r = xasprintf("pipe: %s", strerror(errno));
		free(argv);
		return -1;
	}
	if ((pid = fork()) < 0) {
		*error_r = xasprintf("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(argv);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	free(argv);
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN); /* a sendmail that dies early must not kill us */
	while (off < len) {
		ssize_t w = write(fds[1], msg + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			*error_r = xasprintf("waitpid: %s", strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || off < len) {
		*error_r = WIFEXITED(status) && WEXITSTATUS(status) == 127
			       ? xasprintf("cannot run %s", path)
			   : WIFEXITED(status)
			       ? xasprintf("%s exited with status %d", path, WEXITSTATUS(status))
			       : xasprintf("%s was killed by signal %d", path, WTERMSIG(status));
		return -1;
	}
	return 0;
}

struct smtp {
	int fd;
	unsigned timeout_ms;
	char in[REPLY_MAX];
	size_t have;
	char last[REPLY_MAX]; /* the last reply, for error messages */
};

static int wait_fd(int fd, short events, unsigned timeout_ms)
{
	struct pollfd p = {fd, events, 0};
	int rc;

	while ((rc = poll(&p, 1, (int)timeout_ms)) < 0 && errno == EINTR)
		;
	return rc > 0 ? 0 : -1;
}

static int smtp_write(struct smtp *s, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w;

		if (wait_fd(s->fd, POLLOUT, s->timeout_ms) < 0)
			return -1;
		w = send(s->fd, data, len, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One reply (all its lines); returns the code, or -1 on timeout/EOF. */
static int smtp_reply(struct smtp *s)
{
	for (;;) {
		char *nl = memchr(s->in, '\n', s->have);

		if (nl != NULL) {
			size_t line = (size_t)(nl - s->in) + 1;
			int done = line >= 4 && s->in[3] != '-';
			int code = line >= 4 ? atoi(s->in) : -1;

			memcpy(s->last, s->in, line < sizeof(s->last) ? line : sizeof(s->last) - 1);
			s->last[line < sizeof(s->last) ? line : sizeof(s->last) - 1] = '\0';
			s->last[strcspn(s->last, "\r\n")] = '\0';
			memmove(s->in, s->in + line, s->have - line);
			s->have -= line;
			if (done)
				return code >= 200 && code <= 599 ? code : -1;
			continue;
		}
		if (s->have == sizeof(s->in)) /* a line longer than any reply may be */
			return -1;
		if (wait_fd(s->fd, POLLIN, s->timeout_ms) < 0)
			return -1;
		ssize_t r = recv(s->fd, s->in + s->have, sizeof(s->in) - s->have, 0);

		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		s->have += (size_t)r;
	}
}

static int smtp_cmd(struct smtp *s, const char *line)
{
	if (smtp_write(s, line, strlen(line)) < 0)
		return -1;
	return smtp_reply(s);
}

static int smtp_connect(const char *relay, unsigned timeout_ms, char **error_r)
{
	char host[256], *port = "25";
	struct addrinfo hints = {0}, *res, *ai;
	int fd = -1, rc;

	if (relay[0] == '[') { /* [v6]:port */
		const char *close_br = strchr(relay, ']');

		if (close_br == NULL || (size_t)(close_br - relay) >= sizeof(host)) {
			*error_r = xasprintf("report-relay %s: bad address", relay);
			return -1;
		}
		memcpy(host, relay + 1, (size_t)(close_br - relay - 1));
		host[close_br - relay - 1] = '\0';
		if (close_br[1] == ':')
			port = (char *)close_br + 2;
	} else {
		const char *colon = strrchr(relay, ':');
		size_t hl = colon ? (size_t)(colon - relay) : strlen(relay);

		if (hl >= sizeof(host)) {
			*error_r = xasprintf("report-relay %s: name too long", relay);
			return -1;
		}
		memcpy(host, relay, hl);
		host[hl] = '\0';
		if (colon != NULL)
			port = (char *)colon + 1;
	}
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*error_r = xasprintf("report-relay %s: %s", relay, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_ms) == 0 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*error_r = xasprintf("report-relay %s: cannot connect", relay);
	return fd;
}

static int via_smtp(const struct report_send_options *o, const char *from, const char *const *rcpts,
		    size_t n, const char *msg, size_t len, char **error_r)
{
	struct smtp *s = xcalloc(1, sizeof(*s));
	char helo[256], *line = NULL;
	size_t accepted = 0;
	struct buf data;
	int code, ret = -1;

	s->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
	if ((s->fd = smtp_connect(o->relay, s->timeout_ms, error_r)) < 0) {
		free(s);
		return -1;
	}
	if (o->helo != NULL)
		snprintf(helo, sizeof(helo), "%s", o->helo);
	else if (gethostname(helo, sizeof(helo)) < 0)
		snprintf(helo, sizeof(helo), "localhost");
	helo[sizeof(helo) - 1] = '\0';
	buf_init(&data, len * 2 + 16);

#define STEP(cmd, ok, what)                                                                        \
	do {                                                                                       \
		free(line);                                                                        \
		line = (cmd);                                                                      \
		if ((code = smtp_cmd(s, line)) != (ok)) {                                          \
			*error_r = xasprintf("report-relay %s: %s: %s", o->relay, what,            \
					     code < 0 ? "no reply (timeout or closed)" : s->last); \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

	if ((code = smtp_reply(s)) != 220) {
		*error_r = xasprintf("report-relay %s: greeting: %s", o->relay,
				     code < 0 ? "no reply" : s->last);
		goto out;
	}
	STEP(xasprintf("EHLO %s\r\n", helo), 250, "EHLO");
	STEP(xasprintf("MAIL FROM:<%s>\r\n", from), 250, "MAIL FROM");
	for (size_t i = 0; i < n; i++) {
		free(line);
		line = xasprintf("RCPT TO:<%s>\r\n", rcpts[i]);
		code = smtp_cmd(s, line);
		if (code < 0) {
			*error_r = xasprintf("report-relay %s: RCPT: no reply", o->relay);
			goto out;
		}
		if (code / 100 == 2)
			accepted++;
	}
	if (accepted == 0) {
		*error_r =
		    xasprintf("report-relay %s: every recipient refused: %s", o->relay, s->last);
		goto out;
	}
	STEP(xasprintf("DATA\r\n"), 354, "DATA");
	/* CRLF line ends and dot-stuffing (RFC 5321 §4.5.2) */
	for (size_t i = 0, bol = 1; i < len; i++) {
		if (bol && msg[i] == '.')
			buf_puts(&data, ".");
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			buf_puts(&data, "\r");
		buf_append(&data, msg + i, 1);
		bol = msg[i] == '\n';
	}
	if (len > 0 && msg[len - 1] != '\n')
		buf_puts(&data, "\r\n");
	buf_puts(&data, ".\r\n");
	if (data.overflow || smtp_write(s, data.data, data.len) < 0) {
		*error_r = xasprintf("report-relay %s: cannot send the message", o->relay);
		goto out;
	}
	if ((code = smtp_reply(s)) != 250) {
		*error_r = xasprintf("report-relay %s: end of DATA: %s", o->relay,
				     code < 0 ? "no reply" : s->last);
		goto out;
	}
	ret = 0;
	smtp_cmd(s, "QUIT\r\n");
out:
#undef STEP
	free(line);
	buf_release(&data);
	close(s->fd);
	free(s);
	return ret;
}

int report_send(const struct report_send_options *o, const char *from, const char *const *rcpts,
		size_t rcpt_count, const char *msg, size_t len, char **error_r)
{
	if (rcpt_count == 0) {
		*error_r = xstrdup("no recipients");
		return -1;
	}
	if (o->relay != NULL && o->relay[0] != '\0')
		return via_smtp(o, from, rcpts, rcpt_count, msg, len, error_r);
	return via_sendmail(o->sendmail ? o->sendmail : REPORT_SENDMAIL, from, rcpts, rcpt_count,
			    msg, len, error_r);
}

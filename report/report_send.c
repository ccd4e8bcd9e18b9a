/*
 * report_send - sendmail(1), or SMTP through libcurl (see report_send.h).
 *
 * libcurl rather than a client of our own: STARTTLS, TLS, AUTH (PLAIN,
 * LOGIN, CRAM-MD5...), certificate checks and dot-stuffing are all its
 * well-tested code; this file only maps the settings onto its options.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "report_send.h"

#define AUTH_FILE_MAX 4096

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

/* The relay as libcurl's URL, the EHLO name as its path, and the TLS
 * mode in force; NULL with *error_r when the settings do not fit. */
static char *relay_url(const struct report_send_options *o, enum report_tls *tls_r, char **error_r)
{
	const char *relay = o->relay, *sep = strstr(relay, "://"), *rest;
	char helo[256], *esc, *url;
	int smtps = 0;
	enum report_tls tls = o->tls;

	if (sep != NULL) {
		size_t n = (size_t)(sep - relay);

		if (n == 5 && strncasecmp(relay, "smtps", 5) == 0)
			smtps = 1;
		else if (!(n == 4 && strncasecmp(relay, "smtp", 4) == 0)) {
			*error_r =
			    xasprintf("report-relay %s: only smtp:// and smtps:// relays", relay);
			return NULL;
		}
		rest = sep + 3;
	} else
		rest = relay;
	if (*rest == '\0' || *rest == '/' || strpbrk(rest, " \t\r\n@") != NULL) {
		*error_r = xasprintf("report-relay %s: expected host[:port], smtp://host[:port] or "
				     "smtps://host[:port]",
				     relay);
		return NULL;
	}
	if (tls == REPORT_TLS_DEFAULT)
		tls = smtps		? REPORT_TLS_TLS
		      : o->user != NULL ? REPORT_TLS_STARTTLS
					: REPORT_TLS_NONE;
	if (smtps && tls != REPORT_TLS_TLS) {
		*error_r = xasprintf("report-relay %s: smtps:// is TLS from the first byte: "
				     "report-smtp-tls must be tls (or unset)",
				     relay);
		return NULL;
	}
	if (o->user != NULL && (tls == REPORT_TLS_NONE || tls == REPORT_TLS_MAY)) {
		*error_r = xasprintf("report-relay %s: AUTH could send the password in clear: "
				     "set report-smtp-tls starttls or tls",
				     relay);
		return NULL;
	}
	if (o->helo != NULL)
		snprintf(helo, sizeof(helo), "%s", o->helo);
	else if (gethostname(helo, sizeof(helo)) < 0)
		snprintf(helo, sizeof(helo), "localhost");
	helo[sizeof(helo) - 1] = '\0';
	if ((esc = curl_easy_escape(NULL, helo, 0)) == NULL) {
		*error_r = xstrdup("out of memory");
		return NULL;
	}
	/* a path of its own is the admin's EHLO name: kept */
	url = xasprintf("%s://%s%s%s", tls == REPORT_TLS_TLS ? "smtps" : "smtp", rest,
			strchr(rest, '/') != NULL ? "" : "/", strchr(rest, '/') != NULL ? "" : esc);
	curl_free(esc);
	*tls_r = tls;
	return url;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

/* msg with CRLF line ends (RFC 5321 §2.3.8) into data; libcurl
 * dot-stuffs (§4.5.2).  -1 with *error_r set (and data released) when it
 * is too large. */
static int crlf_message(const struct report_send_options *o, const char *msg, size_t len,
			struct buf *data, char **error_r)
{
	buf_init(data, len * 2 + 16);
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			buf_puts(data, "\r");
		buf_append(data, msg + i, 1);
	}
	if (len > 0 && msg[len - 1] != '\n')
		buf_puts(data, "\r\n");
	if (data->overflow) {
		*error_r = xasprintf("report-relay %s: the message is too large", o->relay);
		buf_release(data);
		return -1;
	}
	return 0;
}

/* The RCPT TO addresses, each in <>. */
static struct curl_slist *rcpt_list(const char *const *rcpts, size_t n)
{
	struct curl_slist *to = NULL;

	for (size_t i = 0; i < n; i++) {
		char *r = xasprintf("<%s>", rcpts[i]);

		to = curl_slist_append(to, r);
		free(r);
	}
	return to;
}

/* Why the transfer failed, in words, with the relay's last reply code. */
static char *smtp_error(const struct report_send_options *o, CURL *c, CURLcode rc,
			const char *errbuf)
{
	char reply[48] = "";
	long code = 0;

	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 400)
		snprintf(reply, sizeof(reply), " (last reply %ld)", code);
	return xasprintf("report-relay %s: %s%s%s%s", o->relay,
			 rc == CURLE_LOGIN_DENIED     ? "AUTH refused (user or password wrong?)"
			 : rc == CURLE_USE_SSL_FAILED ? "STARTTLS failed (not offered, or refused)"
			 : rc == CURLE_PEER_FAILED_VERIFICATION
			     ? "the relay's certificate does not verify (report-smtp-ca-file?)"
			     : curl_easy_strerror(rc),
			 errbuf[0] != '\0' ? ": " : "", errbuf, reply);
}

static int via_smtp(const struct report_send_options *o, const char *from, const char *const *rcpts,
		    size_t n, const char *msg, size_t len, char **error_r)
{
	static const long use_ssl[] = {
	    [REPORT_TLS_NONE] = CURLUSESSL_NONE,
	    [REPORT_TLS_MAY] = CURLUSESSL_TRY,
	    [REPORT_TLS_STARTTLS] = CURLUSESSL_ALL,
	    [REPORT_TLS_TLS] = CURLUSESSL_ALL,
	};
	char errbuf[CURL_ERROR_SIZE] = "", *url, *mail_from;
	unsigned timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
	long timeout_s = timeout_ms < 1000 ? 1 : (long)(timeout_ms / 1000);
	struct curl_slist *to = NULL;
	enum report_tls tls;
	struct upload up = {0};
	struct buf data;
	CURL *c;
	CURLcode rc;

	if ((url = relay_url(o, &tls, error_r)) == NULL)
		return -1;
	if ((c = curl_easy_init()) == NULL) {
		*error_r = xasprintf("report-relay %s: cannot start libcurl", o->relay);
		free(url);
		return -1;
	}
	if (crlf_message(o, msg, len, &data, error_r) < 0) {
		curl_easy_cleanup(c);
		free(url);
		return -1;
	}
	up.data = data.data;
	up.len = data.len;
	mail_from = xasprintf("<%s>", from);
	to = rcpt_list(rcpts, n);
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl[tls]);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o->no_verify ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o->no_verify ? 0L : 2L);
	if (o->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	if (o->user != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, o->password ? o->password : "");
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
	/* as before: sent when at least one recipient is accepted */
#if LIBCURL_VERSION_NUM >= 0x080200
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_s);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		*error_r = smtp_error(o, c, rc, errbuf);
	curl_slist_free_all(to);
	curl_easy_cleanup(c);
	buf_release(&data);
	free(mail_from);
	free(url);
	return rc == CURLE_OK ? 0 : -1;
}

int report_tls_parse(const char *word)
{
	static const char *const names[] = {
	    [REPORT_TLS_NONE] = "none",
	    [REPORT_TLS_MAY] = "may",
	    [REPORT_TLS_STARTTLS] = "starttls",
	    [REPORT_TLS_TLS] = "tls",
	};

	if (word == NULL)
		return REPORT_TLS_DEFAULT;
	for (int i = REPORT_TLS_NONE; i <= REPORT_TLS_TLS; i++)
		if (strcmp(word, names[i]) == 0)
			return i;
	return -1;
}

int report_send_auth_load(const char *path, char **user_r, char **password_r, char **error_r)
{
	char text[AUTH_FILE_MAX + 1], *nl, *pw;
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0) {
		*error_r = xasprintf("report-smtp-auth-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = xasprintf("report-smtp-auth-file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 0027) != 0) {
		*error_r = xasprintf("report-smtp-auth-file %s: mode %04o: others may read it or "
				     "others than its owner write it (chmod 0600, or 0640 for a "
				     "group)",
				     path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	while (len < sizeof(text) && (got = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*error_r = xasprintf("report-smtp-auth-file %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		len += (size_t)got;
	}
	close(fd);
	if (len > AUTH_FILE_MAX) {
		*error_r = xasprintf("report-smtp-auth-file %s: longer than %d bytes", path,
				     AUTH_FILE_MAX);
		explicit_bzero(text, sizeof(text));
		return -1;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		*error_r = xasprintf("report-smtp-auth-file %s: a NUL byte in it", path);
		explicit_bzero(text, sizeof(text));
		return -1;
	}
	nl = strchr(text, '\n');
	pw = nl != NULL ? nl + 1 : NULL;
	if (nl != NULL)
		*nl = '\0';
	if (pw != NULL)
		pw[strcspn(pw, "\r\n")] = '\0';
	text[strcspn(text, "\r")] = '\0';
	if (text[0] == '\0' || pw == NULL || pw[0] == '\0') {
		*error_r =
		    xasprintf("report-smtp-auth-file %s: expected the user name on the first "
			      "line and the password on the second",
			      path);
		explicit_bzero(text, sizeof(text));
		return -1;
	}
	*user_r = xstrdup(text);
	*password_r = xstrdup(pw);
	explicit_bzero(text, sizeof(text));
	return 0;
}

int report_send_check(const struct report_send_options *o, char **error_r)
{
	enum report_tls tls;
	char *url;

	if (o->relay == NULL || o->relay[0] == '\0')
		return 0;
	if ((url = relay_url(o, &tls, error_r)) == NULL)
		return -1;
	free(url);
	return 0;
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

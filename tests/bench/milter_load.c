/*
 * milter_load - a milter-protocol load generator: plays the MTA's side of
 * the milter protocol (version 6, <libmilter/mfdef.h>) against a filter.
 *
 * Each of -c sessions (one thread each, blocking sockets with timeouts)
 * takes messages from a shared counter until -n are done and replays the
 * one .eml file (-f) through the whole protocol: option negotiation (we
 * offer every action and protocol flag, including all SMFIP_NR_* and
 * SMFIP_HDR_LEADSPC, and then honour what the filter asked for: stages it
 * skips are not sent, stages it marked no-reply are not waited for),
 * macros, connect, helo, mail, rcpt, data, one header packet per field,
 * eoh, body chunks, eom and its modifications, then quit, or abort and the
 * next message on the same connection (-m).  A filter that closes, stalls
 * or answers garbage costs an error count, never a crash or a hang.
 *
 * Prints one line of key=value (see usage()).  With -o N it instead holds
 * N sessions open after helo and reports the filter's memory (-p PID);
 * with -b as well, each held session has sent its message up to the end of
 * the body (everything but eom: messages in flight), then the eoms go.
 * Only the benchmark script (tests/bench/milter_bench.sh) runs it.
 */
#include "config.h"
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmilter/mfdef.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX   (1024 * 1024) /* a longer reply packet is garbage */
#define CHUNK_MAX   MILTER_CHUNK_SIZE
#define MAX_THREADS 4096

struct header {
	char *name;
	char *value; /* as in the message: the blank after the colon kept */
};

struct eml {
	struct header *headers;
	size_t header_count;
	char *body; /* CRLF line ends */
	size_t body_len;
};

struct opts {
	int concurrency;
	long total;
	long per_conn;
	const char *eml_path;
	const char *socket;
	const char *client_ip;
	const char *client_name;
	const char *helo;
	const char *from;
	const char *rcpt;
	int timeout_s;
	int empty_auth; /* send an empty {auth_authen}, as some MTAs do */
	int hold;	/* -o: sessions to hold open */
	int hold_body;	/* -b: hold them with a message in flight, eom not sent */
	long pid;	/* -p: the filter, for CPU and memory */
	int verbose;
};

static struct opts opt = {
	.concurrency = 10,
	.total = 1000,
	.per_conn = 1,
	.client_ip = "203.0.113.10",
	.client_name = "client.authscore.test",
	.helo = "client.authscore.test",
	.from = "sender@authscore.test",
	.rcpt = "user@sink.test",
	.timeout_s = 30,
};

static struct eml eml;
static atomic_long next_msg;
static atomic_int verbose_left;
static double *latency_ms; /* indexed by message number; < 0: not completed */

/* The final answers, by kind. */
enum outcome { O_ACCEPT, O_CONTINUE, O_REJECT, O_TEMPFAIL, O_DISCARD, O_COUNT };
static const char *const outcome_name[O_COUNT] = {"accept", "continue", "reject", "tempfail",
						  "discard"};

struct stats {
	long msgs, errors, round_trips, mods;
	long outcomes[O_COUNT];
};

struct session {
	int fd;
	uint32_t actions, pflags; /* as negotiated */
	struct stats *st;
	char *buf; /* outgoing packet */
	size_t buf_size;
	char *reply; /* last reply's data */
	uint32_t reply_len;
	const char *error; /* why the session broke */
	int show;	   /* -v: print this message's modifications */
};

/* What a stage's reply said. */
enum reply { R_CONTINUE, R_SKIP, R_FINAL, R_ERROR };

static void *xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		perror("milter_load: malloc");
		exit(2);
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---------------------------------------------------------------- message */

/* Headers unfolded into one field each, continuation lines joined with a
 * bare LF as Postfix and Sendmail pass them; the body with CRLF line ends
 * whatever the file had. */
static int eml_load(const char *path, struct eml *m)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0, body_cap = 0, header_cap = 0;
	ssize_t n;
	int in_body = 0;

	if (f == NULL)
		return -1;
	memset(m, 0, sizeof(*m));
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (in_body) {
			if (m->body_len + (size_t)n + 2 > body_cap) {
				body_cap = (m->body_len + (size_t)n + 2) * 2;
				m->body = realloc(m->body, body_cap);
				if (m->body == NULL)
					return -1;
			}
			memcpy(m->body + m->body_len, line, (size_t)n);
			memcpy(m->body + m->body_len + n, "\r\n", 2);
			m->body_len += (size_t)n + 2;
		} else if (n == 0) {
			in_body = 1;
		} else if ((line[0] == ' ' || line[0] == '\t') && m->header_count > 0) {
			struct header *h = &m->headers[m->header_count - 1];
			size_t old = strlen(h->value);

			h->value = realloc(h->value, old + (size_t)n + 2);
			if (h->value == NULL)
				return -1;
			h->value[old] = '\n';
			memcpy(h->value + old + 1, line, (size_t)n + 1);
		} else {
			char *colon = strchr(line, ':');

			if (colon == NULL)
				continue; /* not a header field: dropped, as an MTA would not pass it */
			if (m->header_count == header_cap) {
				header_cap = header_cap ? header_cap * 2 : 32;
				m->headers = realloc(m->headers, header_cap * sizeof(*m->headers));
				if (m->headers == NULL)
					return -1;
			}
			m->headers[m->header_count].name = xstrndup(line, (size_t)(colon - line));
			m->headers[m->header_count].value = xstrndup(colon + 1, strlen(colon + 1));
			m->header_count++;
		}
	}
	free(line);
	fclose(f);
	return m->header_count > 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ wire */

static int write_all(struct session *s, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(s->fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->error = (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					   ? "write timeout"
					   : "write failed";
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int read_all(struct session *s, char *p, size_t len)
{
	while (len > 0) {
		ssize_t r = recv(s->fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			s->error = r == 0 ? "filter closed the connection"
			           : (errno == EAGAIN || errno == EWOULDBLOCK) ? "read timeout"
								       : "read failed";
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Packet building: a 4-byte network-order length, the command, the data. */
static void pkt_reserve(struct session *s, size_t len)
{
	if (len > s->buf_size) {
		s->buf_size = len * 2;
		s->buf = realloc(s->buf, s->buf_size);
		if (s->buf == NULL) {
			perror("milter_load: realloc");
			exit(2);
		}
	}
}

static size_t pkt_begin(struct session *s, char cmd)
{
	pkt_reserve(s, 5);
	s->buf[4] = cmd;
	return 5;
}

static size_t pkt_add(struct session *s, size_t at, const void *data, size_t len)
{
	pkt_reserve(s, at + len);
	memcpy(s->buf + at, data, len);
	return at + len;
}

static size_t pkt_str(struct session *s, size_t at, const char *str)
{
	return pkt_add(s, at, str, strlen(str) + 1);
}

static int pkt_send(struct session *s, size_t end)
{
	uint32_t n = htonl((uint32_t)(end - 4));

	memcpy(s->buf, &n, 4);
	return write_all(s, s->buf, end);
}

/* Reads one reply packet into s->reply; returns its command or -1. */
static int read_reply(struct session *s)
{
	uint32_t n;
	char cmd;

	if (read_all(s, (char *)&n, 4) < 0)
		return -1;
	n = ntohl(n);
	if (n < 1 || n > REPLY_MAX) {
		s->error = "garbage: bad reply length";
		return -1;
	}
	if (read_all(s, &cmd, 1) < 0)
		return -1;
	s->reply_len = n - 1;
	s->reply = realloc(s->reply, s->reply_len + 1);
	if (s->reply == NULL) {
		perror("milter_load: realloc");
		exit(2);
	}
	if (read_all(s, s->reply, s->reply_len) < 0)
		return -1;
	s->reply[s->reply_len] = '\0';
	return (unsigned char)cmd;
}

static void show_mod(int cmd, const char *data, uint32_t len)
{
	uint32_t index = 0;
	const char *name, *value;

	if ((cmd == SMFIR_INSHEADER || cmd == SMFIR_CHGHEADER) && len >= 4) {
		memcpy(&index, data, 4);
		index = ntohl(index);
		data += 4;
		len -= 4;
	}
	name = data;
	value = memchr(data, '\0', len) != NULL ? name + strlen(name) + 1 : "";
	if (value >= data + len)
		value = "";
	fprintf(stderr, "milter_load: mod '%c' #%u %s:", cmd, index, name);
	for (; *value != '\0'; value++) /* folded values on one line */
		fputc(*value == '\n' || *value == '\r' || *value == '\t' ? ' ' : *value, stderr);
	fputc('\n', stderr);
}

/* Waits for the reply to a stage (after the request was sent): continue
 * and skip let the message go on; anything final sets *outcome. */
static enum reply await(struct session *s, int eom, enum outcome *outcome)
{
	int cmd;

	s->st->round_trips++;
	for (;;) {
		if ((cmd = read_reply(s)) < 0)
			return R_ERROR;
		switch (cmd) {
		case SMFIR_CONTINUE:
			if (!eom)
				return R_CONTINUE;
			*outcome = O_CONTINUE;
			return R_FINAL;
		case SMFIR_SKIP:
			return R_SKIP;
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_ACCEPT:
			*outcome = O_ACCEPT;
			return R_FINAL;
		case SMFIR_REJECT:
			*outcome = O_REJECT;
			return R_FINAL;
		case SMFIR_TEMPFAIL:
		case SMFIR_SHUTDOWN:
		case SMFIR_CONN_FAIL:
			*outcome = O_TEMPFAIL;
			return R_FINAL;
		case SMFIR_DISCARD:
			*outcome = O_DISCARD;
			return R_FINAL;
		case SMFIR_REPLYCODE:
			if (s->reply_len < 3 || (s->reply[0] != '4' && s->reply[0] != '5')) {
				s->error = "garbage: bad reply code";
				return R_ERROR;
			}
			*outcome = s->reply[0] == '5' ? O_REJECT : O_TEMPFAIL;
			return R_FINAL;
		case SMFIR_ADDHEADER:
		case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER:
		case SMFIR_QUARANTINE:
		case SMFIR_ADDRCPT:
		case SMFIR_ADDRCPT_PAR:
		case SMFIR_DELRCPT:
		case SMFIR_CHGFROM:
		case SMFIR_REPLBODY:
			if (!eom) {
				s->error = "modification before end of message";
				return R_ERROR;
			}
			s->st->mods++;
			if (s->show)
				show_mod(cmd, s->reply, s->reply_len);
			continue;
		default:
			s->error = "garbage: unknown reply";
			return R_ERROR;
		}
	}
}

/* Sends a stage's packet; waits for the reply unless the filter said it
 * gives none (nr_flag negotiated). */
static enum reply stage(struct session *s, size_t end, uint32_t nr_flag, enum outcome *outcome)
{
	if (pkt_send(s, end) < 0)
		return R_ERROR;
	if (nr_flag != 0 && (s->pflags & nr_flag))
		return R_CONTINUE;
	return await(s, 0, outcome);
}

/* SMFIC_MACRO for the command cmd: name, value pairs, NULL-terminated. */
static int macros(struct session *s, char cmd, ...)
{
	va_list ap;
	const char *name;
	size_t at = pkt_begin(s, SMFIC_MACRO);

	at = pkt_add(s, at, &cmd, 1);
	va_start(ap, cmd);
	while ((name = va_arg(ap, const char *)) != NULL) {
		at = pkt_str(s, at, name);
		at = pkt_str(s, at, va_arg(ap, const char *));
	}
	va_end(ap);
	return pkt_send(s, at);
}

/* ------------------------------------------------------------- sessions */

static int dial(struct session *s)
{
	const char *sock = opt.socket;
	int fd = -1;

	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0 || sock[0] == '/') {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		const char *path = sock[0] == '/' ? sock : strchr(sock, ':') + 1;

		if (strlen(path) >= sizeof(sun.sun_path)) {
			s->error = "socket path too long";
			return -1;
		}
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			close(fd);
			fd = -1;
		}
	} else if (strncmp(sock, "inet:", 5) == 0 || strncmp(sock, "inet6:", 6) == 0) {
		/* inet:port@host, as libmilter and Postfix spell it */
		char *spec = strdup(strchr(sock, ':') + 1), *at = strchr(spec, '@');
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
		int one = 1;

		if (at != NULL)
			*at++ = '\0';
		if (getaddrinfo(at != NULL ? at : "127.0.0.1", spec, &hints, &res) == 0) {
			for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
				fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (fd < 0)
					continue;
				/* our small packets go out at once; the filter's side is its own
				 * business, and what this benchmark looks at */
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
					close(fd);
					fd = -1;
				}
			}
			freeaddrinfo(res);
		}
		free(spec);
	} else {
		s->error = "socket must be unix:PATH or inet:PORT@HOST";
		return -1;
	}
	if (fd < 0) {
		s->error = "cannot connect";
		return -1;
	}
	{
		struct timeval tv = {.tv_sec = opt.timeout_s};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	s->fd = fd;
	return 0;
}

static void hangup(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Option negotiation: offer everything, keep what the filter chose. */
static int negotiate(struct session *s)
{
	uint32_t offer[3] = {htonl(SMFI_PROT_VERSION), htonl(SMFI_CURR_ACTS),
			     htonl(SMFI_CURR_PROT)};
	size_t at = pkt_add(s, pkt_begin(s, SMFIC_OPTNEG), offer, sizeof(offer));
	int cmd;

	if (pkt_send(s, at) < 0)
		return -1;
	s->st->round_trips++;
	if ((cmd = read_reply(s)) < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || s->reply_len < 12) {
		s->error = "garbage: bad negotiation reply";
		return -1;
	}
	memcpy(offer, s->reply, sizeof(offer));
	s->actions = ntohl(offer[1]);
	s->pflags = ntohl(offer[2]);
	/* Any macro lists after the 12 bytes (smfi_setsymlist) are ignored: we
	 * send the same few macros at every stage anyway. */
	if (ntohl(offer[0]) < 2 || (s->pflags & ~SMFI_CURR_PROT & ~SMFI_INTERNAL)) {
		s->error = "filter asked for a protocol we did not offer";
		return -1;
	}
	return 0;
}

/* Connect and helo: R_CONTINUE, R_FINAL (the filter is done with this
 * connection: *outcome), or R_ERROR. */
static enum reply open_session(struct session *s, enum outcome *outcome)
{
	enum reply r = R_CONTINUE;
	size_t at;

	if (dial(s) < 0 || negotiate(s) < 0)
		return R_ERROR;
	if (macros(s, SMFIC_CONNECT, "j", "mx.authscore.test", "{daemon_name}", "authscore-bench",
		   "v", "Postfix 3.7", "_", "client.authscore.test [203.0.113.10]", NULL) < 0)
		return R_ERROR;
	if (!(s->pflags & SMFIP_NOCONNECT)) {
		int v6 = strchr(opt.client_ip, ':') != NULL;
		uint16_t port = htons(49152);

		at = pkt_str(s, pkt_begin(s, SMFIC_CONNECT), opt.client_name);
		at = pkt_add(s, at, v6 ? "6" : "4", 1);
		at = pkt_add(s, at, &port, 2);
		at = pkt_str(s, at, opt.client_ip);
		if ((r = stage(s, at, SMFIP_NR_CONN, outcome)) != R_CONTINUE)
			return r;
	}
	if (!(s->pflags & SMFIP_NOHELO)) {
		at = pkt_str(s, pkt_begin(s, SMFIC_HELO), opt.helo);
		r = stage(s, at, SMFIP_NR_HELO, outcome);
	}
	return r == R_SKIP ? R_CONTINUE : r;
}

static void queue_id(long msgno, char *qid, size_t size)
{
	snprintf(qid, size, "4B%08lX", msgno);
}

/* A transaction up to its last body chunk, eom not sent.  Returns
 * R_CONTINUE (the body sent), R_FINAL (*outcome set) or R_ERROR. */
static enum reply message_upto_eom(struct session *s, long msgno, enum outcome *outcome)
{
	enum reply r;
	size_t at;
	char qid[32], arg[512];

	queue_id(msgno, qid, sizeof(qid));
	if ((opt.empty_auth ? macros(s, SMFIC_MAIL, "i", qid, "{auth_authen}", "", "{mail_addr}",
				     opt.from, NULL)
			    : macros(s, SMFIC_MAIL, "i", qid, "{mail_addr}", opt.from, NULL)) < 0)
		return R_ERROR;
	if (!(s->pflags & SMFIP_NOMAIL)) {
		snprintf(arg, sizeof(arg), "<%s>", opt.from);
		at = pkt_str(s, pkt_begin(s, SMFIC_MAIL), arg);
		at = pkt_str(s, at, "BODY=8BITMIME");
		if ((r = stage(s, at, SMFIP_NR_MAIL, outcome)) != R_CONTINUE && r != R_SKIP)
			return r;
	}
	if (macros(s, SMFIC_RCPT, "{rcpt_addr}", opt.rcpt, NULL) < 0)
		return R_ERROR;
	if (!(s->pflags & SMFIP_NORCPT)) {
		snprintf(arg, sizeof(arg), "<%s>", opt.rcpt);
		at = pkt_str(s, pkt_begin(s, SMFIC_RCPT), arg);
		if ((r = stage(s, at, SMFIP_NR_RCPT, outcome)) != R_CONTINUE && r != R_SKIP)
			return r;
	}
	if (!(s->pflags & SMFIP_NODATA)) {
		at = pkt_begin(s, SMFIC_DATA);
		if ((r = stage(s, at, SMFIP_NR_DATA, outcome)) != R_CONTINUE && r != R_SKIP)
			return r;
	}
	if (!(s->pflags & SMFIP_NOHDRS)) {
		int lead = (s->pflags & SMFIP_HDR_LEADSPC) != 0;

		for (size_t i = 0; i < eml.header_count; i++) {
			const char *v = eml.headers[i].value;

			if (!lead) /* the MTA strips the blank after the colon */
				v += strspn(v, " \t");
			at = pkt_str(s, pkt_begin(s, SMFIC_HEADER), eml.headers[i].name);
			at = pkt_str(s, at, v);
			r = stage(s, at, SMFIP_NR_HDR, outcome);
			if (r == R_SKIP)
				break;
			if (r != R_CONTINUE)
				return r;
		}
	}
	if (!(s->pflags & SMFIP_NOEOH)) {
		at = pkt_begin(s, SMFIC_EOH);
		if ((r = stage(s, at, SMFIP_NR_EOH, outcome)) != R_CONTINUE && r != R_SKIP)
			return r;
	}
	if (!(s->pflags & SMFIP_NOBODY)) {
		for (size_t off = 0; off < eml.body_len; off += CHUNK_MAX) {
			size_t len = eml.body_len - off < CHUNK_MAX ? eml.body_len - off : CHUNK_MAX;

			at = pkt_add(s, pkt_begin(s, SMFIC_BODY), eml.body + off, len);
			r = stage(s, at, SMFIP_NR_BODY, outcome);
			if (r == R_SKIP)
				break;
			if (r != R_CONTINUE)
				return r;
		}
	}
	return R_CONTINUE;
}

/* The end of the body and the filter's final reply. */
static enum reply end_of_message(struct session *s, long msgno, enum outcome *outcome)
{
	enum reply r;
	char qid[32];

	queue_id(msgno, qid, sizeof(qid));
	if (macros(s, SMFIC_BODYEOB, "i", qid, NULL) < 0)
		return R_ERROR;
	if (pkt_send(s, pkt_begin(s, SMFIC_BODYEOB)) < 0)
		return R_ERROR;
	s->show = atomic_exchange(&verbose_left, 0);
	r = await(s, 1, outcome);
	s->show = 0;
	return r;
}

/* One transaction, mail to eom.  Returns R_FINAL (*outcome set) or R_ERROR. */
static enum reply transaction(struct session *s, long msgno, enum outcome *outcome)
{
	enum reply r = message_upto_eom(s, msgno, outcome);

	return r == R_CONTINUE ? end_of_message(s, msgno, outcome) : r;
}

static void quit(struct session *s)
{
	if (s->fd >= 0)
		(void)pkt_send(s, pkt_begin(s, SMFIC_QUIT));
	hangup(s);
}

static void note_error(struct session *s)
{
	s->st->errors++;
	if (opt.verbose)
		fprintf(stderr, "milter_load: %s\n", s->error ? s->error : "error");
	hangup(s);
}

static void *worker(void *arg)
{
	struct session s = {.fd = -1, .st = arg};
	long done_on_conn = 0, msgno;

	while ((msgno = atomic_fetch_add(&next_msg, 1)) < opt.total) {
		double t0 = now_s();
		enum outcome o = O_CONTINUE;
		enum reply r;

		if (s.fd < 0) {
			done_on_conn = 0;
			s.error = NULL;
			r = open_session(&s, &o);
			if (r == R_ERROR) {
				note_error(&s);
				continue;
			}
			if (r == R_FINAL) { /* refused at connect or helo: the message ends here */
				s.st->msgs++;
				s.st->outcomes[o]++;
				latency_ms[msgno] = (now_s() - t0) * 1e3;
				quit(&s);
				continue;
			}
		}
		r = transaction(&s, msgno, &o);
		if (r == R_ERROR) {
			note_error(&s);
			continue;
		}
		latency_ms[msgno] = (now_s() - t0) * 1e3;
		s.st->msgs++;
		s.st->outcomes[o]++;
		if (++done_on_conn >= opt.per_conn || atomic_load(&next_msg) >= opt.total) {
			quit(&s);
		} else if (pkt_send(&s, pkt_begin(&s, SMFIC_ABORT)) < 0) { /* no reply to abort */
			note_error(&s);
		}
	}
	quit(&s);
	free(s.buf);
	free(s.reply);
	return NULL;
}

/* ------------------------------------------------------ filter's figures */

static long proc_cpu_ticks(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the ")" of comm: state is 3, utime 14, stime 15 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

static long proc_kb(long pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* ----------------------------------------------------------- hold mode */

static pthread_barrier_t held, release;

static void *holder(void *arg)
{
	struct session s = {.fd = -1, .st = arg};
	enum outcome o = O_CONTINUE;
	enum reply r = open_session(&s, &o);
	long msgno = atomic_fetch_add(&next_msg, 1);

	if (r == R_CONTINUE && opt.hold_body)
		r = message_upto_eom(&s, msgno, &o);
	if (r != R_CONTINUE) {
		if (r == R_ERROR)
			s.st->errors++;
		hangup(&s);
	}
	pthread_barrier_wait(&held);
	pthread_barrier_wait(&release);
	if (r == R_CONTINUE && opt.hold_body) { /* the held message's end, its answer */
		r = end_of_message(&s, msgno, &o);
		if (r == R_ERROR) {
			s.st->errors++;
		} else {
			s.st->msgs++;
			s.st->outcomes[o]++;
		}
	}
	quit(&s);
	free(s.buf);
	free(s.reply);
	return NULL;
}

/* Until the filter's CPU time has not moved for 300 ms (it has read and
 * handled every chunk sent), at most 20 s. */
static void wait_filter_still(void)
{
	long last = proc_cpu_ticks(opt.pid), now;
	int still = 0;

	for (int i = 0; i < 200 && still < 3; i++) {
		usleep(100 * 1000);
		now = proc_cpu_ticks(opt.pid);
		still = now == last ? still + 1 : 0;
		last = now;
	}
}

/* -o: THREADS sessions held open (-b: each with its message in flight),
 * the filter's memory then; with -b the eoms after, and the peak. */
static int hold_sessions(pthread_t *tid, struct stats *st, int threads, pthread_attr_t *attr)
{
	long idle_rss = proc_kb(opt.pid, "status", "VmRSS"), rss, hwm, pss, nthreads;
	struct stats sum = {0};

	pthread_barrier_init(&held, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&release, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], attr, holder, &st[i]) != 0) {
			perror("milter_load: pthread_create");
			return 2;
		}
	pthread_barrier_wait(&held);
	if (opt.hold_body)
		wait_filter_still();
	else
		usleep(200 * 1000); /* let the filter finish what connect started (DNS) */
	for (int i = 0; i < threads; i++)
		sum.errors += st[i].errors;
	rss = proc_kb(opt.pid, "status", "VmRSS");
	hwm = proc_kb(opt.pid, "status", "VmHWM");
	pss = proc_kb(opt.pid, "smaps_rollup", "Pss");
	nthreads = proc_kb(opt.pid, "status", "Threads");
	pthread_barrier_wait(&release);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	printf("held=%d errors=%ld idle_rss_kb=%ld rss_kb=%ld hwm_kb=%ld pss_kb=%ld threads=%ld",
	       threads - (int)sum.errors, sum.errors, idle_rss, rss, hwm, pss, nthreads);
	if (opt.hold_body) {
		sum.errors = 0;
		for (int i = 0; i < threads; i++) {
			sum.msgs += st[i].msgs;
			sum.errors += st[i].errors;
			for (int k = 0; k < O_COUNT; k++)
				sum.outcomes[k] += st[i].outcomes[k];
		}
		printf(" in_flight=1 done=%ld peak_kb=%ld replies=", sum.msgs,
		       proc_kb(opt.pid, "status", "VmHWM"));
		for (int k = 0; k < O_COUNT; k++)
			printf("%s%s:%ld", k ? "," : "", outcome_name[k], sum.outcomes[k]);
		printf(" total_errors=%ld", sum.errors);
	}
	printf("\n");
	return sum.errors ? 1 : 0;
}

/* ----------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, long n, double p)
{
	long i;

	if (n == 0)
		return 0;
	i = (long)(p * (double)(n - 1) + 0.5);
	return sorted[i];
}

static void usage(void)
{
	fprintf(stderr,
		"usage: milter_load -s unix:PATH|inet:PORT@HOST -f MESSAGE.eml [-c sessions]\n"
		"       [-n messages] [-m messages-per-connection] [-a client-ip] [-N client-name]\n"
		"       [-H helo] [-F mail-from] [-R rcpt] [-t timeout-s] [-e] [-p filter-pid] [-v]\n"
		"       milter_load -s SOCKET -f MESSAGE.eml -o SESSIONS -p PID [-b]\n"
		"  -e  send an empty {auth_authen} macro with MAIL (Postfix omits it)\n"
		"  -o  hold SESSIONS open after helo, print the filter's memory, close them\n"
		"  -b  with -o: hold each session with the message sent up to its end of body\n"
		"      (eom not sent); once the filter's CPU time is still, print its memory,\n"
		"      then send the eoms: in_flight=N done=N peak_kb (VmHWM after) replies=...\n"
		"Prints: msgs secs msg_per_s p50_ms p90_ms p99_ms round_trips_per_msg\n"
		"  replies=accept:N,continue:N,... mods_per_msg errors [milter_cpu_ms_per_msg]\n"
		"Latency: a message's first packet (or socket connect) to its final reply.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c, threads;
	pthread_t *tid;
	struct stats *st, sum = {0};
	pthread_attr_t attr;
	double t0, secs;
	long cpu0 = -1, cpu1 = -1;

	while ((c = getopt(argc, argv, "c:n:m:f:s:a:N:H:F:R:t:ep:o:bv")) != -1) {
		switch (c) {
		case 'c': opt.concurrency = atoi(optarg); break;
		case 'n': opt.total = atol(optarg); break;
		case 'm': opt.per_conn = atol(optarg); break;
		case 'f': opt.eml_path = optarg; break;
		case 's': opt.socket = optarg; break;
		case 'a': opt.client_ip = optarg; break;
		case 'N': opt.client_name = optarg; break;
		case 'H': opt.helo = optarg; break;
		case 'F': opt.from = optarg; break;
		case 'R': opt.rcpt = optarg; break;
		case 't': opt.timeout_s = atoi(optarg); break;
		case 'e': opt.empty_auth = 1; break;
		case 'p': opt.pid = atol(optarg); break;
		case 'o': opt.hold = atoi(optarg); break;
		case 'b': opt.hold_body = 1; break;
		case 'v': opt.verbose = 1; break;
		default: usage();
		}
	}
	if (opt.socket == NULL || opt.eml_path == NULL || opt.concurrency < 1 ||
	    opt.concurrency > MAX_THREADS || opt.total < 1 || opt.per_conn < 1 ||
	    opt.timeout_s < 1 || opt.hold < 0 || opt.hold > MAX_THREADS ||
	    (opt.hold > 0 && opt.pid <= 0) || (opt.hold_body && opt.hold == 0))
		usage();
	if (eml_load(opt.eml_path, &eml) < 0) {
		fprintf(stderr, "milter_load: cannot read a message from %s\n", opt.eml_path);
		return 2;
	}
	atomic_store(&verbose_left, opt.verbose ? 1 : 0);
	threads = opt.hold > 0 ? opt.hold : opt.concurrency;
	if (opt.hold == 0 && threads > opt.total)
		threads = (int)opt.total;
	tid = xmalloc(sizeof(*tid) * (size_t)threads);
	st = calloc((size_t)threads, sizeof(*st));
	latency_ms = xmalloc(sizeof(*latency_ms) * (size_t)opt.total);
	for (long i = 0; i < opt.total; i++)
		latency_ms[i] = -1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);

	if (opt.hold > 0)
		return hold_sessions(tid, st, threads, &attr);

	if (opt.pid > 0)
		cpu0 = proc_cpu_ticks(opt.pid);
	t0 = now_s();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], &attr, worker, &st[i]) != 0) {
			perror("milter_load: pthread_create");
			return 2;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	secs = now_s() - t0;
	if (opt.pid > 0)
		cpu1 = proc_cpu_ticks(opt.pid);

	for (int i = 0; i < threads; i++) {
		sum.msgs += st[i].msgs;
		sum.errors += st[i].errors;
		sum.round_trips += st[i].round_trips;
		sum.mods += st[i].mods;
		for (int k = 0; k < O_COUNT; k++)
			sum.outcomes[k] += st[i].outcomes[k];
	}
	{
		long n = 0;
		double per = sum.msgs > 0 ? (double)sum.msgs : 1;

		for (long i = 0; i < opt.total; i++)
			if (latency_ms[i] >= 0)
				latency_ms[n++] = latency_ms[i];
		qsort(latency_ms, (size_t)n, sizeof(*latency_ms), cmp_double);
		printf("msgs=%ld secs=%.3f msg_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
		       "round_trips_per_msg=%.2f replies=",
		       sum.msgs, secs, (double)sum.msgs / secs, percentile(latency_ms, n, 0.50),
		       percentile(latency_ms, n, 0.90), percentile(latency_ms, n, 0.99),
		       (double)sum.round_trips / per);
		for (int k = 0; k < O_COUNT; k++)
			printf("%s%s:%ld", k ? "," : "", outcome_name[k], sum.outcomes[k]);
		printf(" mods_per_msg=%.2f errors=%ld", (double)sum.mods / per, sum.errors);
		if (cpu0 >= 0 && cpu1 >= 0)
			printf(" milter_cpu_ms_per_msg=%.3f",
			       (double)(cpu1 - cpu0) * 1e3 / (double)sysconf(_SC_CLK_TCK) / per);
		printf("\n");
	}
	return sum.errors ? 1 : 0;
}

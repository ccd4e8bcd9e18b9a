/*
 * milter_client - the MTA's side of the milter protocol (version 6,
 * <libmilter/mfdef.h>), one step per argument, for tests/e2e/protocol.sh.
 *
 *	milter_client SOCKET session
 *	milter_client SOCKET flood
 *	milter_client SOCKET STEP...
 *
 * "session" plays one well-formed connection (negotiate, connect, helo,
 * mail, rcpt, headers, eoh, body, eom, quit), honours what the filter
 * negotiated (stages marked no-reply are not waited for) and prints each
 * end-of-message reply on a line of its own: "insheader NAME: VALUE",
 * "addheader ...", then the final one ("continue", "accept", "tempfail"...).
 * "flood" plays such messages one after another on one connection, as
 * fast as the filter answers, until the filter ends one (30 s at most),
 * then prints "messages N" (and "answered" as soon as the first message is).
 *
 * Otherwise every STEP (see the steps[] table) is sent as it is, in that
 * order, whatever the protocol says, without waiting for any reply: the
 * point is to send a filter what it must survive.  Then QUIT, and the
 * replies are read until the filter closes the connection; each is printed
 * ("reply X").  Exit status: 0 the filter closed the connection, 1 it did
 * not within the timeout (10 s), 2 usage or cannot connect.
 * Single-threaded; unix: sockets only (the e2e harness uses one).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmilter/mfdef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 10
#define FLOOD_S	  30
#define PKT_MAX	  (256 * 1024)
#define REPLY_MAX (1024 * 1024)

struct client {
	int fd;
	uint32_t pflags; /* as negotiated */
	char *pkt;	 /* outgoing packet: length, command, data */
	size_t len;
	char reply[REPLY_MAX + 1];
	uint32_t reply_len;
};

static void die(const char *what)
{
	fprintf(stderr, "milter_client: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(2);
}

/* ----------------------------------------------------------------- packets */

static void pkt_begin(struct client *c, char cmd)
{
	c->len = 5;
	c->pkt[4] = cmd;
}

static void pkt_add(struct client *c, const void *data, size_t len)
{
	if (c->len + len > PKT_MAX)
		die("packet too long");
	memcpy(c->pkt + c->len, data, len);
	c->len += len;
}

static void pkt_str(struct client *c, const char *s)
{
	pkt_add(c, s, strlen(s) + 1);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Sends the packet with its true length, or with declared_len in the
 * header instead when that is not TRUE_LEN (lies about its length). */
#define TRUE_LEN (-1L)
static int pkt_send_len(struct client *c, long declared_len)
{
	uint32_t n =
	    htonl(declared_len != TRUE_LEN ? (uint32_t)declared_len : (uint32_t)(c->len - 4));

	memcpy(c->pkt, &n, 4);
	return write_all(c->fd, c->pkt, c->len);
}

static int pkt_send(struct client *c)
{
	return pkt_send_len(c, TRUE_LEN);
}

static int read_all(int fd, char *p, size_t len)
{
	while (len > 0) {
		ssize_t r = recv(fd, p, len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* One reply packet into c->reply; its command, or -1 (closed, timeout). */
static int read_reply(struct client *c)
{
	uint32_t n;
	char cmd;

	if (read_all(c->fd, (char *)&n, 4) < 0)
		return -1;
	n = ntohl(n);
	if (n < 1 || n > REPLY_MAX || read_all(c->fd, &cmd, 1) < 0)
		return -1;
	c->reply_len = n - 1;
	if (read_all(c->fd, c->reply, c->reply_len) < 0)
		return -1;
	c->reply[c->reply_len] = '\0';
	return (unsigned char)cmd;
}

/* ------------------------------------------------------------------- steps */

static void macros(struct client *c, char cmd, const char *const *pairs)
{
	pkt_begin(c, SMFIC_MACRO);
	pkt_add(c, &cmd, 1);
	for (; *pairs != NULL; pairs++)
		pkt_str(c, *pairs);
}

static void step_neg(struct client *c)
{
	uint32_t offer[3] = {htonl(SMFI_PROT_VERSION), htonl(SMFI_CURR_ACTS),
			     htonl(SMFI_CURR_PROT)};

	pkt_begin(c, SMFIC_OPTNEG);
	pkt_add(c, offer, sizeof(offer));
}

/* CONNECT with family f: '4' (an address), 'U' (unknown: libmilter passes
 * the filter a NULL address), 'L' (a unix socket path). */
static void connect_pkt(struct client *c, const char *host, char f, const char *addr)
{
	uint16_t port = htons(49152);

	pkt_begin(c, SMFIC_CONNECT);
	pkt_str(c, host);
	pkt_add(c, &f, 1);
	if (f != SMFIA_UNKNOWN) {
		pkt_add(c, &port, 2);
		pkt_str(c, addr);
	}
}

static void step_conn(struct client *c)
{
	connect_pkt(c, "client.authscore.test", SMFIA_INET, "203.0.113.10");
}

static void step_conn_unknown(struct client *c)
{
	connect_pkt(c, "", SMFIA_UNKNOWN, NULL);
}

static void step_conn_unix(struct client *c)
{
	connect_pkt(c, "localhost", SMFIA_UNIX, "/run/client.sock");
}

static void step_helo(struct client *c)
{
	pkt_begin(c, SMFIC_HELO);
	pkt_str(c, "client.authscore.test");
}

static void step_mail_macros(struct client *c)
{
	/* {tls_version} last and short: a filter that reads past a macro's end
	 * reads past libmilter's buffer */
	static const char *const m[] = {
	    "i",       "4BQUEUEID", "{mail_addr}", "sender@pass.authscore.test", "{tls_version}",
	    "TLSv1.3", NULL};

	macros(c, SMFIC_MAIL, m);
}

/* The queue id as Sendmail may spell a one-letter macro: with braces */
static void step_mail_macros_braced(struct client *c)
{
	static const char *const m[] = {"{i}", "4BBRACEDID", "{tls_version}", "", NULL};

	macros(c, SMFIC_MAIL, m);
}

static void step_mail(struct client *c)
{
	pkt_begin(c, SMFIC_MAIL);
	pkt_str(c, "<sender@pass.authscore.test>");
	pkt_str(c, "BODY=8BITMIME");
}

/* A MAIL packet of one empty string: argv[0] is "". */
static void step_mail_empty(struct client *c)
{
	pkt_begin(c, SMFIC_MAIL);
	pkt_add(c, "", 1);
}

static void step_rcpt(struct client *c)
{
	pkt_begin(c, SMFIC_RCPT);
	pkt_str(c, "<user@sink.test>");
}

static void header(struct client *c, const char *name, const char *value)
{
	pkt_begin(c, SMFIC_HEADER);
	pkt_str(c, name);
	pkt_str(c, value);
}

static void step_hdr(struct client *c)
{
	header(c, "From", " <sender@pass.authscore.test>");
}

static void step_data(struct client *c)
{
	pkt_begin(c, SMFIC_DATA);
}

static void step_eoh(struct client *c)
{
	pkt_begin(c, SMFIC_EOH);
}

static void step_body(struct client *c)
{
	pkt_begin(c, SMFIC_BODY);
	pkt_add(c, "Hello.\r\n", 8);
}

static void step_eom(struct client *c)
{
	pkt_begin(c, SMFIC_BODYEOB);
}

/* End of message carrying the last body chunk: libmilter calls the body
 * callback, then end of message. */
static void step_eom_body(struct client *c)
{
	pkt_begin(c, SMFIC_BODYEOB);
	pkt_add(c, "Bye.\r\n", 6);
}

static void step_abort(struct client *c)
{
	pkt_begin(c, SMFIC_ABORT);
}

static void step_quit(struct client *c)
{
	pkt_begin(c, SMFIC_QUIT);
}

/* Quit, a new connection follows (libmilter closes, then expects CONNECT). */
static void step_quit_nc(struct client *c)
{
	pkt_begin(c, SMFIC_QUIT_NC);
}

static void step_unknown(struct client *c)
{
	pkt_begin(c, SMFIC_UNKNOWN);
	pkt_str(c, "XYZZY");
}

/* Macros for MAIL far longer than any a real MTA sends, and an odd count. */
static void step_macros_huge(struct client *c)
{
	static char big[60000];
	const char *const m[] = {"i", big, "{auth_authen}", big, "{tls_version}", big, "odd", NULL};

	memset(big, 'x', sizeof(big) - 1);
	macros(c, SMFIC_MAIL, m);
}

static void step_badcmd(struct client *c)
{
	pkt_begin(c, 'Z');
	pkt_str(c, "what");
}

static const struct step {
	const char *name;
	void (*build)(struct client *c);
	long declared_len; /* not TRUE_LEN: the header lies about the length */
	int last;	   /* then stop sending: the stream is no longer framed */
} steps[] = {
    {"neg", step_neg, TRUE_LEN, 0},
    {"conn", step_conn, TRUE_LEN, 0},
    {"conn-unknown", step_conn_unknown, TRUE_LEN, 0},
    {"conn-unix", step_conn_unix, TRUE_LEN, 0},
    {"helo", step_helo, TRUE_LEN, 0},
    {"mail-macros", step_mail_macros, TRUE_LEN, 0},
    {"mail-macros-braced", step_mail_macros_braced, TRUE_LEN, 0},
    {"mail", step_mail, TRUE_LEN, 0},
    {"mail-empty", step_mail_empty, TRUE_LEN, 0},
    {"rcpt", step_rcpt, TRUE_LEN, 0},
    {"data", step_data, TRUE_LEN, 0},
    {"hdr", step_hdr, TRUE_LEN, 0},
    {"eoh", step_eoh, TRUE_LEN, 0},
    {"body", step_body, TRUE_LEN, 0},
    {"eom", step_eom, TRUE_LEN, 0},
    {"eom-body", step_eom_body, TRUE_LEN, 0},
    {"abort", step_abort, TRUE_LEN, 0},
    {"quit", step_quit, TRUE_LEN, 0},
    {"quit-nc", step_quit_nc, TRUE_LEN, 0},
    {"unknown", step_unknown, TRUE_LEN, 0},
    {"macros-huge", step_macros_huge, TRUE_LEN, 0},
    {"badcmd", step_badcmd, TRUE_LEN, 0},
    /* a body chunk that says it is 4 GB long */
    {"oversize", step_body, 0xfffffff0u, 1},
    /* a length that does not even cover the command byte */
    {"zerolen", step_eom, 0, 1},
    /* a header that says 100 bytes and sends a few: the stream ends inside */
    {"truncated", step_hdr, 100, 1},
};

static const struct step *step_find(const char *name)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(steps[i].name, name) == 0)
			return &steps[i];
	return NULL;
}

static const char *reply_name(int cmd)
{
	static const struct {
		int cmd;
		const char *name;
	} names[] = {
	    {SMFIR_CONTINUE, "continue"},   {SMFIR_ACCEPT, "accept"},
	    {SMFIR_REJECT, "reject"},	    {SMFIR_TEMPFAIL, "tempfail"},
	    {SMFIR_DISCARD, "discard"},	    {SMFIR_REPLYCODE, "replycode"},
	    {SMFIR_INSHEADER, "insheader"}, {SMFIR_ADDHEADER, "addheader"},
	    {SMFIR_CHGHEADER, "chgheader"}, {SMFIR_QUARANTINE, "quarantine"},
	    {SMFIR_PROGRESS, "progress"},   {SMFIR_SKIP, "skip"},
	    {SMFIC_OPTNEG, "optneg"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].cmd == cmd)
			return names[i].name;
	return "unknown";
}

/* Sends the steps, then QUIT, and reads until the filter closes. */
static int run_steps(struct client *c, char **names, int n)
{
	int cmd, closed = 0;

	for (int i = 0; i < n; i++) {
		const struct step *s = step_find(names[i]);

		if (s == NULL) {
			fprintf(stderr, "milter_client: unknown step %s\n", names[i]);
			return 2;
		}
		s->build(c);
		if (pkt_send_len(c, s->declared_len) < 0) {
			closed = 1; /* the filter hung up already: fine */
			break;
		}
		if (s->last)
			break;
	}
	if (!closed && (n == 0 || !step_find(names[n - 1])->last)) {
		step_quit(c);
		(void)pkt_send(c);
	}
	shutdown(c->fd, SHUT_WR);
	while ((cmd = read_reply(c)) >= 0)
		printf("reply %s\n", reply_name(cmd));
	/* EOF, a reset or garbage: the filter is done with us.  Only a timeout
	 * means it still holds the connection. */
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		fprintf(stderr, "milter_client: the filter did not close within %d s\n", TIMEOUT_S);
		return 1;
	}
	return 0;
}

/* -------------------------------------------------------------- a session */

/* Sends the packet built; waits for the reply unless nr_flag was granted.
 * Returns 0 to go on, -1 when the filter ended the message or the stream. */
static int stage(struct client *c, uint32_t nr_flag)
{
	int cmd;

	if (pkt_send(c) < 0)
		return -1;
	if (nr_flag != 0 && (c->pflags & nr_flag))
		return 0;
	cmd = read_reply(c);
	if (cmd == SMFIR_CONTINUE)
		return 0;
	printf("%s\n", cmd < 0 ? "closed" : reply_name(cmd));
	return -1;
}

static int eom_replies(struct client *c)
{
	int cmd;

	while ((cmd = read_reply(c)) >= 0) {
		if (cmd == SMFIR_INSHEADER || cmd == SMFIR_CHGHEADER) {
			const char *name = c->reply + 4;

			printf("%s %s:%s\n", reply_name(cmd), name, name + strlen(name) + 1);
		} else if (cmd == SMFIR_ADDHEADER) {
			printf("%s %s:%s\n", reply_name(cmd), c->reply,
			       c->reply + strlen(c->reply) + 1);
		} else if (cmd != SMFIR_PROGRESS) {
			printf("%s\n", reply_name(cmd));
			if (cmd != SMFIR_QUARANTINE)
				return 0;
		}
	}
	printf("closed\n");
	return 1;
}

static int session_open(struct client *c)
{
	static const char *const conn_macros[] = {"j", "mx.authscore.test", "{daemon_name}",
						  "milter_client", NULL};
	uint32_t got[3];

	step_neg(c);
	if (pkt_send(c) < 0 || read_reply(c) != SMFIC_OPTNEG || c->reply_len < 12)
		return printf("negotiation failed\n"), 1;
	memcpy(got, c->reply, sizeof(got));
	c->pflags = ntohl(got[2]);
	macros(c, SMFIC_CONNECT, conn_macros);
	if (pkt_send(c) < 0)
		return 1;
	step_conn(c);
	if (stage(c, SMFIP_NR_CONN) < 0)
		return 1;
	step_helo(c);
	if (stage(c, SMFIP_NR_HELO) < 0)
		return 1;
	return 0;
}

/* One message on an open session: 0 accepted, 1 the filter ended it. */
static int session_message(struct client *c)
{
	step_mail_macros(c);
	if (pkt_send(c) < 0)
		return 1;
	step_mail(c);
	if (stage(c, SMFIP_NR_MAIL) < 0)
		return 1;
	step_rcpt(c);
	if (stage(c, SMFIP_NR_RCPT) < 0)
		return 1;
	{
		const char lead = (c->pflags & SMFIP_HDR_LEADSPC) ? 1 : 0;
		static const char *const hdrs[][2] = {
		    {"From", " <sender@pass.authscore.test>"},
		    {"To", " <user@sink.test>"},
		    {"Subject", " protocol test"},
		    {"Message-ID", " <protocol@e2e.authscore.test>"},
		};

		for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
			header(c, hdrs[i][0], hdrs[i][1] + (lead ? 0 : 1));
			if (stage(c, SMFIP_NR_HDR) < 0)
				return 1;
		}
	}
	step_eoh(c);
	if (stage(c, SMFIP_NR_EOH) < 0)
		return 1;
	step_body(c);
	if (stage(c, SMFIP_NR_BODY) < 0)
		return 1;
	step_eom(c);
	if (pkt_send(c) < 0 || eom_replies(c) != 0)
		return 1;
	return 0;
}

static int run_session(struct client *c)
{
	if (session_open(c) != 0 || session_message(c) != 0)
		return 1;
	step_quit(c);
	(void)pkt_send(c);
	return 0;
}

/* Messages one after another on one session until the filter ends one
 * (tempfail, closed...) or FLOOD_S pass; prints "messages N" after the
 * last reply.  Exit status 0 when the filter ended it. */
static int run_flood(struct client *c)
{
	time_t end = time(NULL) + FLOOD_S;
	unsigned long n = 0;
	int r = 1;

	if (session_open(c) != 0)
		return 1;
	while (time(NULL) < end && (r = session_message(c)) == 0) {
		/* said at once: a test waits for it before it stops the filter */
		if (n++ == 0) {
			printf("answered\n");
			fflush(stdout);
		}
	}
	printf("messages %lu\n", n);
	step_quit(c);
	(void)pkt_send(c);
	return r == 0;
}

/* ------------------------------------------------------------------- main */

static int dial(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = TIMEOUT_S};
	int fd;

	if (strncmp(path, "unix:", 5) == 0)
		path += 5;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("socket path too long");
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die(path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int main(int argc, char **argv)
{
	static struct client c;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: milter_client SOCKET session | SOCKET STEP...\n");
		return 2;
	}
	c.pkt = malloc(PKT_MAX);
	if (c.pkt == NULL)
		die("malloc");
	c.fd = dial(argv[1]);
	if (strcmp(argv[2], "session") == 0)
		r = run_session(&c);
	else if (strcmp(argv[2], "flood") == 0)
		r = run_flood(&c);
	else
		r = run_steps(&c, argv + 2, argc - 2);
	close(c.fd);
	free(c.pkt);
	return r;
}

/* tests/bench/dns_delay.c - a UDP DNS proxy that delays every answer.
 *
 *   dns_delay [-l ADDR@PORT] [-u ADDR@PORT] [-d MS] [-v]
 *
 * Listens on -l (default 127.0.0.1@5354), forwards each query to the
 * upstream server -u (default 127.0.0.1@5353, the e2e NSD) and sends the
 * answer back to the client D ms (-d, default 50) after it arrived from
 * upstream, so every DNS round trip through it costs D ms more.  Many
 * queries may be in flight: one poll loop, no threads.  Each forwarded
 * query gets a fresh 16-bit id (its slot in a table that remembers the
 * client's address and id); as the delay is the same for every answer,
 * the answers wait in a FIFO queue ordered by due time.  UDP only: the
 * benchmark's answers are small enough not to be truncated (a truncated
 * answer is passed on, and the client's TCP retry then fails).
 *
 * -v logs every query to stderr as it arrives: wall-clock time (to compare
 * with the milter's log), query name and type, so a message's lookups can be
 * put in rounds.  Counts queries, answers and drops; prints them on
 * SIGTERM/SIGINT to stderr.  Used by tests/bench/pipeline_bench.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG 4096
#define NSLOTS 65536
#define SLOT_TTL_MS 10000 /* a query upstream never answered frees its id */

struct slot {
	struct sockaddr_storage client;
	socklen_t clen;
	uint16_t client_id;
	int used;
	int64_t sent_ms;
};

struct pending { /* an answer waiting for its due time */
	struct pending *next;
	int64_t due_ms;
	struct sockaddr_storage client;
	socklen_t clen;
	size_t len;
	unsigned char buf[];
};

static struct slot slots[NSLOTS];
static struct pending *qhead, *qtail;
static volatile sig_atomic_t stop;
static unsigned long n_queries, n_answers, n_dropped;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ADDR@PORT or ADDR#PORT, IPv4 or IPv6 */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *at = strrchr(s, '@');
	if (!at)
		at = strrchr(s, '#');
	if (!at || (size_t)(at - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(at - s));
	host[at - s] = '\0';
	int port = atoi(at + 1);
	if (port <= 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
		return 0;
	}
	return -1;
}

/* "name type" of the query in BUF (LEN bytes), for -v */
static void log_query(const unsigned char *buf, size_t len)
{
	char name[256];
	size_t i = 12, o = 0;
	while (i < len && buf[i] != 0 && buf[i] < 64 && o + buf[i] + 2 < sizeof name) {
		size_t n = buf[i++];
		if (i + n > len)
			break;
		memcpy(name + o, buf + i, n);
		o += n;
		name[o++] = '.';
		i += n;
	}
	name[o] = '\0';
	unsigned type = i + 2 < len ? (unsigned)(buf[i + 1] << 8 | buf[i + 2]) : 0;
	const char *tn = type == 1 ? "A" : type == 28 ? "AAAA" : type == 12 ? "PTR" : type == 16 ? "TXT"
		       : type == 15 ? "MX" : type == 2 ? "NS" : type == 6 ? "SOA" : NULL;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (tn)
		fprintf(stderr, "%lld.%03ld Q %s %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, name, tn);
	else
		fprintf(stderr, "%lld.%03ld Q %s TYPE%u\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, name, type);
}

static int free_slot(int64_t now)
{
	static unsigned next;
	for (unsigned i = 0; i < NSLOTS; i++) {
		unsigned k = (next + i) % NSLOTS;
		if (!slots[k].used || now - slots[k].sent_ms > SLOT_TTL_MS) {
			next = k + 1;
			return (int)k;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *listen_s = "127.0.0.1@5354", *up_s = "127.0.0.1@5353";
	long delay = 50;
	int c, verbose = 0;
	while ((c = getopt(argc, argv, "l:u:d:v")) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 'u': up_s = optarg; break;
		case 'd': delay = atol(optarg); break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: %s [-l ADDR@PORT] [-u ADDR@PORT] [-d MS] [-v]\n", argv[0]);
			return 2;
		}
	}
	struct sockaddr_storage la, ua;
	socklen_t llen, ulen;
	if (parse_addr(listen_s, &la, &llen) < 0 || parse_addr(up_s, &ua, &ulen) < 0 || delay < 0) {
		fprintf(stderr, "dns_delay: bad address or delay\n");
		return 2;
	}
	int lfd = socket(la.ss_family, SOCK_DGRAM, 0);
	int ufd = socket(ua.ss_family, SOCK_DGRAM, 0);
	if (lfd < 0 || ufd < 0 || bind(lfd, (struct sockaddr *)&la, llen) < 0 ||
	    connect(ufd, (struct sockaddr *)&ua, ulen) < 0) {
		perror("dns_delay: socket");
		return 1;
	}
	int big = 1 << 20;
	setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "dns_delay: %s -> %s, %ld ms\n", listen_s, up_s, delay);

	unsigned char buf[MAXMSG];
	while (!stop) {
		int64_t now = now_ms();
		/* send what is due */
		while (qhead && qhead->due_ms <= now) {
			struct pending *p = qhead;
			qhead = p->next;
			if (!qhead)
				qtail = NULL;
			if (sendto(lfd, p->buf, p->len, 0, (struct sockaddr *)&p->client, p->clen) < 0)
				n_dropped++;
			else
				n_answers++;
			free(p);
		}
		int timeout = qhead ? (int)(qhead->due_ms - now) : -1;
		struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};
		int n = poll(pfd, 2, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("dns_delay: poll");
			return 1;
		}
		now = now_ms();
		/* queries from clients: drain the socket */
		if (pfd[0].revents & POLLIN) {
			for (;;) {
				struct sockaddr_storage from;
				socklen_t flen = sizeof from;
				ssize_t len = recvfrom(lfd, buf, sizeof buf, MSG_DONTWAIT,
						       (struct sockaddr *)&from, &flen);
				if (len < 0)
					break;
				if (len < 12) {
					n_dropped++;
					continue;
				}
				n_queries++;
				if (verbose)
					log_query(buf, (size_t)len);
				int k = free_slot(now);
				if (k < 0) {
					n_dropped++;
					continue;
				}
				struct slot *s = &slots[k];
				s->used = 1;
				s->client = from;
				s->clen = flen;
				s->client_id = (uint16_t)(buf[0] << 8 | buf[1]);
				s->sent_ms = now;
				buf[0] = (unsigned char)(k >> 8);
				buf[1] = (unsigned char)k;
				if (send(ufd, buf, (size_t)len, 0) < 0) {
					s->used = 0;
					n_dropped++;
				}
			}
		}
		/* answers from upstream: restore the id, queue them */
		if (pfd[1].revents & POLLIN) {
			for (;;) {
				ssize_t len = recv(ufd, buf, sizeof buf, MSG_DONTWAIT);
				if (len < 0)
					break;
				if (len < 12) {
					n_dropped++;
					continue;
				}
				int k = buf[0] << 8 | buf[1];
				struct slot *s = &slots[k];
				if (!s->used) {
					n_dropped++;
					continue;
				}
				s->used = 0;
				struct pending *p = malloc(sizeof *p + (size_t)len);
				if (!p) {
					n_dropped++;
					continue;
				}
				p->next = NULL;
				p->due_ms = now + delay;
				p->client = s->client;
				p->clen = s->clen;
				p->len = (size_t)len;
				memcpy(p->buf, buf, (size_t)len);
				p->buf[0] = (unsigned char)(s->client_id >> 8);
				p->buf[1] = (unsigned char)s->client_id;
				if (qtail)
					qtail->next = p;
				else
					qhead = p;
				qtail = p;
			}
		}
	}
	fprintf(stderr, "dns_delay: queries=%lu answers=%lu dropped=%lu\n", n_queries, n_answers,
		n_dropped);
	return 0;
}

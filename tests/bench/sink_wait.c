/*
 * sink_wait - wait until smtp-sink -c has counted COUNT messages, for
 * tests/bench/pipeline_bench.sh.  One process for the whole wait: a shell
 * loop of tail, sed and sleep forked a dozen processes a second, which
 * took CPU from the pipeline it was timing.
 *
 * smtp-sink -c writes "sess=N quit=N mesg=N" records separated by CR to
 * its standard output; the last record in FILE holds the count.
 *
 * usage: sink_wait FILE COUNT TIMEOUT_MS
 * Prints the last count read; exit 0 when it reached COUNT, 1 on timeout,
 * 2 on a usage or file error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The mesg= count of the last whole record in the file's tail, or -1. */
static long last_count(int fd)
{
	char tail[256];
	struct stat st;
	off_t off;
	ssize_t n;
	long count = -1;

	if (fstat(fd, &st) != 0)
		return -1;
	off = st.st_size > (off_t)sizeof(tail) - 1 ? st.st_size - (off_t)sizeof(tail) + 1 : 0;
	n = pread(fd, tail, sizeof(tail) - 1, off);
	if (n <= 0)
		return -1;
	tail[n] = '\0';
	for (const char *p = tail; (p = strstr(p, "mesg=")) != NULL; p += 5) {
		char *end;
		long v = strtol(p + 5, &end, 10);

		if (end != p + 5 && (*end == '\r' || *end == '\n' || *end == ' '))
			count = v; /* a whole number; the last one wins */
	}
	return count;
}

int main(int argc, char **argv)
{
	const struct timespec poll_interval = {0, 20 * 1000 * 1000};
	long want, timeout_ms, count = 0;
	double deadline;
	int fd;

	if (argc != 4 || (want = atol(argv[2])) < 0 || (timeout_ms = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: sink_wait FILE COUNT TIMEOUT_MS\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "sink_wait: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	deadline = now_s() + (double)timeout_ms / 1000;
	for (;;) {
		long c = last_count(fd);

		if (c > count)
			count = c;
		if (count >= want || now_s() >= deadline)
			break;
		nanosleep(&poll_interval, NULL);
	}
	close(fd);
	printf("%ld\n", count);
	return count >= want ? 0 : 1;
}

/*
 * content_spool - the file a large body is kept in until its scan (see
 * content_int.h): an unlinked temporary file in the configured directory,
 * readable by this process only and gone when its descriptor is closed,
 * whatever way the process ends.
 *
 * Why a file: a milter holds every message's body from its first chunk to
 * its end of message, and a busy MX holds hundreds at once (the MTA sends
 * the body as fast as the client does, the end of message only after the
 * client's final dot).  In memory that is their sum; on disk it is the
 * page cache's to keep or write out, which the kernel can reclaim.
 * O_TMPFILE first (no name ever exists); a file system without it gets
 * mkstemp() and an unlink() at once.  Thread-safe: no shared state.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "content_int.h"
#include "mem.h"

int content_spool_open(const char *dir)
{
	char path[4096];
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
#endif
	if ((size_t)snprintf(path, sizeof(path), "%s/.authscore-body.XXXXXX", dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (unlink(path) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int content_spool_write(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t content_spool_read(int fd, size_t offset, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int content_spool_check(const char *dir, char **error_r)
{
	int fd = content_spool_open(dir);

	if (fd < 0) {
		*error_r = xasprintf("content-spool-dir %s: cannot make a file there: %s", dir,
				     strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

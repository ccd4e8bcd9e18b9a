/*
 * log_test - what reaches the log: the level check, and control bytes from
 * clients (CR LF in a HELO name, ESC, DEL) written as \xHH so that one call
 * is one line, while UTF-8 and JSON's own escapes pass unchanged.  stderr
 * is captured through a pipe.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static int pipe_fd[2], saved_stderr;
static char captured[16384];

static void capture_start(void)
{
	fflush(stderr);
	if (pipe(pipe_fd) < 0)
		return;
	saved_stderr = dup(2);
	dup2(pipe_fd[1], 2);
}

/* The bytes written since capture_start(), without the time stamp prefix. */
static const char *capture_end(void)
{
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(pipe_fd[1]);
	n = read(pipe_fd[0], captured, sizeof(captured) - 1);
	close(pipe_fd[0]);
	captured[n > 0 ? n : 0] = '\0';
	return captured;
}

static const char *after_level(const char *line)
{
	const char *p = strstr(line, "]: ");

	return p != NULL ? p + 3 : line;
}

int main(void)
{
	const char *out;

	log_init("log_test", 1);
	log_set_level(LOG_LEVEL_INFO);

	capture_start();
	log_info("helo=%s from=<%s>", "evil\r\n2026-11-28T00:00:00.000Z forged[info]: x", "a\x1b[31m\x7f@b");
	out = capture_end();
	CHECK_STR(after_level(out),
		  "helo=evil\\x0D\\x0A2026-11-28T00:00:00.000Z forged[info]: x "
		  "from=<a\\x1B[31m\\x7F@b>\n",
		  "CR, LF, ESC and DEL are written as \\xHH");
	CHECK(strchr(out, '\n') == out + strlen(out) - 1, "one call, one line");

	capture_start();
	log_info("%s", "{\"helo\":\"q\\\"x\\\\\",\"name\":\"caf\xc3\xa9\"}");
	out = capture_end();
	CHECK_STR(after_level(out), "{\"helo\":\"q\\\"x\\\\\",\"name\":\"caf\xc3\xa9\"}\n",
		  "JSON escapes and UTF-8 pass unchanged");

	/* a start-up error quotes the administrator's file: one line per line */
	capture_start();
	{
		pid_t pid = fork();
		int status = 0;

		if (pid == 0)
			log_fatal("%s", "t.rules:1:5: bad\nrule X y\n    ^");
		waitpid(pid, &status, 0);
		out = capture_end();
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "log_fatal exits 1");
	}
	CHECK(strstr(out, "[error]: t.rules:1:5: bad\n") != NULL &&
		  strstr(out, "[error]: rule X y\n") != NULL && strstr(out, "[error]:     ^\n") != NULL,
	      "log_fatal writes each line of its text as a log line");

	capture_start();
	log_debug("not %s", "shown");
	out = capture_end();
	CHECK_STR(out, "", "below the level: nothing written");
	return check_done();
}

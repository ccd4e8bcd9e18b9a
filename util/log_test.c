/*
 * log_test - what reaches the log: the level check, and control bytes from
 * clients (CR LF in a HELO name, ESC, DEL) written as \xHH so that one call
 * is one line, while UTF-8 and JSON's own escapes pass unchanged.  stderr
 * is captured through a pipe.  Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
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

/* JOURNAL_STREAM naming stderr: sd-daemon(3) "<N>" prefixes, nothing
 * else before the text; naming anything else, or absent: none. */
static void journal_checks(void)
{
	struct stat st;
	char env[64];
	const char *out;
	int facility = -1;

	capture_start();
	fstat(2, &st);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("log_test", 1);
	log_set_level(LOG_LEVEL_DEBUG);
	log_err("e");
	log_warn("w");
	log_notice("n");
	log_info("i\r\n<0>forged");
	log_debug("d");
	out = capture_end();
	CHECK(log_to_journal(), "JOURNAL_STREAM names stderr: the journal is detected");
	CHECK_STR(out, "<3>e\n<4>w\n<5>n\n<6>i\\x0D\\x0A<0>forged\n<7>d\n",
		  "each line starts with its priority: error 3 ... debug 7");

	capture_start();
	fstat(2, &st);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev + 1,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1); /* another stream: stderr was redirected */
	log_init("log_test", 1);
	log_err("e");
	out = capture_end();
	CHECK(!log_to_journal() && strstr(out, "log_test[error]: e\n") != NULL && out[0] != '<',
	      "JOURNAL_STREAM naming another file: plain lines");
	unsetenv("JOURNAL_STREAM");
	capture_start();
	log_init("log_test", 1);
	log_err("e");
	out = capture_end();
	CHECK(!log_to_journal() && out[0] != '<', "no JOURNAL_STREAM: plain lines");
	log_set_level(LOG_LEVEL_INFO);

	CHECK(log_facility_parse("mail", &facility) == 0 && facility == LOG_MAIL &&
		  log_facility_parse("local7", &facility) == 0 && facility == LOG_LOCAL7 &&
		  log_facility_parse("daemon", &facility) == 0 && facility == LOG_DAEMON,
	      "facility names parse");
	CHECK(log_facility_parse("kern", &facility) < 0 && log_facility_parse("", &facility) < 0 &&
		  log_facility_parse("MAIL", &facility) < 0,
	      "other facility names do not");
	CHECK_STR(log_facility_name(LOG_LOCAL3), "local3", "a facility's name");
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
	journal_checks();
	return check_done();
}

/*
 * log - syslog or stderr sink with the level check inside (see log.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int use_stderr = 1;
static int use_journal; /* stderr is the journal: "<N>" prefixes, no time stamp */
static int log_facility = LOG_MAIL;
static volatile int min_level = LOG_LEVEL_INFO;
static const char *log_ident = "authscore";

static const struct {
	const char *name;
	int syslog_prio;
} levels[] = {
	[LOG_LEVEL_DEBUG] = {"debug", LOG_DEBUG},   [LOG_LEVEL_INFO] = {"info", LOG_INFO},
	[LOG_LEVEL_NOTICE] = {"notice", LOG_NOTICE}, [LOG_LEVEL_WARN] = {"warning", LOG_WARNING},
	[LOG_LEVEL_ERR] = {"error", LOG_ERR},
};

static const struct {
	const char *name;
	int facility;
} facilities[] = {
    {"mail", LOG_MAIL},	    {"daemon", LOG_DAEMON}, {"user", LOG_USER},	    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int log_facility_parse(const char *name, int *facility_r)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcmp(facilities[i].name, name) == 0) {
			*facility_r = facilities[i].facility;
			return 0;
		}
	}
	return -1;
}

const char *log_facility_name(int facility)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (facilities[i].facility == facility)
			return facilities[i].name;
	return "?";
}

void log_set_facility(int facility)
{
	log_facility = facility;
}

/* systemd sets JOURNAL_STREAM=DEV:INO when it connects stdout or stderr to
 * the journal (systemd.exec(5)); the variable is inherited, so it counts
 * only when stderr is still that stream, not a file the admin redirected
 * it to (sd_journal_stream_fd(3), "Notes"). */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (env == NULL || sscanf(env, "%llu:%llu%n", &dev, &ino, &n) != 2 || env[n] != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, int to_stderr)
{
	log_ident = ident;
	use_stderr = to_stderr;
	use_journal = use_stderr && stderr_is_journal();
	if (!use_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, log_facility);
}

int log_to_journal(void)
{
	return use_journal;
}

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(levels[i].name, name) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_enabled(enum log_level level)
{
	return (int)level >= min_level;
}

/* Control bytes come from clients (a HELO name with CR LF, a header name)
 * and would forge or break log lines: written as \xHH.  Bytes from 0x80
 * up are left alone (UTF-8).  A newline is kept when keep_lf is set: the
 * caller splits there.  out has room for 4 bytes per byte of in. */
static void log_escape(const char *in, int keep_lf, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 5 <= size; p++) {
		if ((*p < 0x20 && !(*p == '\n' && keep_lf)) || *p == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

static void log_write(enum log_level level, const char *line)
{
	if (use_journal) {
		/* sd-daemon(3): the journal takes the priority from the prefix and
		 * stamps the line itself. */
		fprintf(stderr, "<%d>%s\n", levels[level].syslog_prio, line);
	} else if (use_stderr) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", stamp, ts.tv_nsec / 1000000, log_ident,
			levels[level].name, line);
	} else {
		syslog(levels[level].syslog_prio, "%s", line);
	}
}

/* multiline: the text is the administrator's (a configuration or rules
 * error quoting its line and a caret, at start-up): one log line per line.
 * Everything else may hold client bytes and stays one line. */
static void log_emit(enum log_level level, int multiline, const char *fmt, va_list ap)
{
	char raw[2048], line[4 * sizeof(raw)], *save = NULL;

	if (!log_enabled(level))
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(raw, multiline, line, sizeof(line));
	if (!multiline) {
		log_write(level, line);
		return;
	}
	for (char *l = strtok_r(line, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		log_write(level, l);
}

#define LOG_FN(fn, level)                                                                          \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_emit(level, 0, fmt, ap);                                                       \
		va_end(ap);                                                                        \
	}
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_notice, LOG_LEVEL_NOTICE)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_err, LOG_LEVEL_ERR)

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	abort();
}

/*
 * log - syslog or stderr sink with the level check inside (see log.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int use_stderr = 1;
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

void log_init(const char *ident, int to_stderr)
{
	log_ident = ident;
	use_stderr = to_stderr;
	if (!use_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
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

static void log_emit(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];

	if (!log_enabled(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (use_stderr) {
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

#define LOG_FN(fn, level)                                                                          \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_emit(level, fmt, ap);                                                          \
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
	log_emit(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	abort();
}

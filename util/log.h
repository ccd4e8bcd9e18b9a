/*
 * log - the one logging module: syslog or stderr, level checked here.
 *
 * log_init() picks the sink once at start-up; log_set_level() may be called
 * at any time (reload).  Three kinds of failure, one call each:
 *   log_fatal()  configuration or start-up error: logs and exits(1);
 *   log_warn()   per-message trouble: logged once, caller goes on;
 *   log_panic()  a broken invariant: logs and aborts (core dump).
 * Callers never test the level themselves.  Control bytes in a line (CR,
 * LF, ...) are written as \xHH, so nothing a client sends can forge or
 * split a log line.  Thread-safe: syslog(3) and
 * single fprintf(3) calls are atomic per line.
 *
 * Syslog goes to the facility of log_set_facility() (default mail, where
 * admins look for a mail filter).  When stderr is the systemd journal
 * (JOURNAL_STREAM names stderr's device and inode, systemd.exec(5)), each
 * line starts with its sd-daemon(3) priority prefix "<3>" ... "<7>" instead
 * of a time stamp, so the journal keeps every line's priority; the
 * facility is then the unit's SyslogFacility=.
 */
#ifndef AUTHSCORE_LOG_H
#define AUTHSCORE_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_NOTICE, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

void log_init(const char *ident, int to_stderr);
/* Before log_init(); a syslog(3) facility such as LOG_MAIL. */
void log_set_facility(int facility);
/* "mail", "daemon", "user", "local0" ... "local7": 0 and the facility, or -1. */
int log_facility_parse(const char *name, int *facility_r);
const char *log_facility_name(int facility);
/* Is stderr the journal (the <N> prefixes are written)?  After log_init(). */
int log_to_journal(void);
void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *level_r);
int log_enabled(enum log_level level);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void log_panic(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif

/*
 * report_send - hand one finished message to the mail system.
 *
 * With no relay: the local MTA's sendmail(1), `sendmail -oi -f FROM --
 * RCPT...`, the message on its standard input; success is exit status 0.
 * With a relay: SMTP through libcurl.  The relay is "host[:port]" or
 * "[v6addr][:port]" (plain SMTP, port 25 when omitted), "smtp://host[:port]"
 * or "smtps://host[:port]" (TLS from the first byte, port 465).  TLS is
 * `tls` (smtps), `starttls` (required: no STARTTLS, no mail), `may` (when
 * offered) or `none`; by default `tls` for smtps://, `starttls` when a
 * user is given (a password is never sent in clear), `none` otherwise.
 * Whenever TLS is used the relay's certificate is checked (against
 * ca_file, or the system's CAs) unless no_verify.  AUTH (the mechanisms
 * the relay offers, as libcurl picks them) when user is set.  Each step
 * has a timeout; LF line ends become CRLF, libcurl doubles leading dots.
 * Returns 0 when at least one recipient was accepted and the message
 * queued; -1 with a malloc'd *error_r that names the relay and the step.
 * Blocking; thread-safe (libcurl's global init must have been done).
 *
 * report_send_auth_load() reads an AUTH file: the user name on its first
 * line, the password on its second (whole lines, no quoting).  Like a
 * private key, it must be a regular file that nobody but its owner may
 * write and that others may not read (0600, or 0640 for a group).
 */
#ifndef AUTHSCORE_REPORT_SEND_H
#define AUTHSCORE_REPORT_SEND_H

#include <stddef.h>

#define REPORT_SENDMAIL "/usr/sbin/sendmail"

enum report_tls {
	REPORT_TLS_DEFAULT, /* by the relay's scheme and whether there is a user */
	REPORT_TLS_NONE,
	REPORT_TLS_MAY,
	REPORT_TLS_STARTTLS,
	REPORT_TLS_TLS,
};

struct report_send_options {
	const char *sendmail; /* NULL: REPORT_SENDMAIL */
	const char *relay;    /* NULL or "": sendmail */
	enum report_tls tls;
	const char *user, *password; /* AUTH when user != NULL */
	const char *ca_file;	     /* NULL: the system's CAs */
	int no_verify;		     /* do not check the relay's certificate */
	const char *helo;	     /* EHLO name; NULL: gethostname() */
	unsigned timeout_ms;	     /* per SMTP step; 0: 60 s */
};

int report_send(const struct report_send_options *o, const char *from, const char *const *rcpts,
		size_t rcpt_count, const char *msg, size_t len, char **error_r);

/* 0 when the relay settings fit together (checked before any report is
 * built); -1 with a malloc'd *error_r. */
int report_send_check(const struct report_send_options *o, char **error_r);

/* "none" "may" "starttls" "tls" (NULL: REPORT_TLS_DEFAULT); -1 otherwise. */
int report_tls_parse(const char *word);

/* 0 with malloc'd *user_r and *password_r; -1 with a malloc'd *error_r. */
int report_send_auth_load(const char *path, char **user_r, char **password_r, char **error_r);

#endif

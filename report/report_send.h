/*
 * report_send - hand one finished message to the mail system.
 *
 * With no relay: the local MTA's sendmail(1), `sendmail -oi -f FROM --
 * RCPT...`, the message on its standard input; success is exit status 0.
 * With a relay ("host:port", "[v6addr]:port", port 25 when omitted): a
 * minimal SMTP client (EHLO, MAIL, RCPT per address, DATA; no TLS, no
 * AUTH: meant for a local or LAN smarthost), each step under a timeout.
 * LF line ends become CRLF and lines starting with "." are doubled.
 * Returns 0 when at least one recipient was accepted and the message
 * queued; -1 with a malloc'd *error_r.  Blocking; thread-safe.
 */
#ifndef AUTHSCORE_REPORT_SEND_H
#define AUTHSCORE_REPORT_SEND_H

#include <stddef.h>

#define REPORT_SENDMAIL "/usr/sbin/sendmail"

struct report_send_options {
	const char *sendmail; /* NULL: REPORT_SENDMAIL */
	const char *relay;    /* NULL or "": sendmail */
	const char *helo;     /* EHLO name; NULL: gethostname() */
	unsigned timeout_ms;  /* per SMTP step; 0: 60 s */
};

int report_send(const struct report_send_options *o, const char *from, const char *const *rcpts,
		size_t rcpt_count, const char *msg, size_t len, char **error_r);

#endif

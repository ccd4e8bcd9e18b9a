/*
 * callbacks - the only file that speaks libmilter.
 *
 * callbacks_register() hands libmilter the callback table; every callback
 * maps one milter phase onto session/message calls and applies the
 * verdict.  callbacks_busy() counts callbacks running now, so a stopping
 * daemon can let the messages in progress finish: callbacks_drain()
 * refuses new connections and transactions (tempfail) while the open ones
 * (callbacks_open_messages()) go on to their verdicts;
 * callbacks_close_gate() then turns every later callback into a tempfail
 * that touches nothing the daemon frees at exit.  Thread-safe.
 */
#ifndef AUTHSCORE_CALLBACKS_H
#define AUTHSCORE_CALLBACKS_H

int callbacks_register(const char *name);
int callbacks_busy(void);
int callbacks_open_messages(void);
void callbacks_drain(void);
void callbacks_close_gate(void);

#endif

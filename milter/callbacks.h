/*
 * callbacks - the only file that speaks libmilter.
 *
 * callbacks_register() hands libmilter the callback table; every callback
 * maps one milter phase onto session/message calls and applies the
 * verdict.  callbacks_busy() counts callbacks running now, so a stopping
 * daemon can let the messages in progress finish.  Thread-safe.
 */
#ifndef AUTHSCORE_CALLBACKS_H
#define AUTHSCORE_CALLBACKS_H

int callbacks_register(const char *name);
int callbacks_busy(void);

#endif

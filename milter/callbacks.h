/*
 * callbacks - the only file that speaks libmilter.
 *
 * callbacks_register() hands libmilter the callback table; every callback
 * maps one milter phase onto session/message calls and applies the
 * verdict.  callbacks_active() counts connections in flight, so a stopping
 * daemon can let them finish.  Thread-safe.
 */
#ifndef AUTHSCORE_CALLBACKS_H
#define AUTHSCORE_CALLBACKS_H

int callbacks_register(const char *name);
int callbacks_active(void);

#endif

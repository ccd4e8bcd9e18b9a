/*
 * utc - a time as admins read it in messages and logs.
 *
 * utc_str() writes "YYYY-MM-DD HH:MM:SS UTC" into buf (or the seconds
 * since the epoch, when the time cannot be broken down) and returns buf.
 */
#ifndef AUTHSCORE_UTC_H
#define AUTHSCORE_UTC_H

#include <stddef.h>
#include <stdint.h>

const char *utc_str(int64_t t, char *buf, size_t size);

#endif

/*
 * dkim_cmd - `authscore dkim keygen` and `authscore dkim check`: make a
 * signing key and its DNS record, and see that the published record
 * matches a private key (as opendkim-genkey and opendkim-testkey do).
 * argv[0] is "dkim".  Exit status: 0 done (check: the record matches),
 * 1 the record is missing or does not match, or DNS failed, 2 bad usage,
 * a configuration error or a file that cannot be read or written.
 */
#ifndef AUTHSCORE_DKIM_CMD_H
#define AUTHSCORE_DKIM_CMD_H

int dkim_cmd_main(int argc, char **argv);

#endif

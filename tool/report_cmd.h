/*
 * report_cmd - the `authscore report` subcommand (see report_cmd.c).
 */
#ifndef AUTHSCORE_REPORT_CMD_H
#define AUTHSCORE_REPORT_CMD_H

/* argv[0] is "report"; returns the exit status. */
int report_cmd_main(int argc, char **argv);

#endif

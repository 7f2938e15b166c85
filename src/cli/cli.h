/* The ukvm command line. */
#ifndef UKVM_CLI_H
#define UKVM_CLI_H

#include "monitor/monitor.h"

/*
 * Parse the arguments that follow the subcommand (argv[0] is the first of
 * them) into cfg, whose mode is already set. Returns 0; -1 with a one-line
 * message in err; 1 when --help was asked for.
 */
int cli_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* The usage text. */
extern const char ukvm_usage[];

#endif

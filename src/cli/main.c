/* The ukvm command: run, record or replay a Solo5 hvt unikernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/boot.h"
#include "monitor/core_dump.h"
#include "cli/cli.h"
#include "cli/modes.h"
#include "monitor/startup_report.h"

int main(int argc, char **argv)
{
    startup_begin();
    if (argc < 2) {
        fputs(ukvm_usage, stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(ukvm_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ukvm %s (Solo5 hvt ABI %u, trace format %u)\n", UKVM_VERSION, HVT_ABI_VERSION,
                UKVM_TRACE_FORMAT_VERSION);
        return 0;
    }
    static struct config cfg;
    if (strcmp(cmd, "run") == 0)
        cfg.mode = MODE_RUN;
    else if (strcmp(cmd, "record") == 0)
        cfg.mode = MODE_RECORD;
    else if (strcmp(cmd, "replay") == 0)
        cfg.mode = MODE_REPLAY;
    else if (strcmp(cmd, "debug") == 0)
        cfg.mode = MODE_DEBUG;
    else {
        ukvm_err("unknown command '%s' (expected run, record, replay or debug; see ukvm --help)", cmd);
        return 1;
    }
    char err[1024];
    int r = cli_parse(&cfg, argc - 2, argv + 2, err, sizeof(err));
    if (r == 1) {
        fputs(ukvm_usage, stdout);
        return 0;
    }
    if (r < 0) {
        ukvm_err("%s", err);
        return 1;
    }
    if (core_dump_open_dir(&cfg, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return 1;
    }
    startup_mark(STARTUP_CLI);
    switch (cfg.mode) {
    case MODE_RUN: return mode_run(&cfg);
    case MODE_RECORD: return mode_record(&cfg);
    case MODE_REPLAY: return mode_replay(&cfg);
    case MODE_DEBUG: return mode_debug(&cfg);
    }
    return 1;
}

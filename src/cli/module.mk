# The ukvm command: main, the command line, and the modes (run, record,
# replay, debug). The top layer: it may include every part below it
# (gdb/, record/, monitor/), and nothing includes it.
LIB_SRCS += src/cli/cli.c src/cli/mode_run.c src/cli/mode_record.c src/cli/mode_replay.c \
            src/cli/mode_debug.c
PROGRAMS += ukvm
ukvm_SRCS := src/cli/main.c

# The ukvm command: main, the command line, and the modes (run, record,
# replay, debug). The top layer: it may include every part below it
# (gdb/, record/, monitor/), and nothing includes it.
LIB_SRCS += src/cli/cli.c src/cli/mode_run.c src/cli/mode_record.c src/cli/mode_replay.c \
            src/cli/mode_debug.c src/cli/kernel_file.c
PROGRAMS += ukvm
ukvm_SRCS := src/cli/main.c
# The serve loop and the gdb extension lookup.
LIB_SRCS += src/cli/kvm_serve.c src/cli/gdb_extension.c
# replay --pcap: the replay's network frames as pcapng.
LIB_SRCS += src/cli/replay_pcap.c

# Recording and replay: trace writer/reader, instruction scanner, recorder,
# replayer, checkpoints.
LIB_SRCS +=
LIB_SRCS += src/record/scan.c

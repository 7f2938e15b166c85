# Recording and replay: trace writer/reader, instruction scanner, recorder,
# replayer, checkpoints.
LIB_SRCS +=
LIB_SRCS += src/record/scan.c
LIB_SRCS += src/record/trace_codec.c src/record/trace_header.c src/record/trace_writer.c \
            src/record/trace_reader.c src/record/digest.c

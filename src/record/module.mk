# Recording and replay: trace writer/reader, recorder, replayer, checkpoints.
LIB_SRCS += src/record/trace_codec.c src/record/trace_header.c src/record/trace_writer.c \
            src/record/trace_reader.c src/record/trace_seek.c src/record/trace_input.c src/record/trace_scan.c src/record/trace_index.c \
            src/record/console_lines.c src/record/sha256.c
LIB_SRCS += src/record/event_kinds.c src/record/recorder.c src/record/replayer.c \
            src/record/event_outputs.c
LIB_SRCS += src/record/checkpoint.c src/record/diversion_source.c
# Navigation: events as text, an index of the trace (count, clock, reads);
# net frames as pcapng.
LIB_SRCS += src/record/event_format.c src/record/event_diff.c src/record/trace_nav.c src/record/pcapng.c \
            src/record/net_pcap.c

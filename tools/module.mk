# Helper programs.
PROGRAMS +=
PROGRAMS += tools/ukvm-trace
ukvm-trace_SRCS := tools/ukvm-trace.c
# Synthetic traces for tests and the fuzzing seed corpus.
PROGRAMS += tools/ukvm-trace-synth
ukvm-trace-synth_SRCS := tools/ukvm-trace-synth.c

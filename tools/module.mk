# Helper programs.
PROGRAMS +=
PROGRAMS += tools/ukvm-trace
ukvm-trace_SRCS := tools/ukvm-trace.c tools/trace_print.c tools/trace_diff.c
# Synthetic traces for tests and the fuzzing seed corpus.
PROGRAMS += tools/ukvm-trace-synth
ukvm-trace-synth_SRCS := tools/ukvm-trace-synth.c
# Measures the KVM behaviours that differ between KVMs (docs/kvms.md).
PROGRAMS += tools/kvm-probe
kvm-probe_SRCS := tools/kvm-probe.c

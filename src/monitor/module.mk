# The monitor: VM set-up, ELF loading, hypercalls, devices, the ukvm CLI.
LIB_SRCS +=
PROGRAMS += ukvm
ukvm_SRCS := src/monitor/main.c

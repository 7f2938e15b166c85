# The GDB remote serial protocol server (knows nothing of KVM) and the
# target glue.
LIB_SRCS +=

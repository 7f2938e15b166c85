# The GDB remote serial protocol server (knows nothing of KVM) and the
# target glue.
LIB_SRCS += src/gdb/rsp_packet.c src/gdb/gdb_regs.c src/gdb/gdb_tdesc.c \
            src/gdb/gdb_session.c src/gdb/gdb_reply.c src/gdb/gdb_regmem.c src/gdb/gdb_hostio.c \
            src/gdb/gdb_server.c \
            src/gdb/gdb_rcmd.c src/gdb/gdb_monitor_cmd.c src/gdb/gdb_lldb.c
LIB_SRCS += src/gdb/kvm_regs.c src/gdb/watch_ranges.c src/gdb/kvm_points.c src/gdb/kvm_target.c src/gdb/kvm_exec.c src/gdb/step_guard.c src/gdb/kvm_serve.c
LIB_SRCS += src/gdb/replay_timeline.c src/gdb/replay_reverse.c src/gdb/replay_target.c \
            src/gdb/gdb_extension.c src/gdb/replay_nav.c
LIB_SRCS += src/gdb/agent_expr.c src/gdb/bp_cond.c
LIB_SRCS += src/gdb/diversion_log.c src/gdb/replay_diversion.c

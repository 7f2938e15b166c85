# The debug control of a live vCPU: breakpoints, watchpoints, stepping,
# breakpoint conditions, and the monitor-command language (its lowest user is
# kvm_target.c).
LIB_SRCS += src/vcpu/kvm_regs.c src/vcpu/watch_ranges.c src/vcpu/kvm_points.c src/vcpu/kvm_target.c \
            src/vcpu/kvm_exec.c src/vcpu/step_guard.c src/vcpu/kvm_engine.c
LIB_SRCS += src/vcpu/agent_expr.c src/vcpu/bp_cond.c
LIB_SRCS += src/vcpu/gdb_monitor_cmd.c

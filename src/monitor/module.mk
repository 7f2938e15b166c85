# The monitor: VM set-up, ELF loading, hypercalls, devices.
LIB_SRCS += src/monitor/util.c src/monitor/vm.c src/monitor/cpuid_msr.c src/monitor/elf_load.c \
            src/monitor/loader.c src/monitor/boot_info.c src/monitor/devices.c \
            src/monitor/dev_block.c src/monitor/dev_net.c src/monitor/hypercalls.c \
            src/monitor/intercept.c src/monitor/world_source.c src/monitor/vcpu_loop.c \
            src/monitor/boot.c \
            src/monitor/signals.c src/monitor/memslots.c \
            src/monitor/fpu_complete.c src/monitor/fpu_exec.c src/monitor/fpu_checks.c \
            src/monitor/fpu_host.c src/monitor/fpu_pagewalk.c \
            src/monitor/outbuf.c src/monitor/startup_report.c \
            src/monitor/core_file.c src/monitor/core_dump.c
# The instruction scanner and the output digest (their lowest user is the
# monitor: intercept.c, hypercalls.c).
LIB_SRCS += src/monitor/scan.c src/monitor/digest.c

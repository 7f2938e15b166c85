# The GDB remote serial protocol server (knows nothing of KVM).
LIB_SRCS += src/rsp/rsp_packet.c src/rsp/gdb_regs.c src/rsp/gdb_tdesc.c \
            src/rsp/gdb_session.c src/rsp/gdb_reply.c src/rsp/gdb_regmem.c src/rsp/gdb_hostio.c \
            src/rsp/gdb_server.c src/rsp/gdb_rcmd.c src/rsp/gdb_lldb.c

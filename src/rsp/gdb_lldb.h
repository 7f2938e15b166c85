/*
 * The packets lldb sends that gdb does not, or answers lldb needs that gdb
 * does not (lldb/docs/lldb-gdb-remote.txt). lldb reads the registers from
 * the same target.xml as gdb, but a Solo5 kernel carries an OpenBSD ELF
 * note, so lldb takes it for an OpenBSD program: it finds no x86-64 ABI for
 * that (no DWARF register numbers, so no variables) and no loader that
 * places the kernel (no breakpoint by name resolves). Two answers fix that:
 * qHostInfo names the architecture alone ("x86_64", the OS left open:
 * lldb's generic x86-64 ABI), and qOffsets says the kernel runs where it
 * was linked (lldb then loads its sections there). qOffsets is answered
 * only to a client that asked qHostInfo: gdb's session stays as it was.
 *
 * The rest of lldb's own packets (qProcessInfo, QThreadSuffixSupported,
 * QListThreadsInStopReply, QEnableErrorStrings, qMemoryRegionInfo,
 * jThreadsInfo, _M, x...) get the empty reply, "not supported", and lldb
 * falls back to gdb's. qProcessInfo stays unanswered on purpose: lldb would
 * take the process's architecture for the target's, and drop the kernel
 * ELF (an "OpenBSD" file) from the target.
 */
#ifndef UKVM_GDB_LLDB_H
#define UKVM_GDB_LLDB_H
#include <stdbool.h>
#include <stddef.h>

struct gdb_session;

/* Called first for every packet (buf as gdb_session_dispatch has it: len
 * bytes and a 0 after them). Answers lldb's packets and returns true;
 * returns false for everything else, which the usual dispatcher answers. */
bool gdb_lldb_dispatch(struct gdb_session *s, const char *buf, size_t len);

#endif

/*
 * The amd64 register file as gdb sees it: register numbers (enum ukvm_regno),
 * sizes and their place in struct ukvm_regs; the 'g' packet is all of them in
 * number order, each in target (little-endian) byte order.
 */
#ifndef UKVM_GDB_REGS_H
#define UKVM_GDB_REGS_H

#include <stddef.h>
#include <stdint.h>

#include "ukvm/target.h"

/* Bytes of the whole 'g' packet register block (binary, not hex). */
#define GDB_REGS_BYTES 600

/* orig_rax (8 bytes, always -1: there are no system calls to restart) is
 * the number after the last register. The description ukvm sends has no
 * orig_rax; the one the gdb extension (tools/gdb/ukvm.py) sets for the
 * length of a `gcore` adds it as the number after the last, because gdb
 * writes x86-64 core notes only for a description with it. */
#define GDB_REG_ORIG_RAX UKVM_REG_COUNT

/* Size in bytes of register n, or 0 when there is no such register. */
size_t gdb_reg_size(unsigned n);

/* Copies register n out of / into regs (little-endian bytes, gdb_reg_size
 * of them). Return the size, or 0 for an unknown register. */
size_t gdb_reg_get(const struct ukvm_regs *regs, unsigned n, uint8_t *out);
size_t gdb_reg_set(struct ukvm_regs *regs, unsigned n, const uint8_t *in);

/* The whole block in 'g' order (GDB_REGS_BYTES bytes). */
void gdb_regs_pack(const struct ukvm_regs *regs, uint8_t *out);
/* Sets the registers from the first len bytes of a 'g' block; a partial last
 * register is left alone. Returns the number of registers set. */
unsigned gdb_regs_unpack(struct ukvm_regs *regs, const uint8_t *in, size_t len);

#endif

#!/usr/bin/env python3
"""Seed inputs for fuzz_fpu_complete (the layout is described at the top of
tests/fuzz/fuzz_fpu_complete.c): one per kind of instruction the monitor
completes, with sane state and registers pointing into guest memory.
Usage: fpu_seeds.py DIR"""
import os
import struct
import sys

BASE = 0x40000000


def seed(insn, mode=0x3, flags=0, present=0xffff, writable=0xfffd, protect=0,
         ptrs=0xffff, regs=None, mxcsr=0x1f80, fcw=0x37f, mem=b"\x00\x11\x22\x33",
         ecx_off=0, edx_off=0):
    regs = regs or [0x2000 + 0x100 * i for i in range(16)]
    h = bytearray(676)
    h[0] = mode
    h[1] = flags
    struct.pack_into("<HHH", h, 2, present, writable, protect)
    struct.pack_into("<II", h, 8, ecx_off, edx_off)
    struct.pack_into("<H", h, 16, 0x40)
    h[18:18 + len(insn)] = insn
    for i, r in enumerate(regs):
        struct.pack_into("<Q", h, 34 + 8 * i, r)
    struct.pack_into("<H", h, 162, ptrs)
    fx = bytearray(512)
    struct.pack_into("<H", fx, 0, fcw)
    struct.pack_into("<I", fx, 24, mxcsr)
    struct.pack_into("<I", fx, 28, 0xffff)
    fx[4] = 0xff  # all eight x87 registers hold values
    for i in range(8):  # st registers: small finite values
        struct.pack_into("<QH", fx, 32 + 16 * i, (1 << 63) | (i << 40), 16383 + i)
    for i in range(16):  # xmm registers
        struct.pack_into("<QQ", fx, 160 + 16 * i, 0x3ff0000000000000 + i, 0x4000000000000000 + i)
    h[164:676] = fx
    return bytes(h) + mem


SEEDS = {
    "addps-reg": seed(b"\x0f\x58\xc1"),
    "paddd-mem": seed(b"\x66\x0f\xfe\x00"),
    "movaps-aligned": seed(b"\x0f\x28\x00"),
    "movaps-misaligned": seed(b"\x0f\x28\x40\x08"),
    "movsd-store": seed(b"\xf2\x0f\x11\x03"),
    "movsd-store-readonly": seed(b"\xf2\x0f\x11\x03", writable=0xfffd & ~(1 << 2)),
    "movups-store-text": seed(b"\x0f\x11\x03", protect=1 << 2),
    "cvtsi2sd-gpr": seed(b"\xf2\x48\x0f\x2a\xc1"),
    "cvttsd2si-gpr": seed(b"\xf2\x48\x0f\x2c\xc1"),
    "ldmxcsr-ok": seed(b"\x0f\xae\x10", mem=struct.pack("<I", 0x9f80)),
    "ldmxcsr-reserved": seed(b"\x0f\xae\x10", mem=struct.pack("<I", 0xffff1f80)),
    "stmxcsr": seed(b"\x0f\xae\x18"),
    "fld-mem": seed(b"\xdd\x00"),
    "fstp-mem": seed(b"\xdd\x1b"),
    "fcmovb-cf": seed(b"\xda\xc1", flags=1),
    "fcmovb-nc": seed(b"\xda\xc1", flags=0),
    "fcomi": seed(b"\xdb\xf1"),
    "fnstenv": seed(b"\xd9\x33"),
    "fnstsw-ax": seed(b"\xdf\xe0"),
    "pshufb": seed(b"\x66\x0f\x38\x00\xc1"),
    "pmulld": seed(b"\x66\x0f\x38\x40\x00"),
    "aesenc": seed(b"\x66\x0f\x38\xdc\xc1"),
    "pclmulqdq": seed(b"\x66\x0f\x3a\x44\xc1\x11"),
    "pcmpistri": seed(b"\x66\x0f\x3a\x63\x40\x03\x0c"),
    "paddq-mmx": seed(b"\x0f\xd4\xc1"),
    "comisd-flags": seed(b"\x66\x0f\x2f\xc1"),
    "rip-relative": seed(b"\xf2\x0f\x10\x05\x00\x10\x00\x00"),
    "ts-set": seed(b"\x0f\x58\xc1", mode=0x3 | 4),
    "compat": seed(b"\x48\x0f\x28\xc1", mode=0x3 | 32),
    "no-sse41": seed(b"\x66\x0f\x38\x40\xc1", mode=0x3 | 64, ecx_off=1 << 19),
}

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

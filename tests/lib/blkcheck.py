#!/usr/bin/env python3
"""Check a block file after the blk guest ran on it.

    blkcheck.py FILE BLOCK_SIZE FILL_BYTE SECTOR...

The blk guest (tests/guests/blk.c) writes fill(sector) into each SECTOR:
byte i = (sector * 131 + i * 7 + (i >> 8) + 0x5a) mod 256. Every other
sector must still hold FILL_BYTE everywhere (the file was filled with it
before the run). Prints one line per problem; exits 0 when all is as
expected, 1 otherwise.
"""
import sys


def pattern(sector, bs):
    return bytes((sector * 131 + i * 7 + (i >> 8) + 0x5a) & 0xff for i in range(bs))


def main():
    path, bs, fill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)
    written = {int(s) for s in sys.argv[4:]}
    data = open(path, "rb").read()
    if len(data) % bs:
        print("file size %d is not a multiple of %d" % (len(data), bs))
        return 1
    bad = 0
    for s in range(len(data) // bs):
        got = data[s * bs:(s + 1) * bs]
        want = pattern(s, bs) if s in written else bytes([fill]) * bs
        if got != want:
            print("sector %d: %s" % (s, "pattern missing" if s in written else "changed"))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Make broken copies of an ELF64 kernel for tests/integration/bad_input.sh.

    elfpatch.py IN OUT EDIT...

Copies IN to OUT, applying each EDIT in order (offsets are taken from IN's
own headers, which are assumed to be a well-formed little-endian ELF64):

  truncate=N              keep only the first N bytes (N may be an expression
                          of the names below, e.g. phoff+56+8)
  ehdr.FIELD=V            an ELF header field: ei_class, ei_data, e_type,
                          e_machine, e_version, e_entry, e_phoff, e_phentsize,
                          e_phnum
  phdr.I.FIELD=V          field of program header I: p_type, p_flags,
                          p_offset, p_vaddr, p_paddr, p_filesz, p_memsz
  note:SECTION:name=S     the name bytes of the first note in section SECTION
                          (same length as the original, e.g. Solo5 -> Solo6)
  note:SECTION:type=V     the note type
  note:SECTION:namesz=V   the note's namesz field
  note:SECTION:descsz=V   the note's descsz field
  note:SECTION:desc32:K=V the K-th u32 of the note's descriptor
  note:SECTION:desc8:K=V  the K-th byte of the note's descriptor

Values are Python integer literals (0x... allowed) or expressions of the
names phoff, shoff, filesize and SECTION_off (file offset of a section, with
dots replaced by underscores and the leading underscore removed, e.g.
note_solo5_abi_off).
"""
import struct
import sys

EHDR = {  # name: (offset, struct format)
    "ei_class": (4, "B"), "ei_data": (5, "B"), "e_type": (16, "<H"),
    "e_machine": (18, "<H"), "e_version": (20, "<I"), "e_entry": (24, "<Q"),
    "e_phoff": (32, "<Q"), "e_phentsize": (54, "<H"), "e_phnum": (56, "<H"),
}
PHDR = {
    "p_type": (0, "<I"), "p_flags": (4, "<I"), "p_offset": (8, "<Q"),
    "p_vaddr": (16, "<Q"), "p_paddr": (24, "<Q"), "p_filesz": (32, "<Q"),
    "p_memsz": (40, "<Q"),
}


def sections(data):
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    out = {}
    for h in hdrs:
        name = data[stroff + h[0]:data.index(b"\0", stroff + h[0])].decode()
        out[name] = (h[4], h[5])  # file offset, size
    return out


def names(data):
    env = {"phoff": struct.unpack_from("<Q", data, 32)[0],
           "shoff": struct.unpack_from("<Q", data, 40)[0],
           "filesize": len(data)}
    for name, (off, _) in sections(data).items():
        if name:
            env[name.lstrip(".").replace(".", "_") + "_off"] = off
    return env


def value(s, env):
    return int(eval(s, {"__builtins__": {}}, env))


def main():
    src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
    orig = open(src, "rb").read()
    env = names(orig)
    data = bytearray(orig)
    secs = sections(orig)
    phoff, = struct.unpack_from("<Q", orig, 32)
    phentsize, = struct.unpack_from("<H", orig, 54)
    for e in edits:
        key, val = e.split("=", 1)
        parts = key.split(".")
        if key == "truncate":
            del data[value(val, env):]
        elif parts[0] == "ehdr":
            off, fmt = EHDR[parts[1]]
            struct.pack_into(fmt, data, off, value(val, env))
        elif parts[0] == "phdr":
            off, fmt = PHDR[parts[2]]
            struct.pack_into(fmt, data, phoff + int(parts[1]) * phentsize + off, value(val, env))
        elif key.startswith("note:"):
            # note:SECTION:WHAT[:K]
            np = key.split(":")
            sec, what, k = np[1], np[2], int(np[3]) if len(np) > 3 else None
            noff, _ = secs[sec]
            namesz, descsz, ntype = struct.unpack_from("<III", orig, noff)
            desc = noff + 12 + ((namesz + 3) & ~3)
            if what == "name":
                b = val.encode()
                assert len(b) == namesz - 1, "keep the name's length"
                data[noff + 12:noff + 12 + len(b)] = b
            elif what == "namesz":
                struct.pack_into("<I", data, noff, value(val, env))
            elif what == "descsz":
                struct.pack_into("<I", data, noff + 4, value(val, env))
            elif what == "type":
                struct.pack_into("<I", data, noff + 8, value(val, env))
            elif what == "desc32":
                struct.pack_into("<I", data, desc + 4 * k, value(val, env))
            elif what == "desc8":
                struct.pack_into("B", data, desc + k, value(val, env))
            else:
                raise SystemExit("unknown note edit " + e)
        else:
            raise SystemExit("unknown edit " + e)
    open(dst, "wb").write(data)


if __name__ == "__main__":
    main()

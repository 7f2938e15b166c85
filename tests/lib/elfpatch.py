#!/usr/bin/env python3
"""Make broken copies of an ELF64 kernel for tests/integration/bad_input.sh.

    elfpatch.py IN OUT EDIT...
    elfpatch.py --serve     the same for each line of stdin (IN, OUT and the
                            EDITs separated by tabs), answering "ok" or
                            "error" on stdout: one python start for many

Copies IN to OUT, applying each EDIT in order (offsets are taken from IN's
own headers, which are assumed to be a well-formed little-endian ELF64 laid
out like a Solo5 kernel: see tests/guests/rt/guest.ld):

  truncate=N              keep only the first N bytes (N may be an expression
                          of the names below, e.g. phoff+56+8)
  ehdr.FIELD=V            an ELF header field: ei_class, ei_data, e_type,
                          e_machine, e_version, e_entry, e_phoff, e_shoff,
                          e_phentsize, e_phnum, e_shnum, e_shstrndx
  phdr.I.FIELD=V          field of program header I: p_type, p_flags,
                          p_offset, p_vaddr, p_paddr, p_filesz, p_memsz
  strip-sections=1        no section headers (e_shoff, e_shnum, e_shstrndx 0)
  mft-unpad=1             rewrite Solo5's padded manifest note (content at
                          offset 24 after 4 bytes of padding) the way older
                          ukvm guests had it (content at 20, descsz 4 less);
                          its PT_NOTE (and section, if any) shrinks by 4
  note:NOTE:name=S        the name bytes of the note (same length as the
                          original, e.g. Solo5 -> Solo6)
  note:NOTE:type=V        the note type
  note:NOTE:namesz=V      the note's namesz field
  note:NOTE:descsz=V      the note's descsz field
  note:NOTE:desc32:K=V    the K-th u32 of the note's content
  note:NOTE:desc8:K=V     the K-th byte of the note's content
  note:NOTE:descstr:K=S   the bytes of the string S from the K-th byte of the
                          note's content on (no NUL added; e.g. a name for
                          the manifest's entry 0, which starts at byte 8)
  note:NOTE:raw8:K=V      the K-th byte after the 20-byte header (the
                          manifest's padding is raw8:0..3)

NOTE is abi, manifest or openbsd (or the section name .note.solo5.abi,
.note.solo5.manifest, .note.solo5.not_openbsd): the note at the start of the
PT_NOTE segment that holds it, found through the program headers. The
content of a Solo5 note starts where the loader expects it: offset 20 for
the ABI note; for the manifest, 24 when descsz % 8 == 4 (padded), else 20.

Values are Python integer literals (0x... allowed) or expressions of the
names phoff, shoff, filesize, note_abi_off, note_manifest_off,
note_openbsd_off (file offsets of the notes), interp_off and, when IN has
section headers, SECTION_off (file offset of a section, with dots replaced
by underscores and the leading dot removed, e.g. note_solo5_abi_off).
"""
import struct
import sys

EHDR = {  # name: (offset, struct format)
    "ei_class": (4, "B"), "ei_data": (5, "B"), "e_type": (16, "<H"),
    "e_machine": (18, "<H"), "e_version": (20, "<I"), "e_entry": (24, "<Q"),
    "e_phoff": (32, "<Q"), "e_shoff": (40, "<Q"), "e_phentsize": (54, "<H"),
    "e_phnum": (56, "<H"), "e_shnum": (60, "<H"), "e_shstrndx": (62, "<H"),
}
PHDR = {
    "p_type": (0, "<I"), "p_flags": (4, "<I"), "p_offset": (8, "<Q"),
    "p_vaddr": (16, "<Q"), "p_paddr": (24, "<Q"), "p_filesz": (32, "<Q"),
    "p_memsz": (40, "<Q"),
}
PT_INTERP, PT_NOTE = 3, 4
NOTE_KINDS = {  # name: (owner, type)
    "abi": (b"Solo5\0", 0x31494241),
    "manifest": (b"Solo5\0", 0x3154464d),
    "openbsd": (b"OpenBSD\0", 1),
}
SECTION_ALIASES = {
    ".note.solo5.abi": "abi", ".note.solo5.manifest": "manifest",
    ".note.solo5.not_openbsd": "openbsd",
}


def phdrs(data):
    """[(index, file offset of the header, type, p_offset, p_filesz)]"""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(phnum):
        at = phoff + i * phentsize
        ptype, = struct.unpack_from("<I", data, at)
        off, = struct.unpack_from("<Q", data, at + 8)
        filesz, = struct.unpack_from("<Q", data, at + 32)
        out.append((i, at, ptype, off, filesz))
    return out


def sections(data):
    """{name: (index, file offset of the header, sh_offset, sh_size)}"""
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    if shoff == 0 or shnum == 0:
        return {}
    hdrs = [(shoff + i * shentsize,) + struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
            for i in range(shnum)]
    stroff = hdrs[shstrndx][5]
    out = {}
    for i, h in enumerate(hdrs):
        name = data[stroff + h[1]:data.index(b"\0", stroff + h[1])].decode()
        out[name] = (i, h[0], h[5], h[6])
    return out


def find_note(data, kind):
    """(phdr header offset, note file offset) of the PT_NOTE holding `kind`."""
    owner, ntype = NOTE_KINDS[kind]
    for _, at, ptype, off, filesz in phdrs(data):
        if ptype != PT_NOTE or filesz < 12:
            continue
        namesz, _, t = struct.unpack_from("<III", data, off)
        if t == ntype and bytes(data[off + 12:off + 12 + namesz]) == owner:
            return at, off
    raise SystemExit("elfpatch: no PT_NOTE segment starts with the %s note" % kind)


def content_off(data, kind, noff):
    """File offset of a note's content, as the loader reads it."""
    namesz, descsz, _ = struct.unpack_from("<III", data, noff)
    desc = noff + 12 + ((namesz + 3) & ~3)
    if kind == "manifest" and descsz % 8 == 4:
        desc += 4
    return desc


def names(data):
    env = {"phoff": struct.unpack_from("<Q", data, 32)[0],
           "shoff": struct.unpack_from("<Q", data, 40)[0],
           "filesize": len(data)}
    for kind in NOTE_KINDS:
        env["note_" + kind + "_off"] = find_note(data, kind)[1]
    for _, _, ptype, off, _ in phdrs(data):
        if ptype == PT_INTERP:
            env["interp_off"] = off
    for name, (_, _, off, _) in sections(data).items():
        if name:
            env[name.lstrip(".").replace(".", "_") + "_off"] = off
    return env


def value(s, env):
    return int(eval(s, {"__builtins__": {}}, env))


def mft_unpad(data):
    """Move the padded manifest's content 4 bytes back, to offset 20."""
    ph_at, noff = find_note(data, "manifest")
    descsz, = struct.unpack_from("<I", data, noff + 4)
    assert descsz % 8 == 4, "the manifest is not padded"
    start = noff + 20
    data[start:start + descsz - 4] = data[start + 4:start + descsz]
    data[start + descsz - 4:start + descsz] = b"\0" * 4
    struct.pack_into("<I", data, noff + 4, descsz - 4)
    for field in ("p_filesz", "p_memsz"):
        off = ph_at + PHDR[field][0]
        v, = struct.unpack_from("<Q", data, off)
        struct.pack_into("<Q", data, off, v - 4)
    for _, sh_at, sh_off, sh_size in sections(data).values():
        if sh_off == noff:
            struct.pack_into("<Q", data, sh_at + 32, sh_size - 4)


def note_edit(data, orig, key, val, env):
    # note:NOTE:WHAT[:K]
    np = key.split(":")
    kind = SECTION_ALIASES.get(np[1], np[1])
    if kind not in NOTE_KINDS:
        raise SystemExit("elfpatch: unknown note " + np[1])
    what, k = np[2], int(np[3]) if len(np) > 3 else None
    _, noff = find_note(orig, kind)
    namesz, _, _ = struct.unpack_from("<III", orig, noff)
    content = content_off(orig, kind, noff)
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
        struct.pack_into("<I", data, content + 4 * k, value(val, env))
    elif what == "desc8":
        struct.pack_into("B", data, content + k, value(val, env))
    elif what == "descstr":
        b = val.encode()
        data[content + k:content + k + len(b)] = b
    elif what == "raw8":
        struct.pack_into("B", data, noff + 20 + k, value(val, env))
    else:
        raise SystemExit("elfpatch: unknown note edit " + key)


def patch(src, dst, edits):
    orig = open(src, "rb").read()
    env = names(orig)
    data = bytearray(orig)
    phoff, = struct.unpack_from("<Q", orig, 32)
    phentsize, = struct.unpack_from("<H", orig, 54)
    for e in edits:
        key, val = e.split("=", 1)
        parts = key.split(".")
        if key == "truncate":
            del data[value(val, env):]
        elif key == "strip-sections":
            struct.pack_into("<Q", data, 40, 0)
            struct.pack_into("<HH", data, 60, 0, 0)
        elif key == "mft-unpad":
            mft_unpad(data)
        elif parts[0] == "ehdr":
            off, fmt = EHDR[parts[1]]
            struct.pack_into(fmt, data, off, value(val, env))
        elif parts[0] == "phdr":
            off, fmt = PHDR[parts[2]]
            struct.pack_into(fmt, data, phoff + int(parts[1]) * phentsize + off, value(val, env))
        elif key.startswith("note:"):
            note_edit(data, orig, key, val, env)
        else:
            raise SystemExit("elfpatch: unknown edit " + e)
    open(dst, "wb").write(data)


def serve():
    for line in sys.stdin:
        args = line.rstrip("\n").split("\t")
        try:
            patch(args[0], args[1], args[2:])
            print("ok", flush=True)
        except BaseException as e:  # noqa: B902 (SystemExit too: one bad edit)
            print(e, file=sys.stderr, flush=True)
            print("error", flush=True)


def main():
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        patch(sys.argv[1], sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()

"""Which bytes of memory an instruction reads and writes: an independent
decoder for the reverse-execution oracle, from `objdump -d -M intel` of the
guest's ELF file (binutils, not ukvm's decoder).

decode(elf) -> {address: Insn}. Insn.accesses(regs) gives the list of
(address, length, mode) the instruction makes, mode 'r', 'w' or 'rw', from
its memory operands (`BYTE/WORD/DWORD/QWORD/TBYTE/XMMWORD PTR [expr]`,
rip-relative ones through objdump's `# addr <sym>` comment), the implicit
stack accesses (push, pop, call, ret, pushf, popf, leave, enter) and the
string instructions (movs, stos, lods, cmps, scas, with a rep prefix over
rcx elements). Read or write follows from the operand's position and the
mnemonic. Insn.unknown is set for a memory operand whose mode the tables
below do not know: the oracle refuses to guess (an access to watched bytes
by such an instruction fails the oracle itself).
"""
import re
import subprocess

SIZES = {"BYTE": 1, "WORD": 2, "DWORD": 4, "QWORD": 8, "TBYTE": 10, "FWORD": 6,
         "XMMWORD": 16, "YMMWORD": 32, "ZMMWORD": 64}
PREFIXES = {"lock", "rep", "repz", "repe", "repnz", "repne", "data16", "addr32",
            "bnd", "notrack", "cs", "ds", "ss", "es", "fs", "gs", "rex", "rex.w"}
# no memory access although an operand is written [expr]
NO_ACCESS = {"lea", "nop", "nopw", "nopl", "prefetch", "prefetchw", "prefetcht0",
             "prefetcht1", "prefetcht2", "prefetchnta", "clflush", "clflushopt", "invlpg"}
# the memory destination is written and not read
WRITE_ONLY = {"mov", "movabs", "movaps", "movups", "movapd", "movupd", "movdqa", "movdqu",
              "movq", "movd", "movss", "movsd", "movnti", "movntdq", "movntps", "movlps",
              "movhps", "movlpd", "movhpd", "pop", "stmxcsr", "fnstcw", "fstcw", "fnstsw",
              "fstsw", "fst", "fstp", "fist", "fistp", "fisttp", "fnstenv", "fnsave",
              "fxsave", "fxsave64", "xsave", "xsave64", "sgdt", "sidt", "str", "sldt",
              "pextrb", "pextrw", "pextrd", "pextrq", "extractps"}
WRITE_ONLY_PREFIX = ("set",)          # setcc
# the memory operand (wherever it is) is only read
READ_ONLY = {"cmp", "test", "bt", "push", "mul", "imul", "div", "idiv", "jmp", "call",
             "ldmxcsr", "fldcw", "fldenv", "frstor", "fxrstor", "fxrstor64", "xrstor",
             "xrstor64", "lgdt", "lidt", "lldt", "ltr", "ucomiss", "ucomisd", "comiss",
             "comisd", "bound", "verr", "verw", "ptest"}
READ_ONLY_PREFIX = ("fld", "fild", "fbld", "fadd", "fiadd", "fsub", "fisub", "fmul", "fimul",
                    "fdiv", "fidiv", "fcom", "ficom", "fucom")
# the memory destination is read and written
READ_WRITE = {"add", "adc", "sub", "sbb", "and", "or", "xor", "inc", "dec", "neg", "not",
              "shl", "sal", "shr", "sar", "rol", "ror", "rcl", "rcr", "shld", "shrd",
              "xchg", "xadd", "cmpxchg", "cmpxchg8b", "cmpxchg16b", "bts", "btr", "btc"}
STRING = {"movs", "stos", "lods", "cmps", "scas", "ins", "outs"}
# the size of the memory operand of instructions objdump prints without one
IMPLICIT_SIZE = {"lgdt": 10, "lidt": 10, "sgdt": 10, "sidt": 10, "fxsave": 512, "fxsave64": 512,
                 "fxrstor": 512, "fxrstor64": 512, "fldenv": 28, "fnstenv": 28, "frstor": 108,
                 "fnsave": 108}
REGS64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+)\t(.*)$")
MEMOP = re.compile(r"(?:(BYTE|WORD|DWORD|QWORD|TBYTE|FWORD|XMMWORD|YMMWORD|ZMMWORD) PTR )?"
                   r"(?:[a-z]s:)?(?:\[([^\]]+)\]|(?<=PTR [a-z]s:)(0x[0-9a-f]+|[0-9]+)$)")
COMMENT = re.compile(r"#\s*([0-9a-f]+)(?:\s*<([^>]*)>)?\s*$")


def _reg(regs, name):
    """A register's value by any of its names (rax, eax; r8, r8d)."""
    if name in regs:
        return regs[name]
    if name.startswith("e") and "r" + name[1:] in regs:
        return regs["r" + name[1:]] & 0xFFFFFFFF
    if name.endswith("d") and name[:-1] in regs:
        return regs[name[:-1]] & 0xFFFFFFFF
    raise ValueError("address register %s" % name)


def split_operands(text):
    """Top-level comma-separated operands (commas inside [] kept)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


class Insn:
    def __init__(self, addr, length, text):
        self.addr = addr
        self.length = length
        self.next = addr + length
        self.text = text
        m = COMMENT.search(text)
        self.target = int(m.group(1), 16) if m else None
        body = COMMENT.sub("", text).strip()
        words = body.split(None, 1)
        self.prefixes = []
        while words and words[0] in PREFIXES:
            self.prefixes.append(words[0])
            words = words[1].split(None, 1) if len(words) > 1 else []
        self.mnemonic = words[0] if words else ""
        self.operands = split_operands(words[1]) if len(words) > 1 else []
        self.unknown = None
        self.mem = []          # (operand index, size, expr, mode)
        for idx, op in enumerate(self.operands):
            m = MEMOP.search(op)
            if not m:
                continue
            size = SIZES.get(m.group(1)) if m.group(1) else IMPLICIT_SIZE.get(self.mnemonic)
            mode = self._mode(idx)
            if mode is None:
                self.unknown = "%s (operand %d)" % (self.mnemonic, idx)
                continue
            if mode and size is None:
                self.unknown = "%s: memory operand without a size" % self.mnemonic
                continue
            if mode:
                self.mem.append((idx, size, m.group(2) or m.group(3), mode))

    def _mode(self, idx):
        mn = self.mnemonic
        base = mn.rstrip("bwlq") if mn.rstrip("bwlq") in STRING else mn
        if mn in NO_ACCESS or mn.startswith("nop") or mn.startswith("prefetch"):
            return ""
        if base in STRING:
            return ""          # handled by string_accesses
        if mn in READ_ONLY or mn.startswith(READ_ONLY_PREFIX) or mn.startswith("cmov") and idx > 0:
            return "r"
        if idx > 0:
            return "rw" if mn in ("xchg",) else "r"
        if mn in WRITE_ONLY or mn.startswith(WRITE_ONLY_PREFIX):
            return "w"
        if mn in READ_WRITE:
            return "rw"
        if mn.startswith("j"):
            return "r"
        return None

    def ea(self, expr, regs):
        if "rip" in expr:
            if self.target is None:
                raise ValueError("rip-relative operand without objdump's target comment")
            return self.target
        total = 0
        for term in re.findall(r"[+-]?[^+-]+", expr.replace(" ", "")):
            sign = -1 if term.startswith("-") else 1
            term = term.lstrip("+-")
            if "*" in term:
                r, s = term.split("*")
                total += sign * _reg(regs, r) * int(s, 0)
            elif re.match(r"^(0x[0-9a-f]+|[0-9]+)$", term):
                total += sign * int(term, 0)
            else:
                total += sign * _reg(regs, term)
        return total & 0xFFFFFFFFFFFFFFFF

    def string_accesses(self, regs, after=None):
        mn = self.mnemonic
        base = mn.rstrip("bwlq") if mn.rstrip("bwlq") in STRING else mn
        if base not in STRING:
            return []
        size = None
        for op in self.operands:
            m = MEMOP.search(op)
            if m and m.group(1):
                size = SIZES[m.group(1)]
        if size is None:
            size = {"b": 1, "w": 2, "l": 4, "q": 8}.get(mn[-1], 1)
        count = 1
        if any(p.startswith("rep") for p in self.prefixes):
            # a single-step runs one iteration (or, on some KVMs, all):
            # the elements done are what rcx went down by
            count = regs["rcx"] - after["rcx"] if after else regs["rcx"]
        if count <= 0:
            return []
        down = bool(regs["eflags"] & 0x400)
        span = size * count

        def rng(start):
            return (start - span + size, span) if down else (start, span)
        out = []
        if base in ("movs", "lods", "cmps", "outs"):
            out.append(rng(regs["rsi"]) + ("r",))
        if base in ("movs", "stos", "ins"):
            out.append(rng(regs["rdi"]) + ("w",))
        if base in ("cmps", "scas"):
            out.append(rng(regs["rdi"]) + ("r",))
        return out

    def is_rep_string(self):
        base = self.mnemonic.rstrip("bwlq") if self.mnemonic.rstrip("bwlq") in STRING else self.mnemonic
        return base in STRING and any(p.startswith("rep") for p in self.prefixes)

    def stack_accesses(self, regs):
        mn, sp = self.mnemonic, regs["rsp"]
        if mn in ("push", "pushf", "pushfq", "call"):
            return [(sp - 8, 8, "w")]
        if mn in ("pop", "popf", "popfq", "ret"):
            return [(sp, 8, "r")]
        if mn == "leave":
            return [(regs["rbp"], 8, "r")]
        if mn == "enter":
            return [(sp - 8, 8, "w")]
        return []

    def accesses(self, regs, after=None):
        """(address, length, mode) of the accesses made from the registers
        REGS; AFTER, the registers after it, tells how far a rep went."""
        out = []
        for _, size, expr, mode in self.mem:
            out.append((self.ea(expr, regs), size, mode))
        return out + self.string_accesses(regs, after) + self.stack_accesses(regs)

    def is_event(self):
        """A hypercall's out or an instruction the monitor traps (rdtsc...)."""
        return self.mnemonic in ("out", "rdtsc", "rdtscp", "rdrand", "rdseed", "hlt")

    def branch_target(self):
        """A direct jump's or call's target, else None."""
        mn = self.mnemonic
        if not (mn.startswith("j") or mn.startswith("loop") or mn == "call") or not self.operands:
            return None
        m = re.match(r"^([0-9a-f]+)(?:\s|$)", self.operands[0])
        return int(m.group(1), 16) if m else None

    def successors(self, entries):
        """The rips a single-step of this instruction may end on, or None
        for any (ret, iretq, an indirect jump or call). ENTRIES: the guest's
        exception handlers, where an instruction that can fault may go."""
        mn, tgt = self.mnemonic, self.branch_target()
        if mn in ("ret", "iretq", "iret") or mn in ("jmp", "call") and tgt is None:
            return None
        if mn in ("int", "int3", "ud2", "syscall", "into"):
            return set(entries)
        if mn == "jmp" or mn == "call":
            out = {tgt}
        elif tgt is not None:                    # jcc, loop
            out = {tgt, self.next}
        else:
            out = {self.next}
        if any(p.startswith("rep") for p in self.prefixes):
            out.add(self.addr)                   # one iteration per step
        if self.mem or mn.startswith("div") or mn.startswith("idiv"):
            out |= set(entries)                  # may fault
        return out

    def falls_through(self):
        """True when the next instruction is always the one after it."""
        mn = self.mnemonic
        return not (mn.startswith("j") or mn in ("call", "ret", "iretq", "iret", "int", "int3",
                                                 "ud2", "syscall", "sysret", "hlt", "loop",
                                                 "loope", "loopne", "jrcxz"))

    def __repr__(self):
        return "0x%x: %s" % (self.addr, self.text.strip())


def decode(elf):
    out = subprocess.run(["objdump", "-d", "-M", "intel", "--insn-width=15", elf],
                         check=True, capture_output=True, text=True).stdout
    insns = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        nbytes = len(m.group(2).split())
        insns[addr] = Insn(addr, nbytes, m.group(3))
    return insns


def overlap(a, alen, b, blen):
    return a < b + blen and b < a + alen


if __name__ == "__main__":
    import sys
    for a, i in sorted(decode(sys.argv[1]).items()):
        if i.mem or i.unknown:
            print("%x %-50s %s %s" % (a, i.text.strip()[:50], [(s, e, m) for _, s, e, m in i.mem],
                                     i.unknown or ""))

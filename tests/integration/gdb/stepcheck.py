# gdb python helpers for tests/integration/gdb_kvm.sh (loaded with
# `-ex 'source .../stepcheck.py'`). They print lines the shell script greps.
#
#   ukvm-stepcheck N   stepi N times; before each step disassemble the current
#                      instruction (as `x/i $pc` shows it) and check that the
#                      new pc is where that instruction leads: pc + length for
#                      ordinary instructions, the target for call/jmp, one of
#                      target / fall-through for a conditional jump, the
#                      return address on the stack for ret. Prints
#                      "STEP i 0x<pc> <asm>" per step, then "STEPCHECK OK N"
#                      or "STEPCHECK BAD ..." lines.
#   ukvm-pcs N         stepi N times (one stepi command each) and print
#                      "PCS 0x.. 0x.. ..." (the pc after each step).
#   ukvm-pc            print "PC 0x<pc>".
#   ukvm-nexti-call N  stepi until the current instruction is a call (at most
#                      N steps), then nexti once; prints
#                      "NEXTI call at 0x.. len L -> 0x.. OK|BAD".
import re
import gdb


def _pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF


def _insn(pc):
    arch = gdb.selected_frame().architecture()
    d = arch.disassemble(pc)[0]
    return d["asm"], d["length"]


def _target(asm):
    m = re.search(r"\s(0x[0-9a-fA-F]+)(\s|$)", asm)
    return int(m.group(1), 16) if m else None


def _u64(addr):
    inf = gdb.selected_inferior()
    return int.from_bytes(bytes(inf.read_memory(addr, 8)), "little")


class StepCheck(gdb.Command):
    def __init__(self):
        super().__init__("ukvm-stepcheck", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        n = int(arg or "20")
        bad = 0
        for i in range(n):
            pc = _pc()
            asm, length = _insn(pc)
            xi = gdb.execute("x/i $pc", to_string=True).strip()
            rsp = int(gdb.parse_and_eval("$rsp")) & 0xFFFFFFFFFFFFFFFF
            retaddr = _u64(rsp) if asm.startswith("ret") else None
            gdb.execute("stepi", to_string=True)
            new = _pc()
            op = asm.split()[0]
            tgt = _target(asm)
            if op.startswith("call") and tgt is not None:
                ok = new == tgt
                newrsp = int(gdb.parse_and_eval("$rsp")) & 0xFFFFFFFFFFFFFFFF
                ok = ok and _u64(newrsp) == pc + length
                want = "0x%x (return address 0x%x pushed)" % (tgt, pc + length)
            elif op.startswith("jmp") and tgt is not None:
                ok = new == tgt
                want = "0x%x" % tgt
            elif op.startswith("j") and tgt is not None:
                ok = new in (tgt, pc + length)
                want = "0x%x or 0x%x" % (tgt, pc + length)
            elif op.startswith("ret"):
                ok = new == retaddr
                want = "0x%x" % retaddr
            elif op.startswith(("call", "jmp", "j", "loop")):
                ok = True  # indirect: not checked
                want = "?"
            else:
                ok = new == pc + length
                want = "0x%x" % (pc + length)
            print("STEP %d 0x%x %s [%s] -> 0x%x" % (i, pc, asm, xi, new))
            if not ok:
                bad += 1
                print("STEPCHECK BAD step %d: after '%s' at 0x%x (length %d) pc is 0x%x, expected %s"
                      % (i, asm, pc, length, new, want))
        if bad == 0:
            print("STEPCHECK OK %d" % n)


class Pcs(gdb.Command):
    def __init__(self):
        super().__init__("ukvm-pcs", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        out = []
        for _ in range(int(arg or "5")):
            gdb.execute("stepi", to_string=True)
            out.append("0x%x" % _pc())
        print("PCS " + " ".join(out))


class Pc(gdb.Command):
    def __init__(self):
        super().__init__("ukvm-pc", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        print("PC 0x%x" % _pc())


class NextiCall(gdb.Command):
    def __init__(self):
        super().__init__("ukvm-nexti-call", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for _ in range(int(arg or "50")):
            pc = _pc()
            asm, length = _insn(pc)
            if asm.startswith("call"):
                gdb.execute("nexti", to_string=True)
                new = _pc()
                print("NEXTI call at 0x%x len %d -> 0x%x %s"
                      % (pc, length, new, "OK" if new == pc + length else "BAD"))
                return
            gdb.execute("stepi", to_string=True)
        print("NEXTI no call found")


StepCheck()
Pcs()
Pc()
NextiCall()

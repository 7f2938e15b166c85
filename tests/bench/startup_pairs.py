#!/usr/bin/env python3
"""Start-up timing for tests/bench/bench_startup.sh.

    startup_pairs.py N NAME=CMD [NAME=CMD ...]

Runs the commands in turn, N rounds (interleaved, so that a drift of the
machine affects them alike), each with stdout to /dev/null and stderr kept.
Wall time is taken around posix_spawn and wait; CPU time (user + sys) comes from
wait4's rusage of the child. Prints one line per figure, "NAME KEY VALUE",
medians over the rounds:
    NAME wall_ns V        NAME cpu_ns V
    NAME phase_<phase> V  NAME total V  NAME first_kvm_run V   (UKVM_REPORT_STARTUP lines)
A command that fails prints "NAME error ..." and the script exits 1.
CMD is split on spaces (paths with spaces are not supported).
"""
import os
import re
import statistics
import sys
import tempfile
import time

PHASE = re.compile(rb"^ukvm: startup phase (\S+) (\d+) ns$", re.M)
TOTAL = re.compile(rb"^ukvm: startup (\d+) ns to the first guest instruction$", re.M)
FIRST = re.compile(rb"^ukvm: startup first_kvm_run (\d+) ns", re.M)


def run_once(argv, errfile):
    devnull = os.open(os.devnull, os.O_WRONLY)
    err = os.open(errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # posix_spawn (vfork underneath): the measuring process's own fork
    # costs as little as possible, and the same for every command.
    t0 = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                        (os.POSIX_SPAWN_DUP2, err, 2)])
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    os.close(devnull)
    os.close(err)
    with open(errfile, "rb") as f:
        text = f.read()
    cpu = int((ru.ru_utime + ru.ru_stime) * 1e9)
    return os.waitstatus_to_exitcode(status), t1 - t0, cpu, text


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    cmds = []
    for a in sys.argv[2:]:
        name, _, cmd = a.partition("=")
        cmds.append((name, cmd.split()))
    fig = {name: {} for name, _ in cmds}
    with tempfile.TemporaryDirectory(prefix="ukvm-startup-") as tmp:
        errfile = os.path.join(tmp, "err")
        for _ in range(n):
            for name, argv in cmds:
                rc, wall, cpu, text = run_once(argv, errfile)
                if rc != 0:
                    print(f"{name} error exit {rc}: {text[-300:].decode(errors='replace')!r}")
                    sys.exit(1)
                f = fig[name]
                f.setdefault("wall_ns", []).append(wall)
                f.setdefault("cpu_ns", []).append(cpu)
                for ph, ns in PHASE.findall(text):
                    f.setdefault("phase_" + ph.decode(), []).append(int(ns))
                for ns in TOTAL.findall(text):
                    f.setdefault("total", []).append(int(ns))
                for ns in FIRST.findall(text):
                    f.setdefault("first_kvm_run", []).append(int(ns))
    for name, _ in cmds:
        for key, vals in fig[name].items():
            print(f"{name} {key} {statistics.median(vals):.0f}")


if __name__ == "__main__":
    main()

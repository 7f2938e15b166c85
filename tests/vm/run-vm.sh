#!/usr/bin/env bash
# Runs a command inside a small virtual machine whose /dev/kvm is a standard
# KVM (kvm_amd with nested paging) under QEMU's software emulation, with the
# host's root filesystem (read-only) and this tree (read-write) shared over
# virtio-9p. Works on any x86_64 Linux, with or without /dev/kvm.
#   tests/vm/run-vm.sh COMMAND...        (run from anywhere; COMMAND runs in the tree)
# Environment: VM_TIMEOUT (seconds, default 3600), VM_MEM (default 4G),
# VM_SMP (default 2), VM_KERNEL (default: the newest /boot/vmlinuz-*); the
# test knobs (INTEGRATION, GDB_*, UKVM_*, ...) are passed on to the command.
# Exits with the command's status, or 1 when the VM did not report one.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
out=$TOP/build/vm
mkdir -p "$out"
kernel=${VM_KERNEL:-$(ls -1v /boot/vmlinuz-* 2>/dev/null | tail -1)}
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
    echo "run-vm: no kernel in /boot (apt-get install linux-image-amd64)" >&2
    exit 1
fi
kver=${kernel#/boot/vmlinuz-}
command -v qemu-system-x86_64 >/dev/null ||
    { echo "run-vm: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }

initrd=$out/initramfs-$kver.cpio.gz
if [ ! -s "$initrd" ] || [ "$TOP/tests/vm/initramfs-init" -nt "$initrd" ] ||
   [ "$TOP/tests/vm/make-initramfs.sh" -nt "$initrd" ]; then
    bash "$TOP/tests/vm/make-initramfs.sh" "$kver" "$initrd"
fi

{
    echo "#!/bin/bash"
    echo "cd $(printf '%q' "$TOP")"
    # the test knobs reach the VM (INTEGRATION, GDB_TIMEOUT, UKVM_*, ...)
    for v in $(compgen -e | grep -E '^(INTEGRATION|FUZZ_SECONDS|TEST_TIMEOUT|GDB_[A-Z_]*|UKVM_[A-Z_]*|REV_[A-Z_]*)$'); do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf '%q ' "$@"; echo
} >"$out/job.sh"
rm -f "$out/status"

# thread=single: with multi-threaded TCG the guest kernel was seen to freeze
# after a few dozen KVM VM create/destroy cycles. tsc=reliable keeps the
# guest off the HPET; norandmaps/nokaslr make process start-up much faster.
start=$(date +%s)
set +e
timeout -k 10 "${VM_TIMEOUT:-3600}" qemu-system-x86_64 \
    -accel tcg,thread=single -cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-4G}" \
    -nodefaults -display none -no-reboot -serial stdio -monitor none \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 tsc=reliable norandmaps nokaslr ukvm_tree=$TOP" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$TOP,mount_tag=tree,security_model=none,multidevs=remap" \
    </dev/null | sed -u -E '/^\[ *[0-9.]+\] (sysrq|reboot): /d'
qrc=${PIPESTATUS[0]}
set -e
echo "run-vm: the VM ran for $(( $(date +%s) - start )) s"
if [ -s "$out/status" ]; then
    exit "$(cat "$out/status")"
fi
[ "$qrc" = 124 ] && echo "run-vm: timed out after ${VM_TIMEOUT:-3600} s" >&2
echo "run-vm: the VM reported no status (qemu exit $qrc)" >&2
exit 1

#!/usr/bin/env bash
# Runs COMMAND on this machine's /dev/kvm, or, where there is none, inside
# the test VM (run-vm.sh: a standard KVM under QEMU's software emulation).
#   tests/vm/with-kvm.sh COMMAND...
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    exec "$@"
fi
echo "with-kvm: no usable /dev/kvm here: running in the test VM (about 10 s to boot)" >&2
exec bash "$(dirname "$0")/run-vm.sh" "$@"

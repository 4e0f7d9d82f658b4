#!/bin/sh
# The guest's /init (PID 1) in a PromiseGrid VM initramfs: mounts the kernel
# filesystems, makes the root read-only, runs /workload with the kernel's extra
# arguments, reports how it ended on the serial console, and powers off.
# The status line is the contract with the VM driver (docs/sandboxes.md):
#   PROMISEGRID-EXIT <code> [oom]
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o size=1m,mode=1777 tmpfs /tmp
mount -o remount,ro /
oom0=$(sed -n 's/^oom_kill //p' /proc/vmstat)
/workload "$@" </dev/null 2>&1
code=$?
oom1=$(sed -n 's/^oom_kill //p' /proc/vmstat)
flag=
[ "${oom1:-0}" != "${oom0:-0}" ] && flag=" oom"
echo "PROMISEGRID-EXIT $code$flag"
poweroff -f

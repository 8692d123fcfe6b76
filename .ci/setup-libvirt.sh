#!/usr/bin/env bash
# Prepare a Debian 12 machine (root, no systemd) for labctl's optional libvirt path:
# vagrant-libvirt, libvirtd with the QEMU driver, and running virtlogd + libvirtd daemons.
# Idempotent: a second run installs nothing, starts nothing that already runs, and returns quickly.
# Run .ci/setup-host.sh first for vagrant itself; the box comes from `labctl box build --provider libvirt`.
#
# Packages (with --no-install-recommends):
#   vagrant-libvirt        the Vagrant provider plugin (system-wide, no `vagrant plugin install`)
#   libvirt-daemon-system  libvirtd, virtlogd, virsh, the `default` network definition
#   qemu-system-x86        the emulator (TCG when there is no usable KVM)
#   qemu-utils             qemu-img: vagrant-libvirt makes each VM's disk as a qcow2 overlay of the box
#   dnsmasq-base           DHCP and DNS on libvirt networks (the management network hands out addresses)
#   iptables               libvirt's network driver writes its NAT and forwarding rules with it
set -euo pipefail

say() { printf 'setup-libvirt: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root" >&2
    exit 1
fi

# dosfstools, mtools and syslinux: `labctl box build --provider libvirt` (the documented next step) needs them
PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base iptables dosfstools mtools syslinux)
missing=()
for pkg in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != installed ]; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # needrestart (when installed) must not restart running services such as dockerd.
    export NEEDRESTART_SUSPEND=1
    say "apt-get update"
    apt-get update -qq
    say "installing ${missing[*]}"
    # Without systemd, package scripts must not try to start services (policy-rc.d 101 = "not now").
    policy_rc=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
        chmod 0755 "$policy_rc"
        made_policy=1
    fi
    trap 'if [ "$made_policy" -eq 1 ]; then rm -f "$policy_rc"; fi' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [ "$made_policy" -eq 1 ]; then
        rm -f "$policy_rc"
        made_policy=0
    fi
else
    say "packages already installed: ${PACKAGES[*]}"
fi

# Start a daemon in the background unless it runs; `$1` names it, the rest is the command.
running() { pgrep -x "$1" >/dev/null 2>&1; }

start_daemon() {
    local name=$1 log=/var/log/$1.log
    shift
    if running "$name"; then
        say "$name is running"
        return
    fi
    # A daemon killed hard leaves its pid file behind, and then refuses to start.
    rm -f "/run/$name.pid" "/run/libvirt/$name.pid"
    say "starting $name (log: $log)"
    "$@" >>"$log" 2>&1
}

# Without udev nobody applies Debian's rule for /dev/kvm (group kvm, mode 0660). When the node
# exists but only root may open it, libvirtd's QEMU capability probe (as root) sees KVM, while its
# cache check (as the libvirt-qemu user) does not: libvirtd then re-probes both QEMU binaries on
# every API call, about 8 s each time, and `vagrant up` stalls for minutes. Even when the KVM here
# cannot run guests (labs then use providers.libvirt.driver=qemu), a consistent view fixes that.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]; then
        chgrp kvm /dev/kvm
        chmod 0660 /dev/kvm
        say "/dev/kvm: group kvm, mode 0660 (what udev would set)"
    fi
fi

mkdir -p /run/libvirt /var/log/libvirt
start_daemon virtlogd virtlogd -d
start_daemon libvirtd libvirtd -d

for _ in $(seq 1 60); do
    if virsh -c qemu:///system list >/dev/null 2>&1; then
        break
    fi
    sleep 1
done
if ! virsh -c qemu:///system list >/dev/null 2>&1; then
    say "libvirtd does not answer on qemu:///system after 60 s; last lines of /var/log/libvirtd.log:" >&2
    tail -n 20 /var/log/libvirtd.log >&2 || true
    exit 1
fi
say "libvirtd answers on qemu:///system"

plugins=$(VAGRANT_CHECKPOINT_DISABLE=1 vagrant plugin list 2>&1 || true)
plugin=$(printf '%s\n' "$plugins" | grep '^vagrant-libvirt ' || true)
if [ -z "$plugin" ]; then
    say "\`vagrant plugin list\` does not show vagrant-libvirt:" >&2
    printf '%s\n' "$plugins" >&2
    exit 1
fi

accel=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -Eqw 'vmx|svm' /proc/cpuinfo; then
    accel=kvm
fi
say "$plugin, libvirt $(virsh -c qemu:///system version --daemon | awk '/Running against daemon/ {print $NF}'), $(qemu-system-x86_64 --version | head -n 1), accelerator $accel"

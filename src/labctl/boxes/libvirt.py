"""The libvirt flavour: a debootstrap system with a kernel on a bootable qcow2, as a vagrant-libvirt box.

Works without KVM and without loop mounts (see labctl.boxes.disk). The guest gets an empty
/etc/machine-id, DHCP on eth0 only (systemd-networkd, classic interface names), sshd with
host keys generated on first boot, and user vagrant with the insecure key and sudo.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

from labctl.boxes import guest, host, rootfs, vagrantbox
from labctl.boxes.common import BOX_NAME, Build
from labctl.boxes.disk import DiskIds, make_disk, mbr_code
from labctl.errors import LabctlError

DISK_GIB = 8
HOSTNAME = "debian12"
PACKAGES = (*rootfs.BASE_PACKAGES, "linux-image-amd64", "systemd-sysv", "udev", "dbus",
            "systemd-resolved", "kmod")
TOOLS = ("debootstrap", "vagrant", "chroot", "umount", "qemu-img", "mkfs.ext4", "mkfs.vfat", "mcopy", "syslinux")
KERNEL_ARGS = "ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0"

NETWORK_ETH0 = "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"
HOSTKEYS_UNIT = """\
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
"""
# Keep the copies on the boot partition current when the guest installs a new kernel.
KERNEL_HOOK = """\
#!/bin/sh
set -e
mountpoint -q /boot/syslinux || exit 0
cp "/boot/vmlinuz-$1" /boot/syslinux/vmlinuz.new && mv /boot/syslinux/vmlinuz.new /boot/syslinux/vmlinuz
cp "/boot/initrd.img-$1" /boot/syslinux/initrd.new && mv /boot/syslinux/initrd.new /boot/syslinux/initrd.img
"""
BOX_VAGRANTFILE = f"""\
# {BOX_NAME} for vagrant-libvirt: Debian 12 on one virtio disk, DHCP on eth0.
Vagrant.configure("2") do |config|
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
    libvirt.nic_model_type = "virtio"
  end
end
"""


def build(b: Build) -> str:
    """Build box.img and add the libvirt vagrant box; return a one-line summary."""
    b.progress("checking tools")
    host.require_tools(*TOOLS)
    mbr_code()
    host.require_root()
    key = host.insecure_public_key()
    tree = rootfs.debootstrap(b, PACKAGES)
    ids = DiskIds(str(uuid.uuid4()), secrets.token_hex(4))
    configure(b, tree, key, ids)
    image = _disk_image(b, tree, ids)
    box = vagrantbox.write_box(b.tmp / "libvirt.box", _metadata(), BOX_VAGRANTFILE, {"box.img": image})
    image.unlink()
    vagrantbox.add_box(box, b)
    return f"vagrant box {BOX_NAME} (libvirt, qcow2, {DISK_GIB} GiB)"


def configure(b: Build, tree: Path, key: Path, ids: DiskIds) -> None:
    """Turn the bootstrapped tree into a bootable, Vagrant-ready guest."""
    b.progress("configuring the guest (user vagrant, network, fstab, first-boot host keys)")
    guest.stage(tree / "tmp", key)
    b.run(["chroot", str(tree), "/bin/sh", f"/tmp/{guest.SCRIPT_NAME}"])
    _write_system_files(tree, ids)
    b.run(["chroot", str(tree), "systemctl", "enable", "systemd-networkd", "systemd-resolved",
           "ssh", "labctl-ssh-hostkeys"])
    for old in (tree / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    _reset_identity(tree)


def _write_system_files(tree: Path, ids: DiskIds) -> None:
    files = {
        "etc/hostname": f"{HOSTNAME}\n",
        "etc/hosts": f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n",
        "etc/fstab": (f"UUID={ids.root_uuid} / ext4 errors=remount-ro 0 1\n"
                      f"UUID={ids.boot_uuid} /boot/syslinux vfat defaults,nofail 0 0\n"),
        "etc/systemd/network/10-eth0.network": NETWORK_ETH0,
        "etc/systemd/system/labctl-ssh-hostkeys.service": HOSTKEYS_UNIT,
    }
    for relative, content in files.items():
        rootfs.write_file(tree, relative, content)
    rootfs.write_file(tree, "etc/kernel/postinst.d/zz-labctl-syslinux", KERNEL_HOOK, 0o755)
    (tree / "boot/syslinux").mkdir(exist_ok=True)


def _reset_identity(tree: Path) -> None:
    """Empty machine-id (systemd makes a new one on first boot) and a stub resolv.conf."""
    rootfs.write_file(tree, "etc/machine-id", "")
    (tree / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    resolv = tree / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    os.symlink("../run/systemd/resolve/stub-resolv.conf", resolv)


def _disk_image(b: Build, tree: Path, ids: DiskIds) -> Path:
    kernel, initrd = _kernel_files(tree)
    config = (f"DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  LINUX /vmlinuz\n  INITRD /initrd.img\n"
              f"  APPEND root=UUID={ids.root_uuid} {KERNEL_ARGS}\n")
    (b.tmp / "syslinux.cfg").write_text(config)
    raw = b.tmp / "disk.raw"
    make_disk(b, raw, DISK_GIB, {"vmlinuz": kernel, "initrd.img": initrd, "syslinux.cfg": b.tmp / "syslinux.cfg"},
              ids, tree)
    b.progress("converting the disk to qcow2")
    image = b.tmp / "box.img"
    b.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(image)])
    raw.unlink()
    return image


def _kernel_files(tree: Path) -> tuple[Path, Path]:
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise LabctlError("debootstrap installed no kernel in /boot", "see the build log")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    initrd = tree / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise LabctlError(f"no initrd for kernel {version} in /boot", "see the build log")
    return kernels[-1], initrd


def _metadata() -> dict:
    return {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GIB}


"""A BIOS-bootable raw disk made without loop mounts or root-only tools.

Layout: an MBR with syslinux's boot code; partition 1 is a small FAT file system with
syslinux, the kernel and the initrd; partition 2 is ext4 filled from the rootfs by
`mkfs.ext4 -d`. The partition table is written here in Python.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from labctl.boxes.common import Build
from labctl.errors import ToolMissing

SECTOR = 512
MIB = 1024 * 1024
BOOT_START_MIB = 1
BOOT_SIZE_MIB = 256
MBR_CODE_PATHS = ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/share/syslinux/mbr.bin", "/usr/lib/SYSLINUX/mbr.bin")
SYSLINUX_HINT = "apt-get install -y --no-install-recommends syslinux syslinux-common mtools"


@dataclass(frozen=True)
class DiskIds:
    """Identifiers the rootfs's fstab and the kernel command line refer to."""

    root_uuid: str
    boot_volid: str  # FAT volume id, 8 hex digits

    @property
    def boot_uuid(self) -> str:
        return f"{self.boot_volid[:4]}-{self.boot_volid[4:]}".upper()


def make_disk(b: Build, raw: Path, size_gib: int, boot_files: dict[str, Path], ids: DiskIds, tree: Path) -> None:
    """Write the whole disk image `raw` of `size_gib` GiB."""
    total = size_gib * 1024 * MIB
    root_start = (BOOT_START_MIB + BOOT_SIZE_MIB) * MIB
    with open(raw, "wb") as handle:
        handle.truncate(total)
    b.progress("writing the boot partition (syslinux, kernel, initrd)")
    boot = _boot_partition(b, boot_files, ids)
    _copy_into(boot, raw, BOOT_START_MIB * MIB)
    boot.unlink()
    b.progress(f"writing the ext4 root partition ({size_gib} GiB disk)")
    b.run(["mkfs.ext4", "-q", "-F", "-L", "labctl-root", "-U", ids.root_uuid, "-d", str(tree),
           "-E", f"offset={root_start}", str(raw), f"{(total - root_start) // 1024}k"])
    _write_mbr(raw, [(BOOT_START_MIB * MIB, BOOT_SIZE_MIB * MIB, 0x0C, True),
                     (root_start, total - root_start, 0x83, False)])


def _boot_partition(b: Build, files: dict[str, Path], ids: DiskIds) -> Path:
    image = b.tmp / "boot.fat"
    hidden = BOOT_START_MIB * MIB // SECTOR
    b.run(["mkfs.vfat", "-C", "-F", "32", "-n", "LABCTLBOOT", "-i", ids.boot_volid,
           "-h", str(hidden), str(image), str(BOOT_SIZE_MIB * 1024)])
    for name, path in files.items():
        b.run(["mcopy", "-i", str(image), str(path), f"::/{name}"])
    b.run(["syslinux", "--install", str(image)])
    return image


def _write_mbr(raw: Path, partitions: list[tuple[int, int, int, bool]]) -> None:
    """Boot code from syslinux, a random disk signature and up to four primary partitions."""
    table = b"".join(
        struct.pack("<B3sB3sII", 0x80 if active else 0, b"\xfe\xff\xff", kind, b"\xfe\xff\xff",
                    start // SECTOR, size // SECTOR)
        for start, size, kind, active in partitions
    ).ljust(64, b"\0")
    sector = mbr_code().ljust(440, b"\0") + os.urandom(4) + b"\0\0" + table + b"\x55\xaa"
    with open(raw, "r+b") as handle:
        handle.write(sector)


def mbr_code() -> bytes:
    """The 440 bytes of syslinux's MBR boot code."""
    for candidate in map(Path, MBR_CODE_PATHS):
        if candidate.is_file():
            return candidate.read_bytes()[:440]
    raise ToolMissing("syslinux's mbr.bin was not found", SYSLINUX_HINT)


def _copy_into(source: Path, dest: Path, offset: int, chunk: int = 4 * MIB) -> None:
    """Copy `source` into `dest` at `offset`, leaving all-zero chunks as holes."""
    zero = bytes(chunk)
    with open(source, "rb") as src, open(dest, "r+b") as dst:
        position = offset
        while block := src.read(chunk):
            if block != zero[: len(block)]:
                dst.seek(position)
                dst.write(block)
            position += len(block)

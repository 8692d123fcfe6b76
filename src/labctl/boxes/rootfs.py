"""A Debian root file system made by debootstrap from the mirror apt already uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labctl.boxes import host
from labctl.boxes.common import SUITE, Build, boxes_dir

BASE_PACKAGES = ("openssh-server", "sudo", "python3", "iproute2")


def debootstrap(build: Build, packages: Sequence[str] = BASE_PACKAGES) -> Path:
    """Bootstrap a minbase `SUITE` system with `packages` into the build's scratch dir."""
    mirror = host.debian_mirror()
    target = build.tmp / "rootfs"
    cache = boxes_dir() / "debs"
    cache.mkdir(parents=True, exist_ok=True)
    build.progress(f"debootstrap {SUITE} from {mirror} (a minute or more)")
    build.run([
        "debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
        f"--cache-dir={cache.resolve()}", SUITE, str(target), mirror,
    ])
    trim(target)
    return target


def trim(tree: Path) -> None:
    """Drop downloaded packages and apt's binary caches; apt rebuilds them when needed."""
    cache = tree / "var/cache/apt"
    for junk in [*cache.glob("archives/*.deb"), *cache.glob("*.bin")]:
        junk.unlink()


def write_file(rootfs: Path, relative: str, content: str, mode: int = 0o644) -> None:
    """Write a file inside the rootfs (as root: the rootfs belongs to root)."""
    path = rootfs / relative.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)

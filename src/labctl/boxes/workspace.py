"""A build's scratch directory: one build per provider at a time, always removed afterwards.

A debootstrap rootfs can hold root-owned files and, if debootstrap was killed, live
mounts (/proc, /sys). Removal unmounts those first and refuses to delete anything
while a mount is left below the directory.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from labctl import proc
from labctl.boxes.common import Build, boxes_dir, log_path
from labctl.errors import LabBusy, LabctlError


@contextmanager
def session(provider: str, progress: Callable[[str], None], workdir: Path | None) -> Iterator[Build]:
    """Hold the provider's build lock and yield a Build whose scratch dir is removed on exit."""
    base = boxes_dir()
    base.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(base / f"build-{provider}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LabBusy(f"another `labctl box build --provider {provider}` is running") from None
    try:
        yield from _scratch(provider, progress, Path(workdir or base))
    finally:
        lock.release()


def _scratch(provider: str, progress: Callable[[str], None], parent: Path) -> Iterator[Build]:
    log = log_path(provider)
    log.write_text(f"# labctl box build --provider {provider}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"build-{provider}-*"):
        remove_tree(stale, log)
    tmp = Path(tempfile.mkdtemp(prefix=f"build-{provider}-", dir=parent))
    try:
        yield Build(provider, tmp, log, progress)
    except BaseException:
        _remove_quietly(tmp, log)
        raise
    progress("removing the scratch directory")
    remove_tree(tmp, log)


def remove_tree(path: Path, log: Path | None = None) -> None:
    """Unmount anything below `path`, then delete it (never while something is still mounted)."""
    for mount in mounts_under(path):
        proc.run(["umount", "-l", str(mount)], check=False, log=log)
    left = mounts_under(path)
    if left:
        raise LabctlError(f"{left[0]} is still mounted; not removing {path}",
                          f"unmount it, then `rm -rf --one-file-system {path}`")
    _note(log, f"removing {path}")
    if path.exists():
        shutil.rmtree(path)


def _note(log: Path | None, text: str) -> None:
    if log is not None:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"# {text}\n")


def mounts_under(path: Path, table: Path = Path("/proc/self/mounts")) -> list[Path]:
    """Mount points at or below `path`, deepest first."""
    root = path.resolve()
    try:
        lines = table.read_text().splitlines()
    except OSError:
        return []
    points = [Path(_unescape(line.split()[1])) for line in lines if len(line.split()) > 1]
    inside = [p for p in points if p == root or root in p.parents]
    return sorted(set(inside), key=lambda p: len(p.parts), reverse=True)


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _remove_quietly(path: Path, log: Path) -> None:
    """Best-effort cleanup while another error is already on its way out."""
    with suppress(LabctlError, OSError, KeyboardInterrupt):
        remove_tree(path, log)

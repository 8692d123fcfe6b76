"""Atomic file writes: a temp file in the same directory, fsync, then rename.

Files labctl can make again and checks before trusting (a render's outputs, caches) skip the fsync
(`durable=False`): a crash can then lose or empty them, never leave them half-written, and the next
render notices by their digests. State, secrets and records of what a user asked for stay durable."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, content: str | bytes, mode: int = 0o644, *, durable: bool = True) -> bool:
    """Write `content` to `path` atomically; return False when it was already identical."""
    data = content.encode() if isinstance(content, str) else content
    try:
        if path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
            return False
    except OSError:
        pass
    import tempfile  # here: a command that writes nothing (an unchanged render) does without it

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True

"""External playbook sources (git URL + ref), cloned once into the cache and reused."""

from __future__ import annotations

import hashlib
from pathlib import Path

from labctl import paths, proc
from labctl.spec.model import SourceSpec


def checkout(source: SourceSpec) -> Path:
    """The source at its pinned ref; cloned on first use, then reused."""
    key = hashlib.sha256(f"{source.git}@{source.ref}".encode()).hexdigest()[:16]
    target = paths.cache_dir() / "git" / key
    if (target / ".labctl-ready").is_file():
        return target
    log = paths.cache_dir() / "git" / f"{key}.log"
    tmp = target.with_suffix(".partial")
    proc.run(["rm", "-rf", str(tmp)])
    proc.run(["git", "clone", "--quiet", "--no-checkout", source.git, str(tmp)], log=log)
    proc.run(["git", "-C", str(tmp), "checkout", "--quiet", source.ref], log=log)
    head = proc.run(["git", "-C", str(tmp), "rev-parse", "HEAD"], log=log).output.strip()
    (tmp / ".labctl-ready").write_text(f"{source.git} {source.ref} {head}\n")
    tmp.rename(target)
    return target


def commit(checkout_dir: Path) -> str:
    """The commit a checkout holds (recorded when it was made)."""
    fields = (checkout_dir / ".labctl-ready").read_text().split()
    if len(fields) >= 3:
        return fields[2]
    return proc.run(["git", "-C", str(checkout_dir), "rev-parse", "HEAD"]).output.strip()

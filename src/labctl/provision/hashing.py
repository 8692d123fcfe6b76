"""A phase's input hash: what the phase really reads, so `up` reruns it exactly when that changed.

That is its settings, its playbooks and every task file Ansible reported loading on the last run
(imports, includes, roles: a role's whole directory, for its templates and files), the lab's
inventory, the machines' Vagrant ids (a recreated machine is provisioned again) and, for a git
source, the checked-out commit instead of its files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from labctl.spec.model import PhaseSpec


def digest(phase: PhaseSpec, labdir: Path, playbooks: Iterable[Path], loaded: Iterable[str],
           source: tuple[Path, str] | None = None) -> str:
    """`source` is a git checkout and its commit: files under it count by that commit."""
    h = hashlib.sha256(json.dumps(_plain(phase), sort_keys=True, default=str).encode())
    root = str(source[0]) + "/" if source else None
    h.update(f"commit {source[1] if source else '-'}\n".encode())
    machines = sorted((labdir / ".vagrant" / "machines").glob("*/*/id"))
    inventory = sorted((labdir / "inventory").glob("*"))
    own = [p for p in playbooks if not (root and str(p).startswith(root))]
    for path in [*own, *_expand(loaded, root), *inventory, *machines]:
        h.update(str(path).encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()


def _expand(loaded: Iterable[str], source_root: str | None) -> list[Path]:
    """Loaded task files; a file inside a role stands for the role's whole directory."""
    files: set[Path] = set()
    for name in loaded:
        path = Path(name)
        if source_root and name.startswith(source_root):
            continue  # the source's commit covers it
        role = _role_dir(path)
        files.update(p for p in role.rglob("*") if p.is_file()) if role else files.add(path)
    return sorted(files)


def _role_dir(path: Path) -> Path | None:
    parts = path.parts
    if "roles" in parts[:-2]:
        index = len(parts) - 1 - parts[::-1].index("roles")
        if index + 2 < len(parts):
            return Path(*parts[: index + 2])
    return None


def _plain(value):
    """A model as plain data, read field by field (pydantic's serializer would build its schema)."""
    if hasattr(type(value), "model_fields"):
        return {name: _plain(getattr(value, name, None)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

"""Whether a render would write nothing, known without doing it (as make knows a target is up to date).

After every render, DIR/.labctl/render.json keeps a key of the render's inputs and each written file's
digest and mode. `labctl render` of a lab whose key still matches, with every file as written, is
answered from the stamp: it takes the spec's merged layers (remembered by labctl.spec.merged when its
files are unchanged) and imports neither YAML, pydantic nor the templates, which are most of a
render's cost. Anything else does the full render, which rewrites the stamp.

The key covers the validated spec's cache key (the merged layers, labctl's version, the spec modules),
the request (spec path, provider, `--set`s), the renderer's modules and templates, and what a render
reads from the machine: the CPU count, the ControlPath home, the mitogen location, the stored secrets
(their file stamps, never their values). A lab with secrets read from the environment or a file is
never answered from a stamp: their values are not ours to keep, not even hashed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pwd
from pathlib import Path

from labctl import __version__, paths
from labctl.fsutil import write_atomic

STAMP = Path(".labctl") / "render.json"
_RENDER_DIR = Path(__file__).resolve().parent
_TEMPLATES = ("Vagrantfile.j2", "templates/ansible.cfg.j2")
_STORED_SECRETS = (Path(".labctl") / "secrets.json", Path(".labctl") / "keys")


def key(digest: str | None, request: tuple, data: dict, outdir: Path) -> str | None:
    """The key of a render's inputs, or None when this render cannot be answered from a stamp."""
    shared = inputs(digest, request, data)
    return None if shared is None else digest_of([*shared, _stamps(_stored(outdir))])


def inputs(digest: str | None, request: tuple, data: dict) -> list | None:
    """What a render reads apart from its lab directory; None when it also reads secrets from outside."""
    if digest is None or _reads_outside(data):
        return None
    return [__version__, digest, list(request), _stamps(_sources()), os.cpu_count(), _home(), _mitogen()]


def digest_of(values: list) -> str:
    """The sha256 of `values` as JSON: a key."""
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def save(outdir: Path, stamp_key: str | None, files: dict[Path, tuple[str, int]]) -> None:
    """Record what a full render wrote (`files`: path relative to `outdir` -> (text, mode))."""
    path = outdir / STAMP
    if stamp_key is None:
        path.unlink(missing_ok=True)
        return
    written = {str(rel): [_digest(text.encode()), mode] for rel, (text, mode) in sorted(files.items())}
    write_atomic(path, json.dumps({"key": stamp_key, "files": written}, indent=1) + "\n", durable=False)


def unchanged(outdir: Path, stamp_key: str | None) -> tuple[Path, ...] | None:
    """The lab directory's files when a render with `stamp_key` would write none of them, else None."""
    if stamp_key is None:
        return None
    try:
        stamp = json.loads((outdir / STAMP).read_text())
        if stamp.get("key") != stamp_key or not all(_intact(outdir / rel, *want) for rel, want in stamp["files"].items()):
            return None
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None
    return tuple(sorted(Path(rel) for rel in stamp["files"]))


def up_to_date(merged, outdir: Path | None) -> tuple[str, Path, tuple[Path, ...]] | None:
    """(lab name, directory, files) when rendering `merged` (labctl.spec.merged.Merged) would write nothing."""
    name = merged.layer.data.get("name")
    if not isinstance(name, str) or not name:
        return None
    directory = outdir or paths.lab_home(name)
    files = unchanged(directory, key(merged.digest, merged.request, merged.layer.data, directory))
    return (name, directory, files) if files else None


def _intact(path: Path, digest: str, mode: int) -> bool:
    return (path.stat().st_mode & 0o777) == mode and _digest(path.read_bytes()) == digest


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reads_outside(data: dict) -> bool:
    """True when a secret comes from the environment or a file (read afresh by every render)."""
    secrets = data.get("secrets")
    if not isinstance(secrets, dict):
        return False
    return any(isinstance(s, dict) and (s.get("from_env") or s.get("from_file")) for s in secrets.values())


def _sources() -> list[Path]:
    data = paths.data_dir()
    return [*_RENDER_DIR.glob("*.py"), *(data / t for t in _TEMPLATES), Path(paths.__file__), _RENDER_DIR.parent / "spec" / "lab.py"]


def _stored(outdir: Path) -> list[Path]:
    found = []
    for rel in _STORED_SECRETS:
        path = outdir / rel
        found += sorted(path.iterdir()) if path.is_dir() else [path]
    return found


def _stamps(files: list[Path]) -> list:
    """(path, mtime, size, inode) per file; a missing file is a stamp too."""
    out = []
    for path in files:
        try:
            st = path.stat()
            out.append([str(path), st.st_mtime_ns, st.st_size, st.st_ino])
        except OSError:
            out.append([str(path), None])
    return out


def _home() -> list:
    """What the ControlPath choice reads (see labctl.render._control_path)."""
    home = pwd.getpwuid(os.getuid()).pw_dir
    return [home, os.path.isdir(os.path.join(home, ".ansible", "cp"))]


def _mitogen() -> str | None:
    found = importlib.util.find_spec("ansible_mitogen")
    return str(found.origin) if found else None

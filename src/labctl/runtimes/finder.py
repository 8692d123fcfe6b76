"""Finding a Python X.Y to build a runtime on: the user's configured path, `pythonX.Y` on PATH,
pyenv's versions, then `uv python find`. Every candidate is asked its version, so a stale
config entry or a broken shim is skipped instead of trusted."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from labctl.errors import LabctlError

PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def find(version: str, configured: dict[str, str] | None = None) -> Path | None:
    """An interpreter whose version is `version` (X.Y), or None."""
    for candidate in candidates(version, configured or {}):
        if probe(str(candidate)) == version:
            return candidate
    return None


def candidates(version: str, configured: dict[str, str]) -> list[Path]:
    """Where to look, in order; paths that do not exist are left out."""
    found: list[Path] = []
    if configured.get(version):
        found.append(Path(configured[version]).expanduser())
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(Path(on_path))
    found += _pyenv(version)
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        found.append(Path(getattr(sys, "_base_executable", sys.executable)))
    uv = _uv(version)
    if uv:
        found.append(uv)
    return [p for p in dict.fromkeys(found) if p.is_file()]


def pyenv_roots() -> list[Path]:
    root = os.environ.get("PYENV_ROOT")
    return [Path(root) / "versions"] if root else [Path.home() / ".pyenv" / "versions"]


def _pyenv(version: str) -> list[Path]:
    """pyenv's installs of X.Y (newest patch first): 3.6.15/bin/python3.6."""
    found = []
    for root in pyenv_roots():
        for install in sorted(root.glob(f"{version}.*"), key=_patch, reverse=True):
            found.append(install / "bin" / f"python{version}")
    return found


def _patch(path: Path) -> int:
    tail = path.name.split(".")[2:3]
    return int(tail[0]) if tail and tail[0].isdigit() else -1


def _uv(version: str) -> Path | None:
    uv = shutil.which("uv")
    if not uv:
        return None
    try:
        out = subprocess.run([uv, "python", "find", "--no-python-downloads", version], capture_output=True,
                             text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()[-1:] if out.returncode == 0 else []
    return Path(line[0]) if line else None


@functools.lru_cache(maxsize=64)
def probe(interpreter: str) -> str | None:
    """The X.Y an interpreter reports, or None when it does not run."""
    try:
        out = subprocess.run([interpreter, "-c", PROBE], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def missing(versions: list[str], what: str) -> LabctlError:
    """The one-line error when no wanted Python is on this machine, saying how to get one."""
    first = versions[0]
    wanted = " or ".join(f"Python {v}" for v in versions)
    return LabctlError(
        f"{what} needs {wanted} and none was found (looked at runtimes.pythons in the user config, "
        f"python{first} on PATH, pyenv and uv)",
        f"install one, e.g. `pyenv install {first}` or `uv python install {first}`, or set "
        f"`runtimes: {{pythons: {{\"{first}\": /path/to/python{first}}}}}` in {_config_name()}",
    )


def _config_name() -> str:
    from labctl import paths

    return str(paths.user_config_file())

"""Runtimes on disk: `$LABCTL_HOME/runtimes/NAME` (a virtualenv plus labctl's manifest), their
locks, and removal that refuses a runtime a running phase uses."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from labctl import paths
from labctl.errors import LabBusy, LabctlError
from labctl.runtimes.catalog import Release

MANIFEST = "labctl-runtime.json"  # written last: a runtime without it is not ready
WRAPPERS = "labctl-bin"  # ansible-playbook that holds the runtime's use lock while it runs
USAGE = Path(".labctl") / "runtimes.json"  # in a lab directory: phase -> runtime name


@dataclass(frozen=True)
class Runtime:
    """One Ansible environment a phase runs with: a cached virtualenv, or labctl's own."""

    name: str
    release: Release
    python: str
    path: Path
    interpreter: Path | None = None  # the Python to build it from; None: none found here
    own: bool = False
    wanted: tuple[str, ...] = ()  # the Pythons it may be built on, preferred first

    @property
    def ansible(self) -> str:
        return self.release.version

    @property
    def ready(self) -> bool:
        """Built with what labctl's catalog asks for today: a runtime built before its line got
        mitogen (or other pins) is not ready, and `build` replaces it."""
        return self.own or self.built_with() == self.release.requirements

    def built_with(self) -> list[str] | None:
        """The requirements the built runtime's manifest records; None when it is not built."""
        if self.own:
            return None
        try:
            data = json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return list(data.get("requirements") or ())

    @property
    def bin_dirs(self) -> list[Path]:
        if self.own:
            return [Path(sys.executable).parent]
        return [self.path / WRAPPERS, self.path / "bin"]

    @property
    def own_callback(self) -> bool:
        """ansible-runner 2.4's callback needs Python 3.9 (annotations, functools.cache, dict |)."""
        return not self.own and tuple(int(p) for p in self.python.split(".")) < (3, 9)

    def mitogen_strategies(self) -> Path | None:
        if self.own:
            return None
        found = sorted(self.path.glob("lib/python*/site-packages/ansible_mitogen/plugins/strategy"))
        return found[0] if found else None


def root() -> Path:
    """LABCTL_RUNTIMES_DIR (to share runtimes between homes), else `$LABCTL_HOME/runtimes`."""
    explicit = os.environ.get("LABCTL_RUNTIMES_DIR")
    return Path(explicit).expanduser() if explicit else paths.home() / "runtimes"


def lock_path(name: str, kind: str) -> Path:
    locks = root() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"{name}.{kind}"


def own() -> Runtime:
    """labctl's own environment: its ansible-core on the Python labctl runs on."""
    from labctl.runtimes import catalog

    version = metadata.version("ansible-core")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = catalog.release_line(version)
    release = Release(version, (python,), base.targets, (), None, base.py2)
    return Runtime(catalog.name_for(release, python), release, python, Path(sys.prefix), Path(sys.executable), True, (python,))


def installed() -> list[str]:
    """Names of the runtimes built here (those with a manifest; Runtime.ready says whether one is
    still what labctl's catalog asks for)."""
    if not root().is_dir():
        return []
    return sorted(p.name for p in root().iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file())


def manifest(name: str) -> dict:
    try:
        return json.loads((root() / name / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


@contextmanager
def flock(path: Path, mode: int):
    """Hold an flock on `path`; the kernel drops it when the holder dies, so no lock goes stale."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)


def remove(name: str) -> None:
    """Delete a runtime; refuse one that a running phase uses (its use lock is held)."""
    target = root() / name
    if not target.is_dir() or name.startswith("."):
        raise LabctlError(f"no runtime named {name}", "see `labctl runtime list`")
    try:
        with flock(lock_path(name, "build"), fcntl.LOCK_EX | fcntl.LOCK_NB), \
                flock(lock_path(name, "use"), fcntl.LOCK_EX | fcntl.LOCK_NB):
            trash = root() / f".trash-{name}-{os.getpid()}"
            os.rename(target, trash)  # gone at once for readers; the delete may take a while
            shutil.rmtree(trash, ignore_errors=True)
    except BlockingIOError:
        raise LabBusy(f"runtime {name} is in use by a running phase or being built",
                      "wait for the phase to end, then run `labctl runtime rm` again") from None


def replace(name: str, new: Path | None) -> None:
    """Put the complete runtime `new` in place of the stale one named `name`, or only check that
    this is possible now (`new` None: before a rebuild starts); refuse while a running phase uses
    the stale one (its use lock is held). The caller holds the build lock."""
    target, trash = root() / name, root() / f".trash-{name}-{os.getpid()}"
    try:
        with flock(lock_path(name, "use"), fcntl.LOCK_EX | fcntl.LOCK_NB):
            if new is None:
                return
            os.rename(target, trash)
            os.rename(new, target)
    except BlockingIOError:
        raise LabBusy(f"runtime {name} must be rebuilt (labctl now installs other requirements) but a running phase uses it",
                      "wait for the phase to end, then run the command again") from None
    shutil.rmtree(trash, ignore_errors=True)


def record_use(labdir: Path, phase: str, name: str) -> None:
    """Remember in the lab directory which runtime each phase ran with (for `rm --unused`)."""
    path = labdir / USAGE
    try:
        used = json.loads(path.read_text())
    except (OSError, ValueError):
        used = {}
    if used.get(phase) != name:
        used[phase] = name
        from labctl.fsutil import write_atomic

        write_atomic(path, json.dumps(used, indent=2, sort_keys=True) + "\n", 0o644)


def used_names() -> set[str]:
    """Runtimes some lab directory under LABCTL_HOME ran a phase with."""
    names: set[str] = set()
    for record in (paths.home() / "labs").glob(f"*/{USAGE}"):
        try:
            names.update(json.loads(record.read_text()).values())
        except (OSError, ValueError):
            continue
    return names

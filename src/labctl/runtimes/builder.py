"""Building a runtime: a virtualenv made in a scratch directory next to its final place, checked,
then renamed into place in one step. A lock per runtime makes a second builder wait and reuse the
first one's result; Ctrl-C (or any failure) removes the scratch directory, so no half runtime is
ever visible under its name."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from labctl import proc
from labctl.errors import LabctlError
from labctl.runtimes import finder, store
from labctl.runtimes.store import MANIFEST, WRAPPERS, Runtime

WRAPPED = ("ansible-playbook",)  # what ansible-runner starts
WRAPPER = """#!{python}
# labctl: hold this runtime's use lock (shared) while ansible-playbook runs, so that
# `labctl runtime rm` refuses to delete it from under a running phase. The lock is an flock
# on an inherited descriptor: it lasts exactly as long as the process and its workers.
import fcntl, os, sys
fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_SH)
os.set_inheritable(fd, True)
os.execv({real!r}, [{real!r}] + sys.argv[1:])
"""


def build(runtime: Runtime, progress=lambda _msg: None) -> Runtime:
    """Make `runtime` ready (a no-op when it is); return it."""
    if runtime.ready:
        return runtime
    if runtime.interpreter is None:
        raise finder.missing(list(runtime.wanted or (runtime.python,)), f"runtime {runtime.name}")
    with store.flock(store.lock_path(runtime.name, "build"), fcntl.LOCK_EX):
        if runtime.ready:  # another labctl built it while we waited
            progress(f"runtime {runtime.name}: built by another labctl, reused")
            return runtime
        _sweep(runtime.name)
        _say_stale(runtime, progress)
        scratch = store.root() / f".build-{runtime.name}-{os.getpid()}"
        try:
            _make(runtime, scratch, progress)
            _put_in_place(runtime, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return runtime


def _say_stale(runtime: Runtime, progress) -> None:
    """A runtime built with other requirements (before its line got mitogen) is rebuilt: refuse at
    once while a phase uses it, else say why it is rebuilt."""
    old = runtime.built_with()
    if old is not None:
        store.replace(runtime.name, None)
        gained = [r for r in runtime.release.requirements if r not in old]
        lost = [r for r in old if r not in runtime.release.requirements]
        change = ", ".join([*(f"+{r}" for r in gained), *(f"-{r}" for r in lost)])
        progress(f"runtime {runtime.name}: built with other requirements ({change}): rebuilding")


def _put_in_place(runtime: Runtime, scratch: Path) -> None:
    if runtime.path.exists() or runtime.path.is_symlink():
        store.replace(runtime.name, scratch)
    else:
        os.rename(scratch, runtime.path)


def log_path(name: str) -> Path:
    return store.root() / ".logs" / f"{name}.log"


def _sweep(name: str) -> None:
    """Scratch directories of builds killed hard (kill -9) before they could clean up."""
    for stale in store.root().glob(f".build-{name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _make(runtime: Runtime, scratch: Path, progress) -> None:
    log = log_path(runtime.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    env = pip_env(runtime.python)
    started = time.monotonic()
    progress(f"runtime {runtime.name}: creating the virtualenv with {runtime.interpreter}")
    proc.run([str(runtime.interpreter), "-m", "venv", str(scratch)], log=log)
    pip = [str(scratch / "bin" / "python"), "-m", "pip", "install", "--prefer-binary", "--no-input"]
    progress(f"runtime {runtime.name}: upgrading pip")
    proc.run([*pip, "--upgrade", "pip", "setuptools", "wheel"], log=log, env=env)
    progress(f"runtime {runtime.name}: installing {' '.join(requirements(runtime))} (minutes)")
    proc.run([*pip, *requirements(runtime)], log=log, env=env)
    version = _check(runtime, scratch, log)
    _relocate(scratch, runtime.path)
    _wrap(runtime, scratch)
    seconds = round(time.monotonic() - started, 1)
    _write_manifest(runtime, scratch, version, seconds)
    progress(f"runtime {runtime.name}: built in {seconds:.0f}s")


def requirements(runtime: Runtime) -> list[str]:
    """What pip installs into `runtime` (recorded in its manifest; see Runtime.ready)."""
    return runtime.release.requirements


def pip_env(python: str) -> dict[str, str]:
    """pip's settings for a build. A machine's pip config may list local wheel directories
    (find-links, `file:` indexes) holding wheels that fit only newer Pythons, and an old pip
    picks from them what it cannot install (the newest pip itself). For a Python older than
    labctl's own, every config file is switched off and its settings come back as PIP_*
    variables without those local sources, so the certificate settings that let pip reach an
    index at all stay."""
    if tuple(int(p) for p in python.split(".")) >= sys.version_info[:2]:
        return {}
    settings = {**_pip_config(), **{k[4:].lower().replace("_", "-"): v for k, v in os.environ.items()
                                    if k.startswith("PIP_") and v}}
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    for key, value in settings.items():
        if key in ("index-url", "extra-index-url"):
            value = " ".join(url for url in value.split() if not url.startswith("file:"))
        if key not in ("find-links", "config-file") and value:
            env[f"PIP_{key.upper().replace('-', '_')}"] = value
    return env


def _pip_config() -> dict[str, str]:
    """The `global` and `install` settings of pip's config files, as labctl's own pip reads them."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         check=False, env={**os.environ, "PIP_FIND_LINKS": ""})
    settings: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition("=")
        section, _, name = key.partition(".")
        if sep and section in ("global", "install"):
            settings[name] = value.strip().strip("'\"")
    return settings


def _check(runtime: Runtime, scratch: Path, log: Path) -> str:
    """Run the new ansible for real; return the version it reports."""
    out = proc.run([str(scratch / "bin" / "ansible"), "--version"], log=log).output
    first = out.splitlines()[0] if out else ""
    if runtime.ansible not in first:
        raise LabctlError(f"runtime {runtime.name}: `ansible --version` says {first!r}", f"see {log}")
    return first


def _relocate(scratch: Path, final: Path) -> None:
    """Scripts carry their virtualenv's path (shebangs, activate): point them at the final place."""
    old, new = str(scratch).encode(), str(final).encode()
    for script in (scratch / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data and b"\0" not in data[:1024]:
            script.write_bytes(data.replace(old, new))


def _wrap(runtime: Runtime, scratch: Path) -> None:
    wrappers = scratch / WRAPPERS
    wrappers.mkdir()
    lock = str(store.lock_path(runtime.name, "use"))
    for tool in WRAPPED:
        text = WRAPPER.format(python=runtime.path / "bin" / "python", lock=lock, real=str(runtime.path / "bin" / tool))
        (wrappers / tool).write_text(text)
        (wrappers / tool).chmod(0o755)


def _write_manifest(runtime: Runtime, scratch: Path, version: str, seconds: float) -> None:
    data = {"name": runtime.name, "ansible": runtime.ansible, "python": runtime.python,
            "interpreter": str(runtime.interpreter), "requirements": requirements(runtime),
            "ansible_version": version, "build_seconds": seconds}
    (scratch / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")

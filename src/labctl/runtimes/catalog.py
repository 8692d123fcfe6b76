"""What labctl knows about Ansible releases: the last patch of each line, the Pythons it runs on
(controller) and drives (targets), the pins its dependencies need, and mitogen where it works.

A table, not an index query: resolving a runtime is then offline and repeatable, and a runtime's
name says exactly what is inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from labctl.errors import LabctlError

# jinja2 3 and markupsafe 2, pyyaml 6, and the Rust-built cryptography broke the oldest lines
OLD_PINS = ("jinja2<3", "markupsafe<2", "pyyaml<6", "cryptography<3.4", "bcrypt<4", "pynacl<1.5",
            "paramiko<2.9", "cffi<1.16")
# ansible 2.5 to 2.9 use jinja2's contextfunction (gone in 3.1) and markupsafe's soft_unicode (gone in 2.1)
MIDDLE_PINS = ("jinja2<3.1", "markupsafe<2.1", "pyyaml<6")
# the last of the 0.2 line, the one for Ansible 2.3 to 2.9 (0.3 wants 2.10+). bench/mitogen.py measured it
# on every line here from 2.3 to 2.9: the smoke playbook passes on Python 2.7 targets (and 3.11 for 2.8 and
# 2.9), mitogen runs the modules, labctl still gets every event, and it is 0.4x to 0.98x linear's time
MITOGEN_02 = "mitogen==0.2.10"


@dataclass(frozen=True)
class Release:
    """One Ansible release line as labctl builds it."""

    version: str
    controller: tuple[str, ...]  # Pythons it runs on, preferred first
    targets: tuple[str, str]  # lowest and highest Python 3 it drives on a target ("3.6", "3.12")
    pins: tuple[str, ...] = ()
    mitogen: str | None = None  # a pip requirement, only where measured working
    py2: str | None = None  # the lowest Python 2 it drives on a target, None: no Python 2

    @property
    def package(self) -> str:
        """The PyPI distribution: `ansible` up to 2.9, `ansible-base` 2.10, `ansible-core` after."""
        minor = Version(self.version).release[:2]
        return "ansible" if minor < (2, 10) else "ansible-base" if minor == (2, 10) else "ansible-core"

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def requirements(self) -> list[str]:
        """What pip installs for this release: Ansible, its pins, mitogen where it works."""
        return [self.requirement, *self.pins, *([self.mitogen] if self.mitogen else [])]

    def drives(self, python: str) -> bool:
        """True when this release supports `python` (X.Y) on a target."""
        if python.startswith("2."):
            return self.py2 is not None and _vt(self.py2) <= _vt(python)
        low, high = self.targets
        return _vt(low) <= _vt(python) <= _vt(high)


# Newest first. Target Pythons: Ansible's support matrix (2.16 is the last to drive 2.7 and 3.6, 2.15 the last for 3.5).
RELEASES = (
    Release("2.19.14", ("3.13", "3.12", "3.11"), ("3.8", "3.14")),
    Release("2.18.19", ("3.13", "3.12", "3.11"), ("3.8", "3.13")),
    Release("2.17.14", ("3.12", "3.11", "3.10"), ("3.7", "3.12")),
    Release("2.16.19", ("3.12", "3.11", "3.10"), ("3.6", "3.12"), mitogen="mitogen>=0.3.54,<0.4", py2="2.7"),
    Release("2.15.13", ("3.11", "3.10", "3.9"), ("3.5", "3.11"), py2="2.7"),
    Release("2.14.18", ("3.11", "3.10", "3.9"), ("3.5", "3.11"), py2="2.7"),
    Release("2.13.13", ("3.10", "3.9", "3.8"), ("3.5", "3.10"), py2="2.7"),
    Release("2.12.10", ("3.10", "3.9", "3.8"), ("3.5", "3.10"), py2="2.6"),
    Release("2.11.12", ("3.9", "3.8", "3.7", "3.6"), ("3.5", "3.9"), py2="2.6"),
    Release("2.10.17", ("3.9", "3.8", "3.7", "3.6"), ("3.5", "3.9"), py2="2.6"),
    Release("2.9.27", ("3.9", "3.8", "3.7", "3.6"), ("3.5", "3.9"), MIDDLE_PINS, MITOGEN_02, py2="2.6"),
    Release("2.8.20", ("3.8", "3.7", "3.6"), ("3.5", "3.8"), MIDDLE_PINS, MITOGEN_02, py2="2.6"),
    # from Python 3.8 on, 2.7 and older pass lists to action plugins as strings
    Release("2.7.18", ("3.7", "3.6"), ("3.5", "3.7"), MIDDLE_PINS, MITOGEN_02, py2="2.6"),
    Release("2.6.20", ("3.7", "3.6"), ("3.5", "3.7"), MIDDLE_PINS, MITOGEN_02, py2="2.6"),
    Release("2.5.15", ("3.6",), ("3.5", "3.6"), MIDDLE_PINS, MITOGEN_02, py2="2.6"),
    Release("2.4.6.0", ("3.6",), ("3.5", "3.6"), OLD_PINS, MITOGEN_02, py2="2.6"),
    Release("2.3.3.0", ("3.6",), ("3.5", "3.6"), OLD_PINS, MITOGEN_02, py2="2.6"),
)


def _vt(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def match(specifier: str) -> Release:
    """The newest release in the table that `specifier` (PEP 440, e.g. `>=2.9,<2.10`) allows."""
    try:
        allowed = SpecifierSet(specifier)
    except InvalidSpecifier:
        raise LabctlError(f"runtime ansible {specifier!r} is not a version specifier",
                          "write it like `>=2.9,<2.10` or `==2.9.27`") from None
    for release in RELEASES:
        if Version(release.version) in allowed:
            return release
    exact = _exact(allowed)
    if exact:
        return release_line(exact)
    raise LabctlError(f"no Ansible release labctl knows matches {specifier!r}",
                      f"known: {', '.join(r.version for r in RELEASES)}; or pin one with `==X.Y.Z`")


def _exact(allowed: SpecifierSet) -> str | None:
    pins = [s.version for s in allowed if s.operator == "=="]
    return pins[0] if len(pins) == 1 and "*" not in pins[0] else None


def release_line(version: str) -> Release:
    """`version` with the settings of its release line (an exact pin the table lacks, labctl's own)."""
    minor = Version(version).release[:2]
    for release in RELEASES:
        if Version(release.version).release[:2] == minor:
            return Release(version, release.controller, release.targets, release.pins, release.mitogen, release.py2)
    raise LabctlError(f"labctl does not know Ansible {version}'s release line",
                      f"known lines: {', '.join(r.version.rsplit('.', 1)[0] for r in RELEASES)}")


def for_targets(pythons: list[str]) -> Release:
    """The newest release that drives every one of `pythons` (X.Y)."""
    for release in RELEASES:
        if all(release.drives(p) for p in pythons):
            return release
    raise LabctlError(f"no Ansible release labctl knows drives targets with Python {', '.join(sorted(set(pythons)))}",
                      "set a phase `runtime:` or a node's `python:` that Ansible supports")


def name_for(release: Release, python: str) -> str:
    """A runtime's name says its content: `ansible-2.9.27-py3.9`, `ansible-core-2.16.19-py3.11`."""
    return f"{release.package}-{release.version}-py{python}"

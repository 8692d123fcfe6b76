"""Which runtime a phase runs with: the one its `runtime:` asks for, else labctl's own
ansible-core when it drives every node's Python, else the newest release that does (2.16 for
Python 2.7 and 3.6 targets)."""

from __future__ import annotations

from pathlib import Path

from labctl.runtimes import catalog, finder, store
from labctl.runtimes.catalog import Release
from labctl.runtimes.store import Runtime


def for_phase(lab, phase) -> Runtime:
    """The runtime `phase` of `lab` runs with (built or not)."""
    wanted = getattr(phase, "runtime", None)
    if wanted is not None:
        if _own_fits(wanted):
            return store.own()
        release = catalog.match(wanted.ansible)
        return resolve(release, list(wanted.python) or _mine_first(release.controller))
    targets = target_pythons(lab, phase)
    mine = store.own()
    if all(mine.release.drives(p) for p in targets):
        return mine
    release = catalog.for_targets(targets)
    return resolve(release, _mine_first(release.controller))


def _own_fits(wanted) -> bool:
    """labctl's own ansible-core when the phase's specifier allows it (no build at all)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    mine = store.own()
    try:
        allowed = SpecifierSet(wanted.ansible)
    except InvalidSpecifier:
        return False  # catalog.match says what is wrong with it
    return mine.ansible in allowed and (not wanted.python or mine.python in wanted.python)


def _mine_first(pythons) -> list[str]:
    """The Python labctl runs on first when the release runs there: nothing else to find."""
    mine = store.own().python
    return sorted(pythons, key=lambda p: p != mine)


def target_pythons(lab, phase) -> list[str]:
    """The Pythons the phase's targets have; a node without `python:` counts as modern.
    Preflight phases and phases with `hosts: localhost` run on the control host: labctl's own Python."""
    if getattr(phase, "stage", "provision") == "preflight" or phase.hosts in ("localhost", "127.0.0.1"):
        return []
    return sorted({p for p in (getattr(node, "python", None) for node in lab.nodes) if p})


def resolve(release: Release, pythons: list[str]) -> Runtime:
    """The runtime of `release` on the first of `pythons` that is built, else found here."""
    mine = store.own()
    if mine.ansible == release.version and mine.python in pythons:
        return mine
    ready = set(store.installed())
    for python in pythons:
        if catalog.name_for(release, python) in ready:
            return _runtime(release, python, store.manifest(catalog.name_for(release, python)).get("interpreter"), pythons)
    configured = configured_pythons()
    for python in pythons:
        found = finder.find(python, configured)
        if found:
            return _runtime(release, python, found, pythons)
    return _runtime(release, pythons[0], None, pythons)


def _runtime(release: Release, python: str, interpreter, pythons: list[str]) -> Runtime:
    name = catalog.name_for(release, python)
    return Runtime(name, release, python, store.root() / name, Path(interpreter) if interpreter else None,
                   wanted=tuple(pythons))


def configured_pythons() -> dict[str, str]:
    """`runtimes.pythons` from the user config ({"3.6": "/opt/py36/bin/python"})."""
    try:
        from labctl.spec.load import user_runtimes
    except ImportError:  # an older spec package without the key
        return {}
    return dict(user_runtimes().get("pythons") or {})

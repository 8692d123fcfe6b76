"""Labs that exist: found by name under LABCTL_HOME, acted on with the settings they were brought up with.

A lab directory keeps `.labctl/lab.json`: the resolved spec and the request (spec file, provider,
`--set`s). A later command re-resolves that request, with its own flags laid on top, so
`labctl verify avi` acts on the lab `labctl up avi --provider docker --set ...` made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from labctl import paths
from labctl.errors import UsageError
from labctl.paths import LAB_RECORD
from labctl.spec.find import find_spec
from labctl.spec.lab import Lab, Request, resolve
from labctl.spec.layers import Layer
from labctl.spec.load import load_lab


@dataclass(frozen=True)
class Found:
    lab: Lab
    layer: Layer
    labdir: Path
    notes: tuple[str, ...] = ()  # what the user should be told (changed settings)


def find(ref: str, provider: str | None = None, sets: tuple[str, ...] = (), labdir: Path | None = None) -> Found:
    """The lab REF names (spec file, built-in lab, or a lab under LABCTL_HOME), with its recorded settings."""
    spec = _spec_path(ref)
    if labdir is None and (spec is None or spec.parent == paths.labs_dir()):
        if (paths.lab_home(ref) / LAB_RECORD).is_file():  # a built-in lab's directory bears its name
            labdir = paths.lab_home(ref)
    if labdir is not None and (labdir / LAB_RECORD).is_file():
        return _from_record(spec, labdir, provider, sets)
    if spec is None:
        find_spec(ref)  # raises the error that names the built-in labs
    lab, layer = load_lab(str(spec), provider=provider, sets=sets)
    home = labdir or paths.lab_home(lab.name)
    if (home / LAB_RECORD).is_file():
        return _from_record(spec, home, provider, sets)
    return Found(lab, layer, home)


def _spec_path(ref: str) -> Path | None:
    try:
        return find_spec(ref).resolve()
    except UsageError:
        return None


def read(labdir: Path) -> dict:
    try:
        return json.loads((labdir / LAB_RECORD).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"the lab record {labdir / LAB_RECORD} is unreadable: {exc}", "run `labctl up` again, or `labctl down --force`") from None


def _from_record(spec: Path | None, labdir: Path, provider: str | None, sets: tuple[str, ...]) -> Found:
    record = read(labdir)
    old = Request(**{**record["request"], "sets": tuple(record["request"].get("sets", ()))}) if record.get("request") else None
    spec_path = str(spec) if spec else old.spec_path if old and Path(old.spec_path).is_file() else None
    if spec_path is None:
        if provider or sets:
            raise UsageError(f"the spec of lab {record['name']} ({old.spec_path if old else '?'}) is gone; "
                             "the recorded lab takes no new settings", "restore the file, or `labctl down` the lab")
        return Found(_recorded_lab(record), Layer({}, {}), labdir)
    merged = _merge_sets(old.sets if old else (), sets)
    lab, layer = load_lab(spec_path, provider=provider or (old.provider if old else None), sets=merged)
    return Found(lab, layer, labdir, tuple(_notes(lab, old, provider, sets)))


def _recorded_lab(record: dict) -> Lab:
    from labctl.spec.model import LabSpec

    return resolve(LabSpec.model_validate(record["spec"]), record.get("source", "?"))


def _merge_sets(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    """Recorded `--set`s, then new ones; a key set again keeps only its newest value."""
    by_key = {item.partition("=")[0]: item for item in (*old, *new)}
    return tuple(by_key.values())


def _notes(lab: Lab, old: Request | None, provider: str | None, sets: tuple[str, ...]) -> list[str]:
    if not (provider or sets):
        return []
    recorded = ", ".join([*(f"--provider {provider}" for _ in [1] if provider), *(f"--set {s}" for s in sets)])
    return [f"{lab.name}: recorded settings changed ({recorded}); later commands use them too"]


def changes(labdir: Path, lab: Lab) -> list[str]:
    """What differs between the lab's record and `lab` (key path: old -> new), for `up` to show."""
    record = (labdir / LAB_RECORD)
    if not record.is_file():
        return []
    before = read(labdir).get("spec", {})
    after = json.loads(json.dumps(lab.dump))
    return [f"{path}: {_short(a)} -> {_short(b)}" for path, a, b in _diff(before, after, "")]


def _diff(a, b, path: str):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _diff(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    elif a != b:
        yield path, a, b


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."

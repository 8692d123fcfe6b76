"""Validated specs, cached by their content: a spec seen before skips pydantic's schema build.

pydantic builds a model's validator on first use (the models defer it), which costs more than
everything else a render does. A valid spec's merged data is hashed with labctl's version and its
spec modules' file stamps; the validated model and its JSON dump are kept under
LABCTL_HOME/cache/specs, written atomically, and its render view (labctl.spec.view) under
cache/views. Invalid specs are never cached: their errors always come from a full validation.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

from labctl import __version__, paths
from labctl.fsutil import write_atomic

_HERE = Path(__file__).resolve().parent


def key(data: dict, source: str) -> str:
    text = json.dumps([code_stamps(), source, data], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def code_stamps() -> list:
    """labctl's version and its spec modules' file stamps: what reads and validates a spec."""
    files = [*_HERE.glob("*.py"), _HERE.parent / "providers" / "__init__.py"]  # the model reads the registry
    return [__version__, sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)]


def load(digest: str):
    """(spec, dump) cached under `digest`, or None."""
    try:
        return pickle.loads(_path(digest).read_bytes())  # noqa: S301 - our own cache under LABCTL_HOME
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def save(digest: str, spec, dump) -> None:
    try:
        write_atomic(_path(digest), pickle.dumps((spec, dump), protocol=pickle.HIGHEST_PROTOCOL), mode=0o600, durable=False)
    except OSError:
        pass  # a read-only home: no cache, the same result


def save_view(digest: str, lab) -> None:
    """The resolved lab with its spec as a labctl.spec.view (what `labctl render` reads)."""
    from dataclasses import replace

    from labctl.spec import view

    nodes = tuple(replace(n, vars=dict(n.vars), addresses=dict(n.addresses)) for n in lab.nodes)  # mappingproxy: no pickle
    try:
        data = pickle.dumps(replace(lab, spec=view.of(lab.spec), nodes=nodes), protocol=pickle.HIGHEST_PROTOCOL)
        write_atomic(_path(digest, "views"), data, mode=0o600, durable=False)
    except (OSError, TypeError, pickle.PicklingError):
        pass  # no view: `labctl render` validates, with the same result


def load_view(digest: str):
    """The render view of the lab cached under `digest`, or None."""
    from dataclasses import replace
    from types import MappingProxyType

    try:
        lab = pickle.loads(_path(digest, "views").read_bytes())  # noqa: S301 - our own cache under LABCTL_HOME
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    nodes = tuple(replace(n, vars=MappingProxyType(n.vars), addresses=MappingProxyType(n.addresses)) for n in lab.nodes)
    return replace(lab, nodes=nodes)


def _path(digest: str, kind: str = "specs") -> Path:
    return paths.cache_dir() / kind / f"{digest}.pickle"

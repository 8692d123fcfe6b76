"""A spec's layers laid over each other (Merged): remembered by what they read, then validated.

Merging reads YAML, which costs more than the rest of a render the caches answer. `remember` keeps
a Merged under LABCTL_HOME/cache/merged, keyed by its request: the spec's name or path, `--provider`,
`--set`, LABCTL_PROVIDER and LABCTL_PARAM_*, the user config's path and labctl's spec modules.
`recall` gives it back while each spec reference still names the same file, and each file the
merge read (the spec, what it extends, the user config) still has the same bytes and is shown by
the same name (a spec's name in messages and the record depends on the working directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from labctl import paths
from labctl.errors import SpecError, UsageError
from labctl.fsutil import write_atomic
from labctl.spec import cache
from labctl.spec.find import display, find_spec
from labctl.spec.layers import Layer

if TYPE_CHECKING:
    from labctl.spec.lab import Lab


@dataclass
class Reads:
    """What a merge read: each spec reference with the file it named, and each file's digest."""

    refs: list[tuple[str, str | None, str]] = field(default_factory=list)  # (ref, relative to, file)
    files: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (path, sha256, shown as); None: no file

    def file(self, path: Path, data: bytes | None) -> None:
        digest, shown = (None, None) if data is None else (hashlib.sha256(data).hexdigest(), display(path))
        self.files.append((str(path), digest, shown))

    def still(self) -> bool:
        """Whether every reference still names the same file and every file has the same bytes."""
        try:
            if any(str(find_spec(ref, Path(rel) if rel else None)) != found for ref, rel, found in self.refs):
                return False
        except UsageError:
            return False
        return all(_digest(Path(path)) == want and (want is None or display(Path(path)) == shown) for path, want, shown in self.files)


@dataclass(frozen=True)
class Merged:
    """A spec's layers laid over each other, not validated yet: what is known without the model."""

    path: Path
    source: str
    layer: Layer
    declared: dict[str, str]  # param name -> kind of its default
    digest: str | None  # the validated spec's key in the cache; None while the layers have problems
    provider: str | None = None  # the request's flags
    sets: tuple[str, ...] = ()
    reads: Reads = field(default_factory=Reads)

    @property
    def request(self) -> tuple[str, str | None, tuple[str, ...]]:
        return str(self.path.resolve()), self.provider, self.sets


def recall(ref: str, provider: str | None, sets: Sequence[str]) -> Merged | None:
    """The Merged that merge_layers(ref, ...) would return now, when remembered and still true."""
    try:
        merged = pickle.loads(_memo(ref, provider, sets).read_bytes())  # noqa: S301 - our own cache under LABCTL_HOME
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return merged if isinstance(merged, Merged) and merged.reads.still() else None


def remember(ref: str, merged: Merged) -> Merged:
    """Keep `merged` (of merge_layers(ref, ...) with this process's environment) for recall."""
    if merged.digest:
        try:
            write_atomic(_memo(ref, merged.provider, merged.sets), pickle.dumps(merged, protocol=pickle.HIGHEST_PROTOCOL),
                         mode=0o600, durable=False)
        except (OSError, TypeError, pickle.PicklingError):
            pass  # a read-only home: no memo, the same result
    return merged


def validated(merged: Merged, *, for_render: bool = False) -> Lab:
    """The resolved lab of merged layers (from the spec cache when it has seen them).

    `for_render`: a lab whose spec may be a labctl.spec.view, enough to render and cheaper to load."""
    from labctl.spec.lab import Request

    lab = cache.load_view(merged.digest) if for_render and merged.digest else None
    if lab is None:
        lab = _validate(merged.layer, merged.source, merged.declared, merged.digest)
    return replace(lab, request=Request(*merged.request), digest=merged.digest)


def _validate(layer: Layer, source: str, declared: dict[str, str], digest: str | None) -> Lab:
    from labctl.spec import params, rules
    from labctl.spec.lab import resolve
    from labctl.spec.shape import validate_shape
    from labctl.spec.yamlsrc import sort_problems

    hit = cache.load(digest) if digest else None
    if hit:
        return resolve(hit[0], source, hit[1])
    problems = [*layer.problems, *params.check_kinds(layer, declared)]
    problems += params.substitute(layer)
    spec, shape_problems = validate_shape(layer)
    problems += shape_problems
    problems += [layer.problem(p, m) for p, m in rules.cross_check(layer)]
    if problems:
        raise SpecError(source, sort_problems(problems))
    lab = resolve(spec, source)
    if digest:
        cache.save(digest, spec, lab.dump)
        cache.save_view(digest, lab)
    return lab


def _memo(ref: str, provider: str | None, sets: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    overrides = sorted((k, v) for k, v in env.items() if k == "LABCTL_PROVIDER" or k.startswith("LABCTL_PARAM_"))
    request = [cache.code_stamps(), ref, provider, list(sets), overrides, str(paths.user_config_file())]
    return paths.cache_dir() / "merged" / f"{hashlib.sha256(json.dumps(request).encode()).hexdigest()}.pickle"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None  # what the merge took for no file
    except OSError:
        return ""  # unreadable: never a match, so the merge runs and says why

"""Loading a lab: find the spec, lay the layers, validate everything in one pass, resolve."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from labctl import paths
from labctl.errors import SpecError, UsageError
from labctl.spec import cache, expand, overlays, params
from labctl.spec.find import display, find_spec
from labctl.spec.layers import Layer, Origin, merge, set_value
from labctl.spec.merged import Merged, Reads, validated
from labctl.spec.yamlsrc import MAX_INT, load_layer, sort_problems

if TYPE_CHECKING:
    from labctl.spec.lab import Lab

BUILTIN = Layer({}, {})  # the model's own defaults are the built-in layer
MAX_EXTENDS = 8
USER_CONFIG_KEYS = ("defaults", "provider", "providers", "params", "ansible", "runtimes")


def load_lab(
    ref: str,
    *,
    provider: str | None = None,
    sets: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    user_config: Path | None = None,
) -> tuple[Lab, Layer]:
    """Return the resolved lab and the merged layer (values with their origins)."""
    merged = merge_layers(ref, provider=provider, sets=sets, env=env, user_config=user_config)
    return validated(merged), merged.layer


def merge_layers(
    ref: str,
    *,
    provider: str | None = None,
    sets: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    user_config: Path | None = None,
) -> Merged:
    """The spec REF over what it extends, the user config, LABCTL_PARAM_*, `--set` and `--provider`."""
    path = find_spec(ref)
    reads = Reads(refs=[(ref, None, str(path))])
    env = os.environ if env is None else env
    spec, fragments = overlays.split(_spec_chain(path, (), reads))
    declared = params.kinds(spec.data.get("params"))
    base = merge(BUILTIN, _user_layer(user_config or paths.user_config_file(), reads))
    env_layer = _env_layer(env, declared)
    layer = _stack(base, spec, env_layer, sets, provider)
    if fragments:
        spec, problems = overlays.apply(spec, fragments, dict(layer.data.get("params") or {}))
        if problems:
            raise SpecError(display(path), sort_problems(problems))
        layer = _stack(base, spec, env_layer, sets, provider)
    layer.data.pop("extends", None)
    source = display(path)
    digest = cache.key(layer.data, source) if not layer.problems else None
    return Merged(path, source, layer, declared, digest, provider, tuple(sets), reads)


def _stack(base: Layer, spec: Layer, env_layer: Layer, sets: Sequence[str], provider: str | None) -> Layer:
    layer = merge(merge(base, spec), env_layer)
    _apply_sets(layer, sets, provider)
    return layer


def user_runtimes(user_config: Path | None = None) -> dict:
    """The user config's `runtimes:` ({pythons: {version: path}}), validated."""
    from labctl.spec.model import RuntimesConfig

    path = user_config or paths.user_config_file()
    raw = _read(path).data.get("runtimes") if path.is_file() else None
    try:
        return RuntimesConfig.model_validate(raw or {}).model_dump()
    except ValueError as exc:
        raise SpecError(str(path), [f"{path}: runtimes: {exc}"]) from None


def _read(path: Path, reads: Reads | None = None) -> Layer:
    source = display(path)
    try:
        data = path.read_bytes()
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()  # universal newlines, as read_text
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, [f"{source}: cannot read: {exc}"]) from None
    if reads is not None:
        reads.file(path, data)
    layer, problems = load_layer(text, source)
    problems += expand.expand_layer(layer)
    if problems:
        raise SpecError(source, sort_problems(problems))
    return layer


def _spec_chain(path: Path, seen: tuple[Path, ...], reads: Reads) -> Layer:
    """The spec merged over what it extends (recursively)."""
    layer = _read(path, reads)
    parent_ref = layer.data.get("extends")
    if parent_ref is None:
        return layer
    if not isinstance(parent_ref, str):
        raise SpecError(display(path), [layer.problem(("extends",), "expected a built-in lab name or a path to a spec")])
    resolved = path.resolve()
    if resolved in seen or len(seen) >= MAX_EXTENDS:
        raise SpecError(display(path), [layer.problem(("extends",), "extends forms a loop or is nested too deeply")])
    try:
        parent_path = find_spec(parent_ref, path.parent)
        reads.refs.append((parent_ref, str(path.parent), str(parent_path)))
        parent = _spec_chain(parent_path, (*seen, resolved), reads)
    except UsageError as exc:
        raise SpecError(display(path), [layer.problem(("extends",), exc.render())]) from None
    parent.data.pop("extends", None)
    merged = merge(parent, layer)
    if merged.problems:
        raise SpecError(display(path), sort_problems(merged.problems))
    return merged


def _user_layer(path: Path, reads: Reads) -> Layer:
    if not path.is_file():
        reads.file(path, None)
        return Layer({}, {})
    layer = _read(path, reads)
    bad = [k for k in layer.data if k not in USER_CONFIG_KEYS]
    if bad:
        allowed = ", ".join(USER_CONFIG_KEYS)
        raise SpecError(str(path), [layer.problem((k,), f"not allowed in user config (allowed: {allowed})") for k in bad])
    layer.data.pop("runtimes", None)  # labctl's own settings, not the lab's: see user_runtimes()
    return layer


def _env_layer(env: Mapping[str, str], declared: dict[str, str]) -> Layer:
    layer = Layer({}, {})
    if env.get("LABCTL_PROVIDER"):
        set_value(layer, ("provider",), env["LABCTL_PROVIDER"], Origin("env LABCTL_PROVIDER"))
    for key, value in sorted(env.items()):
        if key.startswith("LABCTL_PARAM_") and len(key) > 13:
            name = key[13:].lower()
            parsed = value if declared.get(name) == "text" else _yaml_value(value)
            set_value(layer, ("params", name), parsed, Origin(f"env {key}"))
    return layer


def _apply_sets(layer: Layer, sets: Sequence[str], provider: str | None) -> None:
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r} is not KEY=VALUE", "for example --set release=3.11")
        path = _set_path(layer, key)
        parsed = value if isinstance(_current(layer.data, path), str) else _yaml_value(value)
        set_value(layer, path, parsed, Origin(f"--set {key}"))
    if provider:
        set_value(layer, ("provider",), provider, Origin("--provider"))


def _set_path(layer: Layer, key: str) -> tuple:
    """A bare name is a param when the lab declares it; otherwise a dotted path."""
    declared = layer.data.get("params")
    if "." not in key and isinstance(declared, dict) and key in declared:
        return ("params", key)
    return tuple(key.split("."))


def _current(data: dict, path: tuple):
    """The value at `path` before the override, so `--set release=3.10` stays the text 3.10."""
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _yaml_value(text: str):
    """VALUE of --set or LABCTL_PARAM_*, read as YAML (`[a, b]`, `{k: v}`, numbers) as `-e` and helm read it."""
    try:
        layer, problems = load_layer(f"v: {text}" if text.strip() else "v: ''", "--set")
    except SpecError:
        return text
    value = layer.data.get("v")
    return text if problems or value is None or not _plain(value) else value


def _plain(value) -> bool:
    """What a spec file refuses (.nan, .inf, huge numbers) stays text on the command line."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return not isinstance(value, int) or abs(value) < MAX_INT

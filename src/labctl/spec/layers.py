"""Merging layers of settings while keeping the origin of every value.

Rules (documented in README "Spec reference"):
- mappings merge key by key, recursively;
- `phases` and `checks` merge item by item on `name`; other lists are replaced;
- a key set to null in a later layer removes it (e.g. `nodes: {origin-node-2: null}`), and an item
  `{name: X, drop: true}` removes the inherited phase or check named X. Dropping a node, group,
  network, secret, param, phase or check that is not inherited is an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

NAMED_LISTS = {("phases",), ("checks",)}
DROPPABLE = {"nodes", "groups", "networks", "secrets", "params"}  # mappings of named things


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a file position, or a named layer such as `--set`."""

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.source}:{self.line}:{self.column}"
        return self.source


@dataclass
class Layer:
    """One layer of settings: plain data plus the origin of each key path."""

    data: dict
    origins: dict[tuple, Origin]
    aliases: dict[tuple, tuple] = field(default_factory=dict)  # expanded node path -> its range key
    problems: list[str] = field(default_factory=list)  # found while merging (a drop of nothing inherited)

    def where(self, path: tuple) -> Origin:
        """The origin of `path`, or of its nearest ancestor that has one."""
        while path and path not in self.origins:
            path = path[:-1]
        return self.origins.get(path, Origin("?"))

    def problem(self, path: tuple, message: str) -> str:
        """One error line; a node expanded from a range is named by its range key."""
        shown = self.aliases.get(path[:2], path[:2]) + path[2:] if path[:1] == ("nodes",) else path
        return f"{self.where(path)}: {format_path(shown) or '<top>'}: {message}"


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def merge(base: Layer, over: Layer) -> Layer:
    """Return `over` laid on top of `base`; neither input is changed."""
    out = Layer(copy.deepcopy(base.data), dict(base.origins), {**base.aliases, **over.aliases}, [*base.problems, *over.problems])
    _merge_into(out, over, ())
    return out


def set_value(layer: Layer, path: tuple, value: object, origin: Origin) -> None:
    """Set one dotted path in `layer` (creating mappings on the way)."""
    target = layer.data
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    _drop_origins(layer, path)
    target[path[-1]] = value
    layer.origins[path] = origin


def _merge_into(out: Layer, over: Layer, path: tuple) -> None:
    target = _get(out.data, path)
    for key, value in _get(over.data, path).items():
        child = (*path, key)
        if value is None:
            if key not in target and len(child) == 2 and child[0] in DROPPABLE:
                out.problems.append(over.problem(child, _nothing_to_drop(key, target)))
            target.pop(key, None)
            _drop_origins(out, child)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            out.origins.setdefault(child, over.origins.get(child, Origin("?")))
            _merge_into(out, over, child)
        elif child in NAMED_LISTS and isinstance(value, list) and isinstance(target.get(key), list):
            _merge_named(out, over, child)
        else:
            _replace(out, over, child, value)


def _merge_named(out: Layer, over: Layer, path: tuple) -> None:
    """Items with a known name replace that item in place; the rest are appended."""
    current = _get(out.data, path)
    names = [item.get("name") if isinstance(item, dict) else None for item in current]
    for index, item in enumerate(_get(over.data, path)):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(item, dict) and item.get("drop") is True:
            _drop_named(out, over, path, index, name, names)
            continue
        if name is not None and name in names:
            slot = names.index(name)
        else:
            slot = len(current)
            current.append(None)
            names.append(name)
        _drop_origins(out, (*path, slot))
        current[slot] = copy.deepcopy(item)
        _copy_origins(out, over, (*path, index), (*path, slot))


def _drop_named(out: Layer, over: Layer, path: tuple, index: int, name, names: list) -> None:
    if set(_get(over.data, path)[index]) - {"name", "drop"}:
        out.problems.append(over.problem((*path, index), "a drop item takes only `name` and `drop: true`"))
        return
    if not isinstance(name, str) or name not in names:
        out.problems.append(over.problem((*path, index, "name"), _nothing_to_drop(name, [n for n in names if n])))
        return
    slot = names.index(name)
    del _get(out.data, path)[slot], names[slot]
    _drop_origins(out, (*path, slot))
    for key in sorted(k for k in out.origins if k[: len(path)] == path and len(k) > len(path) and k[len(path)] > slot):
        out.origins[(*path, key[len(path)] - 1, *key[len(path) + 1 :])] = out.origins.pop(key)


def _nothing_to_drop(name, known) -> str:
    import difflib

    near = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    hint = f"; did you mean '{near[0]}'?" if near else f" (inherited: {', '.join(map(str, known)) or 'none'})"
    return f"nothing inherited named '{name}' to drop{hint}"


def _replace(out: Layer, over: Layer, path: tuple, value: object) -> None:
    _drop_origins(out, path)
    _get(out.data, path[:-1])[path[-1]] = copy.deepcopy(value)
    _copy_origins(out, over, path, path)


def _get(data: dict, path: tuple):
    for part in path:
        data = data[part]
    return data


def _drop_origins(layer: Layer, path: tuple) -> None:
    size = len(path)
    for key in [k for k in layer.origins if k[:size] == path]:
        del layer.origins[key]


def _copy_origins(out: Layer, over: Layer, src: tuple, dst: tuple) -> None:
    size = len(src)
    for key, origin in over.origins.items():
        if key[:size] == src:
            out.origins[dst + key[size:]] = origin

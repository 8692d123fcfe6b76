"""Host ranges: `origin-node-[1:2]` names origin-node-1 and origin-node-2 (`[01:10]` keeps the width)."""

from __future__ import annotations

import copy
import re

from labctl.spec.layers import Layer

_RANGE = re.compile(r"^(?P<pre>[^\[\]]*)\[(?P<lo>\d+):(?P<hi>\d+)\](?P<post>[^\[\]]*)$")
MAX_RANGE = 10_000


def expand_name(name: str) -> list[str]:
    """Expand one name; raise ValueError with a reason for a bad range."""
    match = _RANGE.match(name)
    if not match:
        if "[" in name or "]" in name:
            raise ValueError("a range must look like name-[1:3]")
        return [name]
    lo_text, hi = match["lo"], int(match["hi"])
    lo = int(lo_text)
    if hi < lo or hi - lo >= MAX_RANGE:
        raise ValueError(f"range [{lo_text}:{match['hi']}] must count up, at most {MAX_RANGE} names")
    width = len(lo_text) if lo_text.startswith("0") and len(lo_text) > 1 else 0
    return [f"{match['pre']}{i:0{width}d}{match['post']}" for i in range(lo, hi + 1)]


def expand_layer(layer: Layer) -> list[str]:
    """Expand node keys and group host lists in place; return problems found."""
    problems: list[str] = []
    nodes = layer.data.get("nodes")
    if isinstance(nodes, dict):
        layer.data["nodes"] = _expand_nodes(layer, nodes, problems)
    groups = layer.data.get("groups")
    if isinstance(groups, dict):
        for name, group in groups.items():
            if isinstance(group, dict) and isinstance(group.get("hosts"), list):
                group["hosts"] = _expand_hosts(layer, ("groups", name, "hosts"), group["hosts"], problems)
    return problems


def _expand_nodes(layer: Layer, nodes: dict, problems: list[str]) -> dict:
    out: dict = {}
    where = {key: layer.where(("nodes", key)) for key in nodes}  # before range names borrow them
    for key, value in nodes.items():
        path = ("nodes", key)
        try:
            names = expand_name(key)
        except ValueError as exc:
            problems.append(layer.problem(path, f"bad node range: {exc}"))
            continue
        subtree = _subtree(layer, path) if len(names) > 1 else []
        for name in names:
            if name in out:
                problems.append(f"{where[key]}: nodes.{key}: duplicate node name '{name}'")
                continue
            out[name] = copy.deepcopy(value)  # each name gets its own settings to override
            _alias_origins(layer, path, ("nodes", name), subtree)
            if name != key:
                layer.aliases[("nodes", name)] = path
    return out


def _expand_hosts(layer: Layer, path: tuple, hosts: list, problems: list[str]) -> list:
    out: list = []
    for index, host in enumerate(hosts):
        try:
            out.extend(expand_name(host) if isinstance(host, str) else [host])
        except ValueError as exc:
            problems.append(layer.problem((*path, index), f"bad host range: {exc}"))
    return out


def _alias_origins(layer: Layer, src: tuple, dst: tuple, subtree: list[tuple[tuple, object]]) -> None:
    if src != dst:
        for suffix, origin in subtree:
            layer.origins[dst + suffix] = origin


def _subtree(layer: Layer, path: tuple) -> list[tuple[tuple, object]]:
    """Origins below `path`, as (suffix, origin): read once per range, not once per name."""
    size = len(path)
    return [(key[size:], origin) for key, origin in layer.origins.items() if key[:size] == path]

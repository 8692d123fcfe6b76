"""The resolved lab as plain data, and each value's origin (for `labctl show`)."""

from __future__ import annotations

from labctl.spec.lab import Lab
from labctl.spec.layers import Layer, format_path

NODE_KEYS = ("box", "image", "cpus", "memory", "groups", "vars", "addresses", "synced_folder")


def lab_data(lab: Lab) -> dict:
    """Everything a lab resolves to; secrets stay as `${secret.NAME}` references."""
    spec = {k: v for k, v in lab.dump.items() if k not in ("nodes", "defaults", "extends")}
    nodes = {n.name: {k: _plain(getattr(n, k)) for k in NODE_KEYS} for n in lab.nodes}
    return {"name": lab.name, "source": lab.source, **spec, "provider": lab.provider, "nodes": nodes}


def origins(lab: Lab, layer: Layer) -> list[tuple[str, object, str]]:
    """(key path, value, origin) for every leaf value of the resolved lab."""
    rows = []
    for path, value in _leaves(lab_data(lab), ()):
        rows.append((format_path(path), value, _origin(layer, path)))
    return rows


def _origin(layer: Layer, path: tuple) -> str:
    if path == ("source",):
        return "command line"
    if path[:1] == ("nodes",) and len(path) > 2:
        # a node setting comes from the node, else from `defaults`, else from labctl itself
        for candidate in (path[:3], ("defaults", path[2])):
            if candidate in layer.origins:
                return str(layer.origins[candidate])
        return "built-in default"
    origin = layer.where(path)
    return "built-in default" if origin.source == "?" else str(origin)


def _leaves(value, path: tuple):
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    return value

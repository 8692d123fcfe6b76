"""Stage 1: read a lab spec, lay its layers, validate in one pass, and resolve it.

The names are loaded on first use: reading and merging a spec's layers needs neither pydantic nor
the model, and a render whose inputs have not changed stops there (see labctl.render.stamp).
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Lab": "lab", "Network": "lab", "Node": "lab", "builtin_labs": "find", "find_spec": "find", "load_lab": "load"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'labctl.spec' has no attribute {name!r}")
    return getattr(importlib.import_module(f"labctl.spec.{_EXPORTS[name]}"), name)

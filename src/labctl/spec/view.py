"""A validated spec as plain attributes, for `labctl render` of a spec the cache has seen.

Rendering reads a spec's fields and nothing else, so a render needs neither pydantic nor the
model: the spec cache keeps, beside the validated model, this view of it (every model becomes a
`Fields`, dicts and lists stay dicts and lists), and unpickling it imports only this module.
Everything else (up, verify, plan) works on the model itself. Every built-in lab
(tests/test_render_stamp.py) and every generated valid spec (tests/test_fuzz.py) is rendered both
ways, and the view's render must write nothing over the model's.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class Fields(SimpleNamespace):
    """One model's fields, read as attributes."""


def of(value: Any) -> Any:
    """The view of a model (recursively); other values as they are."""
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:
        return Fields(**{name: of(getattr(value, name, None)) for name in fields})
    if isinstance(value, dict):
        return {k: of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [of(v) for v in value]
    if isinstance(value, tuple):
        return tuple(of(v) for v in value)
    return value

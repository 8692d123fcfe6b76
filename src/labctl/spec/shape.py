"""Shape validation through the pydantic model, with errors in labctl's words."""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel, ValidationError

from labctl.spec.layers import Layer
from labctl.spec.model import CHECK_KINDS, PATTERN_HELP, LabSpec

_BRANCH_TAGS = ("none", "int", "str", "float", "bool")
_KINDS = {
    "int": "an integer", "bool": "true or false", "string": "a string", "float": "a number",
    "dict": "a mapping", "model": "a mapping", "list": "a list", "tuple": "a list",
}


def validate_shape(layer: Layer) -> tuple[LabSpec | None, list[str]]:
    """Return the model, or None and one problem line per pydantic error."""
    try:
        return LabSpec.model_validate(layer.data), []
    except ValidationError as exc:
        # a check of no known kind: rules.py says which keys it needs
        errors = [err for err in exc.errors() if err["type"] != "union_tag_not_found"]
        return None, [layer.problem(_path(err["loc"]), _message(err)) for err in errors]


def _path(loc: tuple) -> tuple:
    # pydantic adds a tag for the branch of an Optional/union: drop it, keep real keys
    if loc[:1] == ("checks",) and len(loc) > 2 and loc[2] in CHECK_KINDS:
        loc = loc[:2] + loc[3:]  # the tag of the check's kind
    return tuple(p for p in loc if not (isinstance(p, str) and p in _BRANCH_TAGS))


def _message(err: dict) -> str:
    kind, found = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return f"unknown key{_suggest(err['loc'])}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = err["ctx"]["expected"].replace("'", "")
        options = [o.strip() for o in expected.replace(" or ", ", ").split(",")]
        near = difflib.get_close_matches(str(found), options, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return f"expected one of {', '.join(options)}, found {_show(found)}{hint}"
    if kind == "string_pattern_mismatch":
        wanted = PATTERN_HELP.get(err["ctx"]["pattern"], f"text matching {err['ctx']['pattern']}")
        return f"expected {wanted}, found {_show(found)}"
    if kind in ("greater_than_equal", "less_than_equal"):
        sign = ">=" if kind == "greater_than_equal" else "<="
        bound = err["ctx"]["ge" if sign == ">=" else "le"]
        return f"expected a number {sign} {bound}, found {_show(found)}"
    base = kind.split("_")[0]
    if base in _KINDS:
        return f"expected {_KINDS[base]}, found {_show(found)}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}, found {_show(found)}"


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None:
        return "nothing (null)"
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _suggest(loc: tuple) -> str:
    fields = _fields_at(loc[:-1])
    near = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
    return f"; did you mean '{near[0]}'?" if near else (f" (known keys: {', '.join(fields)})" if fields else "")


def _fields_at(loc: tuple) -> list[str]:
    """The field names of the model found by walking `loc` from LabSpec."""
    current: object = LabSpec
    for part in loc:
        current = _step(current, part)
    return list(current.model_fields) if _is_model(current) else []


def _step(current: object, part) -> object:
    if _is_model(current):
        field = current.model_fields.get(part)
        return _unwrap(field.annotation) if field else None
    args = typing.get_args(current)
    return _unwrap(args[-1]) if args else None


def _unwrap(annotation: object) -> object:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _unwrap(args[0])
    return annotation


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)

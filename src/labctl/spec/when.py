"""`when:` on a phase: `PARAM OP VALUE`, compared as versions when both sides look like one."""

from __future__ import annotations

import operator
import re

_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")
_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def parse(text: str) -> tuple[str, str, str]:
    """Split `release >= 3.9`; raise ValueError with the expected form."""
    match = _EXPR.match(text)
    if not match:
        raise ValueError(f"expected `PARAM OP VALUE` with OP one of {' '.join(_OPS)}, found {text!r}")
    return match[1], match[2], match[3].strip("'\"")


def holds(text: str, params: dict) -> bool:
    name, op, value = parse(text)
    return _OPS[op](_key(params.get(name, "")), _key(value))


def _key(value: object) -> tuple:
    text = str(value)
    if re.fullmatch(r"\d+(\.\d+)*", text):
        return (0, tuple(int(p) for p in text.split(".")))
    return (1, text)

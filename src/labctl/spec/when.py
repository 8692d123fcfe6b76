"""`when:` on a phase: `PARAM OP VALUE` (compared as versions when both sides look like one),
or `PARAM` / `not PARAM` (the param is set: non-empty, not false or 0)."""

from __future__ import annotations

import operator
import re

_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")
_TRUTH = re.compile(r"^\s*(not\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$")
_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def parse(text: str) -> tuple[str, str, str]:
    """Split `release >= 3.9`; raise ValueError with the expected form."""
    match = _EXPR.match(text)
    if match:
        return match[1], match[2], match[3].strip("'\"")
    truth = _TRUTH.match(text)
    if truth and truth[2] != "not":
        return truth[2], "not" if truth[1] else "set", ""
    raise ValueError(f"expected `PARAM OP VALUE` with OP one of {' '.join(_OPS)}, or `PARAM` or `not PARAM`, found {text!r}")


def holds(text: str, params: dict) -> bool:
    name, op, value = parse(text)
    if op in ("set", "not"):
        return bool(params.get(name)) == (op == "set")
    return _OPS[op](_key(params.get(name, "")), _key(value))


def _key(value: object) -> tuple:
    text = str(value)
    if re.fullmatch(r"\d+(\.\d+)*", text):
        return (0, tuple(int(p) for p in text.split(".")))
    return (1, text)

"""`${name}` in any string is replaced by the param's value ($$ writes a literal $).

The syntax is not Jinja's on purpose: Ansible vars keep their own `{{ }}` untouched.
A string that is exactly `${name}` takes the param's type (`memory: ${mem}` stays an int).
`${secret.NAME}` is left alone here; the renderer fills it in, so secrets never reach `show`.
"""

from __future__ import annotations

import difflib
import re

from labctl.spec.layers import Layer

_REF = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_.]*)\})")


def substitute(layer: Layer) -> list[str]:
    """Replace params everywhere but in `params` itself; return problems found."""
    params = layer.data.get("params")
    params = params if isinstance(params, dict) else {}
    problems: list[str] = []
    for key, value in list(layer.data.items()):
        if key != "params":
            layer.data[key] = _walk(value, (key,), params, layer, problems)
    return problems


def _walk(value, path: tuple, params: dict, layer: Layer, problems: list[str]):
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), params, layer, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), params, layer, problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value:
        return _fill(value, path, params, layer, problems)
    return value


def _fill(text: str, path: tuple, params: dict, layer: Layer, problems: list[str]):
    whole = _REF.fullmatch(text)
    if whole and whole[1] in params:
        return params[whole[1]]

    def one(match: re.Match) -> str:
        name = match[1]
        if name is None:
            return "$"
        if name.startswith("secret."):
            return match[0]
        if name in params and isinstance(params[name], (dict, list)):
            kind = "a mapping" if isinstance(params[name], dict) else "a list"
            problems.append(layer.problem(path, f"param '{name}' is {kind}: use it as the whole value (`${{{name}}}`), not inside text"))
            return match[0]
        if name not in params:
            near = difflib.get_close_matches(name, list(params), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; declare it under params (known: {', '.join(sorted(params)) or 'none'})"
            problems.append(layer.problem(path, f"unknown param '{name}'{hint}"))
            return match[0]
        return str(params[name])

    return _REF.sub(one, text)


def kinds(params) -> dict[str, str]:
    """The kind of each param's default, which later layers must keep."""
    return {k: _kind(v) for k, v in params.items()} if isinstance(params, dict) else {}


def check_kinds(layer: Layer, declared: dict[str, str]) -> list[str]:
    """A param set by a later layer (user config, env, --set) keeps its default's kind."""
    params = layer.data.get("params")
    problems = []
    for name, value in (params.items() if isinstance(params, dict) else ()):
        want, found = declared.get(name), _kind(value)
        if want and want != found and not (want == "text" and found in ("a number", "true or false")):
            problems.append(layer.problem(("params", name), f"expected {want} (the kind of its default), found {_show(value)}"))
    return problems


def _kind(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else "nothing (null)"


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else _kind(value) if isinstance(value, (dict, list)) else str(value).lower()

"""`overlays:` in a spec: fragments laid over the lab when their `when` holds.

Each item is `{when: EXPR, <any spec keys>}`; the fragments that hold, in order, merge over the spec
(null removes a key, as with `extends`), below environment variables and `--set`. `when` is
judged with the final params, `--set` included, so `--set release=3.11` picks 3.11's fragments.
"""

from __future__ import annotations

from labctl.spec import expand, when
from labctl.spec.layers import Layer, merge


def split(spec: Layer) -> tuple[Layer, list]:
    """The spec without its overlays, and the overlays."""
    overlays = spec.data.pop("overlays", None)
    return spec, overlays if overlays is not None else []


def apply(spec: Layer, overlays, params: dict) -> tuple[Layer, list[str]]:
    """`spec` with every fragment whose `when` holds laid over it; problems found on the way."""
    if not isinstance(overlays, list):
        return spec, [spec.problem(("overlays",), "expected a list of {when: EXPR, ...spec keys}")]
    problems: list[str] = []
    for index, item in enumerate(overlays):
        test = _test(spec, index, item, params, problems)
        if test is not None and when.holds(test, params):
            fragment = _fragment(spec, index, item)
            problems += expand.expand_layer(fragment)
            spec = merge(spec, fragment)
    return spec, problems


def _test(spec: Layer, index: int, item, params: dict, problems: list[str]) -> str | None:
    path = ("overlays", index)
    if not isinstance(item, dict) or not isinstance(item.get("when"), str):
        problems.append(spec.problem(path, "an overlay needs `when: EXPR` and the spec keys it sets"))
        return None
    try:
        name = when.parse(item["when"])[0]
    except ValueError as exc:
        problems.append(spec.problem((*path, "when"), str(exc)))
        return None
    if name not in params:
        problems.append(spec.problem((*path, "when"), f"unknown param '{name}'; declare it under params"))
        return None
    return item["when"]


def _fragment(spec: Layer, index: int, item: dict) -> Layer:
    prefix = ("overlays", index)
    origins = {key[2:]: origin for key, origin in spec.origins.items() if key[:2] == prefix and len(key) > 2}
    return Layer({k: v for k, v in item.items() if k != "when"}, origins)

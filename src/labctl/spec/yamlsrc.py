"""Safe YAML reading that remembers where every key came from.

Only plain YAML types are built; tags that would build Python objects are refused.
Each value's key path maps to an Origin (file, line, column) for error messages.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from labctl.errors import SpecError
from labctl.spec.layers import Layer, Origin, format_path

Path_ = tuple  # a key path: ("nodes", "origin-master", "memory") or ("phases", 0)
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_INT = 2**63  # larger integers mean nothing to Vagrant or Ansible, and may not even print
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()


def load_layer(text: str, source: str) -> tuple[Layer, list[str]]:
    """Parse `text` as one YAML mapping: the layer and the problems found on the way.

    Broken YAML, or a document that is not a mapping, raises SpecError at once.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise SpecError(source, [_yaml_problem(exc, source)]) from None
    if node is None:
        return Layer({}, {}), []
    walker = _Walker(source)
    data = walker.walk(node, (), 0)
    if not isinstance(data, dict):
        raise SpecError(source, [*walker.problems, f"{_mark(node, source)}: a lab spec must be a mapping of keys"])
    return Layer(data, walker.origins), walker.problems


def _mark(node: yaml.Node, source: str) -> Origin:
    return Origin(source, node.start_mark.line + 1, node.start_mark.column + 1)


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{where}: invalid YAML: {problem}"


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.origins: dict[tuple, Origin] = {}
        self.problems: list[str] = []
        self.count = 0

    def walk(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_NODES:
            raise SpecError(self.source, [f"{_mark(node, self.source)}: document is too deeply nested or too large"])
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                return self._refuse(node, path)
            return [self._child(item, (*path, i), item, depth) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _child(self, node: yaml.Node, path: tuple, at: yaml.Node, depth: int) -> Any:
        self.origins[path] = _mark(at, self.source)
        return self.walk(node, path, depth + 1)

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict:
        if node.tag != "tag:yaml.org,2002:map":
            return self._refuse(node, path)
        own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        try:
            _constructor.flatten_mapping(node)
        except yaml.YAMLError as exc:
            self.problems.append(_yaml_problem(exc, self.source))
            return {}
        merged = len(node.value) - own  # `<<` pairs come first; the mapping's own keys override them
        out: dict = {}
        owned: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._key(key_node, path)
            from_merge = index < merged
            if key is None or (key in out and from_merge):
                continue
            if key in owned:
                self.problems.append(f"{_mark(key_node, self.source)}: {format_path((*path, key))}: duplicate key")
                continue
            if not from_merge:
                owned.add(key)
            out[key] = self._child(value_node, (*path, key), key_node, depth)
        return out

    def _key(self, key_node: yaml.Node, path: tuple) -> str | None:
        key = self._scalar(key_node, path)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            return self._problem(key_node, path, "keys must be plain strings")
        return str(key)

    def _scalar(self, node: yaml.Node, path: tuple) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self._problem(node, path, "keys must be plain strings")
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates stay text: nothing in a spec needs a datetime
        if not node.tag.startswith("tag:yaml.org,2002:") or node.tag.endswith(":binary"):
            return self._refuse(node, path)
        try:
            value = _constructor.construct_object(node)
        except yaml.YAMLError as exc:
            self.problems.append(_yaml_problem(exc, self.source))
            return None
        except ValueError:  # an integer too long for Python to convert
            return self._problem(node, path, "number is too large")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
            return self._problem(node, path, "number is too large")
        if isinstance(value, float) and not math.isfinite(value):
            return self._problem(node, path, ".nan and .inf are not allowed; quote them for text")
        return value

    def _problem(self, node: yaml.Node, path: tuple, message: str) -> None:
        self.problems.append(f"{_mark(node, self.source)}: {format_path(path) or '<top>'}: {message}")

    def _refuse(self, node: yaml.Node, path: tuple) -> None:
        return self._problem(node, path, f"YAML tag {node.tag!r} is not allowed in a lab spec")


def sort_problems(problems: list[str]) -> list[str]:
    """Unique problem lines in file, line, column order."""
    return sorted(dict.fromkeys(problems), key=_position)


def _position(line: str) -> tuple:
    head = line.split(": ", 1)[0].rsplit(":", 2)
    if len(head) == 3 and head[1].isdigit() and head[2].isdigit():
        return (head[0], int(head[1]), int(head[2]))
    return (head[0], 0, 0)

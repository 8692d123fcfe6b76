"""The resolved lab: typed, immutable records that every later stage reads."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # the model is imported where a spec is resolved: a cached Lab unpickles without it
    from labctl.spec.model import LabSpec, NodeSpec

NODE_FALLBACK = {"box": "labctl/debian12", "image": "labctl/debian12:latest", "cpus": 1, "memory": 1024}


@dataclass(frozen=True)
class Network:
    name: str
    cidr: str

    @property
    def netmask(self) -> str:
        return str(ipaddress.IPv4Network(self.cidr).netmask)


@dataclass(frozen=True)
class Node:
    name: str
    box: str
    image: str
    cpus: int
    memory: int
    groups: tuple[str, ...]
    vars: Mapping[str, Any]
    addresses: Mapping[str, str]  # network name -> address
    synced_folder: bool = False
    host: str | None = None
    port: int = 22
    user: str = "vagrant"
    key: str | None = None
    python: str | None = None  # the box's Python version, as the spec says (picks the Ansible runtime)

    @property
    def address(self) -> str | None:
        """The node's first lab address, if it has one."""
        return next(iter(self.addresses.values()), None)


@dataclass(frozen=True)
class Request:
    """How a lab was asked for: its spec file and the flags, recorded so later commands act on the same lab."""

    spec_path: str  # absolute
    provider: str | None = None
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lab:
    name: str
    source: str
    spec: LabSpec
    provider: str
    nodes: tuple[Node, ...]
    networks: tuple[Network, ...] = field(default=())
    request: Request | None = None
    dump: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the spec as JSON data
    digest: str | None = field(default=None, repr=False, compare=False)  # its key in the spec cache (render's stamp)

    @property
    def spec_dir(self) -> Path:
        """The spec's directory: playbooks and `extends` paths are relative to it."""
        return Path(self.request.spec_path).parent if self.request else Path(self.source).parent

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


def resolve(spec: LabSpec, source: str, dump: Mapping[str, Any] | None = None) -> Lab:
    """The typed lab of a validated spec; `dump` is the spec as JSON data (made here when not given)."""
    from labctl.spec.model import NodeSpec

    networks = tuple(Network(name, net.cidr) for name, net in spec.networks.items())
    base = _layer_node(NodeSpec.model_construct(**NODE_FALLBACK), spec.defaults)
    nodes = [(name, _layer_node(base, node or NodeSpec.model_construct())) for name, node in spec.nodes.items()]
    addresses = assign_addresses(spec, nodes)
    built = tuple(_node(name, settings, addresses[name]) for name, settings in nodes)
    dump = dump if dump is not None else spec.model_dump(mode="json", by_alias=True)
    return Lab(spec.name, source, spec, spec.provider, built, networks, dump=dump)


def _fields(node: NodeSpec, exclude_none: bool = False) -> dict[str, Any]:
    """A node's settings without pydantic's serializer (which costs its schema build)."""
    values = {name: getattr(node, name, None) for name in type(node).model_fields}
    return {k: v for k, v in values.items() if v is not None} if exclude_none else values


def _layer_node(base: NodeSpec, over: NodeSpec) -> NodeSpec:
    merged = _fields(base)
    for key, value in _fields(over, exclude_none=True).items():
        if key == "groups":
            value = list(dict.fromkeys([*(merged["groups"] or []), *value]))
        elif key in ("vars", "networks"):
            value = {**(merged[key] or {}), **value}
        merged[key] = value
    return type(base).model_construct(**merged)


def _node(name: str, s: NodeSpec, addresses: dict[str, str]) -> Node:
    return Node(
        name=name, box=s.box, image=s.image, cpus=s.cpus, memory=s.memory,
        groups=tuple(s.groups or ()), vars=MappingProxyType(dict(s.vars or {})),
        addresses=MappingProxyType(addresses), synced_folder=bool(s.synced_folder),
        host=s.host, port=s.port or 22, user=s.user or "vagrant", key=s.key, python=s.python,
    )


def assign_addresses(spec: LabSpec, nodes: list[tuple[str, NodeSpec]]) -> dict[str, dict[str, str]]:
    """Fixed addresses first, then `auto` ones in node order from each network's `start`.

    A node without `networks` joins every lab network automatically.
    """
    wanted = {name: dict(s.networks) if s.networks else {n: "auto" for n in spec.networks} for name, s in nodes}
    out: dict[str, dict[str, str]] = {name: {} for name, _ in nodes}
    for net_name, net in spec.networks.items():
        fixed = {name: want[net_name] for name, want in wanted.items() if want.get(net_name, "auto") != "auto" and net_name in want}
        free = _free_hosts(ipaddress.IPv4Network(net.cidr), net.start, set(fixed.values()))
        for name, want in wanted.items():
            if net_name in want:
                out[name][net_name] = fixed.get(name) or next(free)  # checks.py made sure there is one
    return out


def _free_hosts(net: ipaddress.IPv4Network, start: int, taken: set[str]):
    for offset in range(start, net.num_addresses - 1):
        address = str(net.network_address + offset)
        if address not in taken:
            yield address


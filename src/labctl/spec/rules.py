"""Checks across fields, run on the merged raw data so they report alongside shape errors.

Each check skips values of the wrong type: the shape validation reports those.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator

from labctl.spec import when
from labctl.spec.layers import Layer
from labctl.spec.model import CHECK_KINDS

HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_REF = re.compile(r"\$\{secret\.([A-Za-z_][A-Za-z0-9_]*)(?:\.(?:public))?\}")
Problem = tuple[tuple, str]


def cross_check(layer: Layer) -> list[Problem]:
    data = layer.data
    nodes = _dict(data.get("nodes"))
    return [
        *_node_names(nodes),
        *_groups(data, nodes),
        *_addresses(data, nodes),
        *_phases(data),
        *_checks(data, nodes),
        *_var_names(data, nodes),
        *_secret_refs(data),
        *_provider_extras(data),
        *_libvirt_cpu(data),
    ]


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _node_groups(node) -> list[str]:
    groups = _dict(node).get("groups")
    return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []


def _near(name: str, known) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{match[0]}'?" if match else ""


def _node_names(nodes: dict) -> Iterator[Problem]:
    for name in nodes:
        if not HOSTNAME.match(name):
            yield ("nodes", name), (
                f"'{name}' is not a valid hostname (letters, digits and '-', 1 to 63 characters, "
                "not starting or ending with '-')"
            )


def _groups(data: dict, nodes: dict) -> Iterator[Problem]:
    groups = _dict(data.get("groups"))
    defaults_groups = _node_groups(data.get("defaults"))
    known = set(groups) | set(defaults_groups) | {g for n in nodes.values() for g in _node_groups(n)}
    for name in sorted(known):
        if not GROUP_NAME.match(name) or name in ("all", "ungrouped"):
            yield _group_path(data, nodes, name), f"'{name}' is not a usable Ansible group name (letters, digits, '_'; not all/ungrouped)"
        elif name in nodes:
            yield _group_path(data, nodes, name), f"'{name}' names a node and a group: Ansible drops the host (rename one of them)"
    for name, group in groups.items():
        group = _dict(group)
        for i, host in enumerate(_list(group.get("hosts"))):
            if isinstance(host, str) and host not in nodes:
                yield ("groups", name, "hosts", i), f"unknown node '{host}'{_near(host, nodes)}"
        for i, child in enumerate(_list(group.get("children"))):
            if isinstance(child, str) and child not in known:
                yield ("groups", name, "children", i), f"unknown group '{child}'{_near(child, known)}"
            elif child == name:
                yield ("groups", name, "children", i), "a group cannot contain itself"


def _group_path(data: dict, nodes: dict, name: str) -> tuple:
    if name in _dict(data.get("groups")):
        return ("groups", name)
    for node_name, node in nodes.items():
        if name in _node_groups(node):
            return ("nodes", node_name, "groups")
    return ("defaults", "groups")


def _addresses(data: dict, nodes: dict) -> Iterator[Problem]:
    nets: dict[str, ipaddress.IPv4Network | None] = {}
    for name, net in _dict(data.get("networks")).items():
        nets[name] = None
        cidr = _dict(net).get("cidr")
        if isinstance(cidr, str):
            try:
                nets[name] = ipaddress.IPv4Network(cidr)
            except ValueError:
                yield ("networks", name, "cidr"), f"expected an IPv4 network like 192.168.50.0/24, found '{cidr}'"
    taken: dict[tuple[str, str], str] = {}
    for node_name, node in nodes.items():
        for net_name, addr in _dict(_dict(node).get("networks")).items():
            yield from _one_address(nets, taken, node_name, net_name, addr)
    yield from _capacity(data, nodes, nets, taken)


def _capacity(data: dict, nodes: dict, nets: dict, taken: dict) -> Iterator[Problem]:
    """Enough free addresses for every node that asks for an automatic one."""
    fallback = _dict(_dict(data.get("defaults")).get("networks")) or {n: "auto" for n in nets}
    for net_name, net in nets.items():
        start = _dict(_dict(data.get("networks")).get(net_name)).get("start", 10)
        if net is None or not isinstance(start, int):
            continue
        wanted = sum(1 for n in nodes.values() if (_dict(_dict(n).get("networks")) or fallback).get(net_name) == "auto")
        fixed = sum(1 for (name, _) in taken if name == net_name)
        if wanted > max(0, net.num_addresses - 1 - start) - fixed:
            yield ("networks", net_name), f"network {net} has no free address left for automatic assignment ({wanted} nodes need one)"


def _one_address(nets, taken, node_name: str, net_name: str, addr) -> Iterator[Problem]:
    path = ("nodes", node_name, "networks", net_name)
    if net_name not in nets:
        yield path, f"unknown network '{net_name}'{_near(net_name, nets)}"
        return
    net = nets[net_name]
    if not isinstance(addr, str) or addr == "auto" or net is None:
        return
    try:
        ip = ipaddress.IPv4Address(addr)
    except ValueError:
        yield path, f"expected 'auto' or an IPv4 address, found '{addr}'"
        return
    if ip not in net or ip in (net.network_address, net.broadcast_address):
        yield path, f"address {ip} is not a host address of network '{net_name}' ({net})"
    elif (net_name, addr) in taken:
        yield path, f"address {ip} is already used by node '{taken[(net_name, addr)]}'"
    else:
        taken[(net_name, addr)] = node_name


def _phases(data: dict) -> Iterator[Problem]:
    seen: set[str] = set()
    phases = data.get("phases")
    for i, phase in enumerate(phases if isinstance(phases, list) else []):
        phase = _dict(phase)
        name = phase.get("name")
        if isinstance(name, str) and name in seen:
            yield ("phases", i, "name"), f"duplicate phase name '{name}'"
        if isinstance(name, str):
            seen.add(name)
        if not phase.get("playbook") and not phase.get("playbooks"):
            yield ("phases", i), "a phase needs `playbook` or `playbooks`"
        yield from _when(phase.get("when"), ("phases", i, "when"), _dict(data.get("params")))


def _when(text, path: tuple, params: dict) -> Iterator[Problem]:
    if not isinstance(text, str):
        return
    try:
        name = when.parse(text)[0]
    except ValueError as exc:
        yield path, str(exc)
        return
    if name not in params:
        yield path, f"unknown param '{name}'{_near(name, params) or '; declare it under params'}"


def _checks(data: dict, nodes: dict) -> Iterator[Problem]:
    checks = data.get("checks")
    for i, check in enumerate(checks if isinstance(checks, list) else []):
        check = _dict(check)
        node = check.get("node")
        if isinstance(node, str) and node not in nodes:
            yield ("checks", i, "node"), f"unknown node '{node}'{_near(node, nodes)}"
        kinds = [k for k in CHECK_KINDS if k in check]
        if len(kinds) != 1 and not check.get("drop"):
            yield ("checks", i), f"a check needs exactly one of {', '.join(f'`{k}`' for k in CHECK_KINDS)}"
        elif kinds != ["http"] and "node" not in check and not check.get("drop"):
            yield ("checks", i), f"a `{kinds[0]}` check needs `node`"
        yield from _http_secret(check, data)


def _http_secret(check: dict, data: dict) -> Iterator[Problem]:
    auth = _dict(_dict(check.get("http")).get("auth"))
    secret = auth.get("password_secret")
    declared = _dict(data.get("secrets"))
    if isinstance(secret, str) and secret not in declared:
        yield ("checks", data["checks"].index(check), "http", "auth", "password_secret"), (
            f"unknown secret '{secret}'{_near(secret, declared) or '; declare it under secrets:'}")


def _var_names(data: dict, nodes: dict) -> Iterator[Problem]:
    """Variable names become INI keys and Ansible names: they must be identifiers."""
    places = [(("inventory", "vars"), _dict(data.get("inventory")).get("vars")), (("defaults", "vars"), _dict(data.get("defaults")).get("vars"))]
    places += [(("nodes", n, "vars"), _dict(node).get("vars")) for n, node in nodes.items()]
    places += [(("groups", g, "vars"), _dict(group).get("vars")) for g, group in _dict(data.get("groups")).items()]
    for path, values in places:
        for key in _dict(values):
            if not GROUP_NAME.match(key):
                yield (*path, key), f"'{key}' is not a valid variable name (letters, digits and '_', not starting with a digit)"


def _secret_refs(data: dict) -> Iterator[Problem]:
    declared = _dict(data.get("secrets"))
    for path, text in _strings(data, ()):
        if not _inventory_var(path):
            yield path, "a secret can only be used in inventory vars (nodes.N.vars, defaults.vars, groups.G.vars, inventory.vars), which are written 0600"
            continue
        for name in SECRET_REF.findall(text):
            if name not in declared:
                yield path, f"unknown secret '{name}'{_near(name, declared) or '; declare it under secrets:'}"
            elif ".public" in text and _dict(declared[name]).get("kind") != "ssh_key":
                yield path, f"`.public` is only for secrets of kind ssh_key, and '{name}' is not one"


def _inventory_var(path: tuple) -> bool:
    return (path[:1] in (("defaults",), ("inventory",)) and path[1:2] == ("vars",)) or (
        path[:1] in (("nodes",), ("groups",)) and path[2:3] == ("vars",))


def _strings(value, path: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, index))
    elif isinstance(value, str) and "${secret." in value:
        yield path, value


def _libvirt_cpu(data: dict) -> Iterator[Problem]:
    """QEMU emulation (driver qemu) has no host CPU to pass through: libvirt refuses the domain."""
    libvirt = _dict(_dict(data.get("providers")).get("libvirt"))
    if libvirt.get("driver") == "qemu" and libvirt.get("cpu_mode") == "host-passthrough":
        yield ("providers", "libvirt", "cpu_mode"), (
            "host-passthrough needs KVM, and driver is qemu (emulation): "
            "leave cpu_mode unset or use host-model, or set driver: kvm where /dev/kvm works"
        )


def _provider_extras(data: dict) -> Iterator[Problem]:
    """`extra` settings become `p.KEY = VALUE` lines in the Vagrantfile."""
    for provider, settings in _dict(data.get("providers")).items():
        for key, value in _dict(_dict(settings).get("extra")).items():
            path = ("providers", provider, "extra", key)
            if not GROUP_NAME.match(key):
                yield path, f"'{key}' is not a Ruby setting name (letters, digits and '_', not starting with a digit)"
            elif isinstance(value, str) and not value.isprintable():
                yield path, "expected text without control characters or line breaks"

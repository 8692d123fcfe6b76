"""The Ansible inventory of a lab, as data, then as YAML or INI text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labctl.render.escape import ini_host_value, ini_key, ini_value

if TYPE_CHECKING:
    from labctl.spec import Lab


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict = field(default_factory=dict)


def labctl_hosts(lab: Lab) -> dict:
    """labctl's own host facts, kept in inventory/labctl.yml beside the spec's inventory."""
    return {n.name: {"labctl_address": n.address} if n.address else None for n in lab.nodes}


def groups_of(lab: Lab) -> list[Group]:
    """Declared groups first (in spec order), then groups only nodes name, in first-seen order."""
    groups = {name: Group(name, list(g.hosts), list(g.children), dict(g.vars)) for name, g in lab.spec.groups.items()}
    for node in lab.nodes:
        for name in node.groups:
            group = groups.setdefault(name, Group(name))
            if node.name not in group.hosts:
                group.hosts.append(node.name)
    order = [n.name for n in lab.nodes]
    for group in groups.values():
        group.hosts.sort(key=order.index)
    return list(groups.values())


def as_yaml_data(lab: Lab, fill) -> dict:
    children = {}
    for g in groups_of(lab):
        entry: dict = {}
        if g.hosts:
            entry["hosts"] = {h: None for h in g.hosts}
        if g.children:
            entry["children"] = {c: None for c in g.children}
        if g.vars:
            entry["vars"] = fill(g.vars)
        children[g.name] = entry or None
    root: dict = {"hosts": {n.name: fill(dict(n.vars)) or None for n in lab.nodes}}
    if children:
        root["children"] = children
    if lab.spec.inventory.vars:
        root["vars"] = fill(dict(lab.spec.inventory.vars))
    return {"all": root}


def as_ini_sections(lab: Lab, fill) -> list[dict]:
    """Sections for hosts.ini.j2; a node's vars go on its first line, ranges are folded."""
    groups = groups_of(lab)
    grouped = {h for g in groups for h in g.hosts}
    pending = {n.name: fill(dict(n.vars)) for n in lab.nodes}
    sections = [{"header": "", "lines": _host_lines([n.name for n in lab.nodes if n.name not in grouped], pending)}]
    for g in groups:
        if g.hosts:
            sections.append({"header": g.name, "lines": _host_lines(g.hosts, pending)})
        if g.children:
            sections.append({"header": f"{g.name}:children", "lines": list(g.children)})
        if g.vars:
            sections.append({"header": f"{g.name}:vars", "lines": _var_lines(fill(g.vars))})
        if not (g.hosts or g.children or g.vars):
            sections.append({"header": g.name, "lines": []})
    if lab.spec.inventory.vars:
        sections.append({"header": "all:vars", "lines": _var_lines(fill(dict(lab.spec.inventory.vars)))})
    return sections


def _var_lines(values: dict) -> list[str]:
    return [f"{ini_key(k)}={ini_value(v)}" for k, v in values.items()]


def _host_lines(hosts: list[str], pending: dict[str, dict]) -> list[str]:
    lines: list[str] = []
    for run in _runs(hosts, pending):
        vars_ = pending[run[0]]
        for host in run:
            pending[host] = {}
        text = " ".join(f"{ini_key(k)}={ini_host_value(v)}" for k, v in vars_.items())
        lines.append(f"{_fold(run)} {text}".rstrip())
    return lines


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _runs(hosts: list[str], pending: dict[str, dict]) -> list[list[str]]:
    """Consecutive hosts name-1, name-2... with the same pending vars form one run."""
    runs: list[list[str]] = []
    for host in hosts:
        last = runs[-1][-1] if runs else None
        if last and _follows(last, host) and pending[last] == pending[host]:
            runs[-1].append(host)
        else:
            runs.append([host])
    return runs


def _follows(prev: str, host: str) -> bool:
    a, b = _NUMBERED.match(prev), _NUMBERED.match(host)
    return bool(a and b and a[1] == b[1] and int(b[2]) == int(a[2]) + 1 and len(a[2]) == len(b[2]))


def _fold(run: list[str]) -> str:
    if len(run) == 1:
        return run[0]
    first, last = _NUMBERED.match(run[0]), _NUMBERED.match(run[-1])
    return f"{first[1]}[{first[2]}:{last[2]}]"

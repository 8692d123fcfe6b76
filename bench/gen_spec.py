"""Write an N-node labctl spec for the render benchmark.

Usage: python bench/gen_spec.py N OUT.yaml

Nodes are listed one by one (no ranges) so the loader and renderer see N real
entries. Each node joins 2-3 groups and carries a couple of vars; a few groups
carry vars of their own. Nothing is ever contacted: the spec is only rendered.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROLES = ("web", "app", "db")
RACK_SIZE = 10


def node_name(i: int) -> str:
    """Name of node number i (1-based), e.g. node-007."""
    return f"node-{i:03d}"


def _node(i: int) -> dict:
    role = ROLES[i % len(ROLES)]
    groups = [role, f"rack_{i // RACK_SIZE}"]
    if i % 4 == 0:
        groups.append("monitored")
    return {"groups": groups, "vars": {"node_index": i, "role": role}}


def _groups(n: int) -> dict:
    racks = sorted({f"rack_{i // RACK_SIZE}" for i in range(1, n + 1)})
    return {
        "web": {"vars": {"http_port": 8080, "tls": True}},
        "app": {"vars": {"app_workers": 4}},
        "db": {"vars": {"db_engine": "postgres", "db_port": 5432}},
        "monitored": {"vars": {"scrape_interval": "15s"}},
        "racks": {"children": racks, "vars": {"datacenter": "bench-dc"}},
        "frontends": {"hosts": [node_name(1)], "children": ["web"]},
    }


def build_spec(n: int) -> dict:
    """Return the N-node spec as plain data (dicts and lists)."""
    return {
        "name": f"bench-{n}",
        "description": f"{n} generated nodes for the render benchmark",
        "provider": "docker",
        "defaults": {"box": "labctl/debian12", "image": "labctl/debian12:latest", "cpus": 1, "memory": 256},
        "networks": {"lab": {"cidr": "10.20.0.0/16", "start": 10}},
        "nodes": {node_name(i): _node(i) for i in range(1, n + 1)},
        "groups": _groups(n),
        "phases": [{"name": "common", "playbook": "site.yml"}],
        "checks": [{"name": "ssh on the first node", "node": node_name(1), "port": 22}],
    }


def write_spec(n: int, out: str | Path) -> Path:
    """Write the N-node spec to `out` as YAML and return its path."""
    path = Path(out)
    path.write_text(yaml.safe_dump(build_spec(n), sort_keys=False, default_flow_style=None))
    return path


def main(argv: list[str]) -> int:
    """Command line: gen_spec.py N OUT.yaml."""
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: gen_spec.py N OUT.yaml", file=sys.stderr)
        return 2
    print(write_spec(int(argv[0]), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Write a netlab topology equivalent to bench/gen_spec.py's N-node spec.

Usage: python bench/netlab_topology.py N OUT.yml

Same node names and groups (with the same group vars), one LAN with every node
on 10.20.0.0/16 like the labctl spec's single network, plus a few point-to-point
links. `netlab create` on it only writes files (Vagrantfile, Ansible inventory).
netlab has no per-node `vars`, so the node vars of the labctl spec are left out.
netlab refuses more than 150 nodes by default (defaults.const.MAX_NODE_ID).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from gen_spec import ROLES, RACK_SIZE, node_name

P2P_LINKS = 4


def _groups(n: int) -> dict:
    members: dict[str, list[str]] = {role: [] for role in ROLES}
    for i in range(1, n + 1):
        members[ROLES[i % len(ROLES)]].append(node_name(i))
        members.setdefault(f"rack_{i // RACK_SIZE}", []).append(node_name(i))
    members["monitored"] = [node_name(i) for i in range(4, n + 1, 4)]
    group_vars = {"web": {"http_port": 8080, "tls": True}, "app": {"app_workers": 4},
                  "db": {"db_engine": "postgres", "db_port": 5432}, "monitored": {"scrape_interval": "15s"}}
    return {name: {"members": hosts, **({"vars": group_vars[name]} if name in group_vars else {})}
            for name, hosts in members.items() if hosts}


def _links(n: int) -> list:
    lan = {node_name(i): None for i in range(1, n + 1)}
    lan["prefix"] = {"ipv4": "10.20.0.0/16"}
    pairs = [{node_name(i): None, node_name(i + 1): None} for i in range(1, min(n, P2P_LINKS + 1))]
    return [lan, *pairs]


def build_topology(n: int, provider: str = "libvirt") -> dict:
    """Return the N-node netlab topology as plain data."""
    return {
        "name": f"bench-{n}",
        "provider": provider,
        "defaults": {"device": "linux"},
        "nodes": {node_name(i): {"cpu": 1, "memory": 256} for i in range(1, n + 1)},
        "groups": _groups(n),
        "links": _links(n),
    }


def write_topology(n: int, out: str | Path, provider: str = "libvirt") -> Path:
    """Write the N-node topology to `out` as YAML and return its path."""
    path = Path(out)
    path.write_text(yaml.safe_dump(build_topology(n, provider), sort_keys=False, default_flow_style=None))
    return path


def main(argv: list[str]) -> int:
    """Command line: netlab_topology.py N OUT.yml."""
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) < 2:
        print("usage: netlab_topology.py N OUT.yml  (N >= 2)", file=sys.stderr)
        return 2
    print(write_topology(int(argv[0]), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

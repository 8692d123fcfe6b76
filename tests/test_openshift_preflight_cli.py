"""The issue's Done-when through the CLI: `labctl up openshift --provider docker --set release=3.11`
with a variable upstream removed fails in preflight, quoting openshift-ansible's own message, before
any machine exists; without it, `up` gets past preflight and boots the machines.

openshift-ansible comes from ../shared/upstream by URL rewriting (the `upstream` fixture of
test_openshift_releases.py), fetched by labctl's own clone-and-cache code into a LABCTL_HOME in
tmp. Runtimes are built by `up` itself (its preflight step), into LABCTL_RUNTIMES_DIR when set
(shared between runs) or a tmp dir. No cluster host exists before boot: upstream's checks get the
facts a CentOS 7 host reports (labctl's preflight playbook).

What the control run boots: on the docker provider every node gets labctl's default image
(labctl/debian12), since no CentOS 7 image with sshd exists for Docker; OpenShift 3 itself needs VMs
(systemd, a docker daemon per host), so the control run stops after boot (`--no-provision`).
The lab's network is moved to this test's subnet (192.168.112.0/24), in both runs alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_tools, shared_runtimes
from test_openshift_releases import upstream  # noqa: F401 - the session fixture (URL rewriting)

pytestmark = pytest.mark.integration

LAB = "openshift"
SUBNET = ["--set", "networks.lab.cidr=192.168.112.0/24", "--set", "nodes.origin-proxy.networks.lab=192.168.112.9",
          "--set", "domain=192.168.112.9.nip.io"]
UP = ["up", LAB, "--provider", "docker", "--set", "release=3.11", *SUBNET]
REMOVED = "nodes.origin-infra.vars.openshift_node_labels={region: infra}"
NODES = sorted(["origin-master", "origin-etcd", "origin-infra", "origin-node-1", "origin-node-2", "origin-proxy"])
UPSTREAM_SAYS = "Found removed variables: openshift_node_labels is replaced by openshift_node_groups[<item>].labels"


@pytest.fixture
def env(tmp_path, tmp_path_factory, upstream):  # noqa: F811
    need_tools("git", "vagrant", "docker")
    runtimes = os.environ.get("LABCTL_RUNTIMES_DIR") or str(shared_runtimes())
    env = {**os.environ, "LABCTL_HOME": str(tmp_path / "home"), "LABCTL_RUNTIMES_DIR": runtimes}
    try:
        yield env
    finally:
        labctl(["down", LAB, "--force"], env)


def labctl(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], env=env, capture_output=True, text=True)


def containers() -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label=org.labctl.lab={LAB}", "--format", "{{.Names}}"],
                         capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def test_removed_variable_fails_in_preflight_before_any_machine(env):
    assert containers() == []
    result = labctl([*UP, "--set", REMOVED], env)
    errors = [line for line in result.stderr.splitlines() if line.startswith("labctl: error:")]
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("labctl: error: preflight openshift-checks-3-11: ")
    assert UPSTREAM_SAYS in errors[0]
    assert "(nothing was created; log: " in errors[0]
    assert "Traceback" not in result.stderr
    assert containers() == []
    assert not (Path(env["LABCTL_HOME"]) / "labs" / LAB / ".vagrant").exists()
    assert "preflight: openshift-checks-3-11" in result.stderr  # progress lines go to stderr
    assert "vagrant up" not in result.stderr  # the create step never started


def test_without_it_up_gets_past_preflight_and_boots(env):
    result = labctl([*UP, "--no-provision"], env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "preflight: openshift-checks-3-11" in result.stderr
    assert "Validate openshift_node_groups and openshift_node_group_name (localhost: ok" in result.stderr
    assert "vagrant up: 6 machines" in result.stderr
    assert result.stdout.startswith("openshift: up (6 nodes)")
    nodes = {n["name"]: n for n in json.loads(labctl(["status", LAB, "--json"], env).stdout)["nodes"]}
    assert sorted(nodes) == NODES
    assert all(n["state"] == "running" and n["address"].startswith("192.168.112.") for n in nodes.values()), nodes
    assert containers() == [f"{LAB}-{name}" for name in NODES]

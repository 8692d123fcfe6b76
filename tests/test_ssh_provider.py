"""Provider `ssh`: existing machines named by host, user and key. Here: sshd containers this test starts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid

import pytest

from conftest import need_tools

pytestmark = pytest.mark.integration
SUBNET = "192.168.81.0/24"


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def machines(tmp_path):
    need_tools("docker", "ansible-playbook")
    net = f"labctl-test-ssh-{uuid.uuid4().hex[:8]}"
    _docker("network", "create", "--subnet", SUBNET, net)
    names = []
    try:
        ports = {}
        for i, node in enumerate(["ext-1", "ext-2"], start=11):
            name = f"{net}-{node}"
            _docker("run", "-d", "--name", name, "--hostname", node, "--network", net, "--ip", f"192.168.81.{i}",
                    "-p", "127.0.0.1::22", "labctl/debian12:latest")
            names.append(name)
            ports[node] = int(_docker("port", name, "22/tcp").rsplit(":", 1)[1])
        yield ports, _key(tmp_path)
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "network", "rm", net], capture_output=True)


def _key(tmp_path):
    listed = subprocess.run(["dpkg", "-L", "vagrant"], capture_output=True, text=True).stdout.split()
    source = next(p for p in listed if p.endswith("keys/vagrant"))
    key = tmp_path / "id_vagrant"
    shutil.copy(source, key)
    key.chmod(0o600)
    return key


def test_up_on_existing_machines(machines, tmp_path):
    ports, key = machines
    spec = tmp_path / "ext.yaml"
    spec.write_text(
        "name: ext\nprovider: ssh\nnetworks: {lab: {cidr: " + SUBNET + "}}\n"
        f"defaults: {{host: 127.0.0.1, user: vagrant, key: {key}}}\n"
        "nodes:\n"
        f"  ext-1: {{port: {ports['ext-1']}, networks: {{lab: 192.168.81.11}}}}\n"
        f"  ext-2: {{port: {ports['ext-2']}, networks: {{lab: 192.168.81.12}}}}\n"
        "checks:\n  - {node: ext-1, command: getent hosts ext-2, expect: '^192\\.168\\.81\\.12\\s+ext-2'}\n"
    )
    run = lambda *a: subprocess.run([sys.executable, "-m", "labctl", *a], capture_output=True, text=True)  # noqa: E731
    up = run("up", str(spec))
    assert up.returncode == 0, up.stderr[-2000:]
    assert up.stdout.splitlines()[0].startswith("PASS ") and "on ext-1: exit code 0" in up.stdout
    assert not (tmp_path / "Vagrantfile").exists()
    report = json.loads(run("status", str(spec), "--json").stdout)
    assert [(n["name"], n["state"]) for n in report["nodes"]] == [("ext-1", "external"), ("ext-2", "external")]
    assert report["phases"] == [{"name": "common", "status": "done"}]
    down = run("down", str(spec))
    assert down.returncode == 0, down.stderr
    assert len(_docker("ps", "-q", "--filter", "name=labctl-test-ssh").split()) == 2  # existing machines stay

"""The verify stage and labctl's playbooks, against real Docker containers.

Two containers from labctl/debian12:latest on a Docker network this module creates;
SSH reaches them through loopback ports only. ansible/common.yml and ansible/smoke.yml
run with the real ansible-playbook, then labctl.verify checks the result over SSH.
Containers and the network are removed by finalizers, also when a test fails.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
import yaml

from conftest import ROOT, need_tools, skip_or_fail
from labctl.errors import LabctlError
from labctl.spec.model import CommandCheck, HttpCheck, PortCheck
from labctl.verify import CheckResult, Endpoint, SSHUnreachable, run_checks, wait_for_ssh

IMAGE = "labctl/debian12:latest"
VENV_BIN = str(Path(sys.executable).parent)
PLAYBOOKS = ROOT / "ansible"
NODE_NAMES = ("node-a", "node-b")
SMOKE_MESSAGE = "hello from the verify test"
RECAP = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", re.M)


_unavailable = skip_or_fail


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _vagrant_key() -> Path | None:
    """Vagrant's insecure private key, as the Debian package installs it."""
    found = sorted(Path("/usr/share/rubygems-integration/all/gems").glob("vagrant-*/keys/vagrant"))
    if found:
        return found[-1]
    listing = subprocess.run(["dpkg", "-L", "vagrant"], capture_output=True, text=True) if shutil.which("dpkg") else None
    paths = [line for line in (listing.stdout.splitlines() if listing else []) if line.endswith("keys/vagrant")]
    return Path(paths[0]) if paths else None


@dataclass(frozen=True)
class Machines:
    endpoints: dict[str, Endpoint]
    addresses: dict[str, str]
    containers: dict[str, str]
    key: Path


@pytest.fixture(scope="module")
def machines(request, tmp_path_factory) -> Machines:
    """Two running containers on a fresh Docker network, reachable on loopback ports."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        need_tools("docker", "ansible-playbook")
    if _docker("info", check=False, timeout=60).returncode != 0:
        _unavailable("the Docker daemon is not running")
    if _docker("image", "inspect", IMAGE, check=False).returncode != 0:
        _unavailable(f"image {IMAGE} is missing: `labctl box build --provider docker` builds it")
    source_key = _vagrant_key()
    if source_key is None:
        _unavailable("Vagrant's insecure private key (package vagrant) was not found")
    # ssh refuses a key file others can read when the caller owns it (root here, often).
    key = tmp_path_factory.mktemp("key") / "vagrant"
    key.write_bytes(source_key.read_bytes())
    key.chmod(0o600)

    tag = f"labctl-test-verify-{uuid.uuid4().hex[:8]}"
    network, subnet = _create_network(request, tag)
    containers, addresses, endpoints = {}, {}, {}
    for offset, name in enumerate(NODE_NAMES, start=11):
        container = f"{tag}-{name}"
        request.addfinalizer(lambda c=container: _docker("rm", "-f", "-v", c, check=False))
        address = f"{subnet.rsplit('.', 1)[0]}.{offset}"
        _docker(
            "run", "--detach", "--name", container, "--hostname", name, "--label", "org.labctl.test=verify",
            "--network", network, "--ip", address, "--publish", "127.0.0.1::22", IMAGE,
        )
        port = int(_docker("port", container, "22/tcp").stdout.split()[0].rsplit(":", 1)[1])
        containers[name], addresses[name] = container, address
        endpoints[name] = Endpoint(name=name, host="127.0.0.1", port=port, user="vagrant", key=str(key))
    return Machines(endpoints, addresses, containers, key)


def _create_network(request, tag: str) -> tuple[str, str]:
    """A user-defined bridge network on a free 10.x subnet, removed after the module."""
    request.addfinalizer(lambda: _docker("network", "rm", tag, check=False))
    error = ""
    for _ in range(8):
        subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0"
        result = _docker("network", "create", "--driver", "bridge", "--subnet", f"{subnet}/24",
                         "--label", "org.labctl.test=verify", tag, check=False)
        if result.returncode == 0:
            return tag, subnet
        error = result.stderr.strip()  # most likely the subnet overlaps another network: try another
    raise AssertionError(f"could not create a Docker network: {error}")


@pytest.fixture(scope="module")
def up(machines) -> Machines:
    """The machines once SSH answers on both."""
    wait_for_ssh(list(machines.endpoints.values()), timeout=60)
    return machines


@pytest.fixture(scope="module")
def inventory(up, tmp_path_factory) -> Path:
    hosts = {
        name: {
            "ansible_host": e.host, "ansible_port": e.port, "ansible_user": e.user,
            "ansible_ssh_private_key_file": e.key, "labctl_address": up.addresses[name],
        }
        for name, e in up.endpoints.items()
    }
    data = {"all": {
        "hosts": hosts,
        "children": {"smoke": {"hosts": {n: None for n in NODE_NAMES}, "vars": {"smoke_message": SMOKE_MESSAGE}}},
        "vars": {
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
        },
    }}
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def playbook(inventory, tmp_path_factory):
    """Run one of labctl's playbooks with the real ansible-playbook; return (output, recap)."""
    home = tmp_path_factory.mktemp("ansible-home")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
    }

    def run(name: str) -> tuple[str, dict[str, dict[str, int]]]:
        argv = [shutil.which("ansible-playbook", path=env["PATH"]), "-i", str(inventory), str(PLAYBOOKS / name)]
        result = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True, timeout=600)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"ansible-playbook {name} failed ({result.returncode}):\n{output}"
        return output, parse_recap(output)

    return run


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines as {host: {"ok": n, "changed": n, ...}}."""
    recap = output.split("PLAY RECAP", 1)[1]
    hosts = {}
    for host, counts in RECAP.findall(recap):
        hosts[host] = {k: int(v) for k, v in (pair.split("=") for pair in counts.split())}
    return hosts


@pytest.fixture(scope="module")
def common(playbook) -> dict[str, dict[str, int]]:
    """The first run of ansible/common.yml."""
    return playbook("common.yml")[1]


@pytest.fixture(scope="module")
def smoke(common, playbook) -> dict[str, dict[str, int]]:
    """The first run of ansible/smoke.yml, after the common phase."""
    return playbook("smoke.yml")[1]


def _cat(machines: Machines, node: str, path: str) -> str:
    return _docker("exec", machines.containers[node], "cat", path).stdout


@pytest.mark.integration
def test_wait_for_ssh_reaches_both_nodes(machines):
    seen: list[str] = []
    started = time.monotonic()
    wait_for_ssh(list(machines.endpoints.values()), timeout=60, progress=seen.append)
    assert time.monotonic() - started < 60
    assert seen[0] == f"waiting up to 60s for SSH on {', '.join(NODE_NAMES)}"
    assert sorted(line.split(":", 1)[0] for line in seen[1:]) == sorted(NODE_NAMES)


@pytest.mark.integration
def test_common_lists_every_node_in_etc_hosts(up, common):
    assert set(common) == set(NODE_NAMES)
    assert all(counts["failed"] == 0 and counts["unreachable"] == 0 for counts in common.values())
    for node, other in (NODE_NAMES, NODE_NAMES[::-1]):
        hosts = _cat(up, node, "/etc/hosts")
        block = hosts.split("# BEGIN labctl managed hosts\n", 1)[1].split("# END labctl managed hosts", 1)[0]
        assert re.search(rf"^{re.escape(up.addresses[other])}\s+{other}$", block, re.M), hosts
        assert re.search(rf"^{re.escape(up.addresses[node])}\s+{node}$", block, re.M), hosts
        # the block comes first: lab names resolve to lab addresses before Docker's own lines
        assert hosts.startswith("# BEGIN labctl managed hosts\n"), hosts
        assert "localhost" in hosts  # Docker's lines are kept


@pytest.mark.integration
def test_common_is_idempotent(up, common, playbook):
    before = {n: _cat(up, n, "/etc/hosts") for n in NODE_NAMES}
    _, recap = playbook("common.yml")
    assert {host: counts["changed"] for host, counts in recap.items()} == {n: 0 for n in NODE_NAMES}
    assert {n: _cat(up, n, "/etc/hosts") for n in NODE_NAMES} == before


@pytest.mark.integration
def test_smoke_playbook_does_its_work_and_is_idempotent(up, smoke, playbook):
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in smoke.values()), smoke
    for node in NODE_NAMES:
        assert _cat(up, node, "/etc/labctl-smoke.txt") == f"{SMOKE_MESSAGE}\nhost: {node}\n"
    _, again = playbook("smoke.yml")
    assert {host: counts["changed"] for host, counts in again.items()} == {n: 0 for n in NODE_NAMES}


@pytest.mark.integration
def test_run_checks_against_the_smoke_lab(up, smoke):
    a, b = NODE_NAMES
    checks = [
        PortCheck(name="http on a", node=a, port=8080),
        PortCheck(node=b, port=22),
        PortCheck(name="nothing on 8081", node=b, port=8081),
        CommandCheck(name="a resolves b", node=a, command=f"getent hosts {b}",
                  expect=rf"^{re.escape(up.addresses[b])}\s+{b}\b"),
        CommandCheck(name="b resolves a", node=b, command=f"getent hosts {a}",
                  expect=rf"^{re.escape(up.addresses[a])}\s+{a}\b"),
        CommandCheck(name="served page", node=b, command=f"python3 -c \"import urllib.request as u; print(u.urlopen('http://{a}:8080/').read().decode())\"",
                  expect=re.escape(f"({a})")),
        CommandCheck(name="fails", node=a, command="echo first line; echo second line >&2; exit 3"),
        CommandCheck(name="wrong output", node=a, command="cat /etc/labctl-smoke.txt", expect="^goodbye"),
        HttpCheck.model_validate({"name": "page over http from b", "node": b,
                                  "http": {"url": f"http://{up.addresses[a]}:8080/", "body": re.escape(f"({a})")}}),
    ]
    results = run_checks(checks, dict(up.endpoints), dict(up.addresses))
    http = results.pop()
    assert http.ok and http.node == b, http
    assert http.detail == f"http://{up.addresses[a]}:8080/: status 200, body matches /{re.escape(f'({a})')}/"
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [
        "http on a", "port 22 on node-b", "nothing on 8081", "a resolves b", "b resolves a",
        "served page", "fails", "wrong output",
    ]
    assert all(isinstance(r, CheckResult) and r.seconds >= 0 for r in results)
    for name in ("http on a", "port 22 on node-b", "a resolves b", "b resolves a", "served page"):
        assert by_name[name].ok, by_name[name]
    assert by_name["http on a"].detail == f"port 8080 open on {up.addresses[a]}"
    assert by_name["port 22 on node-b"].node == b
    assert not by_name["nothing on 8081"].ok
    assert "8081" in by_name["nothing on 8081"].detail and up.addresses[b] in by_name["nothing on 8081"].detail
    failed = by_name["fails"]
    assert not failed.ok and failed.node == a
    assert failed.detail.startswith("exit code 3")
    assert "first line" in failed.detail and "second line" in failed.detail
    wrong = by_name["wrong output"]
    assert not wrong.ok and "does not match" in wrong.detail and SMOKE_MESSAGE in wrong.detail


@pytest.mark.integration
def test_run_checks_reports_unknown_and_unreachable_nodes(up):
    with _ClosedPort() as (port, _):
        endpoints = {"gone": Endpoint("gone", "127.0.0.1", port, "vagrant", str(up.key))}
        results = run_checks(
            [CommandCheck(node="gone", command="true"), PortCheck(node="nowhere", port=22)], endpoints, {},
        )
    assert [r.ok for r in results] == [False, False]
    assert "cannot connect over SSH" in results[0].detail
    assert results[1].detail == "no SSH endpoint known for node nowhere"


@pytest.mark.integration
def test_wait_for_ssh_names_nodes_refusing_the_key(up, tmp_path):
    stranger, garbage = tmp_path / "stranger", tmp_path / "garbage"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(stranger))
    garbage.write_text("not a private key\n")
    a = up.endpoints[NODE_NAMES[0]]
    endpoints = [
        Endpoint("wrong-key", a.host, a.port, a.user, str(stranger)),
        Endpoint("bad-key", a.host, a.port, a.user, str(garbage)),
    ]
    with pytest.raises(SSHUnreachable) as caught:
        wait_for_ssh(endpoints, timeout=2)
    assert set(caught.value.failures) == {"wrong-key", "bad-key"}
    assert caught.value.failures["wrong-key"] == "Authentication failed."
    assert caught.value.failures["bad-key"].startswith(f"cannot use private key {garbage}: ")


class _ClosedPort:
    """A loopback port bound but not listening: connections are refused, no one else gets it."""

    def __enter__(self) -> tuple[int, socket.socket]:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1], self.sock

    def __exit__(self, *exc) -> None:
        self.sock.close()


class _HangupServer:
    """A loopback port that accepts connections and closes them at once: no SSH banner."""

    def __enter__(self) -> int:
        self.sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed by __exit__
                return
            conn.close()

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_wait_for_ssh_times_out_naming_the_nodes(tmp_path, capfd):
    key = tmp_path / "key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(key))  # never offered: no server answers
    with _ClosedPort() as (refused, _), _HangupServer() as silent:
        endpoints = [
            Endpoint("lonely-1", "127.0.0.1", refused, "vagrant", str(key)),
            Endpoint("lonely-2", "127.0.0.1", silent, "vagrant", str(key)),
        ]
        started = time.monotonic()
        with pytest.raises(SSHUnreachable) as caught:
            wait_for_ssh(endpoints, timeout=2)
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 6  # both nodes waited for in parallel
    error = caught.value
    assert isinstance(error, LabctlError) and error.hint
    assert error.message.startswith("SSH not reachable within 2s on nodes lonely-1, lonely-2; last error: ")
    assert re.search(r"lonely-1: .*(refused|Unable to connect)", error.message, re.I)
    assert "lonely-2: Error reading SSH protocol banner" in error.message
    assert set(error.failures) == {"lonely-1", "lonely-2"}
    assert capfd.readouterr() == ("", "")  # paramiko's tracebacks are not printed


def test_wait_for_ssh_fails_at_once_without_a_key_file(tmp_path):
    started = time.monotonic()
    with pytest.raises(SSHUnreachable, match="ghost-1: cannot use private key .*No such file"):
        wait_for_ssh([Endpoint("ghost-1", "127.0.0.1", 1, "vagrant", str(tmp_path / "missing"))], timeout=30)
    assert time.monotonic() - started < 5

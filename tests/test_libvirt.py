"""The smoke lab on vagrant-libvirt for real: 3 QEMU VMs (TCG, no KVM), phases, checks, then down.

Slow (several minutes) and optional: excluded by the default `-m 'not libvirt'`. Run it with

    bash .ci/setup-libvirt.sh && labctl box build --provider libvirt
    pytest -m libvirt tests/test_libvirt.py

The lab is called `virtsmoke` so it never meets the docker smoke lab. Its `lab` network
(192.168.78.0/24) is created by the lab; its `keep` network (192.168.79.0/24) and the
management network `vagrant-libvirt` are defined by this test beforehand when absent, so
`down` must leave them alone while removing the VMs, their disks and the lab network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import need_tools, skip_or_fail

pytestmark = pytest.mark.libvirt

LAB = "virtsmoke"
URI = "qemu:///system"
PREFIX = f"{LAB}_"  # lv.default_prefix: domains and their disks are named virtsmoke_smoke-N
NODES = ("smoke-1", "smoke-2", "smoke-3")
UP_TIMEOUT = 45 * 60  # three VMs under TCG on a 2-core machine take minutes, more when it is busy
KEEP_NET = ("labctl-test-keep", "192.168.79.1")
MGMT_NET = ("vagrant-libvirt", "192.168.121.1")  # vagrant-libvirt's default management network

SPEC = textwrap.dedent(
    r"""
    name: virtsmoke
    extends: smoke
    provider: libvirt
    providers:
      libvirt: {driver: qemu}     # TCG: there is no usable KVM here
    defaults:
      memory: 512                 # 256 MiB (smoke's default) is tight for a full Debian VM
    networks:
      lab: {cidr: 192.168.78.0/24, start: 11}   # not 192.168.121.0/24: that is the management network
      keep: {cidr: 192.168.79.0/24, start: 11}  # exists before `up` (this test defines it)
    checks:
      - name: smoke-2 resolves smoke-3
        node: smoke-2
        command: getent hosts smoke-3
        expect: "^192\\.168\\.78\\.13\\s+smoke-3"
      - name: smoke-1 has its address on the kept network
        node: smoke-1
        command: ip -4 -o addr show
        expect: "inet 192\\.168\\.79\\.11/24"
      - name: smoke-1 reaches sshd on smoke-3 over the kept network
        node: smoke-1
        command: timeout 20 bash -c 'exec 3<>/dev/tcp/192.168.79.13/22 && head -c 8 <&3'
        expect: "^SSH-2\\.0"
    """
)


def labctl(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, timeout=timeout)


def virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, check=check, timeout=120)


def _names(*args: str) -> set[str]:
    return {line.strip() for line in virsh(*args).stdout.splitlines() if line.strip()}


def _domains() -> set[str]:
    return {d for d in _names("list", "--all", "--name") if d.startswith(PREFIX)}


def _networks() -> set[str]:
    return _names("net-list", "--all", "--name")


def _volumes() -> set[str]:
    found = virsh("-q", "vol-list", "default", check=False).stdout
    return {line.split()[0] for line in found.splitlines() if line.split() and line.split()[0].startswith(PREFIX)}


_missing = skip_or_fail


def _need_libvirt() -> None:
    need_tools("vagrant", "virsh", "ansible-playbook")
    env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1"}
    plugins = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True, env=env, timeout=120)
    if "vagrant-libvirt" not in plugins.stdout:
        _missing("vagrant-libvirt is not installed (bash .ci/setup-libvirt.sh)")
    if virsh("list", check=False).returncode != 0:
        _missing(f"libvirtd does not answer on {URI} (bash .ci/setup-libvirt.sh starts it)")
    boxes = subprocess.run(["vagrant", "box", "list"], capture_output=True, text=True, env=env, timeout=120)
    if not any(line.startswith("labctl/debian12 ") and "(libvirt" in line for line in boxes.stdout.splitlines()):
        _missing("vagrant box labctl/debian12 (libvirt) is missing: labctl box build --provider libvirt")
    if _domains():
        pytest.fail(f"libvirt domains from an earlier run are still there: {sorted(_domains())}; remove them with "
                    f"`virsh destroy NAME; virsh undefine NAME --remove-all-storage`")


def _define_network(name: str, address: str, nat: bool, dhcp: bool) -> bool:
    """Define and start network `name` unless it exists; True when this test defined it."""
    if name in _networks():
        return False
    base = address.rsplit(".", 1)[0]
    xml = "<network><name>{}</name>{}<ip address='{}' netmask='255.255.255.0'>{}</ip></network>".format(
        name,
        "<forward mode='nat'/>" if nat else "",
        address,
        f"<dhcp><range start='{base}.2' end='{base}.254'/></dhcp>" if dhcp else "",
    )
    path = os.path.join(os.environ["LABCTL_HOME"], f"{name}.xml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(xml)
    virsh("net-define", path)
    virsh("net-start", name)
    return True


def _undefine_network(name: str) -> None:
    virsh("net-destroy", name, check=False)
    virsh("net-undefine", name, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The virtsmoke lab, up; the module's last test takes it down, and the finalizer makes sure."""
    _need_libvirt()
    spec = tmp_path_factory.mktemp("virtsmoke") / "virtsmoke.yaml"
    spec.write_text(SPEC)
    _define_network(*KEEP_NET, nat=False, dhcp=False)
    defined = [KEEP_NET[0]]  # this test's own network, also when an earlier run left it behind
    if _define_network(*MGMT_NET, nat=True, dhcp=True):
        defined.append(MGMT_NET[0])
    before = _networks()
    try:
        up = labctl("up", str(spec), timeout=UP_TIMEOUT)
        yield {"spec": spec, "up": up, "networks_before": before}
    finally:
        if _domains():
            labctl("down", str(spec), "--force")
        # vagrant-libvirt names the lab network after the lab directory (virtsmoke0): a leftover
        # would be reused by the next run and hide a leak, so it goes, like the test's own networks.
        leftovers = {n for n in _networks() - before if n.startswith(LAB)}
        for name in sorted(leftovers | set(defined)):
            _undefine_network(name)


def test_up_boots_provisions_and_verifies(lab):
    up = lab["up"]
    assert up.returncode == 0, f"labctl up failed:\n{up.stderr[-3000:]}"
    for check in ("smoke-2 resolves smoke-3", "smoke-1 has its address on the kept network",
                  "smoke-1 reaches sshd on smoke-3 over the kept network"):
        assert f"PASS {check}" in up.stdout, up.stdout
    running = set(_names("list", "--name"))
    assert {PREFIX + node for node in NODES} <= running


def test_status_json_shows_running_nodes_and_done_phases(lab):
    result = labctl("status", str(lab["spec"]), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["provider"] == "libvirt"
    assert [(n["name"], n["state"], n["address"]) for n in report["nodes"]] == [
        ("smoke-1", "running", "192.168.78.11"),
        ("smoke-2", "running", "192.168.78.12"),
        ("smoke-3", "running", "192.168.78.13"),
    ]
    assert report["phases"] == [{"name": "common", "status": "done"}, {"name": "smoke", "status": "done"}]


def test_verify_passes_over_ssh(lab):
    result = labctl("verify", str(lab["spec"]), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 4  # smoke's ssh check and the three above
    assert all(row["ok"] for row in rows), rows


def test_down_removes_vms_and_only_the_networks_the_lab_created(lab):
    down = labctl("down", str(lab["spec"]))
    assert down.returncode == 0, down.stderr[-3000:]
    assert _domains() == set(), "VMs left after down"
    assert _volumes() == set(), "VM disks left in the default pool after down"
    after = _networks()
    kept = {KEEP_NET[0], MGMT_NET[0]}
    if "default" in lab["networks_before"]:
        kept.add("default")
    assert kept <= after, f"down removed networks labctl did not create: {sorted(kept - after)}"
    assert after == lab["networks_before"], (
        f"networks before up: {sorted(lab['networks_before'])}, after down: {sorted(after)}"
    )
    status = json.loads(labctl("status", str(lab["spec"]), "--json").stdout)
    assert {n["state"] for n in status["nodes"]} == {"not created"}


"""The nsxt lab's KVM hosts registered as NSX-T transport nodes (`register_kvm_hosts=true`).

Against tests/doubles/nsxt.py (with nsxt_hosts.py): a DOUBLE of the NSX-T Manager API, not NSX-T, which is
licensed and cannot run here. It validates bodies against the 2.5.1 schema and, as the manager does when it
registers a KVM host, logs in to each host for real (paramiko SSH to ip_addresses[0] as root with the given
password) and compares the presented RSA host key's thumbprint with the one labctl sent.

The CLI test boots two docker machines (labctl/debian12) with prepare_hosts=false: the KVM packages need a
real KVM host (tests/test_host_roles.py runs what a container allows of them), so only the credential part of
the kvm_host role runs on the machines (tasks_from: nsx_login, in the settings phase): root's password (the
lab's generated secret kvm_root_password), root's password login over SSH, the host key read from the host.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, need_shared, need_tools

NSX_PASSWORD = "Nsx-Kvm-Double-Pa55!"
LAB = "nsxkvm1"
NET = "192.168.210"
NODES = ["nsxt-kvm-1", "nsxt-kvm-2"]
ECDSA = "groups.kvm_hosts.vars.kvm_host_nsx_host_key_file=/etc/ssh/ssh_host_ecdsa_key.pub"
RSA = "groups.kvm_hosts.vars.kvm_host_nsx_host_key_file=/etc/ssh/ssh_host_rsa_key.pub"
# A hardened host: an earlier Match block wins, so root may not log in with a password.
HARDEN = r"sed -i '/# BEGIN labctl kvm_host/i Match User root\n    PasswordAuthentication no' /etc/ssh/sshd_config"
UNHARDEN = r"sed -i '/^Match User root$/{N;/PasswordAuthentication no/d}' /etc/ssh/sshd_config"


@pytest.fixture
def double():
    need_shared()
    sys.path.insert(0, str(ROOT))
    from tests.doubles.nsxt import running

    with running("admin", NSX_PASSWORD) as (manager, port, cafile):
        yield manager, port


def _spec(directory: Path) -> Path:
    """The built-in nsxt lab on the Debian 12 docker box (its Python), in this test's own subnet."""
    spec = {
        "name": LAB, "extends": "nsxt",
        "defaults": {"box": "labctl/debian12", "image": "labctl/debian12:latest", "python": "3.11", "cpus": 1, "memory": 256},
        "networks": {"transport": {"cidr": f"{NET}.0/24", "start": 10}},
        "params": {"tep_pool_cidr": f"{NET}.0/24", "tep_pool_start": f"{NET}.200", "tep_pool_end": f"{NET}.220"},
    }
    path = directory / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


class Cli:
    """labctl as the user runs it; every output kept for the leak check."""

    def __init__(self) -> None:
        self.outputs: list[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, LABCTL_NSX_PASSWORD=NSX_PASSWORD)
        done = subprocess.run([sys.executable, "-m", "labctl", *args], env=env, capture_output=True, text=True, timeout=900)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def fails(self, *args: str) -> list[str]:
        """The run fails with exit 1; returns the lines that name a transport node."""
        done = self.run(*args)
        assert done.returncode == 1, f"rc {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return [line for line in (done.stdout + done.stderr).splitlines() if "transport_node " in line]


def _host_nodes(manager) -> dict[str, dict]:
    return {n["display_name"]: n for n in manager.objects["transport-nodes"].values()
            if n["node_deployment_info"]["resource_type"] == "HostNode"}


def _by_name(manager, coll: str) -> dict[str, dict]:
    return {o["display_name"]: o for o in manager.objects[coll].values()}


def _thumbprint_in_container(node: str) -> str:
    """NSX-T's KVM recipe (base64 of the SHA-256 of the key blob) computed here from the container's key file."""
    line = subprocess.run(["docker", "exec", f"{LAB}-{node}", "cat", "/etc/ssh/ssh_host_rsa_key.pub"],
                          capture_output=True, text=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(base64.b64decode(line.split()[1])).digest()).decode()


def _docker_sh(node: str, script: str) -> None:
    subprocess.run(["docker", "exec", f"{LAB}-{node}", "sh", "-c", f"{script} && kill -HUP $(cat /run/sshd.pid)"], check=True)


def _forget_host_nodes(manager) -> None:
    """Someone removed the hosts' transport nodes on the manager: the next run registers them again."""
    with manager.lock:
        for oid in [n["id"] for n in _host_nodes(manager).values()]:
            del manager.objects["transport-nodes"][oid]


def _fresh(manager) -> None:
    """The double as it starts (edges, the manager's own profiles), on the same port."""
    from tests.doubles.nsxt import Manager

    with manager.lock:
        fresh = Manager(manager.user, manager.password, manager.schema)
        fresh.lock = manager.lock
        manager.__dict__.update(fresh.__dict__)


def _assert_registered(manager, pool_end: int = 220) -> None:
    nodes = _host_nodes(manager)
    assert sorted(nodes) == NODES
    zones = _by_name(manager, "transport-zones")
    pool = _by_name(manager, "pools/ip-pools")["tep-pool"]
    profile = _by_name(manager, "host-switch-profiles")["labctl-kvm-uplink"]
    for index, name in enumerate(NODES):
        node = nodes[name]
        assert node["node_deployment_info"]["ip_addresses"] == [f"{NET}.{10 + index}"]
        assert node["node_deployment_info"]["os_type"] == "UBUNTUKVM" and "host_credential" not in node["node_deployment_info"]
        assert node["tags"] == [{"scope": "labctl", "tag": LAB}]
        assert {e["transport_zone_id"] for e in node["transport_zone_endpoints"]} == {zones["tz-overlay"]["id"], zones["tz-vlan"]["id"]}
        overlay, vlan = node["host_switch_spec"]["host_switches"]
        assert overlay["host_switch_name"] == "nvds-overlay" and vlan["host_switch_name"] == "nvds-vlan"
        assert overlay["ip_assignment_spec"] == {"resource_type": "StaticIpPoolSpec", "ip_pool_id": pool["id"]}
        assert overlay["pnics"] == [{"device_name": "eth1", "uplink_name": "uplink-1"}] and vlan["pnics"] == []
        assert {"key": "UplinkHostSwitchProfile", "value": profile["id"]} in overlay["host_switch_profile_ids"]
    assert pool["subnets"] == [{"cidr": f"{NET}.0/24", "allocation_ranges": [{"start": f"{NET}.200", "end": f"{NET}.{pool_end}"}]}]
    assert profile["mtu"] == 1600 and profile["teaming"]["active_list"] == [{"uplink_name": "uplink-1", "uplink_type": "PNIC"}]


def _plan_objects(stdout: str) -> list[dict]:
    return [o for phase in json.loads(stdout) for task in phase["tasks"] for o in task.get("objects", [])]


def _no_root_password_leak(cli: Cli, manager) -> None:
    labdir = Path(os.environ["LABCTL_HOME"]) / "labs" / LAB
    password = json.loads((labdir / ".labctl" / "secrets.json").read_text())["kvm_root_password"]["value"]
    assert len(password) >= 16
    holders = sorted(str(p.relative_to(labdir)) for p in labdir.rglob("*") if p.is_file() and password in p.read_text(errors="replace"))
    assert holders == [".labctl/secrets.json", "inventory/hosts.yml"]
    assert all((labdir / h).stat().st_mode & 0o777 == 0o600 for h in holders)
    assert not any(password in text or NSX_PASSWORD in text for text in cli.outputs)
    assert password not in json.dumps(manager.state())  # the manager keeps no credential


@pytest.mark.integration
def test_kvm_hosts_become_transport_nodes_through_the_cli(double, tmp_path):
    need_tools("vagrant", "docker", "ansible-playbook")
    manager, port = double
    cli = Cli()
    spec = _spec(tmp_path)
    sets = ["--set", f"nsx_manager=127.0.0.1:{port}", "--set", "nsx_validate_certs=false", "--set", "prepare_hosts=false",
            "--set", "register_kvm_hosts=true"]
    try:
        cli.ok("up", str(spec), "--provider", "docker", *sets)
        _assert_registered(manager)
        logins = manager.state()["host_logins"]
        assert [(x["address"], x["username"], x["error"]) for x in logins] == [(f"{NET}.10", "root", None), (f"{NET}.11", "root", None)]
        assert [x["thumbprint"] for x in logins] == [_thumbprint_in_container(n) for n in NODES]

        written = len(manager.writes)
        cli.ok("provision", LAB)
        assert len(manager.writes) == written
        objects = _plan_objects(cli.ok("plan", LAB, "--json"))
        assert len(manager.writes) == written
        ours = [(o["kind"], o["name"], o["action"]) for o in objects if o["kind"] in ("transport_node", "ip_pool", "uplink_profile")]
        assert ours == [("uplink_profile", "labctl-kvm-uplink", "unchanged"), ("ip_pool", "tep-pool", "unchanged"),
                        ("transport_node", "nsxt-kvm-1", "unchanged"), ("transport_node", "nsxt-kvm-2", "unchanged")]

        _fresh(manager)  # a manager without anything of the lab: the plan lists every object as a create, writes nothing
        objects = _plan_objects(cli.ok("plan", LAB, "--json"))
        assert manager.writes == [] and {o["action"] for o in objects} == {"create"}
        assert [(o["kind"], o["name"]) for o in objects][-4:] == [
            ("uplink_profile", "labctl-kvm-uplink"), ("ip_pool", "tep-pool"), ("transport_node", "nsxt-kvm-1"), ("transport_node", "nsxt-kvm-2")]
        cli.ok("provision", LAB)
        _assert_registered(manager)
        written = len(manager.writes)

        # one changed setting updates only that object, and a 412 in between is re-read and retried
        manager.inject.append({"method": "PUT", "match": "/pools/ip-pools/"})
        cli.ok("provision", LAB, "--set", f"tep_pool_end={NET}.230")
        pool = _by_name(manager, "pools/ip-pools")["tep-pool"]
        assert [(w["method"], w["path"]) for w in manager.writes[written:]] == [("PUT", f"/pools/ip-pools/{pool['id']}")] * 2
        assert pool["subnets"][0]["allocation_ranges"] == [{"start": f"{NET}.200", "end": f"{NET}.230"}] and not manager.inject

        # the manager's own default uplink profile, looked up by name (it is listed only with include_system_owned)
        written = len(manager.writes)
        cli.ok("provision", LAB, "--set", "kvm_uplink_profile=nsx-default-uplink-hostswitch-profile",
               "--set", "kvm_uplink_profile_create=false")
        default = _by_name(manager, "host-switch-profiles")["nsx-default-uplink-hostswitch-profile"]
        nodes = _host_nodes(manager)
        assert [(w["method"], w["path"]) for w in manager.writes[written:]] == [
            ("PUT", f"/transport-nodes/{nodes[n]['id']}") for n in NODES]
        for node in nodes.values():
            entries = node["host_switch_spec"]["host_switches"][0]["host_switch_profile_ids"]
            assert entries[0] == {"key": "UplinkHostSwitchProfile", "value": default["id"]} and node["_revision"] == 1
            assert entries[1]["key"] == "LldpHostSwitchProfile"  # the manager's own entry is kept, not fought over
        written = len(manager.writes)

        _forget_host_nodes(manager)  # the plan of a manager without them: a create each, and still no write
        planned = [(o["name"], o["action"]) for o in _plan_objects(cli.ok("plan", LAB, "--json")) if o["kind"] == "transport_node"]
        assert planned == [("nsxt-kvm-1", "create"), ("nsxt-kvm-2", "create")] and len(manager.writes) == written

        # labctl told to read the ECDSA key: the manager sees the RSA key, another thumbprint, and refuses
        lines = cli.fails("provision", LAB, "--set", ECDSA)
        assert len(lines) == 1, lines
        assert f"transport_node nsxt-kvm-1: POST /api/v1/transport-nodes failed (HTTP 400): Host node nsxt-kvm-1: Host {NET}.10 " \
               "presented SSH host key thumbprint " in lines[0] and "not the thumbprint" in lines[0]
        assert _host_nodes(manager) == {}

        # a host that refuses root's password login: the manager cannot log in
        for node in NODES:
            _docker_sh(node, HARDEN)
        lines = cli.fails("provision", LAB, "--set", RSA, "--set", "kvm_uplink_profile=labctl-kvm-uplink",
                          "--set", "kvm_uplink_profile_create=true")
        assert len(lines) == 1 and lines[0].endswith(f"Host node nsxt-kvm-1: Failed to log in to host {NET}.10 as root: "
                                                     "invalid user name or password"), lines
        for node in NODES:
            _docker_sh(node, UNHARDEN)
        cli.ok("provision", LAB)
        _assert_registered(manager, pool_end=230)  # the --set of tep_pool_end above stays in the lab's record
        _no_root_password_leak(cli, manager)

        cli.ok("down", LAB)
        state = manager.state()
        assert state["transport-nodes"] == ["edge-1", "edge-2"] and state["transport-zones"] == [] and state["pools/ip-pools"] == []
        assert state["host-switch-profiles"] == ["LLDP [Send Packet Disabled]", "nsx-default-uplink-hostswitch-profile"]
        assert all(state[c] == [] for c in ("edge-clusters", "logical-switches", "logical-ports", "logical-routers", "logical-router-ports"))
        assert not any(NSX_PASSWORD in text for text in cli.outputs)
    finally:
        cli.run("down", LAB, "--force")


# -- without machines: the thumbprint recipe and the double's own registration rules ---------------------------

def _module_utils():
    sys.path.insert(0, str(ROOT / "ansible" / "collections"))
    from ansible_collections.labctl.products.plugins.module_utils import labctl_nsxt_hosts

    return labctl_nsxt_hosts


def test_thumbprint_is_the_sha256_of_the_host_key_as_ssh_keygen_and_paramiko_see_it(tmp_path):
    need_tools("ssh-keygen")
    import paramiko

    sys.path.insert(0, str(ROOT))
    from tests.doubles.nsxt_hosts import host_thumbprint

    key = tmp_path / "ssh_host_rsa_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(key)], check=True)
    listed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{key}.pub"], capture_output=True, text=True, check=True)
    unpadded = listed.stdout.split()[1].removeprefix("SHA256:")
    mine = _module_utils().thumbprint((tmp_path / "ssh_host_rsa_key.pub").read_text())
    assert mine == unpadded + "=" and len(mine) == 44  # NSX-T's recipe ends in `| base64`: padded
    assert mine == host_thumbprint(paramiko.RSAKey.from_private_key_file(str(key)))
    with pytest.raises(ValueError, match="not an OpenSSH public key line"):
        _module_utils().thumbprint("-----BEGIN OPENSSH PRIVATE KEY-----")


@pytest.fixture
def nsx():
    need_shared()
    sys.path.insert(0, str(ROOT))
    from tests.doubles.nsxt import ApiError, Manager

    manager = Manager("admin", NSX_PASSWORD, ssh_port=_closed_port())
    auth = "Basic " + base64.b64encode(f"admin:{NSX_PASSWORD}".encode()).decode()

    def call(method, path, body=None, query=None):
        try:
            return manager.handle(method, path, query or {}, body, auth)
        except ApiError as err:
            return err.status, err.body()

    call.manager = manager
    return call


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: nothing listens there


def _setup(nsx) -> dict:
    zone = nsx("POST", "/transport-zones", {"display_name": "tz-o", "transport_type": "OVERLAY", "host_switch_name": "nvds-o"})[1]
    pool = nsx("POST", "/pools/ip-pools", {"display_name": "tep", "subnets": [
        {"cidr": "192.0.2.0/24", "allocation_ranges": [{"start": "192.0.2.10", "end": "192.0.2.20"}]}]})[1]
    teaming = {"policy": "FAILOVER_ORDER", "active_list": [{"uplink_name": "uplink-1", "uplink_type": "PNIC"}]}
    profile = nsx("POST", "/host-switch-profiles", {"resource_type": "UplinkHostSwitchProfile", "display_name": "up",
                                                    "teaming": teaming})[1]
    return {"zone": zone, "pool": pool, "profile": profile}


def _host_node(refs: dict, uplink: str = "uplink-1", profile: str | None = None, credential: dict | None = None) -> dict:
    switch = {"host_switch_name": "nvds-o", "pnics": [{"device_name": "eth1", "uplink_name": uplink}],
              "host_switch_profile_ids": [{"key": "UplinkHostSwitchProfile", "value": profile or refs["profile"]["id"]}],
              "ip_assignment_spec": {"resource_type": "StaticIpPoolSpec", "ip_pool_id": refs["pool"]["id"]}}
    info = {"resource_type": "HostNode", "os_type": "UBUNTUKVM", "ip_addresses": ["127.0.0.1"],
            "host_credential": credential or {"username": "root", "password": "x" * 12, "thumbprint": "A" * 43 + "="}}
    return {"display_name": "kvm", "node_deployment_info": info, "transport_zone_endpoints": [{"transport_zone_id": refs["zone"]["id"]}],
            "host_switch_spec": {"resource_type": "StandardHostSwitchSpec", "host_switches": [switch]}}


def test_double_checks_references_and_the_host_login_at_registration(nsx):
    refs = _setup(nsx)
    status, body = nsx("POST", "/transport-nodes", _host_node(refs, profile="no-such-profile"))
    assert status == 404 and body["error_message"] == "Host switch profile no-such-profile does not exist"
    status, body = nsx("POST", "/transport-nodes", _host_node(refs, uplink="uplink-9"))
    assert status == 400 and "Uplink uplink-9 of pnic eth1 is not in the uplink profile" in body["error_message"]
    status, body = nsx("POST", "/transport-nodes", _host_node(refs, credential={"username": "root", "password": "x" * 12}))
    assert status == 400 and body["error_message"] == "Host node kvm: host_credential.thumbprint is required to register a KVM host"
    bad_type = _host_node(refs)
    bad_type["node_deployment_info"]["os_type"] = "DEBIANKVM"
    status, body = nsx("POST", "/transport-nodes", bad_type)
    assert status == 400 and "'DEBIANKVM' is not one of" in body["error_message"]
    status, body = nsx("POST", "/transport-nodes", _host_node(refs))  # nothing listens: the manager cannot reach it
    assert status == 400 and body["error_message"].startswith("Host node kvm: Failed to connect to host 127.0.0.1:")
    assert [x["error"] is not None for x in nsx.manager.host_logins] == [True, True]
    assert nsx("GET", "/transport-nodes")[1]["result_count"] == 2  # the edges only


def test_double_keeps_what_a_transport_node_uses(nsx):
    refs = _setup(nsx)
    node = _host_node(refs)
    del node["node_deployment_info"]["host_credential"]
    nsx.manager._store("transport-nodes", node)  # a host registered earlier (its SSH login is tested above)
    assert nsx("DELETE", f"/transport-zones/{refs['zone']['id']}")[0] == 400
    assert nsx("DELETE", f"/pools/ip-pools/{refs['pool']['id']}")[0] == 400
    assert nsx("DELETE", f"/host-switch-profiles/{refs['profile']['id']}")[0] == 400
    names = [p["display_name"] for p in nsx("GET", "/host-switch-profiles")[1]["results"]]
    everything = nsx("GET", "/host-switch-profiles", query={"include_system_owned": "true"})[1]["results"]
    assert names == ["up"] and len(everything) == 3
    default = next(p for p in everything if p["display_name"] == "nsx-default-uplink-hostswitch-profile")
    assert nsx("DELETE", f"/host-switch-profiles/{default['id']}")[0] == 403
    assert nsx("PUT", f"/host-switch-profiles/{default['id']}", dict(default, mtu=9000))[0] == 403
    status, body = nsx("POST", "/pools/ip-pools", {"display_name": "p2", "subnets": [
        {"cidr": "192.0.2.0/24", "allocation_ranges": [{"start": "198.51.100.1", "end": "198.51.100.9"}]}]})
    assert status == 400 and "is not inside 192.0.2.0/24" in body["error_message"]

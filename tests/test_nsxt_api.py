"""The NSX-T settings and teardown phases, run for real (Ansible through ansible-runner, HTTPS verified with
the double's CA) against tests/doubles/nsxt.py: a DOUBLE of the NSX-T Manager API that enforces the 2.5.1
schema, `_revision` and the manager's ordering rules. NSX-T itself is licensed and cannot run here.

The inventory is the real one: `labctl render nsxt` of labs/nsxt.yaml, the password from LABCTL_NSX_PASSWORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, need_shared, need_tools

PASSWORD = "Nsx-Double-Pa55word!"
LAB = "nsxt"
SETTINGS = ROOT / "ansible" / "playbooks" / "nsxt-settings.yml"
TEARDOWN = ROOT / "ansible" / "playbooks" / "nsxt-teardown.yml"
pytestmark = pytest.mark.integration


@pytest.fixture
def double():
    need_shared()
    sys.path.insert(0, str(ROOT))
    from tests.doubles.nsxt import running

    with running("admin", PASSWORD) as (manager, port, cafile):
        yield manager, port, cafile


class Lab:
    """A rendered nsxt lab directory and the runs of its phases."""

    def __init__(self, tmp_path: Path, port: int, cafile: str) -> None:
        self.dir, self.port, self.cafile = tmp_path / "lab", port, cafile
        self.outputs: list[str] = []

    def render(self, *sets: str) -> None:
        base = [f"nsx_manager=127.0.0.1:{self.port}", f"nsx_ca_file={self.cafile}", "prepare_hosts=false"]
        args = [a for s in [*base, *sets] for a in ("--set", s)]
        env = dict(os.environ, LABCTL_NSX_PASSWORD=PASSWORD)
        done = subprocess.run([sys.executable, "-m", "labctl", "render", LAB, "-o", str(self.dir), "--provider", "docker", *args],
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def run(self, playbook: Path, check: bool = False) -> dict:
        """Run one phase like labctl does; return its module result (labctl_objects, msg, failed)."""
        import ansible_runner

        results: list[dict] = []
        rundir = self.dir / ".labctl" / "runs" / playbook.stem
        rundir.mkdir(parents=True, exist_ok=True)
        collect = lambda e: results.append(e["event_data"]["res"]) if e.get("event") in ("runner_on_ok", "runner_on_failed") and \
            (e["event_data"].get("task_action", "").endswith("nsxt_design") or e["event"] == "runner_on_failed") else None  # noqa: E731
        done = ansible_runner.run(
            private_data_dir=str(rundir), playbook=str(playbook),
            inventory=str(self.dir / "inventory"), quiet=True, suppress_env_files=True, event_handler=lambda e: collect(e) or True,
            extravars={"labctl_lab": LAB, "labctl_labdir": str(self.dir)}, cmdline="--check --diff" if check else None,
            envvars={"ANSIBLE_CONFIG": str(self.dir / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                     "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "ansible" / "collections"),
                     "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
        self.outputs.append(done.stdout.read())
        assert results, self.outputs[-1][-2000:]
        return dict(results[-1], rc=done.rc)


@pytest.fixture
def lab(double, tmp_path):
    need_tools("ansible-playbook")
    manager, port, cafile = double
    lab = Lab(tmp_path, port, cafile)
    lab.render()
    yield lab
    _no_password_anywhere(lab)


def _no_password_anywhere(lab: Lab) -> None:
    import base64

    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    for text in lab.outputs:
        assert PASSWORD not in text and token not in text
    for path in (lab.dir / ".labctl").rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            data = path.read_text(errors="replace")
            assert PASSWORD not in data and token not in data, f"password in {path}"


def actions(result: dict) -> list[tuple[str, str, str]]:
    return [(o["kind"], o["name"], o["action"]) for o in result["labctl_objects"]]


def writes(manager) -> list[tuple[str, str]]:
    return [(w["method"], w["path"]) for w in manager.writes]


def test_first_run_creates_the_design_in_a_valid_order(double, lab):
    manager = double[0]
    result = lab.run(SETTINGS)
    assert result["rc"] == 0 and result["changed"]
    assert {a for _, _, a in actions(result)} == {"create"}
    state = manager.state()
    assert state["transport-zones"] == ["tz-overlay", "tz-vlan"]
    assert state["edge-clusters"] == ["edge-cluster-1"] and state["logical-routers"] == ["t0-gateway", "t1-tenant"]
    assert state["logical-switches"] == ["ls-uplink", "ls-web"]
    objs = state["objects"]
    by_name = {o["display_name"]: o for c in objs.values() for o in c.values()}
    edges = [by_name["edge-1"]["id"], by_name["edge-2"]["id"]]
    assert [m["transport_node_id"] for m in by_name["edge-cluster-1"]["members"]] == edges
    for edge in ("edge-1", "edge-2"):
        zones = {e["transport_zone_id"] for e in by_name[edge]["transport_zone_endpoints"]}
        assert zones == {by_name["tz-overlay"]["id"], by_name["tz-vlan"]["id"]}
    ports = {p["display_name"]: p for p in objs["logical-router-ports"].values()}
    uplink = ports["t0-gateway-uplink-1"]
    assert uplink["resource_type"] == "LogicalRouterUpLinkPort" and uplink["edge_cluster_member_index"] == [0]
    assert uplink["subnets"] == [{"ip_addresses": ["192.0.2.2"], "prefix_length": 24}]
    assert by_name["ls-uplink"]["vlan"] == 100 and by_name["t0-gateway"]["high_availability_mode"] == "ACTIVE_STANDBY"
    t0_link, t1_link = ports["t0-gateway-to-t1-tenant"], ports["t1-tenant-to-t0-gateway"]
    assert t1_link["linked_logical_router_port_id"]["target_id"] == t0_link["id"]
    assert t0_link["linked_logical_router_port_id"] == t1_link["id"]
    assert ports["t1-tenant-ls-web"]["subnets"] == [{"ip_addresses": ["172.16.10.1"], "prefix_length": 24}]
    assert state["advertisement"]["t1-tenant"]["advertise_nsx_connected_routes"] is True
    tag = {"scope": "labctl", "tag": LAB}
    assert all(tag in o["tags"] for c, rows in objs.items() if c != "transport-nodes" for o in rows.values()
               if not o["_system_owned"])  # the manager's own default profiles
    order = [path.split("/")[1] for method, path in writes(manager) if method == "POST"]
    assert order.index("transport-zones") < order.index("edge-clusters") < order.index("logical-routers")


def test_second_run_writes_nothing(double, lab):
    manager = double[0]
    lab.run(SETTINGS)
    before = len(manager.writes)
    result = lab.run(SETTINGS)
    assert len(manager.writes) == before
    assert not result["changed"] and {a for _, _, a in actions(result)} == {"unchanged"}


def test_one_changed_setting_updates_only_that_object(double, lab):
    manager = double[0]
    lab.run(SETTINGS)
    before = len(manager.writes)
    lab.render("uplink_vlan=200")
    result = lab.run(SETTINGS)
    switch = next(o for o in manager.objects["logical-switches"].values() if o["display_name"] == "ls-uplink")
    assert writes(manager)[before:] == [("PUT", f"/logical-switches/{switch['id']}")]
    assert switch["vlan"] == 200 and switch["_revision"] == 1
    changed = [o for o in result["labctl_objects"] if o["action"] != "unchanged"]
    assert changed == [{"kind": "logical_switch", "name": "ls-uplink", "action": "update", "fields": ["vlan"]}]


def test_check_mode_writes_nothing_and_reports_what_a_real_run_does(double, lab):
    manager = double[0]
    plan = lab.run(SETTINGS, check=True)
    assert manager.writes == []
    assert {a for _, _, a in actions(plan)} == {"create"} and len(plan["labctl_objects"]) == 18
    real = lab.run(SETTINGS)
    assert actions(real) == actions(plan)
    assert [o["fields"] for o in real["labctl_objects"]] == [o["fields"] for o in plan["labctl_objects"]]
    lab.render("tier0_ha_mode=ACTIVE_ACTIVE")
    plan = lab.run(SETTINGS, check=True)
    assert [o for o in plan["labctl_objects"] if o["action"] != "unchanged"] == [
        {"kind": "tier0", "name": "t0-gateway", "action": "update", "fields": ["high_availability_mode"]}]
    assert len(manager.writes) == len(real["labctl_objects"]) - 2  # two memberships per edge share one PUT


def test_a_412_in_the_middle_is_retried(double, lab):
    manager = double[0]
    manager.inject.append({"method": "PUT", "match": "advertisement"})
    first = lab.run(SETTINGS)
    assert first["rc"] == 0 and not manager.inject
    puts = [p for m, p in writes(manager) if m == "PUT" and p.endswith("advertisement")]
    assert len(puts) == 2  # the stale one (412), then the retry after reading the object again
    assert manager.state()["advertisement"]["t1-tenant"]["advertise_nsx_connected_routes"] is True
    manager.inject.append({"method": "PUT", "match": "/logical-switches/"})
    lab.render("uplink_vlan=300")
    assert lab.run(SETTINGS)["rc"] == 0
    assert next(o for o in manager.objects["logical-switches"].values() if o["display_name"] == "ls-uplink")["vlan"] == 300


def test_teardown_removes_exactly_what_was_created(double, lab):
    manager = double[0]
    user_zone = manager.handle("POST", "/transport-zones", {}, {"display_name": "tz-overlay", "transport_type": "OVERLAY",
                                                             "host_switch_name": "nvds-overlay"}, _auth())[1]
    edge = next(o for o in manager.objects["transport-nodes"].values() if o["display_name"] == "edge-1")
    edge["transport_zone_endpoints"] = [{"transport_zone_id": user_zone["id"]}]  # the user's own membership
    before = json.loads(json.dumps(manager.objects))
    created = lab.run(SETTINGS)
    assert ("transport_zone", "tz-overlay", "unchanged") in actions(created)  # the user's zone is used, not copied
    assert ("tz_membership", "edge-1/tz-overlay", "unchanged") in actions(created)
    gone = lab.run(TEARDOWN)
    assert gone["rc"] == 0, gone.get("msg")
    assert {k for k, n, a in actions(gone)} >= {"tier0", "tier1", "logical_switch", "edge_cluster", "tz_membership"}
    assert all(a == "delete" for _, _, a in actions(gone))
    after = manager.objects
    assert {c: set(rows) for c, rows in after.items()} == {c: set(rows) for c, rows in before.items()}
    endpoints = {o["display_name"]: o["transport_zone_endpoints"] for o in after["transport-nodes"].values()}
    assert endpoints == {"edge-1": [{"transport_zone_id": user_zone["id"]}], "edge-2": []}
    assert not (lab.dir / ".labctl" / "nsxt-memberships.json").exists()


def _auth() -> str:
    import base64

    return "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()


def test_a_manager_error_is_one_line_naming_the_object(double, lab):
    lab.render("tier0_uplink_member=5")
    result = lab.run(SETTINGS)
    assert result["rc"] != 0
    assert result["msg"].startswith("tier0_uplink t0-gateway-uplink-1: POST /api/v1/logical-router-ports failed (HTTP 400): ")
    assert result["msg"].endswith("Edge cluster member index 5 is not valid (the cluster has 2)") and "\n" not in result["msg"]


def test_two_objects_of_one_name_are_an_error_not_the_first_one(double, lab):
    manager = double[0]
    for _ in range(2):
        manager.handle("POST", "/logical-routers", {}, {"display_name": "t1-tenant", "router_type": "TIER1"}, _auth())
    result = lab.run(SETTINGS, check=True)
    assert result["rc"] != 0 and result["msg"].startswith("tier1 t1-tenant: 2 objects of that name on the manager (ids ")
    assert len(manager.writes) == 2  # only the test's own two


def test_wrong_password_is_a_clear_error(double, lab):
    hosts = lab.dir / "inventory" / "hosts.yml"
    hosts.write_text(hosts.read_text().replace(PASSWORD, "wrong-password-1"))
    result = lab.run(SETTINGS)
    assert result["rc"] != 0 and "HTTP 403" in result["msg"] and "credentials were incorrect" in result["msg"]
    assert "wrong-password-1" not in result["msg"]


def test_a_manager_that_does_not_answer_is_a_clear_error(double, lab):
    port = _free_port()
    lab.render(f"nsx_manager=127.0.0.1:{port}")
    result = lab.run(TEARDOWN)
    assert result["rc"] != 0
    assert result["msg"].startswith(f"nsx_manager 127.0.0.1:{port}: GET /api/v1/transport-nodes failed (no response): ")
    assert "refused" in result["msg"].lower()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the double itself enforces the manager's rules (so the runs above prove something) ------------------

@pytest.fixture
def nsx():
    need_shared()
    sys.path.insert(0, str(ROOT))
    from tests.doubles.nsxt import ApiError, Manager

    manager = Manager("admin", PASSWORD)

    def call(method, path, body=None, query=None, auth=_auth()):
        try:
            return manager.handle(method, path, query or {}, body, auth)
        except ApiError as err:
            return err.status, err.body()

    return call


def test_double_validates_bodies_against_the_schema(nsx):
    status, body = nsx("POST", "/transport-zones", {"display_name": "z", "transport_type": "GENEVE", "colour": "red"})
    assert status == 400
    assert "'GENEVE' is not one of ['OVERLAY', 'VLAN']" in body["error_message"] and "field colour is not allowed" in body["error_message"]
    status, body = nsx("POST", "/logical-router-ports", {"resource_type": "LogicalRouterDownLinkPort", "logical_router_id": "x"})
    assert status == 400 and "required property subnets is missing" in body["error_message"]
    status, zone = nsx("POST", "/transport-zones", {"transport_type": "VLAN", "_revision": 7, "_create_user": "me"})
    assert status == 201 and zone["_revision"] == 0 and zone["_create_user"] == "admin"  # read-only fields ignored


def test_double_enforces_revision_and_authentication(nsx):
    zone = nsx("POST", "/transport-zones", {"display_name": "z", "transport_type": "VLAN"})[1]
    assert nsx("PUT", f"/transport-zones/{zone['id']}", {"display_name": "z2", "transport_type": "VLAN"})[0] == 412
    assert nsx("PUT", f"/transport-zones/{zone['id']}", dict(zone, _revision=5))[0] == 412
    assert nsx("PUT", f"/transport-zones/{zone['id']}", dict(zone, display_name="z2"))[1]["_revision"] == 1
    assert nsx("PUT", f"/transport-zones/{zone['id']}", dict(zone, transport_type="OVERLAY", _revision=1))[0] == 400
    assert nsx("GET", "/transport-zones", auth=None)[0] == 401
    assert nsx("GET", "/transport-zones", auth="Basic YWRtaW46bm9wZQ==")[0] == 403


def test_double_enforces_link_order_port_types_and_delete_rules(nsx):
    t0 = nsx("POST", "/logical-routers", {"display_name": "t0", "router_type": "TIER0"})[1]
    t1 = nsx("POST", "/logical-routers", {"display_name": "t1", "router_type": "TIER1"})[1]
    link1 = {"resource_type": "LogicalRouterLinkPortOnTIER1", "logical_router_id": t1["id"]}
    assert nsx("POST", "/logical-router-ports", dict(link1, linked_logical_router_port_id={"target_id": "none"}))[0] == 404
    status, body = nsx("POST", "/logical-router-ports", {"resource_type": "LogicalRouterLinkPortOnTIER0", "logical_router_id": t1["id"]})
    assert status == 400 and "cannot be created on TIER1 router t1" in body["error_message"]
    port0 = nsx("POST", "/logical-router-ports", {"resource_type": "LogicalRouterLinkPortOnTIER0", "logical_router_id": t0["id"]})[1]
    port1 = nsx("POST", "/logical-router-ports", dict(link1, linked_logical_router_port_id={"target_id": port0["id"]}))[1]
    assert nsx("GET", f"/logical-router-ports/{port0['id']}")[1]["linked_logical_router_port_id"] == port1["id"]
    assert nsx("DELETE", f"/logical-router-ports/{port0['id']}")[0] == 400  # still linked
    assert nsx("DELETE", f"/logical-routers/{t1['id']}")[0] == 400  # has a port
    assert nsx("DELETE", f"/logical-routers/{t1['id']}", query={"force": "true"})[0] == 200
    assert nsx("DELETE", f"/logical-router-ports/{port0['id']}")[0] == 200


# -- the "Done when", through the CLI: docker machines, the double as its own process ----------------

class Standalone:
    """`python -m tests.doubles.nsxt` as a process on one port; restart() gives a fresh manager there."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir, self.port, self.proc = tmp_path, 0, None

    def start(self) -> None:
        env = dict(os.environ, NSXT_DOUBLE_PASSWORD=PASSWORD, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.doubles.nsxt", "--port", str(self.port), "--dir", str(self.dir)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.proc.stdout.readline())["port"]

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def hook(self, name: str):
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=str(self.dir / "cert.pem"))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/_double/{name}", context=context, timeout=10) as resp:
            return json.loads(resp.read())


def labctl(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABCTL_NSX_PASSWORD=PASSWORD)
    return subprocess.run([sys.executable, "-m", "labctl", *args], env=env, capture_output=True, text=True, timeout=900)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert PASSWORD not in done.stdout + done.stderr
    return done.stdout


def test_done_when_through_the_cli(tmp_path):
    need_shared()
    need_tools("vagrant", "docker", "ansible-playbook")
    double = Standalone(tmp_path)
    double.start()
    try:
        sets = ["--set", f"nsx_manager=127.0.0.1:{double.port}", "--set", "nsx_validate_certs=false", "--set", "prepare_hosts=false"]
        _ok(labctl("up", LAB, "--provider", "docker", *sets))
        state = double.hook("state")
        assert state["transport-zones"] == ["tz-overlay", "tz-vlan"] and state["edge-clusters"] == ["edge-cluster-1"]
        assert state["logical-routers"] == ["t0-gateway", "t1-tenant"] and len(state["logical-router-ports"]) == 4
        assert state["advertisement"]["t1-tenant"]["advertise_nsx_connected_routes"] is True
        written = len(double.hook("writes"))
        _ok(labctl("provision", LAB))
        assert len(double.hook("writes")) == written

        double.restart()  # a fresh manager: the plan lists every object as to be created and writes nothing
        report = json.loads(_ok(labctl("plan", LAB, "--json")))
        objects = [o for phase in report for task in phase["tasks"] for o in task.get("objects", [])]
        assert len(objects) == 18 and {o["action"] for o in objects} == {"create"}
        assert double.hook("writes") == []
        home = Path(os.environ["LABCTL_HOME"]) / "labs" / LAB / ".labctl"
        leaks = [p for p in home.rglob("*") if p.is_file() and p.name != "secrets.json" and PASSWORD in p.read_text(errors="replace")]

        double.restart()  # apply again, then down leaves only the edges, as they were
        _ok(labctl("provision", LAB))
        _ok(labctl("down", LAB))
        state = double.hook("state")
        assert {k: v for k, v in state.items() if k not in ("objects", "advertisement", "host_logins")} == {
            "transport-zones": [], "transport-nodes": ["edge-1", "edge-2"], "edge-clusters": [], "logical-switches": [],
            "logical-ports": [], "logical-routers": [], "logical-router-ports": [], "pools/ip-pools": [],
            "host-switch-profiles": ["LLDP [Send Packet Disabled]", "nsx-default-uplink-hostswitch-profile"]}
        assert [n["transport_zone_endpoints"] for n in state["objects"]["transport-nodes"].values()] == [[], []]
        # ansible-runner writes the whole environment (LABCTL_NSX_PASSWORD too) into each run's artifacts/*/command
        assert leaks == [], f"password in {leaks}"
    finally:
        labctl("down", LAB, "--force")
        double.stop()

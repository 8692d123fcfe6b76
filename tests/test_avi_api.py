"""The Avi configuration phase (ansible/playbooks/avi-config.yml + labctl.products avi_* modules) run for
real: real Ansible through labctl's own phase runner (ansible-runner), real HTTPS, against the Avi
controller API TEST DOUBLE in tests/doubles/avi.py (it enforces the vendor's 17.2 swagger from
../shared/reference/avi). The Service Engine hosts are two real docker machines brought up by labctl
with the hosts helper's avi-se-hosts.yml; the double registers an SE only after it could SSH into a
host as the connector user with the lab's key and run `sudo -n true`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, need_shared, need_tools
from doubles import avi as avi_double

from labctl import paths
from labctl.errors import PhaseFailed
from labctl.provision import run
from labctl.spec import load_lab
from labctl.spec.model import PhaseSpec

sys.path.insert(0, str(ROOT / "ansible" / "collections"))
from ansible_collections.labctl.products.plugins.module_utils import labctl_rest as rest
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import (
    header_version,
    ip_addr,
    local_refs,
)

INITIAL = "Factory-Pass-17.2"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
TASK = "Admin password, DNS/NTP/SMTP, connector user, Linux-server cloud, SE registration"


def labctl(*args, **kw):
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, check=False, **kw)


def se_spec(name: str, cidr: str) -> dict:
    """A spec extending nothing: the avi spec's params, secrets and inventory vars, two docker SE hosts."""
    avi = yaml.safe_load((ROOT / "labs" / "avi.yaml").read_text())
    return {"name": name, "provider": "docker", "params": avi["params"], "secrets": avi["secrets"],
            "defaults": {"image": "labctl/debian12:latest"},
            "networks": {"lab": {"cidr": cidr, "start": 10}},
            "nodes": {"avx-se-[1:2]": {"groups": ["service_engines"]}},
            "groups": {"controllers": {}, "service_engines": {}},
            "inventory": avi["inventory"],
            "phases": [p for p in avi["phases"] if p["name"] == "avi-se-hosts"]}


@pytest.fixture(scope="module")
def se_lab(tmp_path_factory):
    """Two SE hosts (docker) with the connector user, key and sudo; destroyed afterwards."""
    need_tools("vagrant", "docker")
    if subprocess.run(["docker", "image", "inspect", "labctl/debian12:latest"], capture_output=True, check=False).returncode:
        pytest.skip("needs the labctl/debian12 image: labctl box build --provider docker")
    spec = tmp_path_factory.mktemp("avx") / "avx-api.yaml"
    spec.write_text(yaml.safe_dump(se_spec("avx-api", "192.168.141.0/24"), sort_keys=False))
    try:
        # the factory password as a user sets it: a param, so it lands in the 0600 inventory (never an extravar)
        up = labctl("up", str(spec), "--set", f"avi_initial_password={INITIAL}")
        assert up.returncode == 0, up.stderr[-3000:]
        lab, _ = load_lab(str(spec), sets=[f"avi_initial_password={INITIAL}"])
        yield lab, paths.lab_home(lab.name)
    finally:
        labctl("down", str(spec), "--force")


@pytest.fixture
def double():
    shared = need_shared()
    started = avi_double.start(shared / "reference" / "avi", INITIAL, register_timeout=60)
    yield started
    started.stop()


class Runner:
    """Runs the avi-config phase the way labctl does; keeps every progress line and run directory."""

    def __init__(self, lab, labdir, double, tmp_path):
        self.lab, self.labdir, self.double, self.tmp = lab, labdir, double, tmp_path
        self.lines, self.rundirs = [], []

    def __call__(self, check=False, **params):
        params = {"avi_controller": self.double.url, "avi_ca_file": self.double.cafile,
                  "avi_se_register_timeout": 60, "dns_servers": ["192.0.2.53"], "ntp_servers": ["192.0.2.123"],
                  "search_domain": "lab.example", **params}
        phase = PhaseSpec(name="avi-config", playbook="playbooks/avi-config.yml", always=True,
                          vars=params)
        rundir = self.tmp / f"run{len(self.rundirs)}"
        self.rundirs.append(rundir)
        before = len(self.double.controller.calls)
        outcome = run(self.lab, self.labdir, phase, self.lines.append, check=check, rundir=rundir)
        return outcome, self.double.controller.calls[before:]


@pytest.fixture
def runner(se_lab, double, tmp_path):
    lab, labdir = se_lab
    return Runner(lab, labdir, double, tmp_path)


def objects(outcome):
    return [o for r in outcome.results for o in r["objects"]]


def writes(calls):
    return [c for c in calls if c[0] in WRITES and c[1] != "/login"]


def secrets_of(labdir):
    """The admin password and the connector private key (and each of its lines) of the lab."""
    inventory = yaml.safe_load((labdir / "inventory" / "hosts.yml").read_text())["all"]["vars"]
    key = Path(inventory["avi_connector_private_key_file"]).read_text()
    lines = [line for line in key.splitlines() if len(line) > 20 and "PRIVATE KEY" not in line]
    return [inventory["avi_admin_password"], INITIAL, *lines]


@pytest.mark.integration
def test_first_run_configures_the_controller_then_a_second_run_writes_nothing(runner):
    first, calls = runner()
    ctl = runner.double.controller
    assert [c[1].split("/")[2] for c in writes(calls)] == ["useraccount", "systemconfiguration", "cloudconnectoruser", "cloud"]
    assert ctl.password == secrets_of(runner.labdir)[0] and not ctl.initial
    system = ctl.objects["systemconfiguration"]["default"]
    assert system["dns_configuration"] == {"server_list": [{"addr": "192.0.2.53", "type": "V4"}], "search_domain": "lab.example"}
    assert system["ntp_configuration"]["ntp_servers"] == [{"server": {"addr": "192.0.2.123", "type": "V4"}}]
    cloud = next(iter(ctl.objects["cloud"].values()))
    hosts = [h["host_ip"] for h in cloud["linuxserver_configuration"]["hosts"]]
    assert cloud["name"] == "Default-Cloud" and cloud["vtype"] == "CLOUD_LINUXSERVER"
    assert hosts == [{"addr": "192.168.141.10", "type": "V4"}, {"addr": "192.168.141.11", "type": "V4"}]
    assert sorted(se["name"] for se in ctl.objects["serviceengine"].values()) == ["192.168.141.10", "192.168.141.11"]
    assert ctl.se_errors == {"192.168.141.10": None, "192.168.141.11": None}  # it logged in as the connector user
    assert {o["kind"]: o["action"] for o in objects(first)} == {
        "useraccount": "update", "systemconfiguration": "update", "cloudconnectoruser": "create",
        "cloud": "update", "serviceengine": "unchanged"}

    second, calls = runner()
    assert writes(calls) == []
    assert {o["action"] for o in objects(second)} == {"unchanged"}
    assert [r["status"] for r in second.results] == ["ok"]


@pytest.mark.integration
def test_changed_ntp_server_updates_only_systemconfiguration_and_check_mode_says_so_first(runner):
    runner()
    planned, calls = runner(check=True, ntp_servers=["192.0.2.124"])
    assert writes(calls) == []
    done, calls = runner(ntp_servers=["192.0.2.124"])
    assert writes(calls) == [("PUT", "/api/systemconfiguration")]
    changed = [o for o in objects(done) if o["action"] != "unchanged"]
    assert changed == [{"kind": "systemconfiguration", "name": "default", "action": "update",
                        "fields": ["ntp_configuration.ntp_servers"]}]
    assert objects(planned) == objects(done)  # check mode reported exactly what the run did


@pytest.mark.integration
def test_check_mode_on_a_fresh_controller_writes_nothing_and_lists_every_change(runner):
    planned, calls = runner(check=True)
    assert writes(calls) == []
    assert runner.double.controller.initial  # the factory password is still the one
    actions = {o["kind"]: (o["action"], o["fields"]) for o in objects(planned)}
    assert actions["useraccount"] == ("update", ["password"])
    assert actions["cloudconnectoruser"] == ("create", ["name", "public_key"])
    assert actions["cloud"][0] == "update" and "linuxserver_configuration.ssh_user_ref" in actions["cloud"][1]


@pytest.mark.integration
def test_api_error_is_one_line_naming_the_object(runner):
    runner.double.controller.inject("PUT", "/api/cloud/", 400, "Cloud Default-Cloud has virtual services;\ncannot change vtype")
    with pytest.raises(PhaseFailed) as info:
        runner()
    failure = info.value.failures[0]
    assert failure.startswith(f"localhost: {TASK}: cloud Default-Cloud: PUT /api/cloud/cloud-")
    assert failure.endswith("failed (HTTP 400): Cloud Default-Cloud has virtual services; cannot change vtype")


@pytest.mark.integration
def test_wrong_initial_password_is_a_clear_error(runner):
    with pytest.raises(PhaseFailed) as info:
        runner(avi_initial_password="not-the-factory-one")
    failure = info.value.failures[0]
    assert "useraccount admin: neither the lab's admin password nor avi_initial_password is accepted by" in failure
    assert runner.double.controller.initial and writes(runner.double.controller.calls) == []
    assert "not-the-factory-one" not in failure


@pytest.mark.integration
def test_stale_object_is_reread_and_written_again_on_412(runner):
    runner()
    runner.double.controller.inject("PUT", "/api/systemconfiguration", 412, "Concurrent Update Error")
    _, calls = runner(ntp_servers=["192.0.2.125"])
    assert writes(calls) == [("PUT", "/api/systemconfiguration")] * 2
    servers = runner.double.controller.objects["systemconfiguration"]["default"]["ntp_configuration"]["ntp_servers"]
    assert servers == [{"server": {"addr": "192.0.2.125", "type": "V4"}}]


@pytest.mark.integration
def test_passwords_and_private_key_never_appear_in_output_logs_or_artifacts(runner):
    runner(check=True)
    runner()
    runner(ntp_servers=["192.0.2.126"])
    runner.double.controller.inject("PUT", "/api/systemconfiguration", 400, "bad request")
    with pytest.raises(PhaseFailed) as info:
        runner(ntp_servers=["192.0.2.127"])
    texts = ["\n".join(runner.lines), info.value.render()]
    for rundir in runner.rundirs:
        texts += [p.read_text(errors="replace") for p in rundir.rglob("*") if p.is_file()]
    leaked = [s for s in secrets_of(runner.labdir) if any(s in t for t in texts)]
    assert leaked == [] and len(texts) > 20


def test_double_refuses_what_the_controller_refuses(double):
    """The double itself: a body field the 17.2 schema lacks, and writes without the CSRF header."""
    RestError, Session = rest.RestError, rest.Session
    session = Session(double.url, ca_path=double.cafile, retries=0, headers={"X-Avi-Version": "17.2.11", "Referer": double.url})
    session.post("/login", {"username": "admin", "password": INITIAL})
    with pytest.raises(RestError, match="CSRF"):
        session.put("/api/useraccount", {"old_password": INITIAL, "password": "New-Pass-1234"})
    session.headers["X-CSRFToken"] = session.cookie("csrftoken")
    with pytest.raises(RestError, match="must be changed first"):
        session.get("/api/systemconfiguration")
    session.put("/api/useraccount", {"old_password": INITIAL, "password": "New-Pass-1234"})
    body = session.get("/api/systemconfiguration").body
    body["dns_configuration"]["resolvers"] = []
    with pytest.raises(RestError, match=r"dns_configuration\.resolvers: unknown field"):
        session.put("/api/systemconfiguration", body)



@pytest.mark.integration
def test_env_supplied_passwords_stay_out_of_run_artifacts(runner, monkeypatch):
    """LABCTL_AVI_INITIAL_PASSWORD reaches Ansible only through the 0600 inventory (the secret
    avi_initial_password), never through its environment, which ansible-runner records."""
    from labctl.render import render_lab

    monkeypatch.setenv("LABCTL_AVI_INITIAL_PASSWORD", INITIAL)
    lab, _ = load_lab(str(runner.lab.request.spec_path))  # the param left empty: the environment's wins
    render_lab(lab, runner.labdir)
    inventory = runner.labdir / "inventory" / "hosts.yml"
    assert INITIAL in inventory.read_text() and inventory.stat().st_mode & 0o777 == 0o600
    runner.lab = lab
    runner()
    assert not runner.double.controller.initial
    files = [p for p in runner.rundirs[0].rglob("*") if p.is_file()]
    assert files and [p.name for p in files if INITIAL in p.read_text(errors="replace")] == []


@pytest.mark.integration
def test_labctl_up_avi_against_the_double_then_provision_and_plan_write_nothing(double):
    """The issue's "Done when", through the CLI: the built-in avi lab on docker, its controller the double."""
    need_tools("vagrant", "docker")
    if subprocess.run(["docker", "image", "inspect", "labctl/debian12:latest"], capture_output=True, check=False).returncode:
        pytest.skip("needs the labctl/debian12 image: labctl box build --provider docker")
    ctl = double.controller
    sets = [f"avi_controller={double.url}", "avi_validate_certs=false", f"avi_initial_password={INITIAL}",
            "dns_servers=[192.0.2.53]", "ntp_servers=[192.0.2.123]"]
    try:
        up = labctl("up", "avi", "--provider", "docker", *[a for s in sets for a in ("--set", s)])
        assert up.returncode == 0, up.stderr[-3000:]
        secret = labctl("secret", "avi", "avi_admin_password").stdout.strip()
        assert ctl.password == secret and len(secret) >= 8 and secret not in up.stdout + up.stderr
        system = ctl.objects["systemconfiguration"]["default"]
        assert system["dns_configuration"]["server_list"] == [{"addr": "192.0.2.53", "type": "V4"}]
        assert system["ntp_configuration"]["ntp_servers"] == [{"server": {"addr": "192.0.2.123", "type": "V4"}}]
        assert [u["name"] for u in ctl.objects["cloudconnectoruser"].values()] == ["aviconnector"]
        cloud = next(c for c in ctl.objects["cloud"].values() if c["name"] == "Default-Cloud")
        assert cloud["vtype"] == "CLOUD_LINUXSERVER"
        status = json.loads(labctl("status", "avi", "--json").stdout)
        addrs = sorted(n["address"] for n in status["nodes"] if n["name"].startswith("avi-se-"))
        assert len(addrs) == 2 and all(a.startswith("192.168.70.") for a in addrs)
        assert [h["host_ip"]["addr"] for h in cloud["linuxserver_configuration"]["hosts"]] == addrs
        assert sorted(se["name"] for se in ctl.objects["serviceengine"].values()) == addrs

        before = len(ctl.calls)
        again = labctl("provision", "avi")
        assert again.returncode == 0, again.stderr[-3000:]
        assert writes(ctl.calls[before:]) == [] and len(ctl.calls) > before  # it did read the controller
        plan = labctl("plan", "avi", "--json")
        assert plan.returncode == 0, plan.stderr[-3000:]
        assert writes(ctl.calls[before:]) == [] and '"update"' not in plan.stdout and '"create"' not in plan.stdout
        assert '"unchanged"' in plan.stdout
        labdir = Path(json.loads(labctl("status", "avi", "--json").stdout)["directory"])
        files = [p for d in ("runs", "logs") for p in (labdir / ".labctl" / d).rglob("*") if p.is_file()]
        texts = [p.read_text(errors="replace") for p in files] + [up.stdout, up.stderr, again.stdout, plan.stdout]
        assert len(files) > 10 and [s for s in secrets_of(labdir) if any(s in t for t in texts)] == []
    finally:
        labctl("down", "avi", "--force")


def test_diff_compares_only_the_fields_the_spec_sets():
    current = {"uuid": "x", "dns_configuration": {"server_list": [{"addr": "192.0.2.1", "type": "V4"}], "search_domain": "a"},
               "ntp_configuration": {"ntp_servers": [{"server": {"addr": "192.0.2.2", "type": "V4"}, "key_number": 1}]}}
    same = {"ntp_configuration": {"ntp_servers": [{"server": {"addr": "192.0.2.2", "type": "V4"}}]}}
    assert rest.diff_fields(same, current) == []
    other = {"dns_configuration": {"server_list": [{"addr": "192.0.2.9", "type": "V4"}], "search_domain": "a"}, "mtu": 1500}
    assert rest.diff_fields(other, current) == ["dns_configuration.server_list", "mtu"]
    assert rest.diff_fields({"a": [1, 2]}, {"a": [2, 1]}) == ["a"]  # order matters (DNS servers are tried in order)


def test_merge_applies_the_wanted_fields_over_the_object():
    merged = rest.merge({"uuid": "x", "c": {"a": 1, "b": [1]}}, {"c": {"b": [2]}, "d": True})
    assert merged == {"uuid": "x", "c": {"a": 1, "b": [2]}, "d": True}
    assert rest.flatten_fields({"c": {"b": [2], "e": {}}, "d": True}) == ["c.b", "c.e", "d"]


def test_redactor_masks_secrets_and_secret_named_fields():
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\n-----END OPENSSH PRIVATE KEY-----\n"
    redactor = rest.Redactor(["S3cret-pass", key])
    assert redactor.text("login with S3cret-pass failed") == "login with ******** failed"
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE" not in redactor.text("key line b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE")
    assert redactor.value({"private_key": "anything", "name": "S3cret-pass"}) == {"private_key": "********", "name": "********"}


def test_avi_values_version_addresses_and_refs():
    assert header_version("17.2.11-9014") == "17.2.11" and header_version("18.2.3") == "18.2.3"
    with pytest.raises(ValueError, match="not an Avi version"):
        header_version("latest")
    assert [ip_addr(a) for a in ("192.0.2.1", "2001:db8::1", "ntp.example")] == [
        {"addr": "192.0.2.1", "type": "V4"}, {"addr": "2001:db8::1", "type": "V6"}, {"addr": "ntp.example", "type": "DNS"}]
    assert local_refs({"x": {"ssh_user_ref": "https://10.0.0.1/api/cloudconnectoruser/u-1#aviconnector"}}) == {
        "x": {"ssh_user_ref": "/api/cloudconnectoruser/u-1"}}


def test_session_retries_5xx_rereads_on_412_and_names_unreachable_hosts(double):
    session = rest.Session(double.url, ca_path=double.cafile, retries=2, headers={"X-Avi-Version": "17.2.11", "Referer": double.url})
    double.controller.inject("POST", "/login", 503, "controller starting")
    session.post("/login", {"username": "admin", "password": INITIAL})  # retried once, then logged in
    assert double.controller.calls == [("POST", "/login")] * 2 and session.cookie("csrftoken")
    session.headers["X-CSRFToken"] = session.cookie("csrftoken")
    session.put("/api/useraccount", {"old_password": INITIAL, "password": "New-Pass-1234"})
    stale = session.get("/api/systemconfiguration").body
    double.controller.inject("PUT", "/api/systemconfiguration", 412, "Concurrent Update Error")
    reread = []
    session.put("/api/systemconfiguration", stale, on_412=lambda: reread.append(1) or session.get("/api/systemconfiguration").body)
    assert reread == [1]
    closed = rest.Session("https://127.0.0.1:9", retries=0)  # nothing listens on port 9 here
    with pytest.raises(rest.RestError, match=r"^GET /api/cloud failed \(no response\): .*refused"):
        closed.get("/api/cloud")


SINGLE = """
- name: The single-object modules
  hosts: localhost
  connection: local
  gather_facts: false
  vars: {ansible_python_interpreter: "{{ ansible_playbook_python }}"}
  module_defaults:
    group/labctl.products.avi: {controller: "%(url)s", password: "%(password)s", api_version: 17.2.11-9014, ca_path: "%(ca)s"}
  tasks:
    - {name: password, labctl.products.avi_password: {initial_password: "%(initial)s"}}
    - {name: system, labctl.products.avi_systemconfig: {ntp_servers: [192.0.2.123], smtp_type: SMTP_NONE}}
    - name: user
      labctl.products.avi_cloudconnectoruser: {name: aviconnector, private_key_file: "%(key)s", public_key: "%(public)s"}
    - {name: cloud, labctl.products.avi_cloud: {hosts: [127.0.0.1], ssh_user: aviconnector}}
    - {name: wait, labctl.products.avi_se_wait: {hosts: {se-one: 127.0.0.1}, wait_timeout: 1, delay: 0.5}}
"""


@pytest.mark.integration
def test_single_object_modules_and_a_service_engine_that_never_registers(tmp_path):
    """avi_password .. avi_se_wait one by one (plain ansible-playbook); the double cannot SSH to port 9."""
    need_tools("ansible-playbook")
    ctl_double = avi_double.start(need_shared() / "reference" / "avi", INITIAL, ssh_port=9, register_timeout=5)
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
        playbook = tmp_path / "single.yml"
        playbook.write_text(SINGLE % {"url": ctl_double.url, "password": "Lab-Pass-12345", "ca": ctl_double.cafile,
                                      "initial": INITIAL, "key": tmp_path / "key",
                                      "public": (tmp_path / "key.pub").read_text().strip()})
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "ansible" / "collections"), ANSIBLE_NOCOLOR="1")
        done = subprocess.run(["ansible-playbook", "-i", "localhost,", str(playbook)], capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 2, done.stdout[-2000:]
        assert "serviceengine registration: 1 of 1 Service Engine hosts did not register within 1s: se-one (127.0.0.1)" in done.stdout
        assert "ok=4" in done.stdout and "changed=4" in done.stdout and "failed=1" in done.stdout
        assert ctl_double.controller.password == "Lab-Pass-12345"
        assert "Unable to connect to port 9" in (ctl_double.controller.se_errors.get("127.0.0.1") or "")
        assert "Lab-Pass-12345" not in done.stdout and INITIAL not in done.stdout
    finally:
        ctl_double.stop()


def test_double_answers_in_the_request_version(double):
    """An older X-Avi-Version gets objects without newer fields, and can PUT them back (as from the controller)."""
    session = rest.Session(double.url, ca_path=double.cafile, retries=0, headers={"X-Avi-Version": "17.2.4", "Referer": double.url})
    session.post("/login", {"username": "admin", "password": INITIAL})
    session.headers["X-CSRFToken"] = session.cookie("csrftoken")
    session.put("/api/useraccount", {"old_password": INITIAL, "password": "New-Pass-1234"})
    body = session.get("/api/systemconfiguration").body
    assert "default_license_tier" not in body and "email_configuration" in body  # introduced in 17.2.5
    session.put("/api/systemconfiguration", body)
    with pytest.raises(rest.RestError, match="field introduced in 17.2.5, request version is 17.2.4"):
        session.put("/api/systemconfiguration", session.get("/api/systemconfiguration").body | {"default_license_tier": "ENTERPRISE_18"})

"""The smoke lab for real: Vagrant's docker provider, ansible-runner, paramiko checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import need_tools

pytestmark = pytest.mark.integration


def labctl(*args: str, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, env=env, **kw)


def _containers() -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=org.labctl.lab=smoke"], capture_output=True, text=True)
    return out.stdout.split()


def _networks() -> list[str]:
    out = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True)
    return [n for n in out.stdout.split() if n == "vagrant_network_192.168.56.0/24"]  # the smoke lab's


@pytest.fixture(scope="module")
def smoke_up():
    """One smoke lab for the module; always destroyed at the end."""
    need_tools("vagrant", "docker", "ansible-playbook")
    if subprocess.run(["docker", "image", "inspect", "labctl/debian12:latest"], capture_output=True).returncode:
        need_tools("labctl-box-built")  # fails in CI, skips elsewhere: run `labctl box build --provider docker`
    started = time.monotonic()
    first = labctl("up", "smoke")
    yield first, time.monotonic() - started
    labctl("down", "smoke", "--force")


def test_up_creates_provisions_and_verifies(smoke_up):
    first, _ = smoke_up
    assert first.returncode == 0, first.stderr[-2000:]
    assert "PASS smoke-2 resolves smoke-3: exit code 0" in first.stdout
    assert len(_containers()) == 3


def test_status_json(smoke_up):
    report = json.loads(labctl("status", "smoke", "--json").stdout)
    assert [(n["name"], n["state"], n["address"]) for n in report["nodes"]] == [
        ("smoke-1", "running", "192.168.56.11"), ("smoke-2", "running", "192.168.56.12"), ("smoke-3", "running", "192.168.56.13"),
    ]
    assert report["phases"] == [{"name": "common", "status": "done"}, {"name": "smoke", "status": "done"}]


def test_phases_share_the_labs_fact_cache(smoke_up):
    """ansible-runner would give every run an empty cache: each phase would discover each host's Python again."""
    facts = smoke_dir() / ".labctl" / "facts"
    cached = json.loads(json.loads((facts / "s1_smoke-1").read_text())["__payload__"])
    assert cached["discovered_interpreter_python"].startswith("/usr/bin/python3")
    runs = sorted((smoke_dir() / ".labctl" / "runs" / "smoke" / "artifacts").glob("*/command"))
    env = json.loads(runs[-1].read_text())["env"]
    assert env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] == str(facts)


def test_reup_skips_done_phases(smoke_up):
    again = labctl("up", "smoke")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "common: done already, inputs unchanged" in again.stderr
    assert "smoke: done already, inputs unchanged" in again.stderr
    assert "vagrant up" not in again.stderr


def test_verify_runs_checks_over_ssh(smoke_up):
    result = labctl("verify", "smoke", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["ok"] for r in rows] == [True, True]


def test_hosts_file_lists_every_node(smoke_up):
    out = subprocess.run(["docker", "exec", "smoke-smoke-1", "getent", "hosts", "smoke-3"], capture_output=True, text=True)
    assert out.stdout.split()[:2] == ["192.168.56.13", "smoke-3"]


@pytest.mark.parametrize("strategy", ["linear", "mitogen_free"])
def test_other_ansible_strategies_provision_the_lab_too(smoke_up, tmp_path, strategy):
    """The default run above used mitogen_linear; the spec's ansible.strategy switches it."""
    spec = tmp_path / "lab.yaml"
    spec.write_text(f"name: smoke\nextends: smoke\nansible: {{strategy: {strategy}}}\n")
    result = labctl("provision", str(spec), "--from", "common")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"\nstrategy = {strategy}\n" in (smoke_dir() / "ansible.cfg").read_text()
    assert "PASS smoke-2 resolves smoke-3: exit code 0" in result.stdout


def test_endpoints_from_docker_match_vagrant_ssh_config(smoke_up, tmp_path):
    """`up` reads SSH endpoints from Docker's port map; Vagrant's own answer must be the same."""
    from labctl.providers import get
    from labctl.spec import load_lab

    lab, _ = load_lab("smoke")
    provider = get("docker")
    from_docker = provider.endpoints(lab, smoke_dir())
    assert from_docker == provider.vagrant_endpoints(lab, smoke_dir())
    assert sorted(e.port for e in from_docker.values()) == sorted({e.port for e in from_docker.values()})
    from labctl.providers import docker as docker_state

    assert docker_state.endpoints(lab, tmp_path) is None  # not this directory's containers: ask Vagrant


def test_concurrent_up_is_refused(smoke_up, tmp_path):
    holder = subprocess.Popen([sys.executable, "-m", "labctl", "provision", "smoke", "--only", "smoke"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if (smoke_dir() / ".labctl/lock").exists():
                break
            time.sleep(0.05)
        second = labctl("up", "smoke")
        assert second.returncode == 4
        assert second.stderr.startswith("labctl: error: lab 'smoke' is busy: held by pid ")
    finally:
        holder.wait(timeout=120)


def _phase_running(state_file) -> bool:
    try:
        return any(p["status"] == "running" for p in json.loads(state_file.read_text())["phases"])
    except (OSError, ValueError, KeyError):
        return False


def smoke_dir():
    from pathlib import Path

    return Path(os.environ["LABCTL_HOME"]) / "labs" / "smoke"


def test_failed_phase_then_fixed_resumes(smoke_up, tmp_path):
    spec = tmp_path / "lab.yaml"
    play = tmp_path / "flaky.yml"
    play.write_text("- hosts: smoke\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: test -e /tmp/labctl-fixed\n      changed_when: false\n")
    spec.write_text("name: smoke\nextends: smoke\nphases:\n  - {name: flaky, playbook: flaky.yml}\n")
    failed = labctl("up", str(spec))
    assert failed.returncode == 1
    assert "phase flaky failed" in failed.stderr
    assert "smoke-1: Command" in failed.stderr or "smoke-1:" in failed.stderr
    report = json.loads(labctl("status", str(spec), "--json").stdout)
    assert {p["name"]: p["status"] for p in report["phases"]}["flaky"] == "failed"
    for node in ("smoke-smoke-1", "smoke-smoke-2", "smoke-smoke-3"):
        subprocess.run(["docker", "exec", node, "touch", "/tmp/labctl-fixed"], check=True)
    fixed = labctl("up", str(spec))
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "smoke: done already, inputs unchanged" in fixed.stderr
    report = json.loads(labctl("status", str(spec), "--json").stdout)
    assert {p["name"]: p["status"] for p in report["phases"]}["flaky"] == "done"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_provisioning_then_up_converges(smoke_up, sig):
    proc = subprocess.Popen([sys.executable, "-m", "labctl", "provision", "smoke", "--from", "common"], stderr=subprocess.PIPE, text=True)
    state_file = smoke_dir() / ".labctl/state.json"
    for _ in range(600):
        if _phase_running(state_file):
            break
        time.sleep(0.05)
    else:
        pytest.fail("no phase was ever running")
    proc.send_signal(sig)
    stderr = proc.communicate(timeout=120)[1]
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "labctl: error" not in stderr and "Traceback" not in stderr
        assert "interrupted; state is saved" in stderr
    again = labctl("up", "smoke")
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads(labctl("status", "smoke", "--json").stdout)
    assert {p["status"] for p in report["phases"]} == {"done"}


def test_ssh_runs_a_command_on_a_node(smoke_up):
    result = labctl("ssh", "smoke", "smoke-2", "--", "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "smoke-2"


def test_logs_lists_vagrant_and_phases(smoke_up):
    rows = json.loads(labctl("logs", "smoke", "--json").stdout)
    assert [r["log"] for r in rows][:1] == ["vagrant"]
    assert {"common", "smoke"} <= {r["log"] for r in rows}
    common = labctl("logs", "smoke", "common")
    assert "PLAY RECAP" in common.stdout


def test_missing_image_is_one_clear_line(smoke_up, tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text("name: noimage\nextends: smoke\ndefaults: {image: 'example/no-such-image:1'}\nnetworks: {lab: {cidr: 192.168.79.0/24}}\n")
    result = labctl("up", str(spec))
    assert result.returncode == 3
    assert result.stderr == "labctl: error: docker image example/no-such-image:1 is not on this machine (docker pull example/no-such-image:1, or build it)\n"


def test_same_lab_under_another_home_is_stopped_before_boot(smoke_up, tmp_path):
    """Container names are <lab>-<node>: the running smoke lab belongs to this session's LABCTL_HOME."""
    before = sorted(_containers())
    other = tmp_path / "other-home"
    result = labctl("up", "smoke", env={**os.environ, "LABCTL_HOME": str(other)})
    assert result.returncode == 1
    assert result.stderr == (
        f"labctl: error: docker container smoke-smoke-1 exists, but {other}/labs/smoke did not create it "
        "(a leftover of this lab: `labctl down smoke --force`; another lab directory's lab of the same name: "
        "give this lab another `name`)\n"
    )
    assert sorted(_containers()) == before


def test_failed_vagrant_run_reports_command_and_log(smoke_up, tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text("name: badvagrant\nextends: smoke\nproviders: {docker: {extra: {no_such_setting: 1}}}\nnetworks: {lab: {cidr: 192.168.79.0/24}}\n")
    result = labctl("up", str(spec))
    assert result.returncode == 1
    first = next(line for line in result.stderr.splitlines() if line.startswith("labctl: error:"))
    assert first.startswith("labctl: error: `") and "vagrant up --no-provision --provider=docker` failed with exit code 1; full log: " in first
    assert "no_such_setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_halt_then_up_starts_the_same_machines(smoke_up):
    before = sorted(_containers())
    assert labctl("halt", "smoke").returncode == 0
    report = json.loads(labctl("status", "smoke", "--json").stdout)
    assert {n["state"] for n in report["nodes"]} == {"exited"}
    again = labctl("up", "smoke")
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(_containers()) == before
    report = json.loads(labctl("status", "smoke", "--json").stdout)
    assert {n["state"] for n in report["nodes"]} == {"running"}


def test_doctor_reports_the_host_and_the_lab(smoke_up):
    result = labctl("doctor", "smoke", "--json")
    rows = {r["check"]: r for r in json.loads(result.stdout)}
    assert result.returncode == 0, result.stdout
    assert rows["vagrant"]["status"] == "ok" and rows["vagrant"]["detail"].startswith("Vagrant 2.")
    assert rows["docker"]["status"] == "ok" and rows["ansible"]["status"] == "ok"
    assert rows["mitogen"]["status"] == "ok" and rows["mitogen"]["detail"].startswith("mitogen 0.3.")
    assert rows["base box"]["detail"].startswith("labctl/debian12 for docker")
    assert rows["resources"]["detail"].startswith("lab wants 768 MiB and 3 CPUs")
    assert set(rows) >= {"vagrant providers", "network lab"}


def test_down_leaves_no_containers_or_networks(smoke_up):
    result = labctl("down", "smoke")
    assert result.returncode == 0, result.stderr
    assert _containers() == []
    assert _networks() == []
    report = json.loads(labctl("status", "smoke", "--json").stdout)
    assert {n["state"] for n in report["nodes"]} == {"not created"}


def test_down_force_finds_leftovers_without_vagrant_dir(tmp_path):
    need_tools("vagrant", "docker")
    import shutil

    assert labctl("up", "smoke", "--no-provision").returncode == 0
    shutil.rmtree(smoke_dir() / ".vagrant")
    result = labctl("down", "smoke", "--force")
    assert result.returncode == 0, result.stderr
    assert "removing 3 leftover containers" in result.stderr
    assert _containers() == []
    assert _networks() == []


def test_labctl_test_writes_junit_and_cleans_up(tmp_path):
    need_tools("vagrant", "docker", "ansible-playbook")
    import xml.etree.ElementTree as ET

    report = tmp_path / "junit.xml"
    result = labctl("test", "smoke", "--junit", str(report))
    assert result.returncode == 0, result.stderr[-2000:]
    suite = ET.parse(report).getroot()
    assert suite.get("name") == "labctl.smoke" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite] == ["up", "check: ssh on smoke-1", "check: smoke-2 resolves smoke-3"]
    assert _containers() == []


def test_status_without_lab_lists_every_lab(tmp_path):
    import os as _os

    env = {**_os.environ, "LABCTL_HOME": str(tmp_path / "home")}
    assert labctl("render", "smoke", env=env).returncode == 0
    rows = json.loads(labctl("status", "--json", env=env).stdout)
    assert [(r["lab"], r["nodes"], r["phases done"]) for r in rows] == [("smoke", 0, "0/0")]


def test_recreated_machine_is_provisioned_again(tmp_path):
    need_tools("vagrant", "docker", "ansible-playbook")
    try:
        assert labctl("up", "smoke").returncode == 0
        subprocess.run(["vagrant", "destroy", "-f", "smoke-2"], cwd=smoke_dir(), capture_output=True, check=True)
        stale = smoke_dir() / ".labctl" / "facts" / "s1_smoke-2"
        assert stale.is_file()
        stale.write_text('{"__payload__": "{\\"discovered_interpreter_python\\": \\"/nonexistent/python\\"}"}')
        again = labctl("up", "smoke")
        assert again.returncode == 0, again.stderr[-2000:]
        assert "done already" not in again.stderr
        assert "PASS smoke-2 resolves smoke-3" in again.stdout
    finally:
        labctl("down", "smoke", "--force")

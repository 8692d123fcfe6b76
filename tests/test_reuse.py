"""A user's own lab for real (docker provider): it extends smoke, drops a node and the check that names
it, adds an http check and a playbook with an included task file; then the recorded lab, plan, rerun on
a changed included file, and `labctl secret`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_tools

pytestmark = pytest.mark.integration
LAB = "webfarm"


def labctl(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, cwd=cwd)


SPEC = """\
name: webfarm
extends: smoke
params:
  greeting: hello from labctl
networks:
  lab: {cidr: 192.168.57.0/24, start: 11}
nodes:
  smoke-3: null
groups:
  smoke: {vars: {smoke_message: "${greeting}"}}
secrets:
  demo_htpasswd: {kind: htpasswd, user: demo}
phases:
  - {name: extra, playbook: extra.yml}
checks:
  - {name: smoke-2 resolves smoke-3, drop: true}
  - name: page on smoke-1
    http: {url: "http://192.168.57.11:8080/", body: "${greeting} \\\\(smoke-1\\\\)", retries: 3, delay: 1}
  - name: page seen from smoke-2
    node: smoke-2
    http: {url: "http://smoke-1:8080/", body: "${greeting}"}
  - {name: extra ran, node: smoke-1, command: cat /etc/labctl-extra.txt, expect: "^first$"}
"""


@pytest.fixture(scope="module")
def webfarm(tmp_path_factory):
    need_tools("vagrant", "docker", "ansible-playbook")
    if subprocess.run(["docker", "image", "inspect", "labctl/debian12:latest"], capture_output=True).returncode:
        need_tools("labctl-box-built")
    where = tmp_path_factory.mktemp("webfarm")
    (where / "lab.yaml").write_text(SPEC)
    (where / "extra.yml").write_text(
        "- name: Extra\n  hosts: smoke\n  become: true\n  gather_facts: false\n  tasks:\n"
        "    - name: Included\n      ansible.builtin.include_tasks: tasks/extra-tasks.yml\n")
    (where / "tasks").mkdir()
    _tasks(where, "first")
    up = labctl("up", str(where / "lab.yaml"), "--set", "greeting=hi there")
    try:
        yield where, up
    finally:
        labctl("down", LAB, "--force")


def _tasks(where: Path, text: str) -> None:
    (where / "tasks" / "extra-tasks.yml").write_text(
        f"- name: Write the extra file\n  ansible.builtin.copy:\n    dest: /etc/labctl-extra.txt\n    content: \"{text}\\n\"\n    mode: \"0644\"\n")


def test_extended_lab_with_drops_comes_up_with_every_check_passing(webfarm):
    _, up = webfarm
    assert up.returncode == 0, up.stderr[-3000:]
    assert "smoke-3" not in up.stdout
    lines = [line for line in up.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 4 and all(line.startswith("PASS") for line in lines), up.stdout
    assert "PASS page on smoke-1: http://192.168.57.11:8080/: status 200, body matches" in up.stdout


def test_bare_commands_act_on_the_recorded_lab(webfarm):
    status = json.loads(labctl("status", LAB, "--json").stdout)
    assert [n["name"] for n in status["nodes"]] == ["smoke-1", "smoke-2"]
    verify = labctl("verify", LAB, "--json")
    assert verify.returncode == 0, verify.stderr
    assert all(row["ok"] for row in json.loads(verify.stdout))  # "hi there" from --set, not the spec's default


def test_an_http_check_that_does_not_match_fails_with_a_clear_line(webfarm):
    result = labctl("verify", LAB, "--set", "greeting=goodbye")
    assert result.returncode == 1
    assert "recorded settings changed (--set greeting=goodbye)" in result.stdout
    assert ("FAIL page on smoke-1: http://192.168.57.11:8080/: status 200 but the body does not match "
            "/goodbye \\(smoke-1\\)/") in result.stdout
    back = labctl("verify", LAB, "--set", "greeting=hi there")
    assert back.returncode == 0, back.stdout


def test_changed_included_task_file_reruns_its_phase(webfarm):
    where, _ = webfarm
    same = labctl("provision", LAB)
    assert same.returncode == 0, same.stderr[-2000:]
    assert "extra: done already, inputs unchanged" in same.stderr
    _tasks(where, "second")
    changed = labctl("up", LAB)
    assert "extra: done already" not in changed.stderr
    assert "smoke: done already, inputs unchanged" in changed.stderr
    out = subprocess.run(["docker", "exec", f"{LAB}-smoke-1", "cat", "/etc/labctl-extra.txt"], capture_output=True, text=True)
    assert out.stdout == "second\n"
    _tasks(where, "first")
    assert labctl("provision", LAB).returncode == 0


def test_plan_lists_unchanged_tasks_then_a_change_and_writes_nothing(webfarm):
    state = Path(os.environ["LABCTL_HOME"]) / "labs" / LAB / ".labctl" / "state.json"
    before = state.read_bytes()
    report = json.loads(labctl("plan", LAB, "--json").stdout)
    smoke = next(p for p in report if p["phase"] == "smoke")
    statuses = {t["task"]: t["status"] for t in smoke["tasks"]}
    assert statuses["Write /etc/labctl-smoke.txt"] == "unchanged"
    assert "changed" not in statuses.values()
    subprocess.run(["docker", "exec", f"{LAB}-smoke-2", "rm", "/etc/labctl-smoke.txt"], check=True)
    planned = labctl("plan", LAB)
    assert "~ Write /etc/labctl-smoke.txt: changed on smoke-2" in planned.stdout, planned.stdout
    gone = subprocess.run(["docker", "exec", f"{LAB}-smoke-2", "test", "-e", "/etc/labctl-smoke.txt"])
    assert gone.returncode == 1  # the plan wrote nothing
    assert state.read_bytes() == before
    assert labctl("provision", LAB, "--only", "smoke").returncode == 0


def test_secret_prints_the_generated_password_and_it_is_nowhere_else(webfarm):
    from passlib.hash import apr_md5_crypt

    result = labctl("secret", LAB, "demo_htpasswd")
    password = result.stdout.strip()
    assert result.returncode == 0 and len(password) >= 20
    labdir = Path(os.environ["LABCTL_HOME"]) / "labs" / LAB
    stored = json.loads((labdir / ".labctl/secrets.json").read_text())["demo_htpasswd"]
    assert apr_md5_crypt.verify(password, stored["value"])
    holders = [p for p in labdir.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert holders == [labdir / ".labctl/secrets.json"]
    assert (labdir / ".labctl/secrets.json").stat().st_mode & 0o777 == 0o600

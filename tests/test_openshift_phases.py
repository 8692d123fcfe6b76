"""labctl's own openshift phases: syntax and lint of the playbooks, and the WordPress demo against
tests/doubles/oc.py, a DOUBLE of `oc` (no OpenShift cluster runs here) that refuses what exists
as `oc` does. CentOS-only tasks (repositories, yum, EPEL, NetworkManager, docker: the
openshift_prereqs role and nginx_front's EPEL task) cannot run here: they are syntax-checked and linted only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, need_tools

PLAYBOOKS = sorted((ROOT / "ansible/playbooks").glob("openshift-*.yml"))
OC_DOUBLE = ROOT / "tests/doubles/oc.py"
# openshift_preflight and its playbook call upstream's action plugins, which exist only in the pinned
# checkout: they are not linted here but run for real by test_openshift_releases.py.
ROLES = ["openshift_prereqs", "openshift_wordpress", "nginx_front"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "ansible/roles"), "ANSIBLE_NOCOLOR": "1", **extra}


@pytest.mark.integration
@pytest.mark.parametrize("playbook", [p.name for p in PLAYBOOKS if p.name != "openshift-preflight.yml"])
def test_playbook_syntax(playbook, tmp_path):
    need_tools("ansible-playbook")
    inventory = tmp_path / "hosts"
    inventory.write_text("[OSEv3:children]\nmasters\n[masters]\norigin-master\n[openshift_front]\norigin-proxy\n")
    result = subprocess.run(["ansible-playbook", "--syntax-check", "-i", str(inventory), str(ROOT / "ansible/playbooks" / playbook)],
                            env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_ansible_lint_production_profile():
    if not shutil.which("ansible-lint"):
        pytest.skip("ansible-lint is not installed (pip install ansible-lint)")
    paths = [str(p) for p in PLAYBOOKS if p.name != "openshift-preflight.yml"] + [str(ROOT / "ansible/roles" / r) for r in ROLES]
    result = subprocess.run(["ansible-lint", "--profile", "production", "--offline", "--nocolor", *paths],
                            env=_env(), capture_output=True, text=True, cwd=ROOT / "ansible")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _oc_dir(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    oc = bindir / "oc"
    oc.write_text(f"#!/bin/sh\nexec {sys.executable} {OC_DOUBLE} \"$@\"\n")
    oc.chmod(0o755)
    return bindir


def _wordpress(tmp_path: Path, bindir: Path, state: Path) -> subprocess.CompletedProcess:
    inventory = tmp_path / "hosts"
    inventory.write_text(f"origin-master ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = _env(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", OC_DOUBLE_STATE=str(state),
               OC_DOUBLE_SUBDOMAIN="origin.192.168.60.9.nip.io")
    playbook = ROOT / "ansible/playbooks/openshift-wordpress.yml"
    return subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook), "-e", "openshift_wordpress_host=origin-master",
                           "-e", "ansible_become=false", "-e", "openshift_wordpress_project=testing"],
                          env=env, capture_output=True, text=True)


@pytest.mark.integration
def test_wordpress_demo_creates_once_against_oc_double(tmp_path):
    need_tools("ansible-playbook")
    bindir, state = _oc_dir(tmp_path), tmp_path / "oc.json"
    first = _wordpress(tmp_path, bindir, state)
    assert first.returncode == 0, first.stdout[-3000:]
    created = json.loads(state.read_text())["created"]
    assert created == ["project/testing", "testing:secret/mysql", "testing:service/mysql", "testing:deploymentconfig/mysql",
                       "testing:imagestream/wordpress", "testing:buildconfig/wordpress", "testing:deploymentconfig/wordpress",
                       "testing:service/wordpress", "testing:route/wordpress"]
    route = json.loads(state.read_text())["projects"]["testing"]["route/wordpress"]
    assert route["host"] == "wordpress-testing.origin.192.168.60.9.nip.io"  # the lab's WordPress check's Host header
    second = _wordpress(tmp_path, bindir, state)
    assert second.returncode == 0, second.stdout[-3000:]
    assert json.loads(state.read_text())["created"] == created  # a second run creates nothing
    assert "changed=0" in second.stdout


def test_oc_double_refuses_what_exists_as_oc_does(tmp_path):
    env = {**os.environ, "OC_DOUBLE_STATE": str(tmp_path / "oc.json")}

    def oc(*args):
        return subprocess.run([sys.executable, str(OC_DOUBLE), *args], env=env, capture_output=True, text=True)

    assert oc("new-project", "testing").returncode == 0
    again = oc("new-project", "testing")
    assert (again.returncode, again.stderr.strip()) == (1, 'Error from server (AlreadyExists): project.project.openshift.io "testing" already exists')
    missing = oc("get", "route/wordpress", "-n", "testing")
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    assert oc("expose", "svc/wordpress", "-n", "testing").returncode == 1  # no such service yet
    assert oc("new-project", "Bad_Name").returncode == 1

"""Rendering: golden files per built-in lab, determinism, permissions, real Ansible and Vagrant."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import need_tools
from labctl.render import render_lab
from labctl.spec import builtin_labs, load_lab

LABS = ["avi", "nsxt", "openshift", "smoke"]
FILES = ["Vagrantfile", "ansible.cfg", "inventory/labctl.yml"]


def _render(name, tmp_path, **kw):
    lab, _ = load_lab(name, **kw)
    return render_lab(lab, tmp_path / name)


def test_builtin_labs_are_the_four():
    assert builtin_labs() == LABS


@pytest.mark.parametrize("name", LABS)
def test_rendered_files_match_golden(name, tmp_path, golden):
    out = _render(name, tmp_path).directory
    inventory = "inventory/hosts" if name == "openshift" else "inventory/hosts.yml"
    for rel in [*FILES, inventory]:
        text = (out / rel).read_text()
        if name == "openshift" and rel == inventory:
            text = _mask_htpasswd(text)
        golden(f"render/{name}/{rel.replace('/', '_')}", text)


def _mask_htpasswd(text: str) -> str:
    import re

    return re.sub(r"\$apr1\$[^']+", "$apr1$<generated>", text)


@pytest.mark.parametrize("name", LABS)
def test_rerender_is_byte_identical_and_writes_nothing(name, tmp_path):
    first = _render(name, tmp_path)
    before = {p: p.read_bytes() for p in first.directory.rglob("*") if p.is_file()}
    second = _render(name, tmp_path)
    assert second.changed == ()
    assert {p: p.read_bytes() for p in second.directory.rglob("*") if p.is_file()} == before


def test_secrets_are_private_and_stable(tmp_path):
    out = _render("openshift", tmp_path).directory
    assert (out / ".labctl/secrets.json").stat().st_mode & 0o777 == 0o600
    assert (out / "inventory/hosts").stat().st_mode & 0o777 == 0o600
    stored = json.loads((out / ".labctl/secrets.json").read_text())
    from passlib.hash import apr_md5_crypt

    assert apr_md5_crypt.verify("demo", stored["demo_htpasswd"]["value"])
    assert stored["demo_htpasswd"]["value"] in (out / "inventory/hosts").read_text()
    assert stored["demo_htpasswd"]["value"] not in (out / ".labctl/lab.json").read_text()


def test_switching_inventory_format_removes_the_old_file(tmp_path):
    _render("openshift", tmp_path)
    lab, _ = load_lab("openshift", sets=["inventory.format=yaml"])
    render_lab(lab, tmp_path / "openshift")
    assert sorted(p.name for p in (tmp_path / "openshift/inventory").iterdir()) == ["hosts.yml", "labctl.yml"]


@pytest.mark.integration
@pytest.mark.parametrize("name", LABS)
def test_ansible_inventory_reads_every_lab(name, tmp_path):
    need_tools("ansible-inventory")
    out = _render(name, tmp_path).directory
    data = _inventory_list(out)
    lab, _ = load_lab(name)
    assert sorted(data["_meta"]["hostvars"]) == sorted(n.name for n in lab.nodes)
    for node in lab.nodes:
        assert data["_meta"]["hostvars"][node.name]["labctl_address"] == node.address


def _inventory_list(out) -> dict:
    result = subprocess.run(["ansible-inventory", "-i", "inventory", "--list"], cwd=out, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.integration
@pytest.mark.parametrize("name", LABS)
def test_vagrant_validate_every_lab(name, tmp_path):
    """Real Vagrant parses and checks each Vagrantfile (-p: without needing the provider)."""
    need_tools("vagrant")
    out = _render(name, tmp_path).directory
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(["vagrant", "validate", "-p"], cwd=out, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Vagrantfile validated successfully" in result.stdout

"""Rendering: golden files per built-in lab, determinism, permissions, real Ansible and Vagrant."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import need_tools
from labctl.render import mitogen_strategy_dir, render_lab
from labctl.spec import builtin_labs, load_lab

LABS = ["avi", "nsxt", "openshift", "openshift-small", "smoke"]
FILES = ["Vagrantfile", "ansible.cfg", "inventory/labctl.yml"]


def _render(name, tmp_path, **kw):
    lab, _ = load_lab(name, **kw)
    return render_lab(lab, tmp_path / name)


def test_builtin_labs_are_the_four():
    assert builtin_labs() == LABS


@pytest.fixture(autouse=True)
def _nsx_password(monkeypatch):
    """nsxt's manager password comes from the user (generate: false): as LABCTL_NSX_PASSWORD would."""
    monkeypatch.setenv("LABCTL_NSX_PASSWORD", "golden-nsx-password")


@pytest.mark.parametrize("name", LABS)
def test_rendered_files_match_golden(name, tmp_path, golden, monkeypatch):
    import labctl.render

    monkeypatch.setattr(labctl.render, "_control_path", lambda: labctl.render.CONTROL_PATH)  # not the home's length
    monkeypatch.setattr(labctl.render.os, "cpu_count", lambda: 2)  # docker's --cpus is capped at the host's
    out = _render(name, tmp_path).directory
    inventory = "inventory/hosts" if name.startswith("openshift") else "inventory/hosts.yml"
    for rel in [*FILES, inventory]:
        text = (out / rel).read_text()
        if rel == inventory:
            text = _mask_secrets(name, out, text)
        if rel == "ansible.cfg":  # where mitogen is installed differs per machine
            text = text.replace(mitogen_strategy_dir(), "<site-packages>/ansible_mitogen/plugins/strategy")
        golden(f"render/{name}/{rel.replace('/', '_')}", text)


def _mask_secrets(name: str, out, text: str) -> str:
    """Generated secrets differ per render: each value becomes <secret.NAME> (the golden shows where it goes)."""
    from labctl.render.secrets import materialize

    lab, _ = load_lab(name)
    for ref, value in sorted(materialize(dict(lab.spec.secrets), out).refs.items(), key=lambda kv: -len(kv[1])):
        if value:  # an empty secret (avi's initial password left to the factory default) shows as it is
            text = text.replace(value, f"<secret.{ref}>")
    return text


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


@pytest.mark.parametrize("strategy", ["linear", "free"])
def test_plain_strategies_need_no_plugin_path(strategy, tmp_path):
    text = (_render("smoke", tmp_path, sets=[f"ansible.strategy={strategy}"]).directory / "ansible.cfg").read_text()
    assert f"\nstrategy = {strategy}\n" in text
    assert "strategy_plugins" not in text


def test_mitogen_strategy_without_mitogen_is_one_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from labctl.errors import ToolMissing

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ansible_mitogen" else real(name, *a))
    with pytest.raises(ToolMissing) as caught:
        _render("smoke", tmp_path)
    assert caught.value.render() == ("ansible.strategy needs the mitogen package, which is not installed "
                                     "(reinstall labctl (it depends on mitogen), or set ansible.strategy: linear)")
    assert not (tmp_path / "smoke" / "ansible.cfg").exists()


@pytest.mark.integration
@pytest.mark.parametrize("strategy", ["mitogen_linear", "mitogen_free", "linear"])
def test_real_ansible_runs_under_the_rendered_strategy(strategy, tmp_path):
    """ansible-playbook loads the strategy the cfg names, and runs a task with it (implicit localhost)."""
    need_tools("ansible-playbook", "ansible-config")
    out = _render("smoke", tmp_path, sets=[f"ansible.strategy={strategy}"]).directory
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(out / "ansible.cfg")
    dump = subprocess.run(["ansible-config", "dump", "--only-changed"], cwd=out, env=env, capture_output=True, text=True)
    assert f"DEFAULT_STRATEGY({out / 'ansible.cfg'}) = {strategy}" in dump.stdout, dump.stdout + dump.stderr
    play = tmp_path / "play.yml"
    play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - ansible.builtin.command: echo labctl-{{ ansible_play_hosts | length }}\n      register: said\n"
                    "    - ansible.builtin.assert: {that: [said.stdout == 'labctl-1']}\n")
    run = subprocess.run(["ansible-playbook", "-v", str(play)], cwd=out, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "ok=2" in run.stdout


@pytest.mark.parametrize("kind", ["short", "long", "unwritable"])
def test_ssh_control_path_fits_a_unix_socket(tmp_path, monkeypatch, kind):
    """ssh_args name ControlPath=~/.ansible/cp/%C; ssh fails when that directory is missing or when
    the socket path passes 107 bytes. `~` is the passwd entry's home (as ssh reads it), faked here."""
    import pwd
    import shutil
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    home = {"short": lambda: Path(tempfile.mkdtemp(prefix="lh", dir="/tmp")),
            "long": lambda: tmp_path / ("x" * 60), "unwritable": lambda: Path("/proc/labctl-none")}[kind]()
    try:
        monkeypatch.setattr(pwd, "getpwuid", lambda uid: SimpleNamespace(pw_dir=str(home)))
        text = (_render("smoke", tmp_path).directory / "ansible.cfg").read_text()
        assert ("-o ControlPersist=120s -o ControlPath=~/.ansible/cp/%C -o " in text) is (kind == "short")
        assert "-o ControlMaster=auto -o ControlPersist=120s -o " in text
        control = home / ".ansible" / "cp"
        assert (control.is_dir() and control.stat().st_mode & 0o777 == 0o700) is (kind == "short")
    finally:
        if kind == "short":
            shutil.rmtree(home)

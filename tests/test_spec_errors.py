"""Bad specs: every problem reported in one pass, with file:line:column and key path (golden)."""

from __future__ import annotations

import pytest

from conftest import SPECS
from labctl.errors import SpecError
from labctl.spec import load_lab

BAD = ["many-mistakes", "yaml-error", "python-tag", "duplicates", "unknown-secret"]


@pytest.mark.parametrize("name", BAD)
def test_bad_spec_message(name, golden, monkeypatch):
    monkeypatch.chdir(SPECS.parent)
    with pytest.raises(SpecError) as info:
        load_lab(f"specs/{name}.yaml")
    golden(f"errors/{name}.txt", info.value.render() + "\n")


def test_many_mistakes_all_reported_at_once(monkeypatch):
    monkeypatch.chdir(SPECS.parent)
    with pytest.raises(SpecError) as info:
        load_lab("specs/many-mistakes.yaml")
    problems = info.value.problems
    assert len(problems) == 15
    assert info.value.exit_code == 2
    assert all(p.startswith("specs/many-mistakes.yaml:") for p in problems)
    assert "specs/many-mistakes.yaml:4:1: nodez: unknown key; did you mean 'nodes'?" in problems


def test_unknown_set_path_is_reported_with_origin(monkeypatch):
    with pytest.raises(SpecError) as info:
        load_lab("smoke", sets=["nodes.smoke-1.memroy=512"])
    assert info.value.problems == ["--set nodes.smoke-1.memroy: nodes.smoke-[1:3].memroy: unknown key; did you mean 'memory'?"]


def test_unknown_provider_flag():
    with pytest.raises(SpecError) as info:
        load_lab("smoke", provider="virtualbx")
    assert info.value.problems == [
        "--provider: provider: expected one of docker, libvirt, virtualbox, ssh, found 'virtualbx'; did you mean 'virtualbox'?"
    ]


def test_user_config_may_not_define_nodes(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("nodes: {a: {}}\n")
    with pytest.raises(SpecError) as info:
        load_lab("smoke", user_config=config)
    assert info.value.problems == [f"{config}:1:1: nodes: not allowed in user config (allowed: defaults, provider, providers, params, ansible, runtimes)"]


def test_extends_loop(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\nnodes: {x: {}}\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a.yaml\nnodes: {y: {}}\n")
    with pytest.raises(SpecError) as info:
        load_lab(str(tmp_path / "a.yaml"))
    assert info.value.problems[0].endswith("extends: extends forms a loop or is nested too deeply")


def test_address_pool_exhausted(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text("name: tiny\nnetworks: {lab: {cidr: 10.0.0.0/30, start: 1}}\nnodes:\n  n-[1:3]: {}\n")
    with pytest.raises(SpecError) as info:
        load_lab(str(spec))
    assert info.value.problems == [f"{spec}:2:12: networks.lab: network 10.0.0.0/30 has no free address left for automatic assignment (3 nodes need one)"]


def test_user_config_may_pick_the_ansible_strategy(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("ansible: {strategy: linear}\n")
    lab, _ = load_lab("smoke", user_config=config)
    assert lab.spec.ansible.strategy == "linear"
    assert load_lab("smoke")[0].spec.ansible.strategy == "mitogen_linear"


def test_emulated_libvirt_refuses_host_passthrough():
    with pytest.raises(SpecError) as info:
        load_lab("smoke", sets=["providers.libvirt.driver=qemu", "providers.libvirt.cpu_mode=host-passthrough"])
    assert info.value.problems == [
        "--set providers.libvirt.cpu_mode: providers.libvirt.cpu_mode: host-passthrough needs KVM, and driver is qemu "
        "(emulation): leave cpu_mode unset or use host-model, or set driver: kvm where /dev/kvm works"
    ]
    lab, _ = load_lab("smoke", sets=["providers.libvirt.driver=qemu", "providers.libvirt.cpu_mode=host-model"])
    assert lab.spec.providers.libvirt.cpu_mode == "host-model"


def test_a_node_and_a_group_of_one_name_are_refused(tmp_path):
    """ansible-inventory keeps the group and drops the host ("Found both group and host with same name")."""
    spec = tmp_path / "clash.yaml"
    spec.write_text("name: clash\nnodes:\n  web: {groups: [web]}\n  db: {}\n")
    with pytest.raises(SpecError) as info:
        load_lab(str(spec))
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "nodes.web.groups: 'web' names a node and a group: Ansible drops the host (rename one of them)"]

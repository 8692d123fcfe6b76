"""Ranges, addresses, params, extends, and the layered defaults with their origins."""

from __future__ import annotations

from conftest import SPECS
from labctl.spec import load_lab
from labctl.spec.explain import lab_data, origins


def test_ranges_expand_and_addresses_are_stable():
    lab, _ = load_lab("smoke")
    assert [n.name for n in lab.nodes] == ["smoke-1", "smoke-2", "smoke-3"]
    assert [n.address for n in lab.nodes] == ["192.168.56.11", "192.168.56.12", "192.168.56.13"]


def test_fixed_addresses_are_skipped_by_automatic_ones(tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text("name: t\nnetworks: {lab: {cidr: 10.1.0.0/24}}\nnodes:\n  a: {}\n  b: {networks: {lab: 10.1.0.11}}\n  c: {}\n")
    lab, _ = load_lab(str(spec))
    assert [n.address for n in lab.nodes] == ["10.1.0.10", "10.1.0.11", "10.1.0.12"]


def test_padded_ranges_keep_their_width(tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text("name: t\nnodes:\n  leaf-[08:10]: {}\n")
    lab, _ = load_lab(str(spec))
    assert [n.name for n in lab.nodes] == ["leaf-08", "leaf-09", "leaf-10"]


def test_extends_merges_by_documented_rules(monkeypatch):
    monkeypatch.chdir(SPECS.parent)
    lab, _ = load_lab("specs/extends-child.yaml")
    assert [n.name for n in lab.nodes] == ["smoke-1", "smoke-2", "extra-1"]
    assert lab.node("smoke-1").memory == 512
    assert lab.node("extra-1").memory == 1024
    assert dict(lab.node("extra-1").vars) == {"greeting": "hi there"}
    assert [getattr(c, "command", None) for c in lab.spec.checks] == [None, "getent hosts extra-1"]


def test_set_param_keeps_text_and_set_path_types():
    lab, _ = load_lab("openshift", sets=["release=3.10", "nodes.origin-master.memory=8192"])
    assert lab.spec.params["release"] == "3.10"
    assert lab.spec.groups["OSEv3"].vars["openshift_release"] == "v3.10.0"
    assert lab.node("origin-master").memory == 8192


def test_layers_in_order_with_origins(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("defaults:\n  memory: 300\nparams:\n  domain: from-config.test\n")
    env = {"LABCTL_PARAM_DOMAIN": "from-env.test", "LABCTL_PROVIDER": "libvirt"}
    lab, layer = load_lab("openshift", env=env, user_config=config, sets=["nodes.origin-etcd.cpus=3"])
    table = {key: (value, origin) for key, value, origin in origins(lab, layer)}
    assert table["params.domain"] == ("from-env.test", "env LABCTL_PARAM_DOMAIN")
    assert table["provider"] == ("libvirt", "env LABCTL_PROVIDER")
    assert table["nodes.origin-etcd.cpus"] == (3, "--set nodes.origin-etcd.cpus")
    assert table["nodes.origin-etcd.memory"] == (2048, "labs/openshift.yaml:18:3")
    assert table["nodes.origin-master.memory"] == (4096, "labs/openshift.yaml:26:5")
    assert table["nodes.origin-etcd.synced_folder"] == (False, "built-in default")


def test_user_config_applies_below_the_spec(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("defaults:\n  memory: 300\n  cpus: 2\n")
    lab, layer = load_lab("smoke", user_config=config)
    assert lab.node("smoke-1").memory == 256  # the spec's defaults win over user config
    assert lab.node("smoke-1").cpus == 1
    table = {key: origin for key, _, origin in origins(lab, layer)}
    assert table["nodes.smoke-1.memory"] == "labs/smoke.yaml:10:3"


def test_show_data_never_contains_secret_values():
    lab, _ = load_lab("openshift")
    data = lab_data(lab)
    assert data["groups"]["OSEv3"]["vars"]["openshift_master_htpasswd_users"] == {"demo": "${secret.demo_htpasswd}"}

"""The openshift lab's inventory against the seed author's real 5-node inventory (../shared)."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import need_shared, need_tools
from labctl.render import render_lab
from labctl.spec import load_lab

# The author's key path and domain names are his own; the htpasswd hash is generated per lab.
PERSONAL = {"ansible_ssh_private_key_file", "openshift_master_default_subdomain", "openshift_public_hostname"}
GENERATED = {"openshift_master_htpasswd_users"}


def _list(inventory: str, cwd) -> dict:
    out = subprocess.run(["ansible-inventory", "-i", inventory, "--list"], cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture
def both(tmp_path):
    need_tools("ansible-inventory")
    seed = need_shared() / "reference/openshift/seed-author-inventory-5node.ini"
    lab, _ = load_lab("openshift")
    out = render_lab(lab, tmp_path / "os").directory
    return _list(str(seed), tmp_path), _list("inventory/hosts", out)


@pytest.mark.integration
def test_same_hosts_and_groups(both):
    seed, ours = both
    for group in ("OSEv3", "masters", "etcd", "nodes"):
        assert seed.get(group) == ours.get(group), group


@pytest.mark.integration
def test_same_vars_apart_from_personal_and_generated(both):
    seed, ours = both
    for host, seed_vars in seed["_meta"]["hostvars"].items():
        mine = ours["_meta"]["hostvars"][host]
        for key in set(seed_vars) - PERSONAL - GENERATED:
            assert mine.get(key) == seed_vars[key], f"{host}: {key}"
        assert set(mine) - set(seed_vars) == set(), f"{host} has vars the seed lacks"


@pytest.mark.integration
def test_htpasswd_is_generated_for_demo_not_copied(both):
    from passlib.hash import apr_md5_crypt

    seed, ours = both
    seed_hash = seed["_meta"]["hostvars"]["origin-master"]["openshift_master_htpasswd_users"]["demo"]
    our_hash = ours["_meta"]["hostvars"]["origin-master"]["openshift_master_htpasswd_users"]["demo"]
    assert our_hash != seed_hash
    assert apr_md5_crypt.verify("demo", our_hash)
    assert ours["_meta"]["hostvars"]["origin-master"]["openshift_public_hostname"] == "console.192.168.60.9.nip.io"

"""Phase selection, playbook lookup and git sources (a real local git repository)."""

from __future__ import annotations

import subprocess

import pytest

from labctl.errors import LabctlError
from labctl.provision import phases, playbooks
from labctl.provision.sources import checkout
from labctl.spec import load_lab
from labctl.spec.model import SourceSpec


@pytest.mark.parametrize(("release", "entry"), [("3.7", "openshift-byo"), ("3.9", "openshift-deploy-3-9"),
                                                  ("3.11", "openshift-deploy-3-11")])
def test_openshift_entry_point_follows_the_release(release, entry):
    lab, _ = load_lab("openshift", sets=[f"release={release}"])
    assert [p.name for p in phases(lab)] == ["common", "openshift-prerequisites", entry, "openshift-front", "openshift-wordpress"]
    preflight = [p.name for p in phases(lab, "preflight")]
    assert preflight == ([] if release == "3.7" else [f"openshift-checks-{release.replace('.', '-')}"])


def _repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "playbooks/byo").mkdir(parents=True)
    (repo / "playbooks/byo/config.yml").write_text("- hosts: all\n  tasks: []\n")
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "one")
    git("tag", "v1")
    return repo


def test_git_source_is_cloned_once_and_reused(tmp_path):
    repo = _repo(tmp_path)
    source = SourceSpec(git=str(repo), ref="v1")
    first = checkout(source)
    assert (first / "playbooks/byo/config.yml").is_file()
    subprocess.run(["rm", "-rf", str(repo)], check=True)  # the cache must not need the origin again
    assert checkout(source) == first


def test_phase_playbooks_come_from_the_source_checkout(tmp_path):
    repo = _repo(tmp_path)
    spec = tmp_path / "lab.yaml"
    spec.write_text(f"name: t\nnodes: {{a: {{}}}}\nphases:\n  - name: deploy\n    source: {{git: {repo}, ref: v1}}\n    playbook: playbooks/byo/config.yml\n")
    lab, _ = load_lab(str(spec))
    found = playbooks(lab, lab.spec.phases[0])
    assert found[0].name == "config.yml" and found[0].read_text().startswith("- hosts: all")


def test_missing_playbook_is_one_clear_error(tmp_path):
    spec = tmp_path / "lab.yaml"
    spec.write_text("name: t\nnodes: {a: {}}\nphases:\n  - {name: deploy, playbook: nope.yml}\n")
    lab, _ = load_lab(str(spec))
    with pytest.raises(LabctlError) as info:
        playbooks(lab, lab.spec.phases[0])
    assert info.value.render().startswith("playbook nope.yml not found in ")

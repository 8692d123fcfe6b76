"""The openshift lab against openshift-ansible itself, per release, with each release's Ansible.

openshift-ansible comes from ../shared/upstream/openshift-ansible.git.tar: git is pointed at that
copy by URL rewriting, so labctl's own clone-and-cache code fetches the pinned commit from the real
upstream URL. Runtimes are built by `labctl runtime build openshift --set release=R` (set
LABCTL_RUNTIMES_DIR to share them between runs). No cluster host exists here: upstream's checks
get the facts a CentOS 7 host reports (the lab's box), set by labctl's preflight playbook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, need_shared, need_tools, shared_runtimes
from labctl.provision.sources import checkout
from labctl.spec import load_lab
from labctl.spec.model import SourceSpec

UPSTREAM = "https://github.com/openshift/openshift-ansible.git"
PREFLIGHT = ROOT / "ansible/playbooks/openshift-preflight.yml"
CHECKED = ["3.9", "3.10", "3.11"]  # the releases that ship inventory checks
ENTRY = {"3.7": ["playbooks/byo/config.yml"], "3.9": ["playbooks/prerequisites.yml", "playbooks/deploy_cluster.yml"]}


def entry_playbooks(release: str) -> list[str]:
    return ENTRY.get(release, ENTRY["3.9"])


def render_release(release: str, outdir: Path, sets: tuple[str, ...] = ()) -> Path:
    """`labctl render openshift --set release=R` itself: the spec's overlays give each release its inventory."""
    labdir = outdir / "lab"
    args = [sys.executable, "-m", "labctl", "render", "openshift", "-o", str(labdir), "--set", f"release={release}"]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return labdir


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    """Unpack the offline openshift-ansible and rewrite its URL to it, for the whole session."""
    need_tools("git", "tar")
    tar = need_shared() / "upstream/openshift-ansible.git.tar"
    where = tmp_path_factory.mktemp("upstream")
    subprocess.run(["tar", "-xf", str(tar), "-C", str(where)], check=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_COUNT", "1")
        mp.setenv("GIT_CONFIG_KEY_0", f"url.file://{where}/openshift-ansible.git.insteadOf")
        mp.setenv("GIT_CONFIG_VALUE_0", UPSTREAM)
        yield where


def pinned_checkout(release: str) -> Path:
    """The checkout the lab's phases use: the ref its params pin for `release`."""
    lab, _ = load_lab("openshift", sets=[f"release={release}"])
    ref = lab.spec.params[f"openshift_ansible_ref_{release.replace('.', '_')}"]
    return checkout(SourceSpec(git=UPSTREAM, ref=ref))


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    """release -> the bin dir of the Ansible runtime labctl builds for that release's phases."""
    shared = os.environ.get("LABCTL_RUNTIMES_DIR") or str(shared_runtimes())
    env = {**os.environ, "LABCTL_RUNTIMES_DIR": shared}
    built: dict[str, Path] = {}

    def get(release: str) -> Path:
        if release not in built:
            labctl = [sys.executable, "-m", "labctl"]
            subprocess.run([*labctl, "runtime", "build", "openshift", "--set", f"release={release}"], env=env, check=True,
                           capture_output=True)
            rows = json.loads(subprocess.run([*labctl, "runtime", "list", "openshift", "--set", f"release={release}", "--json"],
                                             env=env, check=True, capture_output=True, text=True).stdout)
            upstream_phase = "openshift-byo" if release == "3.7" else f"openshift-deploy-{release.replace('.', '-')}"
            row = next(r for r in rows if upstream_phase in r["phases"])
            built[release] = Path(row["path"]) / "bin"
        return built[release]

    return get


def ansible_playbook(bindir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STRATEGY": "linear", "ANSIBLE_ROLES_PATH": str(ROOT / "ansible/roles"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    return subprocess.run([str(bindir / "ansible-playbook"), *args], cwd=cwd, env=env, capture_output=True, text=True)


def preflight(bindir: Path, labdir: Path, source: Path) -> subprocess.CompletedProcess:
    """labctl's preflight phase as the engine runs it: localhost, the lab's inventory, the checkout."""
    return ansible_playbook(bindir, ["-i", "inventory", str(PREFLIGHT), "-e", f"labctl_source_dir={source}"], labdir)


@pytest.mark.integration
@pytest.mark.parametrize("release", CHECKED)
def test_inventory_passes_upstream_checks(release, upstream, runtime, tmp_path):
    labdir = render_release(release, tmp_path)
    result = preflight(runtime(release), labdir, pinned_checkout(release))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Run openshift-ansible's variable sanity checks" in result.stdout
    ran_node_groups = "Validate openshift_node_groups and openshift_node_group_name" in result.stdout
    assert ran_node_groups == (release != "3.9")  # node_group_checks exists from 3.10 on
    assert "failed=0" in result.stdout


@pytest.mark.integration
def test_removed_variable_is_refused_quoting_upstream(upstream, runtime, tmp_path):
    labdir = render_release("3.11", tmp_path, ("nodes.origin-infra.vars.openshift_node_labels={region: infra}",))
    result = preflight(runtime("3.11"), labdir, pinned_checkout("3.11"))
    assert result.returncode != 0
    assert "Found removed variables: openshift_node_labels is replaced by openshift_node_groups[<item>].labels" in result.stdout


@pytest.mark.integration
def test_seed_shaped_inventory_is_refused_by_311(upstream, runtime, tmp_path):
    """Why the overlays exist: the 3.7 inventory (the seed's, no overlay) as is fails 3.11's first check."""
    labdir = render_release("3.7", tmp_path)
    result = preflight(runtime("3.11"), labdir, pinned_checkout("3.11"))
    assert result.returncode != 0
    assert "openshift_deployment_type must be defined and one of origin, openshift-enterprise" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("release", ["3.7", *CHECKED])
def test_entry_playbooks_pass_syntax_check(release, upstream, runtime, tmp_path):
    labdir = render_release(release, tmp_path)
    source = pinned_checkout(release)
    result = ansible_playbook(runtime(release), ["--syntax-check", "-i", str(labdir / "inventory"), *entry_playbooks(release)], source)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for playbook in entry_playbooks(release):
        assert f"playbook: {playbook}" in result.stdout


@pytest.mark.parametrize("release", ["3.7", *CHECKED])
def test_release_inventory_matches_golden(release, tmp_path, golden):
    """Per-release inventories, reviewed as files (regenerate on purpose with --regen-golden)."""
    import re

    text = (render_release(release, tmp_path) / "inventory/hosts").read_text()
    golden(f"render/openshift-{release}/inventory_hosts", re.sub(r"\$apr1\$[^'\"]+", "$apr1$<generated>", text))

"""Every playbook labctl ships passes `ansible-playbook --syntax-check` and `ansible-lint --profile production`.

openshift-preflight.yml (and its role) load their plugins from an openshift-ansible checkout at run
time, so they are checked where that checkout is: test_openshift_releases.py runs them for real against
upstream's pinned commits, with each release's Ansible.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, skip_or_fail

ANSIBLE = ROOT / "ansible"
UPSTREAM_BOUND = {"openshift-preflight.yml"}
PLAYBOOKS = sorted(p for p in [*ANSIBLE.glob("*.yml"), *(ANSIBLE / "playbooks").glob("*.yml")] if p.name not in UPSTREAM_BOUND)
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"), "ANSIBLE_COLLECTIONS_PATH": str(ANSIBLE / "collections"),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_playbook_syntax(playbook, tmp_path):
    out = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
                         capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-1500:]


def test_ansible_lint_production_profile():
    lint = BIN / "ansible-lint"
    if not lint.is_file():
        skip_or_fail("ansible-lint is not installed (pip install '.[test]')")
    targets = [str(p.relative_to(ROOT)) for p in PLAYBOOKS]
    roles = [str(p.relative_to(ROOT)) for p in sorted((ANSIBLE / "roles").iterdir()) if p.name != "openshift_preflight"]
    out = subprocess.run([str(lint), "--profile", "production", "--offline", "--nocolor", *targets, *roles],
                         capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

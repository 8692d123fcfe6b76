"""Test isolation and helpers shared by every test file."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SPECS = Path(__file__).resolve().parent / "specs"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files from current output (on purpose only)")


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """No test may write to the real home directory or read the user's config."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        # Vagrant's box store is machine state like docker's images: keep the real one.
        mp.setenv("VAGRANT_HOME", os.environ.get("VAGRANT_HOME") or str(Path.home() / ".vagrant.d"))
        mp.setenv("HOME", str(home))
        # the venv's tools (ansible-playbook, ansible-inventory) as labctl itself finds them
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        mp.setenv("LABCTL_HOME", str(home / "labctl"))
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
        for key in list(os.environ):
            if key.startswith("LABCTL_PARAM_") or key == "LABCTL_PROVIDER":
                mp.delenv(key)
        yield


def skip_or_fail(reason: str, ci_var: str = "LABCTL_REQUIRE_INTEGRATION") -> None:
    """Skip with `reason`, or fail when `ci_var` is 1 (CI: nothing may be skipped there)."""
    if os.environ.get(ci_var) == "1":
        pytest.fail(f"{reason} (required here: {ci_var}=1)")
    pytest.skip(reason)


def need_tools(*tools: str) -> None:
    """Skip when a real tool is missing; fail instead when LABCTL_REQUIRE_INTEGRATION=1 (CI)."""
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        skip_or_fail(f"needs {', '.join(missing)} on PATH", "LABCTL_REQUIRE_INTEGRATION")


def shared_runtimes() -> Path:
    """Where integration tests share built Ansible runtimes (one build per test session or machine)."""
    return Path(os.environ.get("LABCTL_TEST_RUNTIMES", "/tmp/labctl-test-runtimes"))


def need_shared() -> Path:
    """../shared holds reference material; absent in a user's clone, required in CI."""
    if not SHARED.is_dir():
        skip_or_fail(f"reference material not found at {SHARED}", "LABCTL_REQUIRE_SHARED")
    return SHARED


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME; --regen-golden rewrites it instead."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--regen-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        assert path.is_file(), f"golden file {path} is missing: run pytest --regen-golden on purpose"
        assert text == path.read_text(), f"output differs from {path}"

    return check

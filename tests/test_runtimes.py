"""Runtimes without building anything: naming, resolving specifiers, picking by the nodes'
Pythons, finding interpreters (small stand-in interpreters on PATH, in a pyenv root, from uv),
pip's settings for old Pythons, the environment a phase gets, and the CLI's answers."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labctl.errors import LabctlError
from labctl.runtimes import (
    CALLBACK_DIR,
    builder,
    catalog,
    doctor_rows,
    ensure_for_lab,
    env_for,
    finder,
    picker,
    store,
)
from labctl.spec import load_lab

MINE = f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_names_say_what_is_inside():
    assert catalog.name_for(catalog.match(">=2.9,<2.10"), "3.9") == "ansible-2.9.27-py3.9"
    assert catalog.name_for(catalog.match(">=2.16,<2.17"), "3.11") == "ansible-core-2.16.19-py3.11"
    assert catalog.name_for(catalog.match("~=2.10.0"), "3.8") == "ansible-base-2.10.17-py3.8"


@pytest.mark.parametrize(("spec", "version"), [(">=2.4,<2.5", "2.4.6.0"), (">=2.3,<2.5", "2.4.6.0"), ("<2.8", "2.7.18"),
                                               (">=2.9,<2.10", "2.9.27"), ("==2.9.20", "2.9.20"), (">=2.15", "2.19.14")])
def test_specifiers_resolve_to_the_newest_known_release(spec, version):
    assert catalog.match(spec).version == version


def test_an_exact_pin_takes_its_release_lines_settings():
    assert catalog.match("==2.4.2.0").pins == catalog.match(">=2.4,<2.5").pins
    assert "jinja2<3" in catalog.match("==2.4.2.0").pins and "cryptography<3.4" in catalog.match("==2.4.2.0").pins


@pytest.mark.parametrize(("spec", "message"), [
    ("2.9", "runtime ansible '2.9' is not a version specifier (write it like `>=2.9,<2.10` or `==2.9.27`)"),
    ("<2.0", "no Ansible release labctl knows matches '<2.0'"),
])
def test_bad_specifiers_are_one_line_errors(spec, message):
    with pytest.raises(LabctlError) as info:
        catalog.match(spec)
    assert info.value.render().startswith(message)


@pytest.mark.parametrize(("targets", "version"), [(["2.7"], "2.16.19"), (["3.6"], "2.16.19"), (["2.7", "3.11"], "2.16.19"),
                                                  (["3.5"], "2.15.13"), (["3.8", "3.12"], "2.19.14"), (["3.7"], "2.17.14")])
def test_targets_pick_the_newest_release_that_drives_them_all(targets, version):
    assert catalog.for_targets(targets).version == version


def test_old_controller_pythons_follow_the_measured_facts():
    assert catalog.match("<2.8").controller == ("3.7", "3.6")  # 2.7 breaks on Python 3.8+
    assert "3.10" not in catalog.match("<2.10").controller  # 2.9: collections.Mapping
    assert catalog.match(">=2.4,<2.5").controller == ("3.6",)


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text("name: rt-unit\nprovider: docker\n" + body)
    return path


def test_modern_nodes_run_with_labctls_own_ansible(tmp_path):
    lab, _ = load_lab(str(_spec(tmp_path, "nodes: {a: {}, b: {python: '3.11'}}\nphases: [{name: p, playbook: x.yml}]\n")))
    chosen = picker.for_phase(lab, lab.spec.phases[0])
    assert chosen.own and chosen.ready and chosen.path == Path(sys.prefix)


def test_a_python27_node_moves_every_phase_to_216_not_labctls_own(tmp_path):
    lab, _ = load_lab(str(_spec(tmp_path, "defaults: {python: '2.7'}\nnodes: {a: {}}\nphases: [{name: p, playbook: x.yml}]\n")))
    chosen = picker.for_phase(lab, lab.spec.phases[0])
    assert not store.own().release.drives("2.7")
    assert (chosen.own, chosen.ansible, chosen.name) == (False, "2.16.19", f"ansible-core-2.16.19-py{chosen.python}")
    assert chosen.path == store.root() / chosen.name


def test_a_phase_runtime_wins_over_the_nodes(tmp_path):
    body = "nodes: {a: {python: '2.7'}}\nphases: [{name: p, playbook: x.yml, runtime: {ansible: '>=2.9,<2.10', python: ['3.9', '3.8']}}]\n"
    lab, _ = load_lab(str(_spec(tmp_path, body)))
    chosen = picker.for_phase(lab, lab.spec.phases[0])
    assert chosen.ansible == "2.9.27" and chosen.wanted == ("3.9", "3.8")


def _fake_python(path: Path, version: str) -> Path:
    """A stand-in interpreter: answers finder's version probe with `version`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_path(monkeypatch, tmp_path):
    """PATH with only the system's basics and an empty pyenv root: no real Python is found."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    finder.probe.cache_clear()
    yield tmp_path
    finder.probe.cache_clear()


def test_finder_order_configured_then_path_then_pyenv_then_uv(bare_path, monkeypatch):
    tmp = bare_path
    configured = _fake_python(tmp / "opt/py/bin/python", "3.4")
    on_path = _fake_python(tmp / "bin/python3.4", "3.4")
    pyenv = _fake_python(tmp / "pyenv/versions/3.4.10/bin/python3.4", "3.4")
    via_uv = _fake_python(tmp / "uv-python/python3.4", "3.4")
    (tmp / "bin/uv").write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'python find' ] && echo {via_uv}\n")
    (tmp / "bin/uv").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp / "pyenv"))
    assert finder.candidates("3.4", {"3.4": str(configured)}) == [configured, on_path, pyenv, via_uv]
    assert finder.find("3.4", {"3.4": str(configured)}) == configured


def test_finder_skips_an_interpreter_that_is_not_what_it_claims(bare_path, monkeypatch):
    tmp = bare_path
    stale = _fake_python(tmp / "old/python", "3.9")  # configured as 3.4 but answers 3.9
    real = _fake_python(tmp / "pyenv/versions/3.4.10/bin/python3.4", "3.4")
    monkeypatch.setenv("PYENV_ROOT", str(tmp / "pyenv"))
    assert finder.find("3.4", {"3.4": str(stale)}) == real
    assert finder.find("3.3", {}) is None


def test_pyenv_newest_patch_first(bare_path, monkeypatch):
    for patch in ("3.4.2", "3.4.10", "3.4.9"):
        _fake_python(bare_path / f"pyenv/versions/{patch}/bin/python3.4", "3.4")
    monkeypatch.setenv("PYENV_ROOT", str(bare_path / "pyenv"))
    assert [p.parts[-3] for p in finder.candidates("3.4", {})] == ["3.4.10", "3.4.9", "3.4.2"]


def test_no_suitable_python_is_one_line_naming_what_to_install(bare_path):
    lab, _ = load_lab("openshift", sets=["release=3.7"])
    before = set(store.installed()) if store.root().exists() else set()
    with pytest.raises(LabctlError) as info:
        ensure_for_lab(lab)
    text = info.value.render()
    assert "\n" not in text
    assert text.startswith("lab openshift: runtime ansible-2.4.6.0-py3.6 needs Python 3.6 and none was found")
    assert "`pyenv install 3.6`" in text and "runtimes: {pythons: {\"3.6\": /path/to/python3.6}}" in text
    assert (set(store.installed()) if store.root().exists() else set()) == before  # nothing was built
    rows = {check: (status, detail) for check, status, detail in doctor_rows(lab)}
    assert rows["runtime ansible-2.4.6.0-py3.6"][0] == "fail"


def test_the_user_configs_python_is_used(bare_path, monkeypatch):
    fake = _fake_python(bare_path / "opt/py36/bin/python", "3.6")
    config = Path(os.environ["LABCTL_HOME"]) / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"runtimes:\n  pythons:\n    '3.6': {fake}\n")
    try:
        lab, _ = load_lab("openshift", sets=["release=3.7"])
        byo = next(p for p in lab.spec.phases if p.name == "openshift-byo")
        assert picker.for_phase(lab, byo).interpreter == fake
    finally:
        config.unlink()


def test_pip_settings_for_old_pythons_drop_local_wheels_keep_certificates(monkeypatch):
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///opt/pypi/simple https://mirror.invalid/simple")
    env = builder.pip_env("3.6")
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PIP_FIND_LINKS"] == ""
    assert env["PIP_CERT"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["PIP_EXTRA_INDEX_URL"] == "https://mirror.invalid/simple"
    assert builder.pip_env(MINE) == {}


def test_requirements_carry_the_pins_of_old_lines():
    runtime = picker.resolve(catalog.match(">=2.4,<2.5"), ["3.6"])
    assert builder.requirements(runtime) == ["ansible==2.4.6.0", *catalog.OLD_PINS, catalog.MITOGEN_02]


def test_phase_environment_per_runtime():
    mine = store.own()
    assert env_for(mine, "mitogen_linear") == {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    old = store.Runtime("ansible-2.4.6.0-py3.6", catalog.match("<2.5"), "3.6", store.root() / "ansible-2.4.6.0-py3.6")
    env = env_for(old, "mitogen_linear")
    assert env["PATH"].split(os.pathsep)[:2] == [str(old.path / "labctl-bin"), str(old.path / "bin")]
    assert env["AWX_LIB_DIRECTORY"] == str(CALLBACK_DIR) and env["ANSIBLE_STRATEGY"] == "linear"
    assert "ANSIBLE_STRATEGY" not in env_for(old, "linear")
    newer = store.Runtime("ansible-2.9.27-py3.9", catalog.match("<2.10"), "3.9", store.root() / "x")
    assert "AWX_LIB_DIRECTORY" not in env_for(newer, "linear")  # ansible-runner's own callback loads on 3.9


def test_the_callback_parses_as_python_35():
    source = (CALLBACK_DIR / "awx_display.py").read_text()
    ast.parse(source, feature_version=(3, 5))
    assert "from __future__ import annotations" not in source


def _labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, timeout=120, check=False)


def test_cli_list_json_keys_and_rm_usage():
    out = _labctl("runtime", "list", "openshift", "--set", "release=3.11", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert all(set(r) == {"name", "ansible", "python", "path", "ready", "phases"} for r in rows)
    deploy = next(r for r in rows if any(p.startswith("openshift-deploy") for p in r["phases"]))
    assert deploy["ansible"].startswith("2.9.")
    assert _labctl("runtime", "rm").returncode == 2
    missing = _labctl("runtime", "rm", "ansible-0.1-py3.6")
    assert missing.returncode == 1 and "no runtime named ansible-0.1-py3.6" in missing.stderr
    assert "labctl runtime build openshift --set release=3.11" in _labctl("runtime", "--help").stdout


def test_a_runtime_labctls_own_ansible_satisfies_needs_no_build(tmp_path):
    body = ("defaults: {python: '2.7'}\nnodes: {a: {}}\nphases:\n  - {name: api, playbook: x.yml, runtime: {ansible: '>=2.17'}}\n"
            "  - {name: local, playbook: x.yml, hosts: localhost}\n  - {name: box, playbook: x.yml}\n")
    lab, _ = load_lab(str(_spec(tmp_path, body)))
    api, local, box = (picker.for_phase(lab, p) for p in lab.spec.phases)
    assert api.own and local.own and not box.own

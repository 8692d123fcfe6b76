"""mitogen 0.2.10 under the old runtimes, for real: a phase under each of ansible 2.4.6.0, 2.7.18
and 2.9.27 runs with the mitogen strategy on docker machines (Debian bullseye with only Python 2.7,
and the Debian 12 box for 2.9, the only one of the three that drives Python 3.11), labctl's progress
shows its tasks and its artifacts hold the events; and a runtime built before its line got mitogen
is rebuilt, not used as it is.

Runtimes come from LABCTL_TEST_RUNTIMES like the other runtime tests (a runtime there built without
mitogen is rebuilt once)."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_tools, shared_runtimes
from test_runtimes_integration import _need_python, py27_image  # noqa: F401 (a fixture)

from labctl.errors import LabBusy
from labctl.runtimes import builder, catalog, picker, store

pytestmark = pytest.mark.integration

# With mitogen, modules run inside one Python per host that mitogen started: its argv names it
# `mitogen:USER@HOST:PID`. The pattern's brackets keep grep from finding itself.
PROBE = """\
- name: Mitogen probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Look for the mitogen context process
      shell: "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\\\000' '\\\\n' | grep -o 'mitoge[n]:[^)]*' | sort -u"
      register: labctl_probe
      changed_when: false
    - name: Write a file
      copy:
        dest: /tmp/labctl-mitogen-{{ ansible_version.full }}.txt
        content: "{{ inventory_hostname }}\\n"
        mode: "0644"
"""

LAB = """\
name: mitog-t
extends: smoke
defaults:
  memory: 256
networks:
  lab: {{cidr: 192.168.222.0/24, start: 11}}
nodes:
  smoke-[1:3]: null
  mitog-t-old:
    image: {image}
    python: "2.7"
    groups: [smoke, py27]
    vars: {{ansible_python_interpreter: /usr/bin/python2.7}}
  mitog-t-new:
    groups: [smoke]
    vars: {{ansible_python_interpreter: /usr/bin/python3}}
groups:
  web: {{hosts: [mitog-t-old]}}
phases:
  - {{name: smoke, drop: true}}
  - {{name: m24, playbook: probe.yml, hosts: py27, runtime: {{ansible: "==2.4.6.0"}}}}
  - {{name: m27, playbook: probe.yml, hosts: py27, runtime: {{ansible: "==2.7.18"}}}}
  - {{name: m29, playbook: probe.yml, runtime: {{ansible: "==2.9.27"}}}}
checks:
  - {{name: ssh on smoke-1, drop: true}}
  - {{name: smoke-2 resolves smoke-3, drop: true}}
"""
PHASES = {"m24": ("2.4.6.0", "3.6", ["mitog-t-old"]), "m27": ("2.7.18", "3.7", ["mitog-t-old"]),
          "m29": ("2.9.27", "3.9", ["mitog-t-new", "mitog-t-old"])}


def _events(labdir: Path, phase: str) -> list[dict]:
    runs = sorted((labdir / ".labctl" / "runs" / phase / "artifacts").iterdir(), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in (runs[-1] / "job_events").glob("*.json")]


def _command(labdir: Path, phase: str) -> dict:
    runs = sorted((labdir / ".labctl" / "runs" / phase / "artifacts").iterdir(), key=lambda p: p.stat().st_mtime)
    return json.loads((runs[-1] / "command").read_text())


@pytest.fixture(scope="module")
def mitogen_lab(py27_image, tmp_path_factory):  # noqa: F811 (the imported fixture)
    need_tools("docker", "vagrant")
    for python in {p for _, p, _ in PHASES.values()}:
        _need_python(python)
    tmp = tmp_path_factory.mktemp("mitogen")
    (tmp / "probe.yml").write_text(PROBE)
    spec, labdir = tmp / "mitog-t.yaml", tmp / "lab"
    spec.write_text(LAB.format(image=py27_image))
    cli = [sys.executable, "-m", "labctl"]
    env = {**os.environ, "LABCTL_RUNTIMES_DIR": str(_runtimes_dir())}
    try:
        up = subprocess.run([*cli, "up", str(spec), "-d", str(labdir)], capture_output=True, text=True,
                            timeout=1800, check=False, env=env)
        yield up, labdir
    finally:
        subprocess.run([*cli, "down", str(spec), "-d", str(labdir), "--force"], capture_output=True, timeout=600,
                       check=False, env=env)


def _runtimes_dir() -> Path:
    shared_runtimes().mkdir(parents=True, exist_ok=True)
    return shared_runtimes()


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_old_runtime_runs_a_phase_with_mitogen_and_labctl_gets_its_events(mitogen_lab, phase):
    up, labdir = mitogen_lab
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    version, python, hosts = PHASES[phase]
    name = f"ansible-{version}-py{python}"
    manifest = json.loads((_runtimes_dir() / name / store.MANIFEST).read_text())
    assert catalog.MITOGEN_02 in manifest["requirements"]
    # the strategy plugins of the phase's own runtime (mitogen 0.2), not labctl's mitogen 0.3
    plugins = _command(labdir, phase)["env"]["ANSIBLE_STRATEGY_PLUGINS"]
    assert plugins.startswith(str(_runtimes_dir() / name)) and plugins.endswith("ansible_mitogen/plugins/strategy")
    assert f"{phase}: Look for the mitogen context process (" in up.stderr  # live progress reached labctl
    events = _events(labdir, phase)
    probes = [e["event_data"] for e in events if e["event"] == "runner_on_ok"
              and e["event_data"]["task"] == "Look for the mitogen context process"]
    assert sorted(p["host"] for p in probes) == hosts
    for probe in probes:  # each module ran inside a mitogen context on its host
        assert any(line.startswith("mitogen:") for line in probe["res"]["stdout_lines"]), probe["res"]
    changed = [e["event_data"]["host"] for e in events if e["event"] == "runner_on_ok"
               and e["event_data"]["task"] == "Write a file" and e["event_data"]["res"]["changed"]]
    assert sorted(changed) == hosts
    assert any(e["event"] == "playbook_on_stats" for e in events)


def _small(mitogen: str | None):
    """ansible 2.4 on Python 3.6 (the quickest build), with or without mitogen."""
    _need_python("3.6")
    release = dataclasses.replace(catalog.match("==2.4.6.0"), mitogen=mitogen)
    return picker.resolve(release, ["3.6"])


def test_a_runtime_built_before_its_line_got_mitogen_is_rebuilt_with_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCTL_RUNTIMES_DIR", str(tmp_path / "runtimes"))
    assert catalog.match("==2.4.6.0").mitogen == catalog.MITOGEN_02
    old = builder.build(_small(None))
    assert old.ready and old.mitogen_strategies() is None
    current = _small(catalog.MITOGEN_02)
    assert current.name == old.name and not current.ready  # same name, but not what labctl installs now
    # a phase runs with the old one (holds its use lock): the rebuild is refused, the old one stays
    with store.flock(store.lock_path(current.name, "use"), fcntl.LOCK_SH), pytest.raises(LabBusy) as info:
        builder.build(current)
    assert "must be rebuilt" in info.value.render() and old.ready and not list((tmp_path / "runtimes").glob(".build-*"))
    said: list[str] = []
    builder.build(current, said.append)
    assert any(f"built with other requirements (+{catalog.MITOGEN_02}): rebuilding" in m for m in said)
    assert current.ready and current.mitogen_strategies() is not None
    assert store.installed() == [current.name] and not list((tmp_path / "runtimes").glob(".*-ansible*"))


@pytest.mark.parametrize(("spec", "python"), [("==2.4.6.0", "3.6"), ("==2.7.18", "3.7"), ("==2.9.27", "3.9")])
def test_a_localhost_phase_runs_with_mitogen_under_old_runtimes(monkeypatch, tmp_path, spec, python):
    """openshift's preflight phases run on the control host under 2.7 and 2.9: mitogen's local connection."""
    import ansible_runner

    from labctl import runtimes

    monkeypatch.setenv("LABCTL_RUNTIMES_DIR", str(_runtimes_dir()))
    _need_python(python)
    runtime = runtimes.ensure(picker.resolve(catalog.match(spec), [python]))
    (tmp_path / "pb.yml").write_text(PROBE.replace("hosts: all", "hosts: localhost").replace("/tmp/labctl-mitogen-", str(tmp_path / "f-")))
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={runtime.path}/bin/python\n")
    (tmp_path / "ansible.cfg").write_text("[defaults]\nstrategy = mitogen_linear\n")
    env = {**runtimes.env_for(runtime, "mitogen_linear"), "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")}
    events: list[dict] = []
    result = ansible_runner.run(private_data_dir=str(tmp_path), playbook=str(tmp_path / "pb.yml"), inventory=str(tmp_path / "hosts"),
                                envvars=env, quiet=True, event_handler=lambda e: events.append(e) or True)
    assert (result.rc, result.status) == (0, "successful")
    probe = next(e["event_data"]["res"] for e in events if e["event"] == "runner_on_ok"
                 and e["event_data"]["task"] == "Look for the mitogen context process")
    assert any(line.startswith("mitogen:") for line in probe["stdout_lines"]), probe
    assert (tmp_path / f"f-{runtime.ansible}.txt").read_text() == "localhost\n"

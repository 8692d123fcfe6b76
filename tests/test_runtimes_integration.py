"""Runtimes for real: old Ansibles built on pyenv's Pythons, each running a playbook whose events
come back through ansible-runner, the build lock, the atomic build, Ctrl-C during a build, and a
lab of Debian bullseye containers that have only Python 2.7 coming up under the 2.16 runtime.

Builds go to LABCTL_TEST_RUNTIMES (default /tmp/labctl-test-runtimes) so a second local run
reuses them; CI starts without it and builds every one. Tests that must see a fresh build use
a runtimes directory of their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import need_tools, shared_runtimes, skip_or_fail

from labctl import runtimes
from labctl.runtimes import builder, catalog, finder, picker, store

pytestmark = pytest.mark.integration

SHARED_RUNTIMES = shared_runtimes()
PY27_IMAGE = "labctl-test/bullseye-py27:latest"
PLAYBOOK = """\
- name: Runtime smoke
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run a command
      command: echo hello
      changed_when: true
    - name: Show the Ansible version
      debug:
        msg: "{{ ansible_version.full }}"
    - name: A secret task
      command: echo s3cr3t-value
      no_log: true
      changed_when: false
"""


@pytest.fixture
def shared_runtimes(monkeypatch):
    SHARED_RUNTIMES.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("LABCTL_RUNTIMES_DIR", str(SHARED_RUNTIMES))
    return SHARED_RUNTIMES


def _need_python(version: str) -> Path:
    found = finder.find(version)
    if found is None:
        skip_or_fail(f"needs Python {version} (pyenv install {version})")
    return found


def _run_playbook(runtime, tmp_path: Path):
    import ansible_runner

    (tmp_path / "pb.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={runtime.path}/bin/python\n")
    events: list[dict] = []
    env = {**runtimes.env_for(runtime, "linear"), "ANSIBLE_NOCOLOR": "1"}
    result = ansible_runner.run(private_data_dir=str(tmp_path), playbook=str(tmp_path / "pb.yml"),
                                inventory=str(tmp_path / "hosts"), envvars=env, quiet=True,
                                event_handler=lambda e: events.append(e) or True)
    return result, events


@pytest.mark.parametrize(("spec", "python", "line"), [(">=2.4,<2.5", "3.6", "2.4."), (">=2.7,<2.8", "3.7", "2.7."),
                                                      (">=2.9,<2.10", "3.9", "2.9.")])
def test_old_runtime_builds_and_reports_events(shared_runtimes, tmp_path, spec, python, line):
    _need_python(python)
    runtime = picker.resolve(catalog.match(spec), [python])
    runtime = runtimes.ensure(runtime)
    version = subprocess.run([str(runtime.path / "bin" / "ansible"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.splitlines()[0].split()[-1].startswith(line)
    assert f"python version = {python}." in version.stdout
    result, events = _run_playbook(runtime, tmp_path)
    assert (result.rc, result.status) == (0, "successful")
    kinds = [e["event"] for e in events]
    assert kinds.count("runner_on_ok") == 3 and "playbook_on_stats" in kinds
    starts = [e["event_data"]["task"] for e in events if e["event"] == "playbook_on_task_start"]
    assert starts == ["Run a command", "Show the Ansible version", "A secret task"]
    assert result.stats["changed"] == {"localhost": 1} and result.stats["ok"] == {"localhost": 3}
    stdout = Path(result.config.artifact_dir, "stdout").read_text()
    assert "TASK [Show the Ansible version]" in stdout and f'"msg": "{runtime.ansible}"' in stdout
    saved = list(Path(result.config.artifact_dir, "job_events").glob("*.json"))
    assert len(saved) == len(events)
    assert "s3cr3t-value" not in stdout and not any("s3cr3t-value" in p.read_text() for p in saved)
    print(f"{runtime.name}: built in {store.manifest(runtime.name).get('build_seconds')}s")


def _fresh(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "runtimes"
    monkeypatch.setenv("LABCTL_RUNTIMES_DIR", str(root))
    return root


def _small_runtime():
    """ansible 2.4 on Python 3.6: the quickest to build (about 35 s here)."""
    _need_python("3.6")
    return picker.resolve(catalog.match(">=2.4,<2.5"), ["3.6"])


def _builder_process(log: Path) -> subprocess.Popen:
    code = ("import sys; from labctl.runtimes import catalog, picker, builder;"
            "rt = picker.resolve(catalog.match('>=2.4,<2.5'), ['3.6']);"
            "builder.build(rt, lambda m: print(m, flush=True))")
    return subprocess.Popen([sys.executable, "-c", code], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_two_builders_wait_on_one_lock_and_the_second_reuses(monkeypatch, tmp_path):
    root = _fresh(monkeypatch, tmp_path)
    runtime = _small_runtime()
    first, second = _builder_process(tmp_path / "1.log"), _builder_process(tmp_path / "2.log")
    assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0
    logs = [(tmp_path / f"{n}.log").read_text() for n in (1, 2)]
    assert sum("creating the virtualenv" in text for text in logs) == 1
    assert sum("built by another labctl, reused" in text for text in logs) == 1
    assert runtime.ready and sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [runtime.name]


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_ctrl_c_during_a_build_leaves_no_half_runtime(monkeypatch, tmp_path):
    root = _fresh(monkeypatch, tmp_path)
    runtime = _small_runtime()
    child = _builder_process(tmp_path / "b.log")
    # interrupt while pip installs: the scratch directory exists and holds a partial virtualenv
    assert _wait_for(lambda: "installing" in (tmp_path / "b.log").read_text(), 120)
    assert list(root.glob(f".build-{runtime.name}-*"))
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    assert child.wait(timeout=60) != 0
    assert "KeyboardInterrupt" in (tmp_path / "b.log").read_text()
    assert not runtime.path.exists() and not list(root.glob(".build-*"))
    assert not runtime.ready and store.installed() == []


def test_a_build_killed_hard_is_swept_by_the_next_and_the_rename_is_the_last_step(monkeypatch, tmp_path):
    root = _fresh(monkeypatch, tmp_path)
    runtime = _small_runtime()
    child = _builder_process(tmp_path / "b.log")
    assert _wait_for(lambda: "installing" in (tmp_path / "b.log").read_text(), 120)
    os.killpg(child.pid, signal.SIGKILL)  # no cleanup can run: the scratch directory stays
    child.wait(timeout=30)
    assert list(root.glob(".build-*")) and not runtime.path.exists()
    seen_final_early = []
    watcher = threading.Thread(target=lambda: seen_final_early.append(
        _wait_for(lambda: runtime.path.exists() and not (runtime.path / store.MANIFEST).exists(), 300)))
    watcher.start()
    builder.build(runtime)
    watcher.join()
    assert seen_final_early == [False]  # the final name never showed a runtime without its manifest
    assert runtime.ready and not list(root.glob(".build-*"))
    out = subprocess.run([str(runtime.path / "bin" / "ansible-playbook"), "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "ansible-playbook 2.4.6.0" in out.stdout


def _wait_until_in_use(name: str, timeout: float = 60) -> None:
    """Until the wrapper holds its shared "use" lock (an old Python starts slowly on a busy machine)."""
    import fcntl

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with store.flock(store.lock_path(name, "use"), fcntl.LOCK_EX | fcntl.LOCK_NB):
                pass
        except OSError:
            return
        time.sleep(0.2)
    raise AssertionError(f"runtime {name} was never in use")


def test_rm_refuses_a_runtime_a_running_phase_uses(shared_runtimes, tmp_path):
    from labctl.errors import LabBusy

    _need_python("3.6")
    runtime = runtimes.ensure(picker.resolve(catalog.match(">=2.4,<2.5"), ["3.6"]))
    (tmp_path / "slow.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                       "    - name: Wait\n      command: sleep 20\n")
    wrapper = runtime.path / store.WRAPPERS / "ansible-playbook"
    env = {**os.environ, "PATH": os.pathsep.join(str(d) for d in runtime.bin_dirs) + os.pathsep + os.environ["PATH"]}
    play = subprocess.Popen([str(wrapper), "-i", "localhost,", "-c", "local", str(tmp_path / "slow.yml")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_in_use(runtime.name)
        with pytest.raises(LabBusy) as info:
            store.remove(runtime.name)
        assert info.value.render().startswith(f"runtime {runtime.name} is in use by a running phase")
        assert runtime.ready
    finally:
        play.wait(timeout=60)


# -- a lab of Python-2.7-only machines ---------------------------------------------------------

PY27_DOCKERFILE = """\
FROM labctl-test/bullseye-py27-rootfs
COPY {script} {key} /tmp/
RUN sh /tmp/{script} && ssh-keygen -A
EXPOSE 22
CMD ["/usr/sbin/sshd", "-D", "-e"]
"""


def _image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode == 0


def _build_py27_image(tmp: Path) -> None:
    """Debian bullseye minbase with sshd, sudo and python2.7 only, from the mirror apt uses."""
    from labctl.boxes import guest, host

    rootfs = tmp / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", "--include=openssh-server,sudo,python2.7,iproute2",
                    "bullseye", str(rootfs), host.debian_mirror()], check=True, capture_output=True)
    assert not list(rootfs.glob("usr/bin/python3*")), "the py2.7 box must not have python3"
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tmp / "rootfs.tar"), "."], check=True)
    subprocess.run(["docker", "import", str(tmp / "rootfs.tar"), "labctl-test/bullseye-py27-rootfs"], check=True,
                   capture_output=True)
    context = tmp / "context"
    guest.stage(context, host.insecure_public_key())
    (context / "Dockerfile").write_text(PY27_DOCKERFILE.format(script=guest.SCRIPT_NAME, key=guest.KEY_NAME))
    subprocess.run(["docker", "build", "-q", "-t", PY27_IMAGE, str(context)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})


@pytest.fixture(scope="module")
def py27_image(tmp_path_factory):
    need_tools("docker", "debootstrap", "vagrant")
    if not _image_exists(PY27_IMAGE):
        tmp = tmp_path_factory.mktemp("py27")
        try:
            _build_py27_image(tmp)
        finally:
            subprocess.run(["rm", "-rf", str(tmp / "rootfs")], check=False)
    out = subprocess.run(["docker", "run", "--rm", PY27_IMAGE, "sh", "-c", "ls /usr/bin/python*"], capture_output=True, text=True, check=False)
    assert out.stdout.split() == ["/usr/bin/python2.7"], out.stdout
    return PY27_IMAGE


PY27_LAB = """\
name: rt-py27
extends: smoke
defaults:
  image: {image}
  python: "2.7"
  memory: 256
networks:
  lab: {{cidr: 192.168.101.0/24, start: 11}}
nodes:
  smoke-[1:3]: null
  rt-a: {{groups: [smoke]}}
  rt-b: {{groups: [smoke]}}
groups:
  web: {{hosts: [rt-a]}}
checks:
  - {{name: ssh on smoke-1, drop: true}}
  - {{name: smoke-2 resolves smoke-3, drop: true}}
  - {{name: ssh on rt-a, node: rt-a, port: 22}}
  - {{name: rt-b resolves rt-a, node: rt-b, command: getent hosts rt-a, expect: "^192\\\\.168\\\\.101\\\\.11\\\\s+rt-a"}}
  - {{name: only python 2.7 on rt-a, node: rt-a, command: "ls /usr/bin/ | grep '^python'", expect: "^python2.7$"}}
  - {{name: smoke file on rt-b, node: rt-b, command: cat /etc/labctl-smoke.txt, expect: "host: rt-b"}}
  - {{name: http on rt-a, node: rt-a, port: 8080}}
"""
def test_python27_lab_comes_up_under_the_picked_216_runtime(py27_image, shared_runtimes, tmp_path):
    from labctl.spec import load_lab

    spec = tmp_path / "rt-py27.yaml"
    spec.write_text(PY27_LAB.format(image=py27_image))
    lab, _ = load_lab(str(spec))
    chosen = {p.name: runtimes.for_phase(lab, p) for p in __import__("labctl.provision", fromlist=["phases"]).phases(lab)}
    assert {r.ansible for r in chosen.values()} == {"2.16.19"}
    assert not store.own().release.drives("2.7")  # labctl's own ansible-core would not be chosen
    labdir = tmp_path / "lab"
    cli = [sys.executable, "-m", "labctl"]
    try:
        up = subprocess.run([*cli, "up", str(spec), "-d", str(labdir)], capture_output=True, text=True, timeout=1500, check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        verify = subprocess.run([*cli, "verify", str(spec), "-d", str(labdir), "--json"], capture_output=True, text=True, check=False)
        results = json.loads(verify.stdout)
        assert results and all(r["ok"] for r in results), verify.stdout
        used = json.loads((labdir / store.USAGE).read_text())
        assert set(used.values()) == {chosen["common"].name}
        log = (labdir / ".labctl" / "runs" / "common").rglob("stdout")
        assert any("TASK [List every lab node in /etc/hosts]" in p.read_text() for p in log)
        command = json.loads(next((labdir / ".labctl" / "runs" / "common").rglob("command")).read_text())
        assert command["env"]["PATH"].startswith(str(chosen["common"].path))
        assert command["env"]["ANSIBLE_STRATEGY_PLUGINS"].endswith("ansible_mitogen/plugins/strategy")  # mitogen ran it
    finally:
        subprocess.run([*cli, "down", str(spec), "-d", str(labdir), "--force"], capture_output=True, timeout=600, check=False)


@pytest.mark.parametrize(("release", "line"), [("3.7", "2.4."), ("3.11", "2.9.")])
def test_openshift_runtimes_build_and_list_ready(shared_runtimes, release, line):
    _need_python("3.6" if release == "3.7" else "3.9")
    cli = [sys.executable, "-m", "labctl", "runtime"]
    built = subprocess.run([*cli, "build", "openshift", "--set", f"release={release}"], capture_output=True, text=True, timeout=1200, check=False)
    assert built.returncode == 0, built.stderr
    listed = json.loads(subprocess.run([*cli, "list", "openshift", "--set", f"release={release}", "--json"],
                                       capture_output=True, text=True, check=True).stdout)
    old = [r for r in listed if r["ansible"].startswith(line)]
    assert len(old) == 1 and old[0]["ready"] and Path(old[0]["path"], "bin", "ansible-playbook").is_file()
    assert all(r["ready"] for r in listed)


def test_up_without_a_suitable_python_fails_in_preflight_before_any_machine(tmp_path):
    need_tools("docker", "vagrant")
    labdir = tmp_path / "lab"
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYENV_ROOT": str(tmp_path / "no-pyenv"),
           "LABCTL_RUNTIMES_DIR": str(tmp_path / "runtimes")}
    before = subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True, check=False).stdout.split()
    up = subprocess.run([sys.executable, "-m", "labctl", "up", "openshift", "--provider", "docker", "-d", str(labdir)],
                        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert up.returncode == 1
    line = up.stderr.strip().splitlines()[-1]
    assert line.startswith("labctl: error: lab openshift: runtime ansible-2.4.6.0-py3.6 needs Python 3.6 and none was found")
    assert "`pyenv install 3.6`" in line
    assert not (labdir / ".vagrant").exists()
    after = subprocess.run(["docker", "ps", "-aq"], capture_output=True, text=True, check=False).stdout.split()
    assert not set(after) - set(before)

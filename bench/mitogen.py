"""The smoke playbook under the old runtimes (ansible 2.4.6.0, 2.7.18, 2.9.27 with mitogen 0.2.x),
strategy mitogen_linear against linear, on the same Docker machines in the same run (run by hand).

Usage: python bench/mitogen.py [--runs N] [--ansible 2.4.6.0,2.7.18,2.9.27] [--keep] [--json]

A lab of its own, `mitog-bench` on 192.168.223.0/24: three Debian bullseye machines with only
Python 2.7 (the image tests/test_runtimes_integration.py builds, labctl-test/bullseye-py27) and
three of the Debian 12 box (Python 3.11), with LABCTL_HOME in a temporary directory (runtimes are
shared through LABCTL_RUNTIMES_DIR when set). One phase per runtime and target runs smoke.yml:
with short module names (2.4 and 2.7 know no `ansible.builtin.`), and for 2.4 the user module's
old `createhome`. Ansible before 2.8 has no interpreter discovery, so each node names its Python.
2.4 and 2.7 cannot drive Python 3.11 (collections.Mapping, platform._supported_dists): they run on
the 2.7 machines only. Each timed run is one `labctl.provision.run` (ansible-runner, labctl's event
callback, events and all) after ansible.cfg is rendered for the strategy; strategies alternate, and
one uncounted warm-up of each comes first. A row "works: yes" when every run passed and the
mitogen runs' events came back to labctl with the probe task seeing its mitogen context on every
host. Exit 0 when every row works, 1 otherwise, 130 when interrupted (the lab is destroyed unless
--keep).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "labctl-test/bullseye-py27:latest"
DEFAULT_LINES = "2.4.6.0,2.7.18,2.9.27"  # the lines the openshift lab runs
STRATEGIES = ("mitogen_linear", "linear")
PROBE_TASK = """\
    - name: Look for the mitogen context process
      ansible.builtin.shell: "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\\\000' '\\\\n' | grep -o 'mitoge[n]:[^)]*' | sort -u"
      register: labctl_probe
      changed_when: false
      failed_when: false

"""
SPEC = """\
name: mitog-bench
extends: smoke
ansible: {{strategy: {strategy}}}
defaults: {{memory: 256}}
networks:
  lab: {{cidr: 192.168.223.0/24, start: 11}}
nodes:
  smoke-[1:3]: null
  mitog-b27-[1:3]:
    image: {image}
    python: "2.7"
    groups: [smoke, py27]
    vars: {{ansible_python_interpreter: /usr/bin/python2.7}}
  mitog-b12-[1:3]:
    groups: [smoke, deb12]
    vars: {{ansible_python_interpreter: /usr/bin/python3}}
groups:
  web: {{hosts: [mitog-b27-1]}}
phases:
  - {{name: smoke, drop: true}}
{phases}checks:
  - {{name: ssh on smoke-1, drop: true}}
  - {{name: smoke-2 resolves smoke-3, drop: true}}
"""


def main() -> int:
    args = _options()
    home = Path(tempfile.mkdtemp(prefix="labctl-bench-mitogen-"))
    os.environ["LABCTL_HOME"] = str(home)
    labdir = home / "lab"
    specs = _write_specs(home, _runtimes(args.ansible))
    try:
        _labctl("up", str(specs["mitogen_linear"]), "-d", str(labdir))
        rows = _measure(specs, labdir, args.runs, _runtimes(args.ansible))
    except KeyboardInterrupt:
        return 130
    except subprocess.CalledProcessError as exc:
        print(f"failed: {' '.join(exc.cmd)} (exit {exc.returncode})\n{exc.stdout[-2000:]}{exc.stderr[-2000:]}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            _labctl("down", str(specs["mitogen_linear"]), "-d", str(labdir), "--force", check=False)
            shutil.rmtree(home, ignore_errors=True)
    _report(rows, args)
    return 0 if all(r["works"] for r in rows) else 1


def _options():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ansible", default=DEFAULT_LINES, help=f"comma-separated versions (default {DEFAULT_LINES})")
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def _labctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, check=check)


def _runtimes(versions: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(version, playbook, targets): 2.3 and 2.4 know only `createhome`; 2.8 and later also get
    the Python 3.11 machines (2.4 to 2.7 cannot drive Python 3.11 at all)."""
    out = []
    for version in versions.split(","):
        minor = tuple(int(p) for p in version.split(".")[:2])
        playbook = "smoke-24.yml" if minor < (2, 5) else "smoke-short.yml"
        out.append((version, playbook, ("py27", "deb12") if minor >= (2, 8) else ("py27",)))
    return out


def _phase_name(version: str, target: str) -> str:
    return f"b{version.replace('.', '')[:2]}-{target}"


def _write_specs(home: Path, lines) -> dict[str, Path]:
    """smoke.yml for the old lines (a probe task first), and one spec per strategy."""
    smoke = (ROOT / "ansible" / "smoke.yml").read_text()
    smoke = smoke.replace("  tasks:\n", "  tasks:\n" + PROBE_TASK, 1).replace("ansible.builtin.", "")
    (home / "smoke-short.yml").write_text(smoke)
    (home / "smoke-24.yml").write_text(smoke.replace("create_home:", "createhome:"))
    phases = "".join(f'  - {{name: {_phase_name(v, t)}, playbook: {pb}, hosts: {t}, runtime: {{ansible: "=={v}"}}}}\n'
                     for v, pb, targets in lines for t in targets)
    specs = {}
    for strategy in STRATEGIES:
        specs[strategy] = home / f"mitog-bench-{strategy}.yaml"
        specs[strategy].write_text(SPEC.format(strategy=strategy, image=IMAGE, phases=phases))
    return specs


def _measure(specs: dict[str, Path], labdir: Path, runs: int, lines) -> list[dict]:
    from labctl.spec import load_lab

    labs = {s: load_lab(str(p))[0] for s, p in specs.items()}
    rows = []
    for version, _, targets in lines:
        for target in targets:
            name = _phase_name(version, target)
            rows += _measure_phase(labs, labdir, name, runs, target)
    return rows


def _measure_phase(labs: dict, labdir: Path, name: str, runs: int, target: str) -> list[dict]:
    from labctl import runtimes

    phase = next(p for p in labs["linear"].spec.phases if p.name == name)
    runtime = runtimes.for_phase(labs["linear"], phase)
    results = {s: {"seconds": [], "errors": [], "mitogen_hosts": set()} for s in STRATEGIES}
    for run in range(runs + 1):  # run 0 is the warm-up
        order = STRATEGIES if run % 2 == 0 else STRATEGIES[::-1]
        for strategy in order:
            _one_run(labs[strategy], labdir, phase, results[strategy], counted=run > 0)
    base = statistics.median(results["linear"]["seconds"]) if results["linear"]["seconds"] else None
    return [_row(runtime.name, target, s, results[s], base) for s in STRATEGIES]


def _one_run(lab, labdir: Path, phase, result: dict, counted: bool) -> None:
    from labctl import provision
    from labctl.errors import LabctlError

    _render_cfg(lab, labdir)
    seen: list[dict] = []
    started = time.perf_counter()
    try:
        provision.run(lab, labdir, phase, lambda _msg: None)
    except LabctlError as err:
        result["errors"].append(err.render())
        return
    elapsed = time.perf_counter() - started
    if counted:
        result["seconds"].append(elapsed)
    seen = _probe_results(labdir, phase.name)
    result["mitogen_hosts"] |= {host for host, lines in seen if any(x.startswith("mitogen:") for x in lines)}
    result["hosts"] = {host for host, _ in seen}


def _render_cfg(lab, labdir: Path) -> None:
    """ansible.cfg for the lab's strategy (the machines and inventory stay as `up` made them)."""
    from labctl.fsutil import write_atomic
    from labctl.render import _ansible_cfg

    write_atomic(labdir / "ansible.cfg", _ansible_cfg(lab), 0o644)


def _probe_results(labdir: Path, phase: str) -> list[tuple[str, list[str]]]:
    """(host, stdout lines) of the probe task, from the events labctl's run saved."""
    runs = sorted((labdir / ".labctl" / "runs" / phase / "artifacts").iterdir(), key=lambda p: p.stat().st_mtime)
    out = []
    for path in (runs[-1] / "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        data = event.get("event_data", {})
        if event["event"] == "runner_on_ok" and data.get("task") == "Look for the mitogen context process":
            out.append((data["host"], data["res"].get("stdout_lines", [])))
    return out


def _row(runtime: str, target: str, strategy: str, result: dict, base: float | None) -> dict:
    times = result["seconds"]
    works, why = _works(strategy, result)
    median = statistics.median(times) if times else None
    return {"runtime": runtime, "target": target, "strategy": strategy, "runs": len(times), "median": median,
            "min": min(times) if times else None, "max": max(times) if times else None,
            "ratio": median / base if median and base else None, "works": works, "why": why}


def _works(strategy: str, result: dict) -> tuple[bool, str]:
    if result["errors"]:
        return False, result["errors"][0]
    hosts = result.get("hosts", set())
    if not hosts:
        return False, "no probe events reached labctl"
    if strategy.startswith("mitogen"):
        missing = sorted(hosts - result["mitogen_hosts"])
        return (False, f"no mitogen context on {', '.join(missing)}") if missing else (True, f"events ok, mitogen on {len(hosts)} hosts")
    return True, f"events ok on {len(hosts)} hosts"


def _report(rows: list[dict], args) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"smoke playbook (+ a probe task), docker nodes, {args.runs} runs each after a warm-up:")
    for r in rows:
        if r["median"] is None:
            print(f"{r['runtime']} -> {r['target']} {r['strategy']}: no timed run; works: no ({r['why']})")
            continue
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        print(f"{r['runtime']} -> {r['target']} x3 {r['strategy']}: median {r['median']:.2f}s "
              f"(min {r['min']:.2f}, max {r['max']:.2f}), ratio vs linear {ratio}; "
              f"works: {'yes' if r['works'] else 'no'} ({r['why']})")


if __name__ == "__main__":
    sys.exit(main())

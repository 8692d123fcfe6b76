"""The openshift preflight, whole process: render, runtime ready, upstream's inventory checks.

Usage: python bench/preflight.py [--release 3.11] [--runs 5] [--shared ../shared]

One run = three fresh processes, as `labctl up` would do them before booting anything:
render the lab (`labctl render`, the release's overlays applied), `labctl runtime build` (already built:
the budget is "with the runtime built"; the first build is not counted), and the preflight
playbook with the release's Ansible against the pinned openshift-ansible checkout (cloned once
from ../shared/upstream by URL rewriting). Prints each step's median and the total's; for 3.10 and
3.11 also the whole `labctl up --provider docker` with a removed variable, until preflight refuses it
(one process: render, runtimes ready, upstream's checks; no machine is created).
Budget (DESIGN.md): <= 10 s. Exits 1 when a step fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 10.0
UP_STEP = "labctl up, refused in preflight"
UPSTREAM = "https://github.com/openshift/openshift-ansible.git"
# a variable each release's sanity_checks refuse (3.10+ replaced node labels by node groups)
REMOVED = {r: "nodes.origin-infra.vars.openshift_node_labels={region: infra}" for r in ("3.10", "3.11")}
# should preflight let it through, machines would boot: on a subnet of its own, then destroyed
SAFE_SUBNET = ["--set", "networks.lab.cidr=192.168.113.0/24", "--set", "nodes.origin-proxy.networks.lab=192.168.113.9"]


def _env(work: Path, upstream: Path) -> dict[str, str]:
    return {**os.environ, "LABCTL_HOME": str(work / "home"), "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{upstream}/openshift-ansible.git.insteadOf", "GIT_CONFIG_VALUE_0": UPSTREAM,
            "LABCTL_RUNTIMES_DIR": os.environ.get("LABCTL_RUNTIMES_DIR", str(work / "runtimes")),
            "ANSIBLE_STRATEGY": "linear", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_ROLES_PATH": str(ROOT / "ansible/roles")}


def _timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - start, result.stdout


def _prepare(release: str, env: dict[str, str]) -> tuple[Path, Path]:
    """The checkout (cloned once) and the runtime's ansible-playbook (built once): not timed."""
    labctl = [sys.executable, "-m", "labctl"]
    _timed([*labctl, "runtime", "build", "openshift", "--set", f"release={release}"], env)
    rows = json.loads(_timed([*labctl, "runtime", "list", "openshift", "--set", f"release={release}", "--json"], env)[1])
    phase = f"openshift-checks-{release.replace('.', '-')}"
    bindir = Path(next(r for r in rows if phase in r["phases"])["path"]) / "bin"
    code = ("from labctl.provision.sources import checkout; from labctl.spec.model import SourceSpec; "
            "from labctl.spec import load_lab; lab, _ = load_lab('openshift', sets=['release={r}']); "
            "print(checkout(SourceSpec(git='{u}', ref=lab.spec.params['openshift_ansible_ref_{k}'])))")
    out = _timed([sys.executable, "-c", code.format(r=release, u=UPSTREAM, k=release.replace(".", "_"))], env)[1]
    return Path(out.strip()), bindir


def _one(release: str, env: dict[str, str], work: Path, source: Path, bindir: Path) -> dict[str, float]:
    labdir = work / "lab"
    t_render, _ = _timed([sys.executable, "-m", "labctl", "render", "openshift", "-o", str(labdir), "--set", f"release={release}"], env)
    t_runtime, _ = _timed([sys.executable, "-m", "labctl", "runtime", "build", "openshift", "--set", f"release={release}"], env)
    playbook = [str(bindir / "ansible-playbook"), "-i", "inventory", str(ROOT / "ansible/playbooks/openshift-preflight.yml"),
                "-e", f"labctl_source_dir={source}"]
    t_checks, _ = _timed(playbook, env, cwd=labdir)
    steps = {"render": t_render, "runtime ready": t_runtime, "upstream checks": t_checks, "total": t_render + t_runtime + t_checks}
    if release in REMOVED:
        steps[UP_STEP] = _refused(release, env)
    return steps


def _refused(release: str, env: dict[str, str]) -> float:
    """The same steps as the user sees them: `labctl up --provider docker` with a variable upstream
    removed, until it exits 1 in preflight (nothing is created)."""
    argv = [sys.executable, "-m", "labctl", "up", "openshift", "--provider", "docker", "--set", f"release={release}",
            "--set", REMOVED[release], *SAFE_SUBNET]
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 1 or "labctl: error: preflight " not in result.stderr:
        subprocess.run([sys.executable, "-m", "labctl", "down", "openshift", "--force"], env=env, capture_output=True)
        sys.exit(f"expected a preflight refusal: {' '.join(argv)}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="3.11", choices=["3.9", "3.10", "3.11"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labctl-bench-preflight-") as tmp:
        work = Path(tmp)
        subprocess.run(["tar", "-xf", f"{args.shared}/upstream/openshift-ansible.git.tar", "-C", tmp], check=True)
        env = _env(work, work)
        source, bindir = _prepare(args.release, env)
        _one(args.release, env, work, source, bindir)  # warm-up, not counted
        runs = [_one(args.release, env, work, source, bindir) for _ in range(args.runs)]
    for step in runs[0]:
        median = statistics.median(r[step] for r in runs)
        note = f"  (budget <= {BUDGET_S:.0f} s: {'ok' if median <= BUDGET_S else 'OVER'})" if step in ("total", UP_STEP) else ""
        print(f"openshift {args.release} preflight, {step}: median {median:.2f} s over {args.runs} runs{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

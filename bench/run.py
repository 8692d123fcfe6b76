"""Whole-process benchmarks of labctl against the budgets in DESIGN.md (run by hand).

Usage: python bench/run.py [--labctl PATH] [--netlab PATH] [--runs N] [--json]

Every run is a fresh process, spawned by bench/probe.py, which times it around
posix_spawn and os.wait4 and takes its CPU time and peak RSS from the rusage os.wait4
returns for that one child. The commands run in turn, one run of each per round, so a
machine that slows down (other tenants, stolen CPU) slows labctl and its baselines
alike; the first round warms up and is not counted. The report always exits 0 when
everything ran, even over budget; 1 when a command failed.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gen_spec import write_spec
from netlab_topology import write_topology

MIN_RUNS = 7
PROBE = Path(__file__).with_name("probe.py")


@dataclass
class Result:
    """Timings of one measured command."""

    name: str
    argv: list[str]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of each run
    rss_kib: list[int] = field(default_factory=list)
    error: str | None = None
    budget_s: float | None = None
    budget_mib: float | None = None
    baseline_of: str | None = None  # the labctl lines this baseline compares with, comma-separated
    fresh_home: bool = False  # each run with an empty LABCTL_HOME: no spec cache, as after an edit

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024

    @property
    def ok(self) -> bool:
        over_time = self.budget_s is not None and self.median > self.budget_s
        over_mem = self.budget_mib is not None and self.peak_mib > self.budget_mib
        return not (over_time or over_mem)


def run_once(argv: list[str], cwd: Path, env: dict, log: Path) -> tuple[float, float, int, int]:
    """Run argv once as a fresh process via probe.py; return (seconds, CPU seconds, peak RSS KiB, exit code)."""
    cmd = [sys.executable, "-I", "-S", str(PROBE), str(log), *argv]
    done = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
    seconds, cpu, rss_kib, code = done.stdout.split()
    return float(seconds), float(cpu), int(rss_kib), int(code)


def measure_all(todo: list[Result], runs: int, work: Path, env: dict) -> list[Result]:
    """A warm-up round, then `runs` rounds; each round runs every command once, in turn."""
    for i in range(runs + 1):
        for result in todo:
            if not result.error:
                measure_once(result, work, env, counted=i > 0)
    return todo


def measure_once(result: Result, work: Path, env: dict, counted: bool) -> None:
    """One run of result.argv: in a fresh directory ({OUT}), or in the one directory the warm-up
    rendered ({KEPT}: the counted runs find it unchanged)."""
    cwd = Path(tempfile.mkdtemp(dir=work))
    argv = [a.replace("{OUT}", str(cwd / "out")).replace("{KEPT}", str(work / "kept")) for a in result.argv]
    run_env = {**env, "LABCTL_HOME": str(cwd / "home")} if result.fresh_home else env
    seconds, cpu, rss, code = run_once(argv, cwd, run_env, cwd / "bench.log")
    if code != 0:
        result.error = f"exit {code}: {_tail(cwd / 'bench.log')}"
    elif counted:
        result.times.append(seconds)
        result.cpu.append(cpu)
        result.rss_kib.append(rss)


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def find_tool(given: str | None, default: Path | None, name: str) -> str | None:
    """The tool's absolute path: --NAME if given, else `default` if it exists, else PATH."""
    if given:
        return shutil.which(given) or None
    if default is not None and default.is_file():
        return str(default)
    return shutil.which(name)


def plan(labctl: str, netlab: str | None, specs: dict[str, Path]) -> list[Result]:
    """The measurements, labctl's first; baselines name the labctl line they compare with."""
    todo = [
        Result("render-5", [labctl, "render", "openshift", "-o", "{OUT}"], budget_s=0.15),
        Result("render-5 unchanged", [labctl, "render", "openshift", "-o", "{KEPT}"], budget_s=0.15),
        Result("render-5 uncached", [labctl, "render", "openshift", "-o", "{OUT}"], fresh_home=True),
        Result("render-50", [labctl, "render", str(specs["spec50"]), "-o", "{OUT}"], budget_s=0.25, budget_mib=60),
        Result("render-200", [labctl, "render", str(specs["spec200"]), "-o", "{OUT}"], budget_s=0.8),
        Result("help", [labctl, "--help"], budget_s=0.12),
    ]
    if netlab:
        todo.append(Result("netlab create 3", [netlab, "create", str(specs["netlab3"])], baseline_of="render-5,render-5 unchanged"))
        todo.append(Result("netlab create 50", [netlab, "create", str(specs["netlab50"])], baseline_of="render-50"))
        todo.append(Result("netlab --help", [netlab, "--help"], baseline_of="help"))
    return todo


def write_inputs(work: Path) -> dict[str, Path]:
    """Generate the 50- and 200-node specs and the 3- and 50-node netlab topologies (render-5 is the openshift lab)."""
    return {
        "spec50": write_spec(50, work / "bench-50.yaml"),
        "spec200": write_spec(200, work / "bench-200.yaml"),
        "netlab50": write_topology(50, work / "netlab-50.yml"),
        "netlab3": write_topology(3, work / "netlab-3.yml"),
    }


def child_env(work: Path) -> dict:
    """The environment for every child: ours, with labctl's state kept in the work dir."""
    env = dict(os.environ)
    env["LABCTL_HOME"] = str(work / "labctl-home")
    env.setdefault("NO_COLOR", "1")
    return env


def format_line(r: Result, by_name: dict[str, Result]) -> str:
    """One human-readable report line for a result."""
    label = f"baseline {r.name}" if r.baseline_of else r.name
    if r.error:
        return f"{label}: FAILED ({r.error})"
    line = f"{label}: median {r.median:.3f} s (min {min(r.times):.3f} s, CPU {statistics.median(r.cpu):.3f} s), peak RSS {r.peak_mib:.1f} MiB"
    if r.baseline_of:
        return line + "".join(_ratio(by_name.get(name), r) for name in r.baseline_of.split(","))
    return line + _budget(r)


def _budget(r: Result) -> str:
    if r.budget_s is None:
        return ""
    parts = [f"{r.budget_s:g} s"] + ([f"{r.budget_mib:g} MiB"] if r.budget_mib is not None else [])
    return f", budget {' / '.join(parts)}: {'OK' if r.ok else 'OVER'}"


def _ratio(ours: Result | None, base: Result) -> str:
    if ours is None or ours.error or not ours.times:
        return ""
    speed = f", labctl {base.median / ours.median:.1f}x faster" if ours.median else ""
    return f"; ratio labctl/netlab {ours.median / base.median:.2f}x ({ours.name}){speed}"


def as_json(results: list[Result], notes: list[str]) -> str:
    """The whole report as a JSON document; baselines carry `ratios` (labctl line -> its median / theirs)."""
    by_name = {r.name: r for r in results}
    rows = []
    for r in results:
        row = asdict(r) | {"ok": None if r.error else r.ok}
        if r.times:
            row |= {"median_s": r.median, "min_s": min(r.times), "peak_rss_mib": r.peak_mib}
        for name in (r.baseline_of or "").split(",") if r.times else ():
            ours = by_name.get(name)
            if ours and ours.times:
                row.setdefault("ratios", {})[name] = ours.median / r.median
        rows.append(row)
    return json.dumps({"runs": rows, "notes": notes}, indent=2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="labctl whole-process benchmarks (a report, not a test)")
    p.add_argument("--labctl", help="labctl executable (default: labctl next to this Python)")
    p.add_argument("--netlab", help="netlab executable for the baseline (default: netlab on PATH)")
    p.add_argument("--runs", type=int, default=MIN_RUNS, help=f"counted runs per command (at least {MIN_RUNS})")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    if args.runs < MIN_RUNS:
        p.error(f"--runs must be at least {MIN_RUNS}")
    return args


def tools(args: argparse.Namespace) -> tuple[str | None, str | None, list[str]]:
    """Locate labctl and netlab; notes say what is missing."""
    labctl = find_tool(args.labctl, Path(sys.executable).parent / "labctl", "labctl")
    netlab = find_tool(args.netlab, None, "netlab")
    notes = [] if netlab else ["netlab not found (pip install networklab, then --netlab PATH): baseline skipped"]
    return labctl, netlab, notes


def run_all(labctl: str, netlab: str | None, runs: int) -> list[Result]:
    """Generate the inputs in a temporary directory and run every measurement there."""
    with tempfile.TemporaryDirectory(prefix="labctl-bench-") as tmp:
        work = Path(tmp)
        todo = plan(labctl, netlab, write_inputs(work))
        return measure_all(todo, runs, work, child_env(work))


def report(results: list[Result], notes: list[str], use_json: bool) -> None:
    """Print the report as lines, or as JSON."""
    if use_json:
        print(as_json(results, notes))
        return
    by_name = {r.name: r for r in results}
    print("\n".join([*(format_line(r, by_name) for r in results), *(f"note: {n}" for n in notes)]))


def main(argv: list[str]) -> int:
    """Run every measurement and print the report; 0 even over budget, 1 if a command failed."""
    args = parse_args(argv)
    labctl, netlab, notes = tools(args)
    if not labctl:
        print("labctl not found: pip install -e . into this venv, or pass --labctl PATH", file=sys.stderr)
        return 2
    results = run_all(labctl, netlab, args.runs)
    over = [r.name for r in results if not r.error and not r.ok]
    notes += [f"OVER budget: {', '.join(over)}"] if over else []
    report(results, notes, args.json)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

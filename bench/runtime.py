"""The smoke playbook under the ansible-core 2.16 runtime against labctl's own ansible-core, on
the same three Docker machines in the same run (run by hand).

Usage: python bench/runtime.py [--runs N] [--strategy mitogen_linear|linear] [--keep] [--json]

A lab of its own, `rt-bench` (the smoke lab's machines as rt-bench-1..3 on 192.168.102.0/24),
comes up once with LABCTL_HOME in a temporary directory (runtimes are shared through
LABCTL_RUNTIMES_DIR when set, so a built 2.16 runtime is reused). Its two phases run the same
smoke.yml: `smoke-216` with `runtime: {ansible: ">=2.16,<2.17"}`, `smoke-own` with labctl's own
ansible-core. Each timed run is one `labctl.provision.run` of a phase (ansible-runner, events
and all); the two alternate, 2.16 first on odd runs, after one uncounted warm-up of each (the
`up`). Times are medians. Exit 0 when everything ran, 1 when a run failed, 130 when interrupted
(the lab is destroyed unless --keep).
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

SPEC = """\
name: rt-bench
extends: smoke
ansible: {{strategy: {strategy}}}
networks:
  lab: {{cidr: 192.168.102.0/24, start: 11}}
nodes:
  smoke-[1:3]: null
  rt-bench-[1:3]: {{groups: [smoke]}}
groups:
  web: {{hosts: [rt-bench-1]}}
phases:
  - {{name: smoke, drop: true}}
  - {{name: smoke-216, playbook: smoke.yml, runtime: {{ansible: ">=2.16,<2.17"}}}}
  - {{name: smoke-own, playbook: smoke.yml}}
checks:
  - {{name: ssh on smoke-1, drop: true}}
  - {{name: smoke-2 resolves smoke-3, drop: true}}
  - {{name: http on rt-bench-1, node: rt-bench-1, port: 8080}}
"""


def main() -> int:
    args = _options()
    home = Path(tempfile.mkdtemp(prefix="labctl-bench-runtime-"))
    os.environ["LABCTL_HOME"] = str(home)
    spec, labdir = home / "rt-bench.yaml", home / "lab"
    spec.write_text(SPEC.format(strategy=args.strategy))
    try:
        _labctl("up", str(spec), "-d", str(labdir))
        times = _measure(spec, labdir, args.runs)
    except KeyboardInterrupt:
        return 130
    except subprocess.CalledProcessError as exc:
        print(f"failed: {' '.join(exc.cmd)} (exit {exc.returncode})\n{exc.stderr}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            _labctl("down", str(spec), "-d", str(labdir), "--force", check=False)
    _report(times, args)
    return 0


def _options():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--strategy", default="mitogen_linear", choices=["mitogen_linear", "linear"])
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def _labctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, check=check)


def _measure(spec: Path, labdir: Path, runs: int) -> dict[str, list[float]]:
    from labctl import provision, runtimes
    from labctl.spec import load_lab

    lab, _ = load_lab(str(spec))
    phases = {p.name: p for p in lab.spec.phases}
    names = {n: runtimes.for_phase(lab, phases[n]).name for n in ("smoke-216", "smoke-own")}
    times: dict[str, list[float]] = {names["smoke-216"]: [], names["smoke-own"]: []}
    for run in range(runs):
        order = ["smoke-216", "smoke-own"] if run % 2 == 0 else ["smoke-own", "smoke-216"]
        for name in order:
            started = time.perf_counter()
            provision.run(lab, labdir, phases[name], lambda _msg: None)
            times[names[name]].append(time.perf_counter() - started)
    return times


def _report(times: dict[str, list[float]], args) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    if args.json:
        print(json.dumps({"strategy": args.strategy, "runs": args.runs, "seconds": times, "medians": medians}, indent=2))
        return
    (old, t_old), (own, t_own) = medians.items()
    print(f"smoke playbook, 3 docker nodes, strategy {args.strategy}, {args.runs} runs each: "
          f"{old} median {t_old:.2f}s, {own} (labctl's own) median {t_own:.2f}s, ratio {t_old / t_own:.2f}")


if __name__ == "__main__":
    sys.exit(main())

"""Bench: a second, no-change `labctl provision avi` against the Avi controller API double (run by hand).

Usage: python bench/avi_provision.py [--runs N] [--keep]

Starts tests/doubles/avi.py (a DOUBLE of the Avi 17.2 controller API, HTTPS on 127.0.0.1) in this process,
brings the built-in avi lab up on docker against it (avi_controller set: no controller machine, the two SE
hosts are real containers the double SSHes into), then times N whole-process `labctl provision avi` runs
on the unchanged lab and checks that none of them wrote to the controller. Budget (DESIGN.md): median
<= 4 s (the vendor's modules sleep after writes; a no-change run makes no write and no sleep).
LABCTL_HOME is a temporary directory; the lab is destroyed at the end unless --keep.
Exit 0 when everything ran (even over budget), 1 when a command failed or a run wrote something.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO.parent / "shared" / "reference" / "avi"
INITIAL = "bench-Factory-pa55"
BUDGET = 4.0
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def labctl(env: dict, *args: str) -> float:
    """Run labctl as a fresh process; return its wall time, or exit 1 when it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labctl", *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"labctl {' '.join(args)} failed (rc {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def writes(calls) -> int:
    return sum(1 for method, path in calls if method in WRITES and path != "/login")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from doubles import avi

    workdir = Path(tempfile.mkdtemp(prefix="bench-avi-"))
    env = dict(os.environ, LABCTL_HOME=str(workdir / "home"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    double = avi.start(SCHEMAS, INITIAL)
    try:
        sets = [f"avi_controller={double.url}", f"avi_ca_file={double.cafile}", f"avi_initial_password={INITIAL}",
                "dns_servers=[192.0.2.53]", "ntp_servers=[192.0.2.123]"]
        up = labctl(env, "up", "avi", "--provider", "docker", *[a for s in sets for a in ("--set", s)])
        before = len(double.controller.calls)
        first = writes(double.controller.calls)
        times = [labctl(env, "provision", "avi") for _ in range(args.runs)]
        wrote = writes(double.controller.calls[before:])
        median = statistics.median(times)
        print(f"avi: up {up:.1f} s ({first} writes); no-change provision x{args.runs}: median {median:.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s, writes {wrote}; budget <= {BUDGET} s: "
              f"{'ok' if median <= BUDGET else 'OVER'}")
        return 1 if wrote else 0
    finally:
        if not args.keep:
            subprocess.run([sys.executable, "-m", "labctl", "down", "avi", "--force"], env=env, capture_output=True, check=False)
        double.stop()


if __name__ == "__main__":
    sys.exit(main())

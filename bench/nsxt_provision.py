"""Bench: a second, no-change `labctl provision nsxt` against the NSX-T Manager API double (run by hand).

Usage: python bench/nsxt_provision.py [--runs N] [--keep] [--register-kvm-hosts]

Starts tests/doubles/nsxt.py (a DOUBLE of the NSX-T Manager API, HTTPS on 127.0.0.1) as its own process,
brings the built-in nsxt lab up on docker against it (prepare_hosts=false), then times N whole-process
`labctl provision nsxt` runs on the unchanged lab and asserts none of them wrote to the manager.
Budget (DESIGN.md): median <= 4 s (ansible-for-nsxt sleeps 5 s after every write and its advertisement
task always writes). LABCTL_HOME is a temporary directory; the lab is destroyed at the end unless --keep.
With --register-kvm-hosts the two docker machines are registered as transport nodes too (the double logs in
to each by SSH at registration; a no-change run reads each host's key over Ansible's connection, so it costs
an SSH round per host: reported, not held to the 4 s budget of the manager-only run).
Exit 0 when everything ran (even over budget), 1 when a command failed or a run wrote something.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Nsx-pa55"
BUDGET = 4.0


def start_double(workdir: Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, NSXT_DOUBLE_PASSWORD=PASSWORD, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tests.doubles.nsxt", "--dir", str(workdir)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())["port"]


def writes(port: int, workdir: Path) -> int:
    context = ssl.create_default_context(cafile=str(workdir / "cert.pem"))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/_double/writes", context=context, timeout=10) as resp:
        return len(json.loads(resp.read()))


def labctl(env: dict, *args: str) -> float:
    """Run labctl as a fresh process; return its wall time, or exit 1 when it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labctl", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"labctl {' '.join(args)} failed (rc {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    parser.add_argument("--register-kvm-hosts", action="store_true", help="register the KVM hosts as transport nodes too")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-nsxt-"))
    env = dict(os.environ, LABCTL_HOME=str(workdir / "home"), LABCTL_NSX_PASSWORD=PASSWORD)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc, port = start_double(workdir)
    try:
        sets = ["--set", f"nsx_manager=127.0.0.1:{port}", "--set", "nsx_validate_certs=false", "--set", "prepare_hosts=false"]
        if args.register_kvm_hosts:
            sets += ["--set", "register_kvm_hosts=true"]
        up = labctl(env, "up", "nsxt", "--provider", "docker", *sets)
        before = writes(port, workdir)
        times = [labctl(env, "provision", "nsxt") for _ in range(args.runs)]
        wrote = writes(port, workdir) - before
        median = statistics.median(times)
        mode = " (register_kvm_hosts)" if args.register_kvm_hosts else ""
        print(f"nsxt{mode}: up {up:.1f} s ({before} writes); no-change provision x{args.runs}: median {median:.2f} s, "
              f"min {min(times):.2f} s, max {max(times):.2f} s, writes {wrote}; budget <= {BUDGET} s: "
              f"{'ok' if median <= BUDGET else 'OVER'}")
        return 1 if wrote else 0
    finally:
        if not args.keep:
            subprocess.run([sys.executable, "-m", "labctl", "down", "nsxt", "--force"], env=env, capture_output=True)
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

"""Lab lifecycle benchmarks on real Docker machines against the budgets in DESIGN.md (run by hand).

Usage: python bench/up.py [--labctl PATH] [--runs N] [--reup-runs N] [--ansible-runs N]
                          [--only up,re-up,ansible] [--breakdown] [--keep] [--json]

Three measurements on a lab of its own, `benchup` (the built-in smoke lab on 192.168.77.0/24,
containers benchup-smoke-N), with LABCTL_HOME in a temporary directory:

1. up-smoke: `labctl up SPEC` from nothing, against the same work done by hand in the same
   run: `vagrant up --provider docker` with labctl's rendered Vagrantfile, `vagrant ssh-config`
   for the ports, then `ansible-playbook` of common.yml and smoke.yml with labctl's rendered
   inventory and ansible.cfg. The two alternate (labctl first on odd runs), and everything is
   destroyed between runs. Budget: labctl / raw <= 1.0 (DESIGN.md).
2. re-up: `labctl up SPEC` again on the unchanged running lab. Budget: <= 1.5 s (issue #7).
3. ansible-cfg: on the running lab, ansible-playbook with labctl's rendered ansible.cfg
   against Ansible's defaults (an empty ANSIBLE_CONFIG), same inventory and hosts.
   Budget: defaults / labctl >= 1.5. Also shown: labctl's config with strategy = linear.

Every timed command is a fresh process, timed around its spawn and os.wait4 as probe.py
does; times are medians. One uncounted warm-up precedes the re-up and ansible-cfg runs; the
cold ups have none (each costs 15-50 s and a destroy), only a warm-up of the tools' files. Exit 0
when everything ran, even over budget; 1 when a command failed; 2 when a tool is missing,
the options are wrong or another up.py is running; 130 when interrupted (after destroying
the lab).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import proctrace
from run import find_tool

REPO = Path(__file__).resolve().parent.parent
LAB = "benchup"
IMAGE = "labctl/debian12:latest"
SUBNET = "192.168.77.0/24"
# The built-in smoke lab on a subnet of its own. Its check "smoke-2 resolves smoke-3" expects
# smoke's 192.168.56.13, so the spec replaces it (same name) with this subnet's address.
SPEC = f"""\
# bench/up.py's lab: the smoke lab on a subnet of its own, so it never meets `smoke`.
name: {LAB}
extends: smoke
networks: {{lab: {{cidr: {SUBNET}, start: 11}}}}
checks:
  - name: smoke-2 resolves smoke-3
    node: smoke-2
    command: getent hosts smoke-3
    expect: "^192\\\\.168\\\\.77\\\\.13\\\\s+smoke-3"
"""
# One run at a time per machine: two would share the lab name, containers and subnet, and
# each one's `labctl down --force` would destroy the other's machines.
LOCK = Path(tempfile.gettempdir()) / "labctl-bench-up.lock"
PLAYBOOKS = [REPO / "ansible" / "common.yml", REPO / "ansible" / "smoke.yml"]  # labctl's phases for smoke
TEN_TASKS = Path(__file__).with_name("ten_tasks.yml")
PROFILE_MIN, PROFILE_TOP = 0.02, 16  # profile rows: labctl functions with >= 2% of the run, at most 16
RAW_STEPS = ("vagrant up", "vagrant ssh-config", "ansible-playbook common.yml", "ansible-playbook smoke.yml")


class CommandError(Exception):
    """A measured or set-up command exited non-zero: `exit N: command: last line of its log`."""


@dataclass
class Result:
    """One report line: labctl's times, the baseline's, and the budget."""

    name: str
    what: str
    times: list[float] = field(default_factory=list)        # labctl (or labctl's ansible.cfg)
    cpu: list[float] = field(default_factory=list)
    base_label: str | None = None
    base_times: list[float] = field(default_factory=list)   # raw vagrant+ansible, or Ansible defaults
    base_cpu: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)  # the raw baseline's parts, per run
    live: list[int] = field(default_factory=list)       # ansible-cfg: SSH masters alive at each run's start
    base_live: list[int] = field(default_factory=list)
    budget: str | None = None     # "ratio<=" (labctl/baseline), "ratio>=" (baseline/labctl), "seconds<="
    limit: float | None = None
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def base_median(self) -> float:
        return statistics.median(self.base_times)

    @property
    def ratio(self) -> float | None:
        """labctl/raw for up-smoke; defaults/labctl (how much faster labctl's config is) for ansible-cfg."""
        if not (self.times and self.base_times):
            return None
        return self.median / self.base_median if self.budget == "ratio<=" else self.base_median / self.median

    @property
    def ok(self) -> bool | None:
        if self.error or not self.times or self.budget is None:
            return None
        if self.budget == "seconds<=":
            return self.median <= self.limit
        if self.ratio is None:
            return None
        return self.ratio <= self.limit if self.budget == "ratio<=" else self.ratio >= self.limit


@dataclass
class Bench:
    """Paths, tools and environment of one benchmark run."""

    work: Path
    labctl: str
    vagrant: str
    docker: str
    playbook: str
    strace: str | None
    env: dict
    logs: int = 0
    last_log: Path | None = None  # the log of the latest command

    @property
    def spec(self) -> Path:
        return self.work / f"{LAB}.yaml"

    @property
    def labdir(self) -> Path:
        return self.work / "labctl-home" / "labs" / LAB

    def log(self, argv: list[str]) -> Path:
        self.logs += 1
        self.last_log = self.work / "logs" / f"{self.logs:03d}-{Path(argv[0]).name}.log"
        self.last_log.parent.mkdir(parents=True, exist_ok=True)
        return self.last_log

    def timed(self, argv: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
        """Run argv once as a fresh process: (wall seconds, CPU seconds), or CommandError."""
        log = self.log(argv)
        seconds, cpu, code = spawn(argv, cwd, env or self.env, log)
        if code != 0:
            raise CommandError(f"exit {code}: {_short(argv)}: {_tail(log)}")
        return seconds, cpu

    def labctl_cmd(self, *args: str) -> tuple[float, float]:
        return self.timed([self.labctl, *args], self.work)

    def save_lab_logs(self) -> None:
        """Copy the lab's own logs (vagrant.log, ansible runs) next to ours before `down` removes them."""
        for name in ("logs", "runs"):
            source = self.labdir / ".labctl" / name
            if source.is_dir():
                shutil.copytree(source, self.work / "logs" / f"{self.logs:03d}-lab-{name}", dirs_exist_ok=True)

    def down(self) -> None:
        """Destroy labctl's lab and every leftover of benchup's: its label's containers, its subnet's network."""
        self.labctl_cmd("down", str(self.spec), "--force")
        shutil.rmtree(self.labdir, ignore_errors=True)


def spawn(argv: list[str], cwd: Path, env: dict, log: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one run of argv, its output in `log`.

    Timed as probe.py does, around the spawn and os.wait4, but from this process: no peak
    RSS is reported here, so the parent's size does not matter. CPU is user + system time
    from the rusage wait4 returns: the command and every descendant it reaped (vagrant's
    ruby and docker CLIs, ansible's workers and ssh clients); not daemons (dockerd, SSH
    ControlPersist masters) and not the work inside the containers.
    """
    with open(log, "wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM: stop this command before the cleanup runs
            _stop(child)
            raise
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_utime + usage.ru_stime, child.returncode


def _stop(child: subprocess.Popen, pid: int | None = None) -> None:
    """End a command this script started (or `pid`, a process it started under strace), by its id."""
    for target in filter(None, (pid, child.pid)):
        try:
            os.kill(target, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _short(argv: list[str]) -> str:
    return " ".join(Path(a).name if a.startswith("/") else a for a in argv[:4])


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
    return lines[-1].strip() if lines else "(no output)"


# 1. cold up ---------------------------------------------------------------------------------

def measure_cold(b: Bench, runs: int) -> Result:
    r = Result("up-smoke", "`labctl up SPEC` from nothing", base_label="raw vagrant+ansible",
               budget="ratio<=", limit=1.0, steps={s: [] for s in RAW_STEPS})
    rendered = b.work / "rendered"
    try:
        b.labctl_cmd("render", str(b.spec), "-o", str(rendered))
        warm_up_tools(b)
        for i in range(runs):
            for side in (("labctl", "raw") if i % 2 == 0 else ("raw", "labctl")):
                seconds, cpu = cold_labctl(b) if side == "labctl" else cold_raw(b, rendered, r.steps)
                (r.times if side == "labctl" else r.base_times).append(seconds)
                (r.cpu if side == "labctl" else r.base_cpu).append(cpu)
    except CommandError as exc:
        r.error = str(exc)
    return r


def warm_up_tools(b: Bench) -> None:
    """Read every tool's files once (page cache, __pycache__), so no counted run is the first."""
    for argv in ([b.vagrant, "--version"], [b.playbook, "--version"], [b.docker, "image", "inspect", IMAGE], [b.labctl, "--help"]):
        b.timed(argv, b.work)


def cold_labctl(b: Bench) -> tuple[float, float]:
    shutil.rmtree(b.labdir, ignore_errors=True)
    try:
        return b.labctl_cmd("up", str(b.spec))
    except CommandError:
        b.save_lab_logs()
        raise
    finally:
        b.down()


def cold_raw(b: Bench, rendered: Path, steps: dict[str, list[float]]) -> tuple[float, float]:
    """vagrant up, ssh-config, both playbooks, in a fresh copy of the rendered lab directory."""
    raw = b.work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir()
    shutil.copy2(rendered / "Vagrantfile", raw)
    shutil.copy2(rendered / "ansible.cfg", raw)
    shutil.copytree(rendered / "inventory", raw / "inventory")
    env = {**b.env, "ANSIBLE_CONFIG": str(raw / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    done: dict[str, tuple[float, float]] = {}
    try:
        done["vagrant up"] = b.timed([b.vagrant, "up", "--provider", "docker"], raw)
        done["vagrant ssh-config"] = b.timed([b.vagrant, "ssh-config"], raw)
        write_endpoints(b.last_log, raw / "inventory" / "endpoints.yml")  # untimed, milliseconds
        for book in PLAYBOOKS:
            done[f"ansible-playbook {book.name}"] = b.timed([b.playbook, "-i", "inventory", str(book)], raw, env)
    finally:
        try:
            if (raw / ".vagrant").is_dir():
                b.timed([b.vagrant, "destroy", "-f"], raw)
        finally:
            b.down()  # the docker network, and the containers if destroy failed
            shutil.rmtree(raw, ignore_errors=True)
    for name, (seconds, _) in done.items():
        steps[name].append(seconds)
    return sum(s for s, _ in done.values()), sum(c for _, c in done.values())


def write_endpoints(ssh_config_log: Path, target: Path) -> None:
    """inventory/endpoints.yml (as labctl writes it) from `vagrant ssh-config` output. JSON is YAML."""
    hosts: dict[str, dict] = {}
    current = None
    for line in ssh_config_log.read_text().splitlines():
        words = line.split(None, 1)
        if len(words) != 2:
            continue
        key, value = words[0].lower(), words[1].strip().strip('"')
        if key == "host":
            current = hosts.setdefault(value, {})
        elif current is not None and key in ("hostname", "port", "user", "identityfile"):
            current[key] = value
    missing = [name for name in ("smoke-1", "smoke-2", "smoke-3") if "port" not in hosts.get(name, {})]
    if missing:
        raise CommandError(f"vagrant ssh-config: no port for {', '.join(missing)}")
    endpoints = {
        name: {"ansible_host": h["hostname"], "ansible_port": int(h["port"]), "ansible_user": h["user"],
               "ansible_ssh_private_key_file": h["identityfile"]}
        for name, h in sorted(hosts.items())
    }
    target.write_text(json.dumps({"all": {"hosts": endpoints}}, indent=2) + "\n")


# 2. re-up -----------------------------------------------------------------------------------

def measure_reup(b: Bench, runs: int, breakdown: list) -> Result:
    r = Result("re-up", "`labctl up SPEC` again on the unchanged running lab", budget="seconds<=", limit=1.5)
    try:
        if b.strace:
            breakdown.append(traced(b, "up-smoke (cold)", ["up", str(b.spec)]))
        else:
            b.labctl_cmd("up", str(b.spec))  # the lab for this section and the next
        b.labctl_cmd("up", str(b.spec))  # warm-up: the first re-up
        for _ in range(runs):
            seconds, cpu = b.labctl_cmd("up", str(b.spec))
            r.times.append(seconds)
            r.cpu.append(cpu)
        if b.strace:
            breakdown.append(traced(b, "re-up", ["up", str(b.spec)]))
    except CommandError as exc:
        b.save_lab_logs()
        r.error = str(exc)
    return r


def traced(b: Bench, name: str, args: list[str]) -> dict:
    """One extra, uncounted labctl run under strace: what it ran, when, for how long.

    strace -f would wait for every traced process, including the SSH ControlPersist masters
    ansible leaves running for 2 minutes: once labctl itself has exited, strace is stopped
    (it detaches; the masters live on as they would without it).
    """
    trace = b.work / "logs" / f"strace-{name.split()[0]}.log"
    argv = [b.strace, *proctrace.STRACE_ARGS, "-o", str(trace), b.labctl, *args]
    with open(b.log(argv), "wb") as out:
        tracer = subprocess.Popen(argv, cwd=b.work, env=b.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        code = None
        try:
            while code is None and tracer.poll() is None:
                time.sleep(0.5)
                code = _root_exit(trace)
        except BaseException:  # Ctrl-C or SIGTERM: stop labctl too, not only strace
            _stop(tracer, _root_pid(trace))
            raise
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGTERM)
        tracer.wait()
    if code is None:
        code = tracer.returncode
    if code != 0:
        raise CommandError(f"exit {code}: strace labctl {' '.join(args[:1])}: {_tail(b.last_log)}")
    spans = proctrace.timeline(str(trace))
    return {"name": name, "seconds": spans[-1].start + spans[-1].seconds if spans else 0.0,
            "spans": [asdict(s) for s in spans]}


def profiled(b: Bench, name: str, args: list[str]) -> dict:
    """One extra, uncounted labctl run under cProfile: cumulative seconds of labctl's own functions.

    cProfile follows the main thread only (waits on worker threads count where the main thread
    waits) and slows Python code down, so these are for finding where time goes, not budgets.
    """
    python = _interpreter(b.labctl)
    if python is None:
        return {"name": name, "seconds": 0.0, "functions": [], "skipped": f"{b.labctl} is not a Python script"}
    prof = b.work / "logs" / f"profile-{name.split()[0]}.prof"
    seconds, _ = b.timed([python, "-m", "cProfile", "-o", str(prof), b.labctl, *args], b.work)
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        where = filename.replace(os.sep, "/")
        if "/labctl/" in where and cumulative >= PROFILE_MIN * seconds:
            module = where.rsplit("/labctl/", 1)[1].removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            rows.append({"function": f"{module}.{function}", "seconds": cumulative})
    rows.sort(key=lambda row: -row["seconds"])
    return {"name": name, "seconds": seconds, "functions": rows[:PROFILE_TOP]}


def _interpreter(script: str) -> str | None:
    """The Python of a console script, from its #! line."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode(errors="replace")
    except OSError:
        return None
    words = first[2:].split() if first.startswith("#!") else []
    return words[0] if words and "python" in Path(words[0]).name else None


def measure_profiles(b: Bench, breakdown: list) -> Result | None:
    """A cold up and a re-up under cProfile (after the lab is destroyed and made again)."""
    try:
        b.down()
        breakdown.append(profiled(b, "up-smoke (cold)", ["up", str(b.spec)]))
        breakdown.append(profiled(b, "re-up", ["up", str(b.spec)]))
    except CommandError as exc:
        return Result("breakdown", "labctl up under cProfile", error=str(exc))
    return None


def _root_pid(trace: Path) -> int | None:
    """The pid of the trace's first process: the labctl that strace started."""
    try:
        with open(trace, errors="replace") as f:
            first = f.readline().split(" ", 1)[0]
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def _root_exit(trace: Path) -> int | None:
    """The exit code of the trace's first process once it has exited, else None."""
    try:
        with open(trace, errors="replace") as f:
            first = f.readline().split(" ", 1)[0]
            if not first.isdigit():
                return None
            for line in f:
                if line.startswith(first + " ") and "+++ " in line:
                    m = re.search(r"\+\+\+ (exited with (\d+)|killed by)", line)
                    return int(m.group(2)) if m and m.group(2) else 1
    except OSError:
        return None
    return None


# 3. ansible.cfg against Ansible's defaults ----------------------------------------------------

def measure_ansible(b: Bench, runs: int) -> list[Result]:
    """labctl's ansible.cfg vs an empty one, warm and cold, for two playbook sets.

    A third config, labctl's with `strategy = linear` (no mitogen), runs warm as well, so the
    report shows what mitogen adds and what the rest of labctl's settings do without it.
    Within one playbook set the five kinds of run take turns, one of each per round, starting
    one place later every round: a burst of load from elsewhere on the machine then falls on
    all of them rather than on one. Round 0 is the warm-up.
    """
    empty = b.work / "empty-ansible.cfg"
    empty.write_text("")
    configs = {"labctl": b.labdir / "ansible.cfg", "linear": linear_config(b.labdir), "defaults": empty}
    sets = {"ten_tasks.yml": [TEN_TASKS], "common.yml+smoke.yml": PLAYBOOKS}
    kinds = [("warm", "labctl"), ("warm", "defaults"), ("cold", "labctl"), ("warm", "linear"), ("cold", "defaults")]
    results = []
    for title, books in sets.items():
        # The budget is on the benchmark playbook. labctl's own two phases are short separate
        # runs, each with a fixed start-up cost that no config changes: reported, not budgeted.
        budget = {"budget": "ratio>=", "limit": 1.5} if books == [TEN_TASKS] else {}
        rows = {  # (temperature, labctl-side config) -> its line; the defaults' runs go to every line of their temperature
            ("warm", "labctl"): Result(f"ansible-cfg {title}", f"ansible-playbook {title} on the running lab",
                                       base_label="Ansible defaults", **budget),
            ("warm", "linear"): Result(f"ansible-cfg {title} linear", "the same, labctl's ansible.cfg with strategy = linear",
                                       base_label="Ansible defaults"),
            ("cold", "labctl"): Result(f"ansible-cfg {title} cold", f"ansible-playbook {title}, new SSH connections",
                                       base_label="Ansible defaults"),
        }
        try:
            for i in range(runs + 1):
                for temp, own in kinds[i % len(kinds):] + kinds[: i % len(kinds)]:
                    seconds, cpu, live = playbook_run(b, books, own, configs[own], temp == "cold", str(i))
                    if not i:
                        continue
                    for (row_temp, row_own), r in rows.items():
                        if row_temp == temp and own in (row_own, "defaults"):
                            base = own == "defaults"
                            (r.base_times if base else r.times).append(seconds)
                            (r.base_cpu if base else r.cpu).append(cpu)
                            (r.base_live if base else r.live).append(live)
        except CommandError as exc:
            for r in rows.values():
                r.error = str(exc)
        results += rows.values()
    return results


# A Unix socket path holds 107 bytes: ssh's ControlPath %C is 40 characters, and ssh adds a
# 17-character suffix while it sets up a master.
SOCKET_ROOM = 107 - 1 - 40 - 17


def control_path_in(config: Path, sockets: Path) -> str:
    """The config's ssh_args with its ControlPath moved into `sockets`."""
    found = re.search(r"(?m)^ssh_args = (.*)$", config.read_text())
    if not found or "ControlPath=" not in found.group(1):
        raise CommandError(f"{config} has no ssh_args with a ControlPath")
    return re.sub(r"ControlPath=\S+", f"ControlPath={sockets}/%C", found.group(1))


def linear_config(labdir: Path) -> Path:
    """labctl's rendered ansible.cfg with Ansible's own linear strategy instead of mitogen's.

    Written beside it, so that its relative paths (inventory, fact cache) mean the same."""
    text = (labdir / "ansible.cfg").read_text()
    text = re.sub(r"(?m)^strategy_plugins = .*\n", "", text)
    text, found = re.subn(r"(?m)^strategy = .*$", "strategy = linear", text)
    if not found:
        raise CommandError(f"{labdir / 'ansible.cfg'} names no strategy")
    path = labdir / "ansible-linear.cfg"
    path.write_text(text)
    return path


def playbook_run(b: Bench, books: list[Path], own: str, config: Path, cold: bool, tag: str) -> tuple[float, float, int]:
    """The playbooks in turn with one config: total wall and CPU seconds, and open SSH masters at the start.

    Each config keeps its own ControlPersist sockets, so one never rides on SSH connections the
    other opened: ANSIBLE_SSH_CONTROL_PATH_DIR for the defaults, and for labctl's configs their
    own ssh_args with the ControlPath moved into that directory (ANSIBLE_SSH_ARGS). Warm: an uncounted
    `ansible all -m ping` with the same config and sockets right before, so every node's
    SSH connection is open, as for a user's second run within ControlPersist (120 s in
    labctl's config, 60 s in Ansible's default ssh_args); the sockets found are counted.
    Cold: a new socket directory every run, and for labctl's config an emptied fact cache.
    """
    (b.work / "cp").mkdir(exist_ok=True)
    if cold:  # a directory never used before
        sockets = Path(tempfile.mkdtemp(prefix=f"{own[0]}{tag}", dir=b.work / "cp"))  # short: see SOCKET_ROOM
    else:
        sockets = b.work / "cp" / own
        sockets.mkdir(exist_ok=True)
    if len(str(sockets)) > SOCKET_ROOM:
        raise CommandError(f"{sockets}: too long for SSH control sockets (at most {SOCKET_ROOM} characters): set TMPDIR to a short path")
    env = {**b.env, "ANSIBLE_CONFIG": str(config), "ANSIBLE_SSH_CONTROL_PATH_DIR": str(sockets), "ANSIBLE_NOCOLOR": "1"}
    if own == "defaults":
        # Without it Ansible asks whether to trust each new host key and waits for an answer.
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
        # Keeps the lab's throw-away host keys out of ~/.ssh/known_hosts (labctl's ssh_args do the same).
        env["ANSIBLE_SSH_EXTRA_ARGS"] = "-o UserKnownHostsFile=/dev/null"
    else:  # labctl's ssh_args name their own ControlPath: the same args, this run's directory
        env["ANSIBLE_SSH_ARGS"] = control_path_in(config, sockets)
        if cold:
            shutil.rmtree(b.labdir / ".labctl" / "facts", ignore_errors=True)
    if not cold:
        b.timed([str(Path(b.playbook).with_name("ansible")), "all", "-i", "inventory", "-m", "ansible.builtin.ping"], b.labdir, env)
    live = sum(1 for entry in sockets.iterdir() if entry.is_socket())
    runs = [b.timed([b.playbook, "-i", "inventory", str(book)], b.labdir, env) for book in books]
    return sum(s for s, _ in runs), sum(c for _, c in runs), live


# report -------------------------------------------------------------------------------------

def format_line(r: Result) -> list[str]:
    if r.error:
        return [f"{r.name}: FAILED ({r.error})"]
    if not r.times:
        return [f"{r.name}: no runs"]
    ours = _stats(r.times, r.cpu, 2 if r.name.startswith("ansible-cfg") else 1)
    if r.name.startswith("ansible-cfg"):
        line = (f"{r.name}: labctl ansible.cfg {ours}, {r.base_label} {_stats(r.base_times, r.base_cpu, 2)}; "
                f"ratio defaults/labctl {r.ratio:.2f}x")
        line += f", budget >= {r.limit:g}x: {_verdict(r)}" if r.budget else " (no budget)"
        if r.live or r.base_live:  # warm: all open, cold: none
            nodes = 3 * len(r.times)
            line += f"; SSH masters open at start: labctl {sum(r.live)}/{nodes}, defaults {sum(r.base_live)}/{nodes}"
        return [line]
    if r.budget == "seconds<=":
        return [f"{r.name}: {ours}, budget <= {r.limit:g} s: {_verdict(r)}"]
    line = (f"{r.name}: {ours}, {r.base_label} {_stats(r.base_times, r.base_cpu, 1)}; "
            f"ratio {r.ratio:.2f}x, budget <= {r.limit:g}x: {_verdict(r)}")
    parts = [f"{name} {statistics.median(t):.1f} s" for name, t in r.steps.items() if t]
    return [line, f"{r.name} raw steps: medians " + ", ".join(parts)]


def _stats(times: list[float], cpu: list[float], digits: int) -> str:
    return (f"median {statistics.median(times):.{digits}f} s (min {min(times):.{digits}f} s, "
            f"CPU {statistics.median(cpu):.{digits}f} s)")


def _verdict(r: Result) -> str:
    return "OK" if r.ok else "OVER"


def format_breakdown(entry: dict) -> list[str]:
    if "spans" in entry:
        lines = [f"breakdown {entry['name']}: one extra run under strace, {entry['seconds']:.1f} s; start, seconds, what labctl ran:"]
        return lines + [f"  +{s['start']:6.2f}  {s['seconds']:6.2f}  {s['command'] or '(labctl itself)'}" for s in entry["spans"]]
    if entry.get("skipped"):
        return [f"profile {entry['name']}: skipped ({entry['skipped']})"]
    lines = [f"profile {entry['name']}: one extra run under cProfile, {entry['seconds']:.1f} s; cumulative seconds of labctl's functions:"]
    return lines + [f"  {row['seconds']:6.2f}  {row['function']}" for row in entry["functions"]]


def source_state() -> str:
    """The commit of the labctl being measured, and src/ files changed since (read-only git)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout
    except OSError:
        return "labctl source: unknown (no git)"
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    return f"labctl source: commit {head or '?'}" + (f" plus uncommitted changes in {', '.join(changed)}" if changed else ", src/ clean")


def report(results: list[Result], breakdown: list[dict], notes: list[str], use_json: bool) -> None:
    if use_json:
        rows = []
        for r in results:
            row = asdict(r) | {"ok": r.ok, "ratio": r.ratio}
            if r.times:
                row |= {"median_s": r.median, "min_s": min(r.times), "cpu_median_s": statistics.median(r.cpu)}
            if r.base_times:
                row |= {"base_median_s": r.base_median, "base_min_s": min(r.base_times), "base_cpu_median_s": statistics.median(r.base_cpu)}
            rows.append(row)
        print(json.dumps({"runs": rows, "breakdown": breakdown, "notes": notes}, indent=2))
        return
    lines = [line for r in results for line in format_line(r)]
    lines += [line for t in breakdown for line in format_breakdown(t)]
    print("\n".join([*lines, *(f"note: {n}" for n in notes)]), flush=True)


NOTES = [  # (the measurement a note is about, the note)
    ("up", "up-smoke: labctl's up also runs the spec's 2 checks over SSH; the raw side runs none"),
    (None, "CPU: user+system seconds of the command and the processes it reaped, medians; not dockerd, "
           "not SSH ControlPersist masters, not the containers"),
    ("ansible", "ansible-cfg: labctl's config caches facts (gathering=smart, jsonfile .labctl/facts): its warm runs of "
                "ten_tasks.yml gather no facts, Ansible defaults gather them every run; common.yml and smoke.yml gather none"),
    ("ansible", "ansible-cfg: the defaults side runs with ANSIBLE_HOST_KEY_CHECKING=False (else it prompts) and "
                "ANSIBLE_SSH_EXTRA_ARGS='-o UserKnownHostsFile=/dev/null'; otherwise Ansible's defaults: ssh_args "
                "-C -o ControlMaster=auto -o ControlPersist=60s, forks 5, no pipelining, gathering implicit, no fact cache"),
    ("ansible", "ansible-cfg: per playbook set, warm and cold runs of both configs take turns (one of each per round); warm: an "
                "uncounted `ansible all -m ping` with the same config just before, so the SSH ControlPersist connections are "
                "open (each config its own); cold: new SSH connections every run, and labctl's fact cache emptied before each run"),
]


# main ---------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="labctl lifecycle benchmarks on Docker machines (a report, not a test)")
    p.add_argument("--labctl", help="labctl executable (default: labctl next to this Python)")
    p.add_argument("--runs", type=int, default=3, help="cold `up` runs of each side (default 3)")
    p.add_argument("--reup-runs", type=int, default=5, help="counted re-up runs (default 5)")
    p.add_argument("--ansible-runs", type=int, default=5, help="counted runs of each ansible config (default 5)")
    p.add_argument("--breakdown", action="store_true",
                   help="also run a cold up and a re-up under strace (what labctl ran, when) and under cProfile (labctl's own functions)")
    p.add_argument("--only", type=_sections, default=SECTIONS, metavar="LIST",
                   help=f"comma-separated measurements to run (default: {','.join(SECTIONS)})")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, traces); the machines are destroyed anyway")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    for name in ("runs", "reup_runs", "ansible_runs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


SECTIONS = ("up", "re-up", "ansible")


def _sections(text: str) -> tuple[str, ...]:
    wanted = tuple(word.strip() for word in text.split(",") if word.strip())
    unknown = [w for w in wanted if w not in SECTIONS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(SECTIONS)}, got {text!r}")
    return wanted


def tools(args: argparse.Namespace) -> dict[str, str | None]:
    here = Path(sys.executable).parent
    return {
        "labctl": find_tool(args.labctl, here / "labctl", "labctl"),
        "vagrant": shutil.which("vagrant"),
        "docker": shutil.which("docker"),
        "ansible-playbook": find_tool(None, here / "ansible-playbook", "ansible-playbook"),
        "strace": shutil.which("strace") if args.breakdown else "",
    }


def child_env(work: Path) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANSIBLE_")}  # no host Ansible settings
    env["LABCTL_HOME"] = str(work / "labctl-home")
    env.setdefault("NO_COLOR", "1")
    env["VAGRANT_CHECKPOINT_DISABLE"] = "1"  # as labctl sets it: no version check over the network
    env["VAGRANT_NO_COLOR"] = "1"
    return env


def _on_term(signum, frame):
    raise KeyboardInterrupt  # so the `finally` below still destroys the lab


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    found = tools(args)
    missing = [name for name, path in found.items() if path is None]
    if missing:
        print(f"not found: {', '.join(missing)} (labctl: pip install -e . into this venv; the others: apt-get)", file=sys.stderr)
        return 2
    if subprocess.run([found["docker"], "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        print(f"docker image {IMAGE} not found: labctl box build --provider docker", file=sys.stderr)
        return 2
    lock = open(LOCK, "a")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another bench/up.py is running on this machine (lock {LOCK}): both would use the lab benchup", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_term)
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-up-"))
    b = Bench(work, found["labctl"], found["vagrant"], found["docker"], found["ansible-playbook"], found["strace"] or None, child_env(work))
    b.spec.write_text(SPEC)
    notes = [source_state(), "load average at start %.2f %.2f %.2f" % os.getloadavg()]
    results: list[Result] = []
    breakdown: list[dict] = []
    started = time.monotonic()
    cleanup_error = None
    try:
        b.down()  # leftovers of an interrupted earlier run: benchup's own label and subnet only
        if "up" in args.only:
            results.append(measure_cold(b, args.runs))
        if "re-up" in args.only:
            results.append(measure_reup(b, args.reup_runs, breakdown))
        elif "ansible" in args.only:
            b.labctl_cmd("up", str(b.spec))  # the lab the ansible runs need
        if "ansible" in args.only and not any(r.name == "re-up" and r.error for r in results):
            results.extend(measure_ansible(b, args.ansible_runs))
        if args.breakdown:
            results += [r for r in [measure_profiles(b, breakdown)] if r]
    except CommandError as exc:
        results.append(Result("setup", "labctl down or up outside the measurements", error=str(exc)))
    finally:
        try:
            b.down()
        except CommandError as exc:
            cleanup_error = f"cleanup failed ({exc}): remove containers labelled org.labctl.lab={LAB} by hand"
    failed = cleanup_error or any(r.error for r in results)
    if not (args.keep or failed):
        shutil.rmtree(work, ignore_errors=True)
    notes.append("load average at end %.2f %.2f %.2f; the whole benchmark took %.0f s" % (*os.getloadavg(), time.monotonic() - started))
    notes += [note for section, note in NOTES if section is None or section in args.only]
    over = [r.name for r in results if r.ok is False]
    notes += [f"OVER budget: {', '.join(over)}"] if over else []
    notes += [cleanup_error] if cleanup_error else []
    notes += [f"logs and traces kept in {work}"] if (args.keep or failed) else []
    report(results, breakdown, notes, args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # main's `finally` has run `labctl down --force` already
        print("interrupted: the benchup lab was destroyed, no report", file=sys.stderr)
        sys.exit(130)

"""`labctl doctor`: what this host has, and whether a lab fits on it."""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from labctl import proc
from labctl.spec import Lab

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str


def diagnose(lab: Lab | None) -> list[Finding]:
    findings = [_vagrant(), _vagrant_plugins(), _docker(), _ansible(), _mitogen(), _box()]
    if lab is not None:
        findings += [_resources(lab), *_variants(lab), *_subnets(lab), *_runtimes(lab)]
    return findings


def _runtimes(lab: Lab) -> list[Finding]:
    from labctl import runtimes

    return [Finding(*row) for row in runtimes.doctor_rows(lab)]


def _variants(lab: Lab) -> list[Finding]:
    """Built-in labs that extend this one (openshift-small for openshift): their size against the host."""
    import yaml

    from labctl import paths
    from labctl.spec import builtin_labs, load_lab

    found = []
    for name in builtin_labs():
        raw = yaml.safe_load((paths.labs_dir() / f"{name}.yaml").read_text()) or {}
        if name != lab.name and raw.get("extends") == lab.name:
            variant = _resources(load_lab(name)[0])
            found.append(Finding(f"variant {name}", variant.status, variant.detail))
    return found


def _quiet(argv: list[str]) -> proc.Outcome | None:
    if not shutil.which(argv[0]):
        return None
    return proc.run(argv, check=False)


def _vagrant() -> Finding:
    out = _quiet(["vagrant", "--version"])
    if out is None or out.returncode:
        return Finding("vagrant", FAIL, "not found: apt-get install -y --no-install-recommends vagrant")
    return Finding("vagrant", OK, out.output.strip())


def _vagrant_plugins() -> Finding:
    out = _quiet(["vagrant", "plugin", "list"])
    plugins = out.output.strip().replace("\n", ", ") if out and not out.returncode else "none"
    status = OK if "vagrant-libvirt" in plugins else WARN
    return Finding("vagrant providers", status, f"docker and virtualbox built in; plugins: {plugins or 'none'}"
                   + ("" if status == OK else " (libvirt needs vagrant-libvirt)"))


def _docker() -> Finding:
    out = _quiet(["docker", "info", "--format", "{{.ServerVersion}}"])
    if out is None:
        return Finding("docker", WARN, "not found: apt-get install -y docker.io (needed for the docker provider)")
    if out.returncode:
        return Finding("docker", FAIL, "the daemon does not answer: start dockerd (nohup dockerd > /var/log/dockerd.log 2>&1 &)")
    return Finding("docker", OK, f"daemon {out.output.strip()}")


def _ansible() -> Finding:
    playbook = Path(sys.executable).parent / "ansible-playbook"
    if not playbook.exists():
        return Finding("ansible", FAIL, f"{playbook} missing: reinstall labctl (it depends on ansible-core)")
    out = proc.run([str(playbook), "--version"], check=False)
    return Finding("ansible", OK if not out.returncode else FAIL, out.output.splitlines()[0] if out.output else "no output")


def _mitogen() -> Finding:
    from importlib import metadata

    from labctl.errors import ToolMissing
    from labctl.render import mitogen_strategy_dir

    try:
        where = mitogen_strategy_dir()
    except ToolMissing as err:
        return Finding("mitogen", WARN, f"{err.render()}; labs then need ansible.strategy: linear")
    return Finding("mitogen", OK, f"mitogen {metadata.version('mitogen')}: {where}")


def _box() -> Finding:
    from labctl.boxes import box_exists

    have = [p for p in ("docker", "libvirt") if box_exists(p)]
    if not have:
        return Finding("base box", WARN, "labctl/debian12 not built: labctl box build --provider docker")
    return Finding("base box", OK, f"labctl/debian12 for {', '.join(have)}")


def _resources(lab: Lab) -> Finding:
    memory = sum(n.memory for n in lab.nodes)
    cpus = sum(n.cpus for n in lab.nodes)
    host_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    host_cpus = os.cpu_count() or 1
    status = FAIL if memory > host_mb else WARN if memory > host_mb * 0.8 or cpus > 2 * host_cpus else OK
    return Finding("resources", status, f"lab wants {memory} MiB and {cpus} CPUs; host has {host_mb} MiB and {host_cpus} CPUs")


def _subnets(lab: Lab) -> list[Finding]:
    routes = _routes()
    findings = []
    for net in lab.networks:
        mine = ipaddress.IPv4Network(net.cidr)
        clashes = [r for r, dev in routes if r.overlaps(mine) and r.prefixlen > 0 and not dev.startswith(("br-", "docker", "virbr"))]
        status = WARN if clashes else OK
        detail = f"{net.cidr} overlaps host routes {', '.join(map(str, clashes))}" if clashes else f"{net.cidr} is free"
        findings.append(Finding(f"network {net.name}", status, detail))
    return findings


def _routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    out = _quiet(["ip", "-4", "route", "show"])
    routes = []
    for line in (out.output.splitlines() if out and not out.returncode else []):
        words = line.split()
        dev = words[words.index("dev") + 1] if "dev" in words else ""
        try:
            routes.append((ipaddress.IPv4Network(words[0] if words[0] != "default" else "0.0.0.0/0", strict=False), dev))
        except ValueError:
            continue
    return routes

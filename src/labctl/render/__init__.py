"""Stage 2: render a resolved lab into a lab directory (Vagrantfile, inventory, ansible.cfg)."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labctl import paths
from labctl.errors import ToolMissing
from labctl.fsutil import write_atomic
from labctl.paths import LAB_RECORD
from labctl.render import stamp  # the rest where a render needs it: an unchanged lab is answered from the stamp

if TYPE_CHECKING:
    from labctl.spec import Lab
CONTROL_PATH = "~/.ansible/cp/%C"


@dataclass(frozen=True)
class Rendered:
    directory: Path
    files: tuple[Path, ...]
    changed: tuple[Path, ...]


def render_lab(lab: Lab, outdir: Path) -> Rendered:
    """Write every file of the lab directory atomically; unchanged files are left alone."""
    from labctl.render import secrets

    outdir.mkdir(parents=True, exist_ok=True)
    values = secrets.materialize(dict(lab.spec.secrets), outdir)
    fill = functools.partial(secrets.fill, values=values, source=lab.source)
    private = 0o600 if values.refs else 0o644  # the inventory holds the secrets' values
    files = {Path(rel): (text, 0o644) for rel, text in _kept_texts(lab).items()}
    files[_inventory_path(lab)] = (_inventory(lab, fill), private)
    files[LAB_RECORD] = (_record(lab), 0o644)
    _drop_stale_inventory(outdir / "inventory", keep=_inventory_path(lab).name)
    changed = [rel for rel, (text, mode) in files.items() if write_atomic(outdir / rel, text, mode, durable=rel == LAB_RECORD)]
    stamp.save(outdir, stamp_key(lab, outdir), files)
    return Rendered(outdir, tuple(sorted(files)), tuple(sorted(changed)))


def stamp_key(lab: Lab, outdir: Path) -> str | None:
    """The key under which `labctl render` may later answer from the stamp (see labctl.render.stamp)."""
    request = _request(lab)
    return stamp.key(lab.digest, request, dict(lab.dump), outdir) if request else None


def _request(lab: Lab) -> tuple | None:
    return (lab.request.spec_path, lab.request.provider, lab.request.sets) if lab.request else None


def _kept_texts(lab: Lab) -> dict[str, str]:
    """The templates' outputs, which read neither the lab directory nor its secrets (see labctl.render.memo)."""
    from labctl.render import memo

    memo_key = memo.key(lab.digest, _request(lab), dict(lab.dump))
    return memo.recall(memo_key) or memo.remember(memo_key, _template_texts(lab))


def _template_texts(lab: Lab) -> dict[str, str]:
    texts = {"ansible.cfg": _ansible_cfg(lab), "inventory/labctl.yml": _labctl_inventory(lab)}
    if lab.provider != "ssh":
        texts["Vagrantfile"] = _vagrantfile(lab)
    return texts


def default_dir(lab: Lab) -> Path:
    return paths.lab_home(lab.name)


@functools.lru_cache(maxsize=1)
def _env():
    import jinja2

    from labctl.render import escape

    cache = paths.cache_dir() / "jinja"
    cache.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.data_dir())),
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(cache)),  # compiled templates: ~30 ms saved per run
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )
    for name in ("rb", "rb_comment", "rb_int", "rb_bool", "rb_value", "rb_ident"):
        env.filters[name] = getattr(escape, name)
    return env


def _vagrantfile(lab: Lab) -> str:
    import ipaddress

    nets = {n.name: ipaddress.IPv4Network(n.cidr) for n in lab.networks}
    return _env().get_template("Vagrantfile.j2").render(
        lab=lab, providers=lab.spec.providers, host_cpus=os.cpu_count() or 1,  # docker refuses more CPUs than the host has
        netmasks={k: str(v.netmask) for k, v in nets.items()},
        prefixes={k: v.prefixlen for k, v in nets.items()},
    )


def _inventory_path(lab: Lab) -> Path:
    return Path("inventory") / ("hosts" if lab.spec.inventory.format == "ini" else "hosts.yml")


def _inventory(lab: Lab, fill) -> str:
    from labctl.render import inventory

    if lab.spec.inventory.format == "ini":
        return inventory.ini_text(lab.name, inventory.as_ini_sections(lab, fill))
    return inventory.yaml_text(lab.name, inventory.as_yaml_data(lab, fill))


def _labctl_inventory(lab: Lab) -> str:
    from labctl.render import inventory

    return inventory.hostvars_text(lab.name, inventory.labctl_hosts(lab))


def _ansible_cfg(lab: Lab) -> str:
    forks = min(50, max(10, len(lab.nodes)))
    strategy = lab.spec.ansible.strategy
    plugins = mitogen_strategy_dir() if strategy.startswith("mitogen") else None
    return _env().get_template("templates/ansible.cfg.j2").render(
        lab=lab, forks=forks, strategy=strategy, strategy_plugins=plugins, control_path=_control_path())


def _control_path() -> str | None:
    """ssh's ControlPath for Ansible and mitogen alike (Ansible adds its own, mitogen none).

    `~` is the passwd entry's home, as ssh reads it; ssh does not create the directory. A socket
    path holds 107 bytes and ssh needs %C (40) plus a 17-character suffix: with a longer home,
    None leaves the ControlPath to Ansible (mitogen then opens new connections every run)."""
    import pwd

    home = pwd.getpwuid(os.getuid()).pw_dir
    if len(f"{home}/.ansible/cp/") + 40 + 17 > 107:
        return None
    try:
        (Path(home) / ".ansible" / "cp").mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:  # a read-only or missing home: Ansible's own ControlPath (under $HOME) then
        return None
    return CONTROL_PATH


def mitogen_strategy_dir() -> str:
    """Where the installed mitogen keeps its strategy plugins (found without importing it)."""
    import importlib.util

    found = importlib.util.find_spec("ansible_mitogen")
    if found is None or not found.submodule_search_locations:
        raise ToolMissing("ansible.strategy needs the mitogen package, which is not installed",
                          "reinstall labctl (it depends on mitogen), or set ansible.strategy: linear")
    path = str(Path(found.submodule_search_locations[0]) / "plugins" / "strategy")
    if not path.isprintable() or any(c in path for c in "%;#"):
        raise ToolMissing(f"mitogen is installed under a path ansible.cfg cannot hold: {path!r}",
                          "install labctl in a plain directory, or set ansible.strategy: linear")
    return path


def _record(lab: Lab) -> str:
    """The resolved spec, for later commands (status, up) to read without the source file."""
    data = {"name": lab.name, "source": lab.source, "spec": lab.dump}
    if lab.request:
        data["request"] = {"spec_path": lab.request.spec_path, "provider": lab.request.provider, "sets": list(lab.request.sets)}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write_record(lab: Lab, labdir: Path) -> None:
    """Record the lab's request and resolved spec (a later `--set` changes it on purpose)."""
    write_atomic(labdir / LAB_RECORD, _record(lab))


def _drop_stale_inventory(directory: Path, keep: str) -> None:
    """A lab that switched inventory format must not leave the other file behind."""
    for name in ("hosts", "hosts.yml"):
        if name != keep and (directory / name).is_file():
            (directory / name).unlink()


def write_endpoints(labdir: Path, endpoints) -> None:
    """Connection details learnt after boot, as one more inventory source beside the spec's."""
    hosts = {
        name: {"ansible_host": ep.host, "ansible_port": ep.port, "ansible_user": ep.user, "ansible_ssh_private_key_file": ep.key}
        for name, ep in sorted(endpoints.items())
    }
    from labctl.render import inventory

    write_atomic(labdir / "inventory" / "endpoints.yml", inventory.hostvars_text(labdir.name, hosts))

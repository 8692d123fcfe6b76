"""What every Vagrant provider shares (docker, libvirt, virtualbox), through python-vagrant.

Vagrant's output goes to the lab's log (python-vagrant's errors carry none); a failure becomes
one CommandFailed with the command, exit code, the log's tail and its path. Each provider is a
subclass in its own module that fills in the hooks: its checks, how it boots a batch, faster
state readers, and what to clean after `vagrant destroy`.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from labctl import proc
from labctl.endpoints import Endpoint
from labctl.errors import CommandFailed, ToolMissing
from labctl.spec import Lab

LOG = Path(".labctl") / "logs" / "vagrant.log"
BATCH = 25  # large labs boot in batches of this many machines


class VagrantProvider:
    """The shared mechanics; subclasses set `name` and override the hooks below."""

    name = ""

    def check(self, lab: Lab, labdir: Path) -> None:
        proc.require("vagrant", "apt-get install -y --no-install-recommends vagrant (or see vagrantup.com)")
        self.check_provider(lab, labdir)

    def check_provider(self, lab: Lab, labdir: Path) -> None:
        """The provider's own needs (tools, plugins, boxes or images)."""
        check_boxes(self.name, sorted({n.box for n in lab.nodes}))

    def up(self, lab: Lab, labdir: Path, progress) -> None:
        names = [n.name for n in lab.nodes]
        batches = [names[i : i + BATCH] for i in range(0, len(names), BATCH)]
        for number, batch in enumerate(batches, 1):
            progress(f"vagrant up: {len(batch)} machines, batch {number} of {len(batches)} ({self.name})")
            self.boot(labdir, batch, len(batches) > 1)

    def boot(self, labdir: Path, batch: list[str], batched: bool) -> None:
        """One batch: a single `vagrant up` boots its machines in parallel (docker, libvirt)."""
        self._up(labdir, pattern(batch) if batched else None)

    def halt(self, lab: Lab, labdir: Path, progress) -> None:
        if (labdir / ".vagrant").is_dir():
            progress("vagrant halt")
            with _client(labdir) as client:
                client.halt()

    def status(self, lab: Lab, labdir: Path) -> dict[str, str]:
        if not (labdir / ".vagrant").is_dir():
            return {n.name: "not created" for n in lab.nodes}
        with _client(labdir) as client:
            found = {s.name: s.state.replace("_", " ") for s in client.status()}
        return {n.name: found.get(n.name, "not created") for n in lab.nodes}

    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]:
        return self.vagrant_endpoints(lab, labdir)

    def vagrant_endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]:
        """`vagrant ssh-config`, read with paramiko's parser."""
        import paramiko

        with _client(labdir) as client:
            config = paramiko.SSHConfig.from_text(client.ssh_config())
        return {n.name: _endpoint(n.name, config.lookup(n.name)) for n in lab.nodes}

    def destroy(self, lab: Lab, labdir: Path, force: bool, progress) -> None:
        if (labdir / "Vagrantfile").is_file() and (labdir / ".vagrant").is_dir():
            progress("vagrant destroy")
            with _client(labdir) as client:
                client.destroy()

    def _up(self, labdir: Path, vm_name: str | None) -> None:
        with _client(labdir) as client:
            client.up(vm_name=vm_name, provider=self.name, no_provision=True)


def pattern(names: list[str]) -> str:
    """Vagrant takes `/regex/` as a machine name: one `vagrant up` for a whole batch.

    Node names are validated hostnames (letters, digits, '-'), all literal in a Ruby regex.
    """
    return "/^(" + "|".join(names) + ")$/"


def _endpoint(name: str, entry: dict) -> Endpoint:
    key = (entry.get("identityfile") or [""])[0]
    return Endpoint(name, entry["hostname"], int(entry.get("port", 22)), entry.get("user", "vagrant"), key)


@contextmanager
def _client(labdir: Path):
    """A python-vagrant client logging to the lab; its CalledProcessError becomes CommandFailed."""
    import vagrant

    log = labdir / LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_NO_COLOR": "1"}
    to_log = vagrant.make_file_cm(str(log), "a")
    try:
        yield vagrant.Vagrant(root=str(labdir), out_cm=to_log, err_cm=to_log, env=env)
    except subprocess.CalledProcessError as exc:
        argv = [str(a) for a in (exc.cmd if isinstance(exc.cmd, list) else [exc.cmd])]
        raise CommandFailed(argv, exc.returncode, _tail(log), str(log)) from None


def _tail(log: Path) -> str:
    try:
        return proc.tail(log.read_text(errors="replace"))
    except OSError:
        return ""


def check_plugin(plugin: str, hint: str) -> None:
    listed = proc.run(["vagrant", "plugin", "list"], check=False).output
    if not any(line.split(" ", 1)[0] == plugin for line in listed.splitlines()):
        raise ToolMissing(f"the Vagrant plugin {plugin} is not installed", hint)


def check_boxes(provider: str, boxes: list[str]) -> None:
    import vagrant

    have = {(b.name, b.provider) for b in vagrant.Vagrant(quiet_stderr=True).box_list()}
    for box in boxes:
        if (box, provider) not in have:
            hint = f"labctl box build --provider {provider}" if box.startswith("labctl/") else f"vagrant box add {box} --provider {provider}"
            raise ToolMissing(f"vagrant box {box} ({provider}) is not installed", hint)

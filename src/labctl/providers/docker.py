"""Provider `docker` (Vagrant's docker provider), and what Docker itself knows: images, containers, networks.

Containers carry the label org.labctl.lab=<lab> and the name <lab>-<node> (see Vagrantfile.j2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from labctl import proc
from labctl.errors import CommandFailed, LabctlError, ToolMissing
from labctl.endpoints import Endpoint
from labctl.providers.vagrant import LOG, VagrantProvider
from labctl.spec import Lab

LABEL = "org.labctl.lab"
SSH_PORT = re.compile(r"^127\.0\.0\.1:(\d+)->22/tcp$")
RACE = re.compile(r"network \S+ not found|No such object: \S*network", re.I)


DAEMON_HINT = "start dockerd (nohup dockerd > /var/log/dockerd.log 2>&1 &), or check that you may use /var/run/docker.sock"


def check_daemon() -> None:
    """The daemon answers: otherwise every later docker call fails for that reason, whatever it says."""
    proc.require("docker", "apt-get install -y docker.io, then start dockerd")
    if proc.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False).returncode != 0:
        raise ToolMissing("the Docker daemon does not answer", DAEMON_HINT)


def check_images(images: list[str]) -> None:
    check_daemon()
    for image in images:
        if proc.run(["docker", "image", "inspect", image], check=False).returncode != 0:
            hint = "run `labctl box build --provider docker`" if image.startswith("labctl/") else f"docker pull {image}, or build it"
            raise ToolMissing(f"docker image {image} is not on this machine", hint)


def check_names(lab: Lab, labdir: Path) -> None:
    """Containers are named <lab>-<node>. One that this lab directory's .vagrant did not create
    (a lab of the same name under another LABCTL_HOME, or a deleted lab directory) would make
    `vagrant up` fail on Docker's "name already in use": say so before booting."""
    ours = set(_vagrant_ids(labdir).values())
    wanted = {f"{lab.name}-{n.name}" for n in lab.nodes}
    out = proc.run(["docker", "ps", "-a", "--no-trunc", "--filter", f"name={lab.name}-", "--format", "{{.ID}}\t{{.Names}}"]).output
    existing = {name: cid for cid, _, name in (line.partition("\t") for line in out.splitlines())}
    for name in sorted(wanted & existing.keys()):
        if existing[name] not in ours:
            raise LabctlError(
                f"docker container {name} exists, but {labdir} did not create it",
                f"a leftover of this lab: `labctl down {lab.name} --force`; another lab directory's lab of the "
                "same name: give this lab another `name`",
            )


def endpoints(lab: Lab, labdir: Path) -> dict[str, Endpoint] | None:
    """Each node's SSH endpoint from Docker's port map, from one `docker ps` instead of starting
    Vagrant (about 2 s): 127.0.0.1, the forwarded port, user vagrant and Vagrant's insecure key,
    which is what `vagrant ssh-config` reports (the Vagrantfile sets insert_key = false).
    None when anything is not so, such as a container this lab directory did not create:
    the caller then asks Vagrant."""
    key = Path(os.environ.get("VAGRANT_HOME") or Path.home() / ".vagrant.d") / "insecure_private_key"
    if not key.is_file():
        return None
    out = proc.run(["docker", "ps", "--no-trunc", "--filter", f"label={LABEL}={lab.name}",
                    "--format", "{{.ID}}\t{{.Names}}\t{{.Ports}}"]).output
    running = {}
    for line in out.splitlines():
        cid, name, ports = (line.split("\t") + ["", ""])[:3]
        running[name] = (cid, [m.group(1) for p in ports.split(", ") if (m := SSH_PORT.match(p))])
    ids, found = _vagrant_ids(labdir), {}
    for node in lab.nodes:
        cid, ports = running.get(f"{lab.name}-{node.name}", ("", []))
        if len(ports) != 1 or ids.get(node.name) != cid:
            return None
        found[node.name] = Endpoint(node.name, "127.0.0.1", int(ports[0]), "vagrant", str(key))
    return found


def _vagrant_ids(labdir: Path) -> dict[str, str]:
    """The container ids Vagrant recorded in this lab directory, by machine name."""
    files = (labdir / ".vagrant" / "machines").glob("*/docker/id")
    return {f.parent.parent.name: f.read_text().strip() for f in files if f.is_file()}


def states(lab: Lab) -> dict[str, str]:
    out = proc.run(["docker", "ps", "-a", "--filter", f"label={LABEL}={lab.name}", "--format", "{{.Names}}\t{{.State}}"]).output
    found = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return {n.name: found.get(f"{lab.name}-{n.name}", "not created") for n in lab.nodes}


def remove_leftovers(lab: Lab, log: Path, progress) -> None:
    """Containers labelled for this lab and the docker networks of its subnets, even without .vagrant."""
    ids = proc.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={lab.name}"]).output.split()
    if ids:
        progress(f"removing {len(ids)} leftover containers")
        proc.run(["docker", "rm", "-f", *ids], log=log)
    subnets = {net.cidr for net in lab.networks}
    for net_id in proc.run(["docker", "network", "ls", "-q", "--filter", "name=vagrant_network"]).output.split():
        subnet = proc.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", net_id]).output.strip()
        if subnet in subnets:
            progress(f"removing docker network {subnet}")
            proc.run(["docker", "network", "rm", net_id], log=log, check=False)


class DockerProvider(VagrantProvider):
    """Vagrant's docker provider: images instead of boxes; state and endpoints read from `docker ps`."""

    name = "docker"

    def check_provider(self, lab: Lab, labdir: Path) -> None:
        check_images(sorted({n.image for n in lab.nodes}))
        check_names(lab, labdir)

    def boot(self, labdir: Path, batch: list[str], batched: bool) -> None:
        """Vagrant inspects every docker network while it sets up its own: one another lab removes
        at that moment fails the boot (`network ... not found`). That race is retried once."""
        try:
            super().boot(labdir, batch, batched)
        except CommandFailed as exc:
            if not RACE.search(exc.tail):
                raise
            super().boot(labdir, batch, batched)

    def status(self, lab: Lab, labdir: Path) -> dict[str, str]:
        if not (labdir / ".vagrant").is_dir():
            return {n.name: "not created" for n in lab.nodes}
        check_daemon()
        return states(lab)  # `docker ps` answers in milliseconds, `vagrant status` in seconds

    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]:
        return endpoints(lab, labdir) or self.vagrant_endpoints(lab, labdir)

    def destroy(self, lab: Lab, labdir: Path, force: bool, progress) -> None:
        check_daemon()
        super().destroy(lab, labdir, force, progress)
        if force:
            remove_leftovers(lab, labdir / LOG, progress)

"""What Docker itself knows about a lab on the docker provider: images, containers, networks.

Containers carry the label org.labctl.lab=<lab> and the name <lab>-<node> (see Vagrantfile.j2).
"""

from __future__ import annotations

from pathlib import Path

from labctl import proc
from labctl.errors import ToolMissing
from labctl.spec import Lab

LABEL = "org.labctl.lab"


def check_images(images: list[str]) -> None:
    proc.require("docker", "apt-get install -y docker.io, then start dockerd")
    for image in images:
        if proc.run(["docker", "image", "inspect", image], check=False).returncode != 0:
            hint = "run `labctl box build --provider docker`" if image.startswith("labctl/") else f"docker pull {image}, or build it"
            raise ToolMissing(f"docker image {image} is not on this machine", hint)


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

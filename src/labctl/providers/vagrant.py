"""Provider `vagrant` (virtualbox, libvirt, docker) through python-vagrant, logging to the lab dir."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labctl import proc
from labctl.errors import CommandFailed, ToolMissing
from labctl.spec import Lab
from labctl.verify import Endpoint

LOG = Path(".labctl") / "logs" / "vagrant.log"
SERIAL_BOUND = 4  # virtualbox boots one machine per `vagrant up`: this many at once
BATCH = 25  # large labs boot in batches


class VagrantProvider:
    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, lab: Lab, labdir: Path) -> None:
        proc.require("vagrant", "apt-get install -y --no-install-recommends vagrant (or see vagrantup.com)")
        if self.name == "docker":
            _check_images(sorted({n.image for n in lab.nodes}))
        else:
            _check_boxes(self.name, sorted({n.box for n in lab.nodes}))

    def up(self, lab: Lab, labdir: Path, progress) -> None:
        names = [n.name for n in lab.nodes]
        batches = [names[i : i + BATCH] for i in range(0, len(names), BATCH)]
        for number, batch in enumerate(batches, 1):
            progress(f"vagrant up {len(batch)} machines (batch {number}/{len(batches)}, provider {self.name})")
            if self.name == "virtualbox":
                with ThreadPoolExecutor(SERIAL_BOUND) as pool:
                    list(pool.map(lambda n: self._vagrant(labdir, "up", "--provider", self.name, n), batch))
            else:
                self._vagrant(labdir, "up", "--provider", self.name, "--parallel", *batch)

    def status(self, lab: Lab, labdir: Path) -> dict[str, str]:
        if not (labdir / ".vagrant").is_dir():
            return {n.name: "not created" for n in lab.nodes}
        out = self._vagrant(labdir, "status", "--machine-readable").output
        states = {}
        for line in out.splitlines():
            parts = line.split(",")
            if len(parts) >= 4 and parts[2] == "state":
                states[parts[1]] = parts[3].replace("_", " ")
        return {n.name: states.get(n.name, "unknown") for n in lab.nodes}

    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]:
        import paramiko

        config = paramiko.SSHConfig.from_text(self._vagrant(labdir, "ssh-config").output)
        out = {}
        for node in lab.nodes:
            entry = config.lookup(node.name)
            key = (entry.get("identityfile") or [""])[0]
            out[node.name] = Endpoint(node.name, entry["hostname"], int(entry.get("port", 22)), entry.get("user", "vagrant"), key)
        return out

    def destroy(self, lab: Lab, labdir: Path, force: bool, progress) -> None:
        if (labdir / "Vagrantfile").is_file() and (labdir / ".vagrant").is_dir():
            progress("vagrant destroy")
            self._vagrant(labdir, "destroy", "--force")
        if force and self.name == "docker":
            _docker_leftovers(lab, labdir, progress)

    def _vagrant(self, labdir: Path, *args: str) -> proc.Outcome:
        env = {"VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_NO_COLOR": "1"}
        return proc.run(["vagrant", *args], cwd=labdir, env=env, log=labdir / LOG)


def _check_images(images: list[str]) -> None:
    proc.require("docker", "apt-get install -y docker.io, then start dockerd")
    for image in images:
        found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
        if found.returncode != 0:
            hint = "run `labctl box build --provider docker`" if image.startswith("labctl/") else f"docker pull {image}, or build it"
            raise ToolMissing(f"docker image {image} is not on this machine", hint)


def _check_boxes(provider: str, boxes: list[str]) -> None:
    listed = proc.run(["vagrant", "box", "list", "--machine-readable"]).output
    have = set()
    name = None
    for line in listed.splitlines():
        parts = line.split(",")
        if len(parts) >= 4 and parts[2] == "box-name":
            name = parts[3]
        elif len(parts) >= 4 and parts[2] == "box-provider" and name:
            have.add((name, parts[3]))
    for box in boxes:
        if (box, provider) not in have:
            hint = "labctl box build --provider libvirt" if box.startswith("labctl/") else f"vagrant box add {box} --provider {provider}"
            raise ToolMissing(f"vagrant box {box} ({provider}) is not installed", hint)


def _docker_leftovers(lab: Lab, labdir: Path, progress) -> None:
    """Containers labelled for this lab and the docker networks of its subnets, even without .vagrant."""
    ids = proc.run(["docker", "ps", "-aq", "--filter", f"label=org.labctl.lab={lab.name}"]).output.split()
    if ids:
        progress(f"removing {len(ids)} leftover containers")
        proc.run(["docker", "rm", "-f", *ids], log=labdir / LOG)
    subnets = {net.cidr for net in lab.networks}
    for net_id in proc.run(["docker", "network", "ls", "-q", "--filter", "name=vagrant_network"]).output.split():
        subnet = proc.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", net_id]).output.strip()
        if subnet in subnets:
            progress(f"removing docker network {subnet}")
            proc.run(["docker", "network", "rm", net_id], log=labdir / LOG, check=False)

"""The docker flavour: a debootstrap rootfs imported into docker, plus a vagrant box for it."""

from __future__ import annotations

import shutil
from pathlib import Path

from labctl import proc
from labctl.boxes import guest, host, rootfs, vagrantbox
from labctl.boxes.common import BOX_LABEL, BOX_NAME, DOCKER_IMAGE, ROOTFS_IMAGE, Build
from labctl.errors import LabctlError

DOCKERFILE = f"""\
FROM {ROOTFS_IMAGE}
LABEL {BOX_LABEL}="debian12"
COPY {guest.SCRIPT_NAME} {guest.KEY_NAME} /tmp/
RUN sh /tmp/{guest.SCRIPT_NAME} && ssh-keygen -A
EXPOSE 22
CMD ["/usr/sbin/sshd", "-D", "-e"]
"""

BOX_VAGRANTFILE = f"""\
# {BOX_NAME} for Vagrant's docker provider: containers run the local image {DOCKER_IMAGE}.
Vagrant.configure("2") do |config|
  config.vm.provider "docker" do |d|
    d.image = "{DOCKER_IMAGE}"
    d.has_ssh = true
    d.remains_running = true
  end
end
"""


def image_present(image: str = DOCKER_IMAGE) -> bool:
    """True when the docker daemon answers and has `image`."""
    return image_id(image) is not None


def image_id(image: str = DOCKER_IMAGE) -> str | None:
    if shutil.which("docker") is None:
        return None
    outcome = proc.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], check=False)
    return outcome.output.strip() if outcome.returncode == 0 else None


def build(b: Build) -> str:
    """Build DOCKER_IMAGE and add the docker vagrant box; return a one-line summary."""
    b.progress("checking tools and the Docker daemon")
    host.require_tools("debootstrap", "tar", "docker", "vagrant", "umount")
    host.require_root()
    host.require_dockerd(b.log)
    key = host.insecure_public_key()
    tree = rootfs.debootstrap(b)
    _import_rootfs(b, tree)
    old = image_id()
    new = _build_image(b, key)
    _drop_replaced(b, old, new)
    vagrantbox.add_box(_write_box(b), b)
    return f"image {DOCKER_IMAGE} ({new[:19]}) and vagrant box {BOX_NAME} (docker)"


def _import_rootfs(b: Build, tree: Path) -> None:
    b.progress(f"importing the rootfs as docker image {ROOTFS_IMAGE}")
    tarball = b.tmp / "rootfs.tar"
    b.run(["tar", "-C", str(tree), "--numeric-owner", "-cf", str(tarball), "."])
    b.run(["docker", "import", "--change", f"LABEL {BOX_LABEL}=debian12-rootfs", str(tarball), ROOTFS_IMAGE])
    tarball.unlink()


def _build_image(b: Build, key: Path) -> str:
    b.progress(f"building docker image {DOCKER_IMAGE}")
    context = b.tmp / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    guest.stage(context, key)
    b.run(["docker", "build", "--rm", "-t", DOCKER_IMAGE, str(context)], env={"DOCKER_BUILDKIT": "0"})
    new = image_id()
    if new is None:
        raise LabctlError(f"`docker build` finished but {DOCKER_IMAGE} is not there; see {b.log}")
    return new


def _drop_replaced(b: Build, old: str | None, new: str) -> None:
    """Remove the image a rebuild replaced; a container still using it keeps it alive."""
    if old and old != new:
        b.run(["docker", "image", "rm", old], check=False)


def _write_box(b: Build) -> Path:
    return vagrantbox.write_box(b.tmp / "docker.box", {"provider": "docker"}, BOX_VAGRANTFILE)

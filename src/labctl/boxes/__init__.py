"""`labctl box build`: the labctl/debian12 base box, built locally from the apt mirror.

docker: a debootstrap rootfs becomes the docker image DOCKER_IMAGE (user vagrant with
Vagrant's insecure key, NOPASSWD sudo, sshd in the foreground) plus a vagrant box
BOX_NAME for the docker provider that points at it.
libvirt: the same kind of rootfs with a kernel, written into a bootable qcow2 disk and
added as a vagrant-libvirt box BOX_NAME.

Functions return data and report progress only through the `progress` callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from labctl.boxes import vagrantbox, workspace
from labctl.boxes.common import BOX_NAME, DOCKER_IMAGE, PROVIDERS, BoxResult, check_provider, log_path

__all__ = ["BOX_NAME", "DOCKER_IMAGE", "PROVIDERS", "BoxResult", "box_exists", "build_box", "log_path"]


def box_exists(provider: str) -> bool:
    """True when the box for `provider` is ready to use.

    docker: the image DOCKER_IMAGE exists and `vagrant box list` has BOX_NAME (docker).
    libvirt: `vagrant box list` has BOX_NAME (libvirt).
    """
    check_provider(provider)
    if provider == "docker":
        from labctl.boxes import docker

        if not docker.image_present():
            return False
    return provider in vagrantbox.box_providers()


def build_box(
    provider: str,
    *,
    force: bool = False,
    progress: Callable[[str], None] = lambda s: None,
    workdir: Path | None = None,
) -> BoxResult:
    """Build the box for `provider` unless it exists (or always, with `force`).

    `workdir` is where the scratch directory goes (default: the cache's boxes dir);
    it is removed afterwards, also on errors and Ctrl-C. Every command's output goes
    to `log_path(provider)`. Raises ToolMissing, LabBusy, CommandFailed or LabctlError.
    """
    check_provider(provider)
    if not force and box_exists(provider):
        return BoxResult(provider, BOX_NAME, False, f"{BOX_NAME} ({provider}) already exists; --force rebuilds it")
    started = time.monotonic()
    with workspace.session(provider, progress, workdir) as build:
        detail = _builder(provider)(build)
    return BoxResult(provider, BOX_NAME, True, f"built {detail} in {time.monotonic() - started:.0f} s")


def _builder(provider: str) -> Callable:
    if provider == "docker":
        from labctl.boxes import docker

        return docker.build
    from labctl.boxes import libvirt

    return libvirt.build

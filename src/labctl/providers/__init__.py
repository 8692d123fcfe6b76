"""Stage 3: machines. A Provider protocol and an explicit registry; its names feed the schema.

A new provider is one module with one class, and one line in REGISTRY.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from labctl.endpoints import Endpoint
    from labctl.spec import Lab

Progress = Callable[[str], None]


class Provider(Protocol):
    def check(self, lab: Lab, labdir: Path) -> None: ...
    def up(self, lab: Lab, labdir: Path, progress: Progress) -> None: ...
    def halt(self, lab: Lab, labdir: Path, progress: Progress) -> None: ...
    def status(self, lab: Lab, labdir: Path) -> dict[str, str]: ...
    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]: ...
    def destroy(self, lab: Lab, labdir: Path, force: bool, progress: Progress) -> None: ...


# name -> (module, class); imported only when used, so `labctl --help` stays fast
REGISTRY = {
    "docker": ("labctl.providers.docker", "DockerProvider"),
    "libvirt": ("labctl.providers.libvirt", "LibvirtProvider"),
    "virtualbox": ("labctl.providers.virtualbox", "VirtualboxProvider"),
    "ssh": ("labctl.providers.ssh", "SSHProvider"),
}


def get(name: str) -> Provider:
    module, attr = REGISTRY[name]
    return getattr(importlib.import_module(module), attr)()

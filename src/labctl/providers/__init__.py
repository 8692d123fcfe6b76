"""Stage 3: machines. A Provider protocol and an explicit registry; its names feed the schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from labctl.spec import Lab
from labctl.endpoints import Endpoint

Progress = Callable[[str], None]


class Provider(Protocol):
    def check(self, lab: Lab, labdir: Path) -> None: ...
    def up(self, lab: Lab, labdir: Path, progress: Progress) -> None: ...
    def halt(self, lab: Lab, labdir: Path, progress: Progress) -> None: ...
    def status(self, lab: Lab, labdir: Path) -> dict[str, str]: ...
    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]: ...
    def destroy(self, lab: Lab, labdir: Path, force: bool, progress: Progress) -> None: ...


def get(name: str) -> Provider:
    if name == "ssh":
        from labctl.providers.ssh import SSHProvider

        return SSHProvider()
    from labctl.providers.vagrant import VagrantProvider

    return VagrantProvider(name)

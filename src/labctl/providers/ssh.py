"""Provider `ssh`: machines that already exist (cloud, bare metal), named with host, user and key."""

from __future__ import annotations

from pathlib import Path

from labctl.errors import UsageError
from labctl.spec import Lab
from labctl.endpoints import Endpoint


class SSHProvider:
    def check(self, lab: Lab, labdir: Path) -> None:
        missing = [n.name for n in lab.nodes if not n.host]
        if missing:
            raise UsageError(f"provider ssh needs `host` on nodes: {', '.join(missing)}", "set nodes.NAME.host (and user, key)")

    def up(self, lab: Lab, labdir: Path, progress) -> None:
        progress("existing machines: nothing to create")

    def halt(self, lab: Lab, labdir: Path, progress) -> None:
        progress("existing machines are not stopped by labctl")

    def status(self, lab: Lab, labdir: Path) -> dict[str, str]:
        return {n.name: "external" for n in lab.nodes}

    def endpoints(self, lab: Lab, labdir: Path) -> dict[str, Endpoint]:
        return {
            n.name: Endpoint(n.name, n.host or "", n.port, n.user, str(Path(n.key).expanduser()) if n.key else "")
            for n in lab.nodes
        }

    def destroy(self, lab: Lab, labdir: Path, force: bool, progress) -> None:
        progress("existing machines are not destroyed by labctl")

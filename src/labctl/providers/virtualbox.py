"""Vagrant's virtualbox provider: one machine per `vagrant up`, a few at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labctl.providers.vagrant import VagrantProvider

SERIAL_BOUND = 4  # virtualbox boots one machine per `vagrant up`: this many at once


class VirtualboxProvider(VagrantProvider):
    name = "virtualbox"

    def boot(self, labdir: Path, batch: list[str], batched: bool) -> None:
        with ThreadPoolExecutor(SERIAL_BOUND) as pool:
            list(pool.map(lambda name: self._up(labdir, name), batch))

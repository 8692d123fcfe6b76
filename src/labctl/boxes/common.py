"""Names and the per-build context shared by the box builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labctl import paths, proc
from labctl.errors import UsageError

BOX_NAME = "labctl/debian12"
DOCKER_IMAGE = "labctl/debian12:latest"
ROOTFS_IMAGE = "labctl/debian12-rootfs"
BOX_LABEL = "org.labctl.box"
SUITE = "bookworm"
PROVIDERS = ("docker", "libvirt")


@dataclass(frozen=True)
class BoxResult:
    """What `build_box` did: `built` is False when the box existed and was kept."""

    provider: str
    name: str
    built: bool
    detail: str


@dataclass(frozen=True)
class Build:
    """One running build: its scratch directory, its log and its progress callback."""

    provider: str
    tmp: Path
    log: Path
    progress: Callable[[str], None]

    def run(self, argv: list, **kwargs) -> proc.Outcome:
        """Run a command with its output appended to this build's log."""
        return proc.run(argv, log=self.log, **kwargs)


def boxes_dir() -> Path:
    """Where box builds keep their logs, locks, package cache and scratch directories."""
    return paths.cache_dir() / "boxes"


def log_path(provider: str) -> Path:
    return boxes_dir() / f"build-{provider}.log"


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise UsageError(f"unknown box provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")

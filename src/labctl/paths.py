"""Where labctl keeps things: shipped data, user config and per-lab state."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
LAB_RECORD = Path(".labctl") / "lab.json"  # in a lab directory: the resolved spec and the request


def data_dir() -> Path:
    """Shipped templates, labs and Ansible content.

    A wheel carries them in labctl/data; a source checkout has them at the top level.
    """
    packaged = _PKG / "data"
    if packaged.is_dir():
        return packaged
    return _PKG.parent.parent


def labs_dir() -> Path:
    return data_dir() / "labs"


def ansible_dir() -> Path:
    return data_dir() / "ansible"


def home() -> Path:
    """LABCTL_HOME, or the XDG data directory."""
    explicit = os.environ.get("LABCTL_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "labctl"


def user_config_file() -> Path:
    """The user config: under LABCTL_HOME when set, else the XDG config directory."""
    if os.environ.get("LABCTL_HOME"):
        return home() / "config.yaml"
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "labctl" / "config.yaml"


def lab_home(name: str) -> Path:
    return home() / "labs" / name


def cache_dir() -> Path:
    return home() / "cache"

"""Vagrant .box files: write one, add it, and ask which providers have a box."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

from labctl import proc
from labctl.boxes.common import BOX_NAME, Build

_LIST_LINE = re.compile(r"^(\S+)\s+\(([^,\s)]+)")


def write_box(dest: Path, metadata: dict, vagrantfile: str, files: dict[str, Path] | None = None) -> Path:
    """Write an uncompressed .box (a tar of metadata.json, Vagrantfile and `files`)."""
    with tarfile.open(dest, "w") as tar:
        _add_bytes(tar, "metadata.json", json.dumps(metadata, indent=2).encode() + b"\n")
        _add_bytes(tar, "Vagrantfile", vagrantfile.encode())
        for name, path in (files or {}).items():
            tar.add(str(path), arcname=name)
    return dest


def add_box(box_file: Path, build: Build) -> None:
    """`vagrant box add --force` the file as BOX_NAME."""
    build.progress(f"adding vagrant box {BOX_NAME} ({build.provider})")
    build.run(["vagrant", "box", "add", "--force", "--name", BOX_NAME, str(box_file)], cwd=build.tmp)


def box_providers(name: str = BOX_NAME) -> set[str]:
    """Providers for which `vagrant box list` has `name`; empty when vagrant is missing."""
    if shutil.which("vagrant") is None:
        return set()
    outcome = proc.run(["vagrant", "box", "list"], check=False, cwd=Path("/"))
    return parse_box_list(outcome.output).get(name, set())


def parse_box_list(text: str) -> dict[str, set[str]]:
    """Map box name to its providers from `vagrant box list` output."""
    boxes: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = _LIST_LINE.match(line)
        if match:
            boxes.setdefault(match.group(1), set()).add(match.group(2))
    return boxes


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))

"""Template outputs kept by their inputs: a lab rendered before, into any directory, skips the templates.

The Vagrantfile, ansible.cfg and inventory/labctl.yml read neither the lab directory nor its secrets:
they are a function of what labctl.render.stamp.inputs covers (the validated spec's cache key, the
request, the renderer's modules and templates, the CPU count, the ControlPath home, the mitogen
location). A full render keeps them in LABCTL_HOME/cache/render/KEY.json; a render of the same inputs
into another directory (a lab brought up again after `down`, a CI job's fresh work tree, `-o` to a
new place) takes them from there and does without jinja2, the largest part of its cost. The inventory,
which holds the lab's secrets, is built afresh by every render and never kept here.
"""

from __future__ import annotations

import json
from pathlib import Path

from labctl import paths
from labctl.fsutil import write_atomic
from labctl.render import stamp

KEPT = ("ansible.cfg", "inventory/labctl.yml", "Vagrantfile")


def key(digest: str | None, request: tuple | None, data: dict) -> str | None:
    """The memo's key for a render's inputs, or None when its outputs are not to be kept."""
    shared = stamp.inputs(digest, request, data) if request else None
    return None if shared is None else stamp.digest_of([*shared, KEPT])


def recall(memo_key: str | None) -> dict[str, str] | None:
    """The kept texts (path relative to the lab directory -> text), or None."""
    if memo_key is None:
        return None
    try:
        texts = json.loads(_path(memo_key).read_text())
    except (OSError, ValueError):
        return None
    good = isinstance(texts, dict) and set(texts) <= set(KEPT) and all(isinstance(t, str) for t in texts.values())
    return texts if good else None


def remember(memo_key: str | None, texts: dict[str, str]) -> dict[str, str]:
    """Keep `texts` under `memo_key` (a read-only home keeps nothing); return them."""
    if memo_key is not None:
        try:
            write_atomic(_path(memo_key), json.dumps(texts), durable=False)
        except OSError:
            pass
    return texts


def _path(memo_key: str) -> Path:
    return paths.cache_dir() / "render" / f"{memo_key}.json"

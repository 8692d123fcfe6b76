"""What a box build needs from the host: tools, root, dockerd, the apt mirror, Vagrant's key."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

from labctl import proc
from labctl.boxes.common import SUITE
from labctl.errors import LabctlError, ToolMissing

APT_PACKAGE = {
    "debootstrap": "debootstrap", "docker": "docker.io", "vagrant": "vagrant", "tar": "tar",
    "qemu-img": "qemu-utils", "sfdisk": "fdisk", "mkfs.ext4": "e2fsprogs",
    "mkfs.vfat": "dosfstools", "mcopy": "mtools", "syslinux": "syslinux", "umount": "mount",
}
DEBIAN_SUITES = {"bullseye", "bookworm", "trixie", "forky", "sid", "stable", "testing", "unstable"}
URI_SCHEMES = ("http", "https", "file")
KEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/*/gems/vagrant-*/keys/vagrant.pub",
)
DOCKERD_HINT = "start it with `nohup dockerd > /var/log/dockerd.log 2>&1 &` and wait for `docker info`"


def require_tools(*tools: str) -> None:
    """Raise ToolMissing naming every missing tool and the apt-get line that installs them."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        packages = " ".join(sorted({APT_PACKAGE.get(tool, tool) for tool in missing}))
        raise ToolMissing(f"building the box needs {', '.join(missing)}, not found on PATH",
                          f"apt-get install -y --no-install-recommends {packages}")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabctlError("building a box runs debootstrap, which needs root",
                          "run `sudo labctl box build`")


def require_dockerd(log: Path | None = None) -> None:
    """Raise unless the Docker daemon answers."""
    outcome = proc.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, log=log)
    if outcome.returncode != 0:
        why = proc.tail(outcome.output, 1)
        raise LabctlError(f"the Docker daemon is not running or not reachable: {why}", DOCKERD_HINT)


def debian_mirror(apt_root: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (LABCTL_DEBIAN_MIRROR overrides it)."""
    explicit = os.environ.get("LABCTL_DEBIAN_MIRROR")
    if explicit:
        return explicit
    entries = apt_entries(apt_root)
    for wanted in ({SUITE}, DEBIAN_SUITES):
        for uri, suite in entries:
            if suite in wanted:
                return uri
    raise LabctlError(f"no Debian mirror found in the apt sources under {apt_root}",
                      "set LABCTL_DEBIAN_MIRROR to the URL of a Debian mirror")


def apt_entries(apt_root: Path) -> list[tuple[str, str]]:
    """(uri, suite) pairs of the enabled `deb` sources, in apt's file order."""
    entries: list[tuple[str, str]] = []
    for path in [apt_root / "sources.list", *sorted(apt_root.glob("sources.list.d/*.list"))]:
        entries += parse_one_line(_read(path))
    for path in sorted(apt_root.glob("sources.list.d/*.sources")):
        entries += parse_deb822(_read(path))
    return [(uri, suite) for uri, suite in entries if uri.split(":", 1)[0] in URI_SCHEMES]


def parse_one_line(text: str) -> list[tuple[str, str]]:
    """Parse classic `deb [options] uri suite components` lines."""
    pattern = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")
    found = (pattern.match(line.split("#", 1)[0].strip()) for line in text.splitlines())
    return [(m.group(1), m.group(2)) for m in found if m]


def parse_deb822(text: str) -> list[tuple[str, str]]:
    """Parse deb822 `.sources` stanzas (Types/URIs/Suites/Enabled)."""
    entries = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields = _deb822_fields(stanza)
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        entries += [(u, s) for u in fields.get("uris", "").split() for s in fields.get("suites", "").split()]
    return entries


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def insecure_public_key() -> Path:
    """Vagrant's insecure public key file, as shipped with the installed vagrant."""
    for candidate in _dpkg_key_paths() + _globbed_key_paths():
        if candidate.is_file():
            return candidate
    raise ToolMissing("Vagrant's insecure public key (keys/vagrant.pub) was not found",
                      "apt-get install -y --no-install-recommends vagrant")


def insecure_private_key() -> Path:
    """The private half of Vagrant's insecure key pair."""
    return insecure_public_key().with_suffix("")


def _dpkg_key_paths() -> list[Path]:
    if shutil.which("dpkg") is None:
        return []
    listing = proc.run(["dpkg", "-L", "vagrant"], check=False).output
    return [Path(line) for line in listing.splitlines() if line.endswith("/keys/vagrant.pub")]


def _globbed_key_paths() -> list[Path]:
    return [Path(p) for pattern in KEY_GLOBS for p in sorted(glob.glob(pattern), reverse=True)]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""

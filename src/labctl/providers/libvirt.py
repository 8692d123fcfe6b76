"""Provider `libvirt` (vagrant-libvirt), and the networks a lab's `vagrant up` created, so that `down` removes them and nothing else.

vagrant-libvirt writes the UUID of each network it creates to
.vagrant/machines/NODE/libvirt/created_networks, but only for the machine that created it, and
`vagrant destroy` removes a network only while destroying that machine and only if no other
domain is attached. `vagrant up --parallel` decides which machine creates it and `vagrant destroy`
goes in reverse order, so the lab network is often left behind. labctl keeps the union of those
UUIDs in .labctl/libvirt-networks and, after `vagrant destroy`, removes those still there and idle.
Networks that existed before (`libvirt__always_destroy: false`, `management_network_keep`) are
never in those files, so they stay.
"""

from __future__ import annotations

import re
from pathlib import Path

from labctl import fsutil, proc
from labctl.providers.vagrant import LOG, VagrantProvider, check_plugin
from labctl.spec import Lab

URI = "qemu:///system"  # vagrant-libvirt's default (lv.uri)
RECORD = Path(".labctl") / "libvirt-networks"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def remember(labdir: Path) -> set[str]:
    """Add the networks vagrant-libvirt recorded as created to the lab's record; return them all."""
    uuids = _recorded(labdir) | _created(labdir)
    if uuids:
        fsutil.write_atomic(labdir / RECORD, "".join(f"{u}\n" for u in sorted(uuids)))
    return uuids


def remove_leftovers(labdir: Path, log: Path, progress) -> None:
    """Remove the recorded networks that are still defined and have no domain attached."""
    uuids = _recorded(labdir) | _created(labdir)
    kept = set()
    for uuid in sorted(uuids):
        found = proc.run(["virsh", "-c", URI, "net-dumpxml", uuid], check=False)
        if found.returncode != 0:
            continue  # already gone
        if re.search(r"<network\b[^>]*\bconnections='[1-9]", found.output):
            kept.add(uuid)  # another lab or project still uses it
            continue
        name = re.search(r"<name>([^<]*)</name>", found.output)
        progress(f"removing libvirt network {name.group(1) if name else uuid}")
        proc.run(["virsh", "-c", URI, "net-destroy", uuid], check=False, log=log)  # fails when inactive
        proc.run(["virsh", "-c", URI, "net-undefine", uuid], log=log)
    record = labdir / RECORD
    if kept:
        fsutil.write_atomic(record, "".join(f"{u}\n" for u in sorted(kept)))
    else:
        record.unlink(missing_ok=True)


def _created(labdir: Path) -> set[str]:
    found = set()
    for path in (labdir / ".vagrant" / "machines").glob("*/libvirt/created_networks"):
        found |= _uuids(path)
    return found


def _recorded(labdir: Path) -> set[str]:
    return _uuids(labdir / RECORD)


def _uuids(path: Path) -> set[str]:
    try:
        text = path.read_text()
    except OSError:
        return set()
    return {line.strip() for line in text.splitlines() if _UUID.match(line.strip())}


HINT = ("apt-get install -y --no-install-recommends vagrant-libvirt libvirt-daemon-system qemu-system-x86 "
        "qemu-utils dnsmasq-base, and start libvirtd (README: The libvirt path)")


class LibvirtProvider(VagrantProvider):
    """vagrant-libvirt: virsh and the plugin; the networks a lab created are removed with it."""

    name = "libvirt"

    def check_provider(self, lab: Lab, labdir: Path) -> None:
        proc.require("virsh", HINT)
        check_plugin("vagrant-libvirt", HINT)
        super().check_provider(lab, labdir)

    def boot(self, labdir: Path, batch: list[str], batched: bool) -> None:
        try:
            super().boot(labdir, batch, batched)
        finally:  # also when a machine failed: its networks exist
            remember(labdir)

    def destroy(self, lab: Lab, labdir: Path, force: bool, progress) -> None:
        remember(labdir)  # `vagrant destroy` deletes the files that name them
        super().destroy(lab, labdir, force, progress)
        remove_leftovers(labdir, labdir / LOG, progress)

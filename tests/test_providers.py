"""Provider logic: boot order and batching (process layer replaced), and the real box check."""

from __future__ import annotations

import pytest

from conftest import need_tools
from labctl.errors import ToolMissing
from labctl.providers import get
from labctl.providers.vagrant import VagrantProvider
from labctl.spec import load_lab


def _lab(tmp_path, count: int, provider: str):
    spec = tmp_path / "lab.yaml"
    spec.write_text(f"name: big\nprovider: {provider}\nnetworks: {{lab: {{cidr: 10.30.0.0/16}}}}\nnodes:\n  n-[1:{count}]: {{}}\n")
    return load_lab(str(spec))[0]


@pytest.fixture
def calls(monkeypatch):
    seen: list = []
    monkeypatch.setattr(VagrantProvider, "_up", lambda self, labdir, name: seen.append(name))
    return seen


def test_docker_boots_small_labs_in_one_parallel_run(tmp_path, calls):
    get("docker").up(_lab(tmp_path, 3, "docker"), tmp_path, lambda s: None)
    assert calls == [None]


def test_large_labs_boot_in_batches(tmp_path, calls):
    get("libvirt").up(_lab(tmp_path, 60, "libvirt"), tmp_path, lambda s: None)
    assert len(calls) == 3
    assert calls[0].startswith("/^(n-1|n-2|") and calls[0].endswith("|n-25)$/")
    assert calls[2] == "/^(" + "|".join(f"n-{i}" for i in range(51, 61)) + ")$/"


def test_virtualbox_boots_each_machine_with_a_bound(tmp_path, calls):
    get("virtualbox").up(_lab(tmp_path, 6, "virtualbox"), tmp_path, lambda s: None)
    assert sorted(calls) == sorted(f"n-{i}" for i in range(1, 7))


@pytest.mark.integration
def test_missing_box_says_how_to_get_it(tmp_path):
    need_tools("vagrant")
    lab, _ = load_lab("openshift")
    with pytest.raises(ToolMissing) as info:
        get("virtualbox").check(lab, tmp_path)
    assert info.value.render() == "vagrant box centos/7 (virtualbox) is not installed (vagrant box add centos/7 --provider virtualbox)"
    assert info.value.exit_code == 3


@pytest.mark.integration
def test_libvirt_without_virsh_says_what_to_install(tmp_path, monkeypatch):
    """A PATH with vagrant but no virsh, as on a host without libvirt."""
    import shutil

    need_tools("vagrant")
    vagrant = shutil.which("vagrant")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vagrant").symlink_to(vagrant)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ToolMissing) as info:
        get("libvirt").check(_lab(tmp_path, 1, "libvirt"), tmp_path)
    assert info.value.render().startswith("`virsh` was not found on PATH (apt-get install -y --no-install-recommends vagrant-libvirt ")


@pytest.mark.libvirt
def test_libvirt_check_passes_where_libvirt_is_set_up(tmp_path):
    """This machine's kind has vagrant-libvirt, virsh and the labctl/debian12 libvirt box (.ci/setup-libvirt.sh)."""
    need_tools("vagrant", "virsh")
    from labctl.boxes import box_exists

    if not box_exists("libvirt"):
        need_tools("labctl-libvirt-box-built")
    get("libvirt").check(_lab(tmp_path, 1, "libvirt"), tmp_path)


def test_docker_boot_retries_once_when_another_lab_removed_a_network(tmp_path, monkeypatch):
    """The race: Vagrant inspects every docker network while another lab removes its own."""
    from labctl.errors import CommandFailed

    tries = []

    def up(self, labdir, name):
        tries.append(name)
        if len(tries) == 1:
            raise CommandFailed(["vagrant", "up"], 1, "Error response from daemon: network vagrant_network_10.9.0.0/24 not found", None)

    monkeypatch.setattr(VagrantProvider, "_up", up)
    get("docker").up(_lab(tmp_path, 2, "docker"), tmp_path, lambda s: None)
    assert tries == [None, None]
    tries.clear()
    monkeypatch.setattr(VagrantProvider, "_up", lambda self, labdir, name: (_ for _ in ()).throw(CommandFailed(["vagrant", "up"], 1, "port is already allocated", None)))
    with pytest.raises(CommandFailed):
        get("docker").up(_lab(tmp_path, 2, "docker"), tmp_path, lambda s: None)

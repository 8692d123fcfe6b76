"""labctl.boxes: the base box builder (unit tests, and a real docker build)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

import labctl.boxes as boxes
from conftest import need_tools, skip_or_fail
from labctl import proc
from labctl.boxes import host, vagrantbox, workspace
from labctl.errors import LabBusy, LabctlError, ToolMissing, UsageError


@pytest.fixture
def labctl_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# ---------------------------------------------------------------- unit tests

DEB822 = """\
Types: deb
# a comment inside the stanza
URIs: http://mirror.example.invalid/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example.invalid/debian
Suites: bookworm
"""


def test_deb822_sources_give_uri_suite_pairs():
    assert host.parse_deb822(DEB822) == [
        ("http://mirror.example.invalid/debian", "bookworm"),
        ("http://mirror.example.invalid/debian", "bookworm-updates"),
        ("http://mirror.example.invalid/debian-security", "bookworm-security"),
    ]


def test_disabled_deb822_stanza_is_ignored():
    assert host.parse_deb822("Types: deb\nEnabled: no\nURIs: http://x.invalid/d\nSuites: bookworm\n") == []


def test_one_line_sources_skip_options_and_comments():
    text = ("# deb http://old.invalid/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://a.invalid/debian bookworm main\n"
            "deb-src http://a.invalid/debian bookworm main\n")
    assert host.parse_one_line(text) == [("http://a.invalid/debian", "bookworm")]


def test_mirror_prefers_the_bookworm_entry(tmp_path, monkeypatch):
    monkeypatch.delenv("LABCTL_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb cdrom:[Debian]/ bookworm main\n"
                                           "deb http://sec.invalid/debian-security bookworm-security main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert host.debian_mirror(tmp_path) == "http://mirror.example.invalid/debian"


def test_mirror_env_override_and_missing_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("LABCTL_DEBIAN_MIRROR", raising=False)
    with pytest.raises(LabctlError, match="no Debian mirror") as caught:
        host.debian_mirror(tmp_path)
    assert "LABCTL_DEBIAN_MIRROR" in caught.value.hint
    monkeypatch.setenv("LABCTL_DEBIAN_MIRROR", "file:///srv/mirror")
    assert host.debian_mirror(tmp_path) == "file:///srv/mirror"


def test_parse_vagrant_box_list():
    text = "labctl/debian12 (docker, 0)\nlabctl/debian12 (libvirt, 0)\ngeneric/alpine (virtualbox, 4.3.2)\n"
    assert vagrantbox.parse_box_list(text) == {
        "labctl/debian12": {"docker", "libvirt"}, "generic/alpine": {"virtualbox"}}
    assert vagrantbox.parse_box_list("There are no installed boxes! Use `vagrant box add` to add some.") == {}


def _fake_run(image_rc: int, box_list: str):
    def run(argv, **kwargs):
        if argv[:3] == ["docker", "image", "inspect"]:
            return proc.Outcome(tuple(argv), image_rc, "sha256:abc\n" if image_rc == 0 else "No such image")
        if argv[:3] == ["vagrant", "box", "list"]:
            return proc.Outcome(tuple(argv), 0, box_list)
        raise AssertionError(f"unexpected command {argv}")
    return run


@pytest.mark.parametrize(("image_rc", "listing", "docker", "libvirt"), [
    (0, "labctl/debian12 (docker, 0)\n", True, False),
    (1, "labctl/debian12 (docker, 0)\n", False, False),
    (0, "labctl/debian12 (libvirt, 0)\n", False, True),
    (0, "other/box (docker, 0)\n", False, False),
])
def test_box_exists_needs_image_and_box(monkeypatch, image_rc, listing, docker, libvirt):
    monkeypatch.setattr(proc, "run", _fake_run(image_rc, listing))
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert boxes.box_exists("docker") is docker
    assert boxes.box_exists("libvirt") is libvirt


def test_existing_box_is_skipped_unless_forced(monkeypatch, labctl_home):
    monkeypatch.setattr(boxes, "box_exists", lambda provider: True)
    built = []
    monkeypatch.setattr(boxes, "_builder", lambda provider: lambda b: built.append(b) or "fake box")
    kept = boxes.build_box("docker")
    assert (kept.built, kept.name, kept.provider, built) == (False, "labctl/debian12", "docker", [])
    forced = boxes.build_box("docker", force=True)
    assert forced.built and forced.detail.startswith("built fake box")
    assert len(built) == 1 and not built[0].tmp.exists()


def test_unknown_provider_is_a_usage_error():
    with pytest.raises(UsageError, match="virtualbox"):
        boxes.build_box("virtualbox")


def test_missing_tools_name_the_apt_packages(monkeypatch, labctl_home, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing) as caught:
        boxes.build_box("docker", force=True)
    assert "debootstrap" in caught.value.message
    assert caught.value.hint.startswith("apt-get install -y")
    assert {"debootstrap", "docker.io", "vagrant"} <= set(caught.value.hint.split())


def test_scratch_dir_is_removed_when_the_build_fails(labctl_home):
    seen = []

    def explode(build):
        (build.tmp / "rootfs" / "etc").mkdir(parents=True)
        seen.append(build.tmp)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), workspace.session("docker", lambda s: None, None) as build:
        explode(build)
    assert seen and not seen[0].exists()
    assert f"# removing {seen[0]}" in boxes.log_path("docker").read_text()


def test_second_build_of_the_same_provider_is_refused(labctl_home):
    with workspace.session("docker", lambda s: None, None):
        busy = workspace.session("docker", lambda s: None, None)
        with pytest.raises(LabBusy, match="docker"):
            busy.__enter__()
    with workspace.session("docker", lambda s: None, None) as build:
        assert build.tmp.is_dir()


def test_stale_scratch_dirs_are_cleared(labctl_home, tmp_path):
    stale = tmp_path / "work" / "build-docker-old"
    (stale / "rootfs").mkdir(parents=True)
    with workspace.session("docker", lambda s: None, tmp_path / "work") as build:
        assert build.tmp.parent == tmp_path / "work"
        assert not stale.exists()


def test_mounts_under_reads_escaped_mount_table(tmp_path):
    table = tmp_path / "mounts"
    base = tmp_path / "b x"
    table.write_text(f"proc {tmp_path}/b\\040x/rootfs/proc proc rw 0 0\n"
                     f"sys {tmp_path}/b\\040x/rootfs/proc/sys/fs sysfs rw 0 0\n"
                     f"tmpfs {tmp_path}/b\\040xy tmpfs rw 0 0\n")
    assert workspace.mounts_under(base, table) == [base / "rootfs/proc/sys/fs", base / "rootfs/proc"]


def test_dockerd_down_is_reported_with_a_hint(monkeypatch, labctl_home, tmp_path):
    need_tools("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(LabctlError) as caught:
        host.require_dockerd()
    assert "Docker daemon is not running" in caught.value.message
    assert "nohup dockerd" in caught.value.hint


# ---------------------------------------------------------- integration test

def _docker(*args: str, check: bool = True) -> proc.Outcome:
    return proc.run(["docker", *args], check=check)


@pytest.fixture(scope="module")
def docker_box():
    need_tools("docker", "vagrant", "debootstrap")
    if _docker("info", check=False).returncode != 0:
        skip_or_fail("the Docker daemon is not running")
    if os.geteuid() != 0 and not boxes.box_exists("docker"):
        skip_or_fail("building the box needs root (debootstrap)")
    return boxes.build_box("docker", force=False)


@pytest.mark.integration
def test_docker_box_is_usable(docker_box):
    assert docker_box.name == "labctl/debian12"
    assert boxes.box_exists("docker")
    assert "docker" in vagrantbox.parse_box_list(proc.run(["vagrant", "box", "list"]).output)["labctl/debian12"]
    labels = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", boxes.DOCKER_IMAGE).output
    assert '"org.labctl.box":"debian12"' in labels


@pytest.mark.integration
def test_docker_image_has_python_user_key_and_sudo(docker_box):
    image = boxes.DOCKER_IMAGE
    assert _docker("run", "--rm", image, "python3", "-c", "print(1)").output.strip() == "1"
    assert _docker("run", "--rm", image, "id", "-u", "vagrant").output.strip() == "1000"
    keys = _docker("run", "--rm", image, "cat", "/home/vagrant/.ssh/authorized_keys").output
    assert keys == host.insecure_public_key().read_text()
    assert _docker("run", "--rm", "-u", "vagrant", image, "sudo", "-n", "id", "-u").output.strip() == "0"
    assert _docker("run", "--rm", image, "/usr/sbin/sshd", "-t").returncode == 0


@pytest.mark.integration
def test_docker_image_serves_ssh_with_the_insecure_key(docker_box):
    import paramiko

    cid = _docker("run", "-d", "-p", "127.0.0.1::22", boxes.DOCKER_IMAGE).output.strip()
    try:
        port = int(_docker("port", cid, "22/tcp").output.splitlines()[0].rsplit(":", 1)[1])
        client = _ssh_connect(paramiko, port)
        try:
            _, out, _ = client.exec_command("sudo -n id -un && python3 -c 'print(6*7)'")
            assert out.read().decode().split() == ["root", "42"]
        finally:
            client.close()
    finally:
        _docker("rm", "-f", cid, check=False)


def _ssh_connect(paramiko, port: int, timeout: float = 30):
    key = paramiko.RSAKey.from_private_key_file(str(host.insecure_private_key()))
    deadline = time.monotonic() + timeout
    while True:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect("127.0.0.1", port=port, username="vagrant", pkey=key,
                           allow_agent=False, look_for_keys=False, timeout=5)
            return client
        except (paramiko.SSHException, OSError):
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_remove_tree_unmounts_before_deleting(tmp_path):
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root")
    tree = tmp_path / "build-docker-x"
    (tree / "rootfs" / "proc").mkdir(parents=True)
    if proc.run(["mount", "-t", "tmpfs", "none", str(tree / "rootfs" / "proc")], check=False).returncode:
        skip_or_fail("this machine does not allow tmpfs mounts")
    (tree / "rootfs" / "proc" / "inside-the-mount").write_text("x")
    workspace.remove_tree(tree)
    assert not tree.exists()
    assert workspace.mounts_under(tmp_path) == []


# ------------------------------------------- libvirt (slow: opt in with -m libvirt)

def _libvirt_box_image() -> Path:
    vagrant_home = Path(os.environ.get("VAGRANT_HOME", Path.home() / ".vagrant.d"))
    return vagrant_home / "boxes" / boxes.BOX_NAME.replace("/", "-VAGRANTSLASH-") / "0" / "libvirt" / "box.img"


@pytest.mark.libvirt
def test_libvirt_box_boots_and_serves_ssh(tmp_path):
    """Boot the box's disk with plain QEMU (TCG, restricted user networking, loopback only)."""
    need_tools("debootstrap", "vagrant", "qemu-img", "qemu-system-x86_64", "syslinux", "mcopy", "mkfs.vfat")
    import paramiko

    boxes.build_box("libvirt")
    metadata = json.loads((_libvirt_box_image().parent / "metadata.json").read_text())
    assert metadata == {"provider": "libvirt", "format": "qcow2", "virtual_size": 8}
    overlay = tmp_path / "overlay.qcow2"
    proc.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(_libvirt_box_image()), str(overlay)])
    port = _free_port()
    vm = subprocess.Popen(["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "1024", "-display", "none",
                           "-serial", f"file:{tmp_path}/serial.log",
                           "-drive", f"file={overlay},if=virtio,format=qcow2",
                           "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
                           "-device", "virtio-net-pci,netdev=n0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = _ssh_connect(paramiko, port, timeout=300)
        _, out, _ = client.exec_command("sudo -n id -un; python3 -c 'print(6*7)'; wc -c < /etc/machine-id;"
                                        " ip -o -4 addr show eth0 | wc -l; systemctl is-system-running")
        assert out.read().decode().split() == ["root", "42", "33", "1", "running"]
        client.close()
    finally:
        vm.terminate()
        vm.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

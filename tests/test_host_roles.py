"""The host side of the Avi and NSX-T labs on real docker-provider machines.

One lab (`hx-hosts`: a controller host, an SE host and a KVM host from labctl/debian12) is
brought up with labctl from a spec whose phases are labctl's own playbooks, named by path:
- the Service Engine host preparation runs for real, and the test then logs in over SSH as the
  connector user with the lab's private key and runs `sudo -n true`;
- the KVM host preparation runs for real as far as a container allows (the packages come from
  Debian's registry); what needs a real KVM host is skipped by the role and named below;
- the controller install needs a Docker daemon inside the host and systemd, and a docker-provider
  machine has neither (this machine refuses privileged containers): that playbook runs in CHECK
  MODE WITH DIFF and the test asserts the rendered avicontroller unit: its environment, ports
  and volumes. The bounded wait runs for real against a stand-in for the two controller URLs it
  polls, served on the controller host (not an Avi double: just the login page and the cluster state).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import paramiko
import pytest
import yaml

from conftest import need_tools
from labctl import paths

pytestmark = pytest.mark.integration

ANSIBLE = paths.ansible_dir()
PLAYBOOKS = ANSIBLE / "playbooks"
OURS = ["avi-preflight.yml", "avi-controller.yml", "avi-se-hosts.yml", "nsxt-kvm-hosts.yml"]
LAB = "hx-hosts"
IMAGE = "labctl/debian12:latest"
BIN = Path(sys.executable).parent
# Tasks of roles/kvm_host/tasks/host.yml: they need a real KVM host (the running kernel's own
# headers for dkms, /dev/kvm, libvirtd under an init system), so the role skips them in a container.
REAL_HOST_ONLY = [
    "Install the running kernel's headers for dkms",
    "Look for /dev/kvm",
    "Require KVM (hardware or nested virtualisation)",
    "Run libvirtd now and at boot",
    "Let users manage libvirt",
]


def labctl(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, **kw)


def _spec(directory: Path, public_key: str) -> Path:
    spec = {
        "name": LAB,
        "provider": "docker",
        "defaults": {"box": "labctl/debian12", "image": IMAGE, "cpus": 1, "memory": 256},
        "networks": {"lab": {"cidr": "192.168.131.0/24", "start": 10}},
        "nodes": {"ctl": {"groups": ["controllers"]}, "se-1": {"groups": ["service_engines"]},
                  "kvm-1": {"groups": ["kvm_hosts"], "memory": 1024}},  # dpkg unpacks gcc: 256 MiB is too little
        "phases": [
            {"name": "se-hosts", "playbook": str(PLAYBOOKS / "avi-se-hosts.yml"),
             "vars": {"avi_connector_public_key": public_key}},
            {"name": "kvm-hosts", "playbook": str(PLAYBOOKS / "nsxt-kvm-hosts.yml")},
        ],
        "checks": [{"name": "connector user exists", "node": "se-1", "command": "id -un aviconnector", "expect": "^aviconnector$"}],
    }
    path = directory / "hx-hosts.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _keypair(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 pair, as labctl's ssh_key secret makes one: private key file 0600, public line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    path = directory / "connector_key"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    path.chmod(0o600)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return path, public.decode() + " labctl-test"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The hx-hosts lab, up with its SE and KVM phases; always destroyed at the end."""
    need_tools("vagrant", "docker", "ansible-playbook")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        need_tools("labctl-box-built")  # fails in CI, skips elsewhere: run `labctl box build --provider docker`
    directory = tmp_path_factory.mktemp("hx")
    key, public = _keypair(directory)
    spec = _spec(directory, public)
    try:
        up = labctl("up", str(spec), "--provider", "docker")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield {"spec": spec, "key": key, "public": public, "dir": directory, "up": up,
               "labdir": Path(os.environ["LABCTL_HOME"]) / "labs" / LAB}
    finally:
        labctl("down", str(spec), "--force")


def _status(lab) -> dict:
    return {n["name"]: n for n in json.loads(labctl("status", str(lab["spec"]), "--json").stdout)["nodes"]}


def _playbook(lab, playbook: Path, check: bool = False, **extravars) -> tuple[int, dict[str, dict], dict]:
    """Run a playbook on the lab's inventory through ansible-runner, as labctl does.

    Returns the exit code, task name -> result for each host, and the recap stats.
    """
    import ansible_runner

    env = {"ANSIBLE_CONFIG": str(lab["labdir"] / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
           "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # A fresh private data dir per run: ansible-runner keeps env/cmdline (--check) for later runs.
    run = ansible_runner.run(private_data_dir=tempfile.mkdtemp(prefix="runner-", dir=lab["dir"]), playbook=str(playbook), quiet=True,
                             inventory=str(lab["labdir"] / "inventory"), envvars=env, extravars=extravars,
                             cmdline="--check --diff" if check else None)
    tasks: dict[str, dict] = {}
    for event in run.events:
        data = event.get("event_data", {})
        if event.get("event", "").startswith("runner_on_") and data.get("host"):
            result = dict(data.get("res", {}), _event=event["event"])
            tasks.setdefault(data["host"], {})[data.get("task", "")] = result
    return run.rc, tasks, run.stats or {}


# --- Service Engine hosts ---------------------------------------------------------------------

def _connect(address: str, user: str, key: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(address, username=user, key_filename=str(key), look_for_keys=False, allow_agent=False, timeout=10)
    return client


def _run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    _, stdout, stderr = client.exec_command(command, timeout=20)
    return stdout.channel.recv_exit_status(), stdout.read().decode() + stderr.read().decode()


def test_lab_came_up_with_both_phases(lab):
    assert "PASS connector user exists on se-1" in lab["up"].stdout
    report = json.loads(labctl("status", str(lab["spec"]), "--json").stdout)
    assert [p["name"] for p in report["phases"] if p["status"] == "done"] == ["common", "se-hosts", "kvm-hosts"]


def test_connector_logs_in_with_the_lab_key_and_sudo_needs_no_password(lab):
    address = _status(lab)["se-1"]["address"]
    client = _connect(address, "aviconnector", lab["key"])
    try:
        assert _run(client, "id -un") == (0, "aviconnector\n")
        assert _run(client, "sudo -n true") == (0, "")
        assert _run(client, "stat -c '%a %U' ~/.ssh ~/.ssh/authorized_keys /etc/sudoers.d/aviconnector") == (
            0, "700 aviconnector\n600 aviconnector\n440 root\n")
        assert _run(client, "cat ~/.ssh/authorized_keys") == (0, lab["public"] + "\n")
    finally:
        client.close()


def test_another_key_is_refused(lab, tmp_path):
    other, _ = _keypair(tmp_path)
    with pytest.raises(paramiko.AuthenticationException):
        _connect(_status(lab)["se-1"]["address"], "aviconnector", other)


def test_se_host_in_a_container_gets_no_docker_and_a_rerun_changes_nothing(lab):
    rc, tasks, stats = _playbook(lab, PLAYBOOKS / "avi-se-hosts.yml", avi_connector_public_key=lab["public"])
    assert rc == 0 and stats["changed"].get("se-1", 0) == 0, stats
    assert tasks["se-1"]["Decide whether this host can run Docker"]["ansible_facts"]["avi_se_host_run_docker"] is False
    assert tasks["se-1"]["Install the Docker engine (apt)"]["_event"] == "runner_on_skipped"  # no Docker daemon in a container


def test_se_host_refuses_a_malformed_key(lab):
    rc, tasks, _ = _playbook(lab, PLAYBOOKS / "avi-se-hosts.yml", avi_connector_public_key="not a key")
    assert rc != 0
    failed = tasks["se-1"]["Require a public key for the connector user"]
    assert failed["_event"] == "runner_on_failed" and failed["msg"].startswith("avi_connector_public_key must be one OpenSSH public key line")


# --- KVM hosts --------------------------------------------------------------------------------

def _debian_packages() -> list[str]:
    return yaml.safe_load((ANSIBLE / "roles/kvm_host/vars/Debian-12.yml").read_text())["kvm_host_distribution_packages"]


def test_kvm_host_packages_are_installed(lab):
    packages = _debian_packages()
    assert {"qemu-system-x86", "libvirt-daemon-system", "bridge-utils", "dkms", "python3-netaddr"} <= set(packages)
    query = subprocess.run(["docker", "exec", f"{LAB}-kvm-1", "dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", *packages],
                           capture_output=True, text=True)
    assert query.returncode == 0, query.stderr
    assert sorted(query.stdout.splitlines()) == sorted(f"{p} installed" for p in packages)
    ovs = subprocess.run(["docker", "exec", f"{LAB}-kvm-1", "dpkg-query", "-W", "openvswitch-switch"], capture_output=True, text=True)
    assert ovs.returncode != 0  # NSX-T brings its own Open vSwitch


def test_kvm_host_rerun_changes_nothing_and_skips_what_needs_a_real_kvm_host(lab):
    rc, tasks, stats = _playbook(lab, PLAYBOOKS / "nsxt-kvm-hosts.yml")
    assert rc == 0 and stats["changed"].get("kvm-1", 0) == 0, stats
    assert tasks["kvm-1"]["Decide what needs a real host"]["ansible_facts"]["kvm_host_in_container"] is True
    events = {name: tasks["kvm-1"][name]["_event"] for name in REAL_HOST_ONLY}
    assert events == {name: "runner_on_skipped" for name in REAL_HOST_ONLY}


# --- controller -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def controller_check(lab):
    """The controller playbook in check mode with diff (no Docker daemon, no systemd in the host)."""
    image = lab["dir"] / "controller_docker.tgz"
    image.write_bytes(b"stand-in tarball: check mode copies nothing")
    # For real first: the role's apt bootstrap (check mode cannot install python3-apt, and the
    # apt module cannot plan without it on a fresh Debian box).
    bootstrap = lab["dir"] / "python-apt.yml"
    bootstrap.write_text(textwrap.dedent("""\
        - hosts: controllers
          become: true
          tasks:
            - ansible.builtin.include_role: {name: avi_controller, tasks_from: python_apt.yml}
        """))
    assert _playbook(lab, bootstrap)[0] == 0
    rc, tasks, stats = _playbook(lab, PLAYBOOKS / "avi-controller.yml", check=True, controller_image=str(image),
                                 avi_controller_cores=4, avi_controller_memory_gb=7, avi_controller_disk_gb=10)
    assert rc == 0, {name: r.get("msg") for name, r in tasks.get("ctl", {}).items() if r["_event"] == "runner_on_failed"}
    return tasks["ctl"]


def _unit(tasks: dict) -> str:
    diff = tasks["Write the avicontroller unit"]["diff"]
    return (diff[0] if isinstance(diff, list) else diff)["after"]


def _run_args(unit: str) -> list[str]:
    exec_start = unit.split("ExecStart=", 1)[1].split("\nExecStop=", 1)[0]
    return exec_start.replace("\\\n", " ").split()


def test_controller_unit_runs_the_container_as_avis_setup_does(lab, controller_check):
    assert controller_check["Write the avicontroller unit"]["changed"] is True
    args = _run_args(_unit(controller_check))
    assert args[:4] == ["/usr/bin/docker", "run", "--name", "avicontroller"] and "--privileged=true" in args
    assert args[-1] == "avinetworks/controller:17.2.11-9014"
    pairs = lambda flag: [args[i + 1] for i, a in enumerate(args) if a == flag]  # noqa: E731
    assert sorted(pairs("-p")) == sorted(["80:80", "443:443", "5054:5054", "5098:5098", "8443:8443", "161:161/udp"])
    address = _status(lab)["ctl"]["address"]
    assert dict(e.split("=", 1) for e in pairs("-e")) == {
        "MANAGEMENT_IP": address, "NUM_CPU": "4", "NUM_MEMG": "7", "DISK_GB": "10", "CNTRL_SSH_PORT": "5098",
        "SYSINT_PORT": "8443", "HTTP_PORT": "80", "HTTPS_PORT": "443"}
    assert pairs("-v") == ["/:/hostroot/", "/dev:/dev", "/var/run/docker.sock:/var/run/docker.sock", "/opt/avi/controller/data:/vol/"]


def test_controller_unit_is_a_systemd_service_after_docker(controller_check):
    unit = _unit(controller_check)
    assert "\nRequires=docker.service\n" in unit and "\nAfter=docker.service\n" in unit
    assert "\nWantedBy=multi-user.target\n" in unit and "\nExecStop=/usr/bin/docker stop --time 110 avicontroller\n" in unit


def test_controller_check_mode_plans_docker_the_image_and_the_service(controller_check):
    assert controller_check["Install the Docker engine (apt)"]["changed"] is True  # docker.io is not on the box
    assert controller_check["Look for the controller image in Docker"]["rc"] != 0
    assert controller_check["Copy the controller image tarball from the control host"]["changed"] is True
    assert controller_check["Load the controller image into Docker"]["_event"] == "runner_on_skipped"  # a command: not in check mode


def test_controller_needs_the_image_path(lab):
    rc, tasks, _ = _playbook(lab, PLAYBOOKS / "avi-controller.yml", check=True)
    assert rc != 0
    failed = tasks["ctl"]["Require the controller image tarball"]
    assert failed["_event"] == "runner_on_failed"
    assert "controller_image" in failed["msg"] and "must be set" in failed["msg"]


# --- preflight --------------------------------------------------------------------------------

def _preflight(*extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "ansible-playbook"), str(PLAYBOOKS / "avi-preflight.yml"), *extra],
                          capture_output=True, text=True, env=env)


def _fatal(result: subprocess.CompletedProcess) -> str:
    line = next(x for x in result.stdout.splitlines() if x.startswith("fatal: "))
    return json.loads(line.split(" => ", 1)[1])["msg"]


def test_preflight_names_a_missing_image_in_one_line():
    need_tools("ansible-playbook")
    result = _preflight("-e", "controller_image=/nonexistent/controller_docker.tgz")
    assert result.returncode == 2
    assert _fatal(result) == (
        "controller image /nonexistent/controller_docker.tgz does not exist: download Avi's controller image "
        "(controller_docker.tgz) and pass its path with --set controller_image=PATH, or --set "
        "avi_controller=https://HOST to use a controller that already runs")


@pytest.mark.parametrize("extra, problem", [([], "controller_image is not set"), (["-e", "controller_image=/"], "controller image / is not a file")])
def test_preflight_names_an_unset_or_odd_image(extra, problem):
    need_tools("ansible-playbook")
    result = _preflight(*extra)
    assert result.returncode == 2 and "\n" not in _fatal(result) and _fatal(result).startswith(problem + ": download")


def test_preflight_passes_with_an_existing_controller_or_a_readable_image(tmp_path):
    need_tools("ansible-playbook")
    image = tmp_path / "controller_docker.tgz"
    image.write_bytes(b"x")
    for extra in (["-e", "controller_image=/nonexistent/x.tgz", "-e", "avi_controller=https://127.0.0.1:9"],
                  ["-e", f"controller_image={image}"]):
        result = _preflight(*extra)
        assert result.returncode == 0, result.stdout[-2000:]


# --- lint -------------------------------------------------------------------------------------

def test_playbooks_pass_syntax_check():
    need_tools("ansible-playbook")
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles")}
    for name in OURS:
        result = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(PLAYBOOKS / name)],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_playbooks_and_roles_pass_ansible_lint_production():
    lint = shutil.which("ansible-lint", path=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    if not lint:
        need_tools("ansible-lint")  # pip install ansible-lint
    paths = [*(str(PLAYBOOKS / n) for n in OURS), *(str(ANSIBLE / "roles" / r) for r in ("avi_controller", "avi_se_host", "kvm_host"))]
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"), "NO_COLOR": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([lint, "--offline", "--profile", "production", *paths], capture_output=True, text=True, env=env, cwd=ANSIBLE)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Profile 'production' was required, and it passed" in result.stderr


# --- the controller's bounded wait, for real ---------------------------------------------------

STAND_IN = '''\
import http.server, json, ssl, sys
polls = {"n": 0}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/api/cluster/runtime":
            polls["n"] += 1
            state = "CLUSTER_UP_NO_HA" if polls["n"] > 2 else "CLUSTER_STARTING"
            body = json.dumps({"cluster_state": {"state": state}, "node_states": []}).encode()
        else:
            body = b"<html><title>Avi Vantage</title></html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if body.startswith(b"{") else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tmp/hx-stand-in.pem")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
'''


def _self_signed(path: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                     + cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def stand_in(lab):
    """The two URLs the wait polls, served on the controller host (port 9443): the cluster is
    CLUSTER_STARTING for two polls, then CLUSTER_UP_NO_HA."""
    node = f"{LAB}-ctl"
    pem, script = lab["dir"] / "hx-stand-in.pem", lab["dir"] / "hx-stand-in.py"
    _self_signed(pem)
    script.write_text(STAND_IN)
    for path in (pem, script):
        subprocess.run(["docker", "cp", str(path), f"{node}:/tmp/{path.name}"], check=True, capture_output=True)
    started = subprocess.run(["docker", "exec", node, "sh", "-c", "setsid python3 /tmp/hx-stand-in.py 9443 </dev/null >/dev/null 2>&1 & echo $!"],
                             check=True, capture_output=True, text=True)
    playbook = lab["dir"] / "wait.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: controllers
          gather_facts: false
          tasks:
            - ansible.builtin.include_role: {name: avi_controller, tasks_from: wait.yml}
        """))
    yield playbook
    subprocess.run(["docker", "exec", node, "kill", started.stdout.strip()], capture_output=True)


def test_controller_wait_polls_until_the_cluster_is_up(lab, stand_in):
    rc, tasks, _ = _playbook(lab, stand_in, avi_controller_https_port=9443, avi_controller_boot_timeout=30, avi_controller_boot_delay=1)
    assert rc == 0, {n: r.get("msg") for n, r in tasks["ctl"].items()}
    runtime = tasks["ctl"]["Wait for the controller cluster to be up"]
    assert runtime["json"]["cluster_state"]["state"] == "CLUSTER_UP_NO_HA" and runtime["attempts"] == 3


def test_controller_wait_is_bounded_and_says_what_to_look_at(lab, stand_in):
    rc, tasks, _ = _playbook(lab, stand_in, avi_controller_https_port=9444, avi_controller_boot_timeout=3, avi_controller_boot_delay=1)
    assert rc != 0
    failed = tasks["ctl"]["Report the controller that did not come up"]
    assert failed["_event"] == "runner_on_failed"
    assert failed["msg"].startswith("the Avi controller on ctl did not come up within 3 s (")
    assert failed["msg"].endswith("see `journalctl -u avicontroller` and `docker logs avicontroller` on it, or raise avi_controller_boot_timeout")


def test_preflight_phase_stops_labctl_up_before_any_machine(tmp_path):
    need_tools("vagrant", "docker", "ansible-playbook")
    spec = tmp_path / "hx-pre.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "hx-pre", "provider": "docker", "params": {"controller_image": "", "avi_controller": ""},
        "defaults": {"box": "labctl/debian12", "image": IMAGE, "memory": 256},
        "networks": {"lab": {"cidr": "192.168.133.0/24", "start": 10}}, "nodes": {"ctl": {"groups": ["controllers"]}},
        "phases": [{"name": "avi-preflight", "stage": "preflight", "playbook": str(PLAYBOOKS / "avi-preflight.yml"),
                    "vars": {"controller_image": "${controller_image}", "avi_controller": "${avi_controller}"}}],
    }, sort_keys=False))
    try:
        result = labctl("up", str(spec), "--set", "controller_image=/nonexistent/controller_docker.tgz")
        errors = [line for line in result.stderr.splitlines() if line.startswith("labctl: error:")]
        assert result.returncode == 1 and len(errors) == 1, result.stderr
        assert "controller image /nonexistent/controller_docker.tgz does not exist: download Avi's controller image" in errors[0]
        containers = subprocess.run(["docker", "ps", "-aq", "--filter", "name=^hx-pre-"], capture_output=True, text=True)
        assert containers.stdout.split() == []
    finally:
        labctl("down", str(spec), "--force")

"""The openshift lab's nginx front for real, on docker-provider machines (labctl/debian12).

A lab `os-front` (192.168.111.0/24) holds the front node and two STAND-INS for the cluster: a tiny
Python HTTP(S) server (not OpenShift, nothing of it is a double of OpenShift) on origin-master's 8443
and origin-infra's 80/443 that answers who it is, which port and scheme, and the Host header and
path it got. It is started by a small playbook written here. Then the openshift lab's own
`openshift-front` phase (its playbook and vars as labs/openshift.yaml has them) runs through
`labctl up`, and the spec's checks (`nginx -t`, the ports, proxied answers from the control host as
a laptop reaches the front, and from the front itself as the lab's checks do) run by `up` and
`verify`. nginx comes from Debian's packages inside the container.

Not run here (named in NOT_RUN_HERE): the CentOS-only tasks (EPEL, yum) since the front is Debian,
and the systemd service task, since docker-provider machines have no init system (the role starts
nginx itself there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import need_tools
from doubles.tls import make_cert
from labctl import paths
from labctl.spec import load_lab

pytestmark = pytest.mark.integration

LAB = "os-front"
IMAGE = "labctl/debian12:latest"
PROXY = "192.168.111.9"
DOMAIN = f"{PROXY}.nip.io"   # the lab's default form: a wildcard-DNS name of the front's address
NOT_RUN_HERE = {
    "Install EPEL, where CentOS 7 gets nginx (CentOS only)": "CentOS only",
    "Install nginx and openssl (CentOS)": "CentOS only",
    "Run nginx under systemd": "a docker-provider machine has no systemd",
}

# Who answers: enough for the test to see that the front reached the right backend, port and
# scheme, and kept the Host header (the router and OAuth need the public names).
STAND_IN = r'''
import http.server, ssl, sys, threading

name, ports = sys.argv[1], sys.argv[2:]

def handler(port, scheme):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("stand-in %s:%s %s Host=%s %s\n" % (name, port, scheme, self.headers.get("Host"), self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    return Handler

servers = []
for item in ports:
    port, scheme = item.split(":")
    server = http.server.ThreadingHTTPServer(("0.0.0.0", int(port)), handler(port, scheme))
    if scheme == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain("/etc/stand-in/cert.pem", "/etc/stand-in/key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    servers.append(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
threading.Event().wait()
'''

STAND_IN_PLAYBOOK = """\
---
- name: Stand-in backends (who answers, and the Host header it got; not OpenShift)
  hosts: stand_ins
  become: true
  gather_facts: false
  tasks:
    - name: Make the stand-in's certificate directory
      ansible.builtin.file:
        path: /etc/stand-in
        state: directory
        mode: "0700"
    - name: Copy the stand-in server and its certificate
      ansible.builtin.copy:
        src: "{{ playbook_dir }}/{{ item.src }}"
        dest: "{{ item.dest }}"
        mode: "{{ item.mode }}"
      loop:
        - {src: stand_in.py, dest: /usr/local/bin/stand-in-backend, mode: "0755"}
        - {src: cert.pem, dest: /etc/stand-in/cert.pem, mode: "0644"}
        - {src: key.pem, dest: /etc/stand-in/key.pem, mode: "0600"}
    - name: Start the stand-in server
      ansible.builtin.shell: >-
        if ! { [ -s /run/stand-in.pid ] && kill -0 "$(cat /run/stand-in.pid)"; }; then
        setsid python3 /usr/local/bin/stand-in-backend {{ inventory_hostname }} {{ stand_in_ports | join(' ') }}
        >/var/log/stand-in.log 2>&1 < /dev/null & echo $! > /run/stand-in.pid; fi
      changed_when: true
    - name: Wait for its ports
      ansible.builtin.wait_for:
        port: "{{ item.split(':')[0] }}"
        timeout: 30
      loop: "{{ stand_in_ports }}"
"""


def labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True)


def front_phase() -> dict:
    """The openshift lab's own openshift-front phase, for a front at PROXY."""
    lab, _ = load_lab("openshift", sets=[f"domain={DOMAIN}"])
    phase = next(p for p in lab.spec.phases if p.name == "openshift-front")
    return {"name": phase.name, "hosts": phase.hosts, "playbook": phase.playbook, "vars": dict(phase.vars)}


def _http(name: str, url: str, host: str, expect: str, node: str | None = None) -> dict:
    check = {"name": name, "http": {"url": url, "status": 200, "body": expect, "headers": {"Host": host},
                                    "insecure": url.startswith("https:"), "retries": 5, "delay": 2}}
    return {**check, "node": node} if node else check


def checks() -> list[dict]:
    console, app = f"console.{DOMAIN}", f"wordpress-testing.origin.{DOMAIN}"
    esc = lambda s: s.replace(".", r"\.")
    return [
        {"name": "nginx -t", "node": "origin-proxy", "command": "sudo -n nginx -t 2>&1", "expect": "syntax is ok"},
        *({"name": f"front listens on {p}", "node": "origin-proxy", "port": p} for p in (8443, 80, 443)),
        _http("console from the laptop", f"https://{PROXY}:8443/healthz", console,
              rf"^stand-in origin-master:8443 https Host={esc(console)} /healthz$"),
        _http("router http from the laptop", f"http://{PROXY}/", app, rf"^stand-in origin-infra:80 http Host={esc(app)} /$"),
        _http("router https from the laptop", f"https://{PROXY}/wp-login.php", app,
              rf"^stand-in origin-infra:443 https Host={esc(app)} /wp-login\.php$"),
        _http("console from the front", "https://127.0.0.1:8443/healthz", console,
              rf"^stand-in origin-master:8443 https Host={esc(console)}", node="origin-proxy"),
    ]


def write_spec(directory: Path) -> Path:
    make_cert(directory)  # cert.pem, key.pem: the backends' own (the front does not verify them, as for OpenShift's)
    (directory / "stand_in.py").write_text(STAND_IN)
    (directory / "stand-in-backends.yml").write_text(STAND_IN_PLAYBOOK)
    spec = {
        "name": LAB,
        "provider": "docker",
        "defaults": {"box": "labctl/debian12", "image": IMAGE, "cpus": 1, "memory": 256},
        "networks": {"lab": {"cidr": "192.168.111.0/24", "start": 10}},
        "nodes": {
            "origin-master": {"groups": ["stand_ins"], "vars": {"stand_in_ports": ["8443:https"]}},
            "origin-infra": {"groups": ["stand_ins"], "vars": {"stand_in_ports": ["80:http", "443:https"]}},
            "origin-proxy": {"groups": ["openshift_front"], "networks": {"lab": PROXY}, "memory": 512},
        },
        "phases": [{"name": "stand-in-backends", "hosts": "stand_ins", "playbook": "stand-in-backends.yml"}, front_phase()],
        "checks": checks(),
    }
    path = directory / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """os-front, up with the stand-ins and the front; always destroyed at the end."""
    need_tools("vagrant", "docker", "ansible-playbook")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        need_tools("labctl-box-built")  # fails in CI, skips elsewhere: run `labctl box build --provider docker`
    directory = tmp_path_factory.mktemp("os-front")
    spec = write_spec(directory)
    try:
        up = labctl("up", str(spec), "--provider", "docker")
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-3000:]
        status = json.loads(labctl("status", str(spec), "--json").stdout)
        yield {"spec": spec, "up": up, "status": status}
    finally:
        labctl("down", str(spec), "--force")


def _rundir(phase: str) -> Path:
    return paths.home() / "labs" / LAB / ".labctl" / "runs" / phase


def _events(phase: str) -> dict[str, tuple[str, bool]]:
    """Task name -> (event, changed) of the front node in the latest run of `phase` (labctl's artifacts)."""
    latest = max((_rundir(phase) / "artifacts").iterdir(), key=lambda d: d.stat().st_mtime)
    tasks = {}
    for path in sorted((latest / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-")[0])):
        event = json.loads(path.read_text())
        data = event.get("event_data", {})
        if event.get("event", "").startswith("runner_on_") and data.get("host") == "origin-proxy":
            tasks[data["task"]] = (event["event"], bool(data.get("res", {}).get("changed")))
    return tasks


def test_up_runs_the_front_and_every_check_passes(lab):
    assert [p["name"] for p in lab["status"]["phases"] if p["status"] == "done"] == ["common", "stand-in-backends", "openshift-front"]
    for check in checks():
        name = check["name"]
        assert any(line.startswith("PASS") and name in line for line in lab["up"].stdout.splitlines()), (name, lab["up"].stdout[-3000:])


def test_nginx_comes_from_debian_packages_and_the_key_is_private(lab):
    script = ("dpkg-query -W -f '${Package} ${db:Status-Status}\\n' nginx openssl;"
              " stat -c '%a %U' /etc/nginx/ssl/front.key; ls /etc/nginx/sites-enabled")
    out = subprocess.run(["docker", "exec", f"{LAB}-origin-proxy", "sh", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["nginx installed", "openssl installed", "600 root"]  # no default site left


def test_names_a_laptop_resolves_are_the_wildcard_dns_form(lab):
    text = "\n".join(p.read_text() for p in _rundir("openshift-front").rglob("stdout"))
    assert f"console.{DOMAIN} and *.origin.{DOMAIN} resolve to {PROXY} through nip.io" in text


def test_tasks_not_run_here_are_skipped_by_name(lab):
    events = {name: event for name, (event, _) in _events("openshift-front").items()}
    assert {name: events.get(name) for name in NOT_RUN_HERE} == {name: "runner_on_skipped" for name in NOT_RUN_HERE}
    assert events["Check the configuration (nginx -t)"] == "runner_on_ok"
    assert events["Run nginx without an init system"] == "runner_on_ok"


def test_rerun_changes_nothing_and_verify_passes_again(lab):
    again = labctl("provision", str(lab["spec"]), "--only", "openshift-front")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    events = _events("openshift-front")
    assert "Write the front's configuration" in events
    assert [name for name, (_, changed) in events.items() if changed] == []
    verify = labctl("verify", str(lab["spec"]))
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert verify.stdout.count("PASS") == len(checks())

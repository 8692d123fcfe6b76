"""The engine without Docker or Vagrant: spec features, secrets, http checks, hashing, records, state, proc."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import need_tools
from labctl.errors import CommandFailed, SpecError, UsageError
from labctl.spec import load_lab


def _spec(tmp_path: Path, text: str, name: str = "lab.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _problems(ref: str, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_lab(ref, **kw)
    return info.value.problems


# --- extends: dropping what is inherited -------------------------------------------------------

def test_dropping_a_node_and_its_check_leaves_the_rest(tmp_path):
    lab, _ = load_lab(_spec(tmp_path, "name: t\nextends: smoke\nnodes: {smoke-3: null}\n"
                                      "checks: [{name: smoke-2 resolves smoke-3, drop: true}]\n"))
    assert [n.name for n in lab.nodes] == ["smoke-1", "smoke-2"]
    assert [c.name for c in lab.spec.checks] == ["ssh on smoke-1"]


def test_dropping_an_inherited_phase(tmp_path):
    lab, _ = load_lab(_spec(tmp_path, "name: t\nextends: smoke\nphases: [{name: smoke, drop: true}]\n"))
    assert lab.spec.phases == []


def test_dropping_what_is_not_inherited_is_an_error_with_a_suggestion(tmp_path):
    ref = _spec(tmp_path, "name: t\nextends: smoke\nnodes: {smoke-4: null}\nphases: [{name: smok, drop: true}]\n"
                          "checks: [{name: x, drop: true, node: smoke-1}]\n")
    assert [p.split(": ", 1)[1] for p in _problems(ref)] == [
        "nodes.smoke-4: nothing inherited named 'smoke-4' to drop; did you mean 'smoke-3'?",
        "phases[0].name: nothing inherited named 'smok' to drop; did you mean 'smoke'?",
        "checks[0]: a drop item takes only `name` and `drop: true`",
    ]


# --- params of any kind, --set as YAML, overlays, when --------------------------------------------

LIST_LAB = "name: t\nextends: smoke\nparams: {dns: [192.0.2.1], opts: {a: 1}}\ngroups: {smoke: {vars: {dns: '${dns}', opts: '${opts}'}}}\n"


def test_a_list_param_keeps_its_type_and_set_reads_yaml(tmp_path):
    ref = _spec(tmp_path, LIST_LAB)
    lab, layer = load_lab(ref, sets=["dns=[192.0.2.53, 192.0.2.54]", "opts={a: 2, b: [x]}"])
    assert lab.spec.groups["smoke"].vars["dns"] == ["192.0.2.53", "192.0.2.54"]
    assert lab.spec.groups["smoke"].vars["opts"] == {"a": 2, "b": ["x"]}
    assert str(layer.origins[("params", "dns")]) == "--set dns"
    env_lab, _ = load_lab(ref, env={"LABCTL_PARAM_DNS": "[198.51.100.1]"})
    assert env_lab.spec.params["dns"] == ["198.51.100.1"]


def test_a_param_keeps_the_kind_of_its_default(tmp_path):
    assert _problems(_spec(tmp_path, LIST_LAB), sets=["dns=192.0.2.9"]) == [
        "--set dns: params.dns: expected a list (the kind of its default), found '192.0.2.9'"]


def test_a_list_param_inside_text_is_an_error(tmp_path):
    ref = _spec(tmp_path, "name: t\nextends: smoke\nparams: {dns: [a]}\ngroups: {smoke: {vars: {x: 'servers ${dns}'}}}\n")
    assert [p.split(": ", 1)[1] for p in _problems(ref)] == [
        "groups.smoke.vars.x: param 'dns' is a list: use it as the whole value (`${dns}`), not inside text"]


def test_overlays_follow_the_final_params(tmp_path):
    ref = _spec(tmp_path, "name: t\nextends: smoke\nparams: {release: '3.7'}\ngroups: {smoke: {vars: {old: yes}}}\n"
                          "overlays:\n  - when: release >= 3.10\n    groups: {smoke: {vars: {old: null, new: yes}}}\n"
                          "    nodes:\n      smoke-[2:3]: {memory: 512}\n")
    old, _ = load_lab(ref)
    new, _ = load_lab(ref, sets=["release=3.11"])
    assert old.spec.groups["smoke"].vars == {"smoke_message": "hello from labctl", "old": True}
    assert new.spec.groups["smoke"].vars == {"smoke_message": "hello from labctl", "new": True}
    assert [n.memory for n in new.nodes] == [256, 512, 512]


def test_an_overlay_on_an_unknown_param_is_an_error(tmp_path):
    ref = _spec(tmp_path, "name: t\nextends: smoke\noverlays: [{when: relese >= 3, nodes: {}}]\n")
    assert [p.split(": ", 1)[1] for p in _problems(ref)] == ["overlays[0].when: unknown param 'relese'; declare it under params"]


@pytest.mark.parametrize(("text", "params", "expected"), [
    ("ctl", {"ctl": "https://x"}, True), ("ctl", {"ctl": ""}, False), ("not ctl", {"ctl": ""}, True),
    ("not ctl", {"ctl": False}, True), ("release == 3.11", {"release": "3.11"}, True), ("release >= 3.9", {"release": "3.10"}, True),
])
def test_when_forms(text, params, expected):
    from labctl.spec.when import holds

    assert holds(text, params) is expected


# --- secrets ---------------------------------------------------------------------------------------

def _secrets(tmp_path, specs: dict, env=None):
    from labctl.render.secrets import materialize
    from labctl.spec.model import SecretSpec

    return materialize({k: SecretSpec.model_validate(v) for k, v in specs.items()}, tmp_path, env or {})


def test_generated_htpasswd_keeps_its_password_and_is_stable(tmp_path):
    from passlib.hash import apr_md5_crypt

    first = _secrets(tmp_path, {"demo": {"kind": "htpasswd", "user": "demo"}})
    again = _secrets(tmp_path, {"demo": {"kind": "htpasswd", "user": "demo"}})
    assert first == again
    assert apr_md5_crypt.verify(first.passwords["demo"], first.refs["demo"])
    assert (tmp_path / ".labctl/secrets.json").stat().st_mode & 0o777 == 0o600


# apr1 is labctl's own (labctl.render.apr1); these oracles are two other implementations of it.
_SALTS = st.text("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_PASSWORDS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)  # openssl -stdin reads one line


@settings(max_examples=60, deadline=None)
@given(password=_PASSWORDS, salt=_SALTS)
def test_apr1_is_what_openssl_and_passlib_compute(password, salt):
    from passlib.hash import apr_md5_crypt

    from labctl.render.apr1 import apr1

    need_tools("openssl")
    ours = apr1(password, salt)
    openssl = subprocess.run(["openssl", "passwd", "-apr1", "-salt", salt, "-stdin"], input=f"{password}\n".encode(),
                             capture_output=True, check=True).stdout.decode().strip()
    assert ours == openssl == apr_md5_crypt.using(salt=salt).hash(password)


def test_apr1_salts_are_new_every_time():
    from passlib.hash import apr_md5_crypt

    from labctl.render.apr1 import apr1

    hashes = {apr1("demo") for _ in range(20)}
    assert len(hashes) == 20
    for line in hashes:
        magic, salt, digest = line.split("$")[1:]
        assert (magic, len(salt), len(digest)) == ("apr1", 8, 22)
        assert apr_md5_crypt.verify("demo", line) and not apr_md5_crypt.verify("demO", line)


def test_ssh_key_secret_is_a_0600_key_pair(tmp_path):
    import paramiko

    values = _secrets(tmp_path, {"k": {"kind": "ssh_key"}})
    private = Path(values.refs["k"])
    assert private.stat().st_mode & 0o777 == 0o600
    key = paramiko.PKey.from_path(str(private))
    assert values.refs["k.public"].startswith(f"ssh-ed25519 {key.get_base64()}")


def test_a_secret_from_the_environment_is_never_stored(tmp_path):
    values = _secrets(tmp_path, {"pw": {"kind": "password", "from_env": "MY_PW"}}, env={"MY_PW": "s3cret-from-env"})
    assert values.refs["pw"] == values.passwords["pw"] == "s3cret-from-env"
    stored = (tmp_path / ".labctl/secrets.json")
    assert not stored.exists() or "s3cret-from-env" not in stored.read_text()
    generated = _secrets(tmp_path, {"pw": {"kind": "password", "from_env": "MY_PW"}})
    assert generated.refs["pw"] != "s3cret-from-env" and len(generated.refs["pw"]) >= 20


def test_a_secret_the_user_must_supply(tmp_path):
    from labctl.render.secrets import SecretMissing

    with pytest.raises(SecretMissing) as info:
        _secrets(tmp_path, {"nsx": {"kind": "password", "from_env": "LABCTL_NSX_PASSWORD", "from_file": "", "generate": False}})
    assert info.value.render() == "secret nsx has no value (set LABCTL_NSX_PASSWORD or name a file in from_file)"
    secret_file = tmp_path / "pw.txt"
    secret_file.write_text("from-a-file\n")
    values = _secrets(tmp_path, {"nsx": {"kind": "password", "from_file": str(secret_file), "generate": False}})
    assert values.refs["nsx"] == "from-a-file"


def test_secrets_only_in_inventory_vars(tmp_path):
    ref = _spec(tmp_path, "name: t\nextends: smoke\nsecrets: {pw: {kind: password}}\nphases: [{name: smoke, playbook: smoke.yml, vars: {p: '${secret.pw}'}}]\n")
    assert [p.split(": ", 1)[1] for p in _problems(ref)] == [
        "phases[0].vars.p: a secret can only be used in inventory vars (nodes.N.vars, defaults.vars, groups.G.vars, "
        "inventory.vars), which are written 0600"]


def test_a_render_fsyncs_only_what_it_cannot_make_again(tmp_path, monkeypatch):
    """The secrets and the lab record are durable; the rendered files and the stamp are checked by
    digest on the next render instead (see labctl.fsutil)."""
    from labctl.render import render_lab

    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    lab, _ = load_lab("openshift")
    render_lab(lab, tmp_path / "lab")
    assert sorted(Path(p).name.split(".")[1] for p in synced) == ["lab", "secrets"]  # .lab.json.XXXX.tmp, ...
    synced.clear()
    assert render_lab(lab, tmp_path / "lab").changed == () and synced == []


# --- http checks -----------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.path == "/api" and self.headers.get("Authorization") != "Basic dTpwdw==":  # u:pw
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"count": 2, "results": [{"name": "se-1"}, {"name": "se-2"}], "host": self.headers.get("Host")})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _http(spec: dict, password=None):
    from labctl.spec.model import HttpSpec
    from labctl.verify import http

    parsed = HttpSpec.model_validate(spec)
    return http.local(parsed, password)


def test_http_check_status_body_json_and_headers(server):
    assert _http({"url": f"{server}/", "json": {"path": "results", "count": 2}}) == (True, f"{server}/: status 200, results holds 2 items")
    assert _http({"url": f"{server}/", "json": {"path": "results.1.name", "equals": "se-2"}})[0]
    assert _http({"url": f"{server}/", "headers": {"Host": "wp.apps"}, "body": '"host": "wp.apps"'})[0]
    assert _http({"url": f"{server}/", "json": {"path": "count", "equals": 3}}) == (False, f"{server}/: status 200 but count is 2, expected 3")
    assert _http({"url": f"{server}/", "body": "nowhere"})[1].startswith(f"{server}/: status 200 but the body does not match /nowhere/: ")


def test_http_check_auth_takes_the_password_from_a_secret(server):
    assert not _http({"url": f"{server}/api", "status": 200})[0]
    assert _http({"url": f"{server}/api", "auth": {"user": "u", "password_secret": "s"}}, password="pw")[0]


def test_http_check_retries_then_says_so():
    from labctl.spec.model import HttpSpec
    from labctl.verify import http

    spec = HttpSpec.model_validate({"url": "http://127.0.0.1:1/", "retries": 2, "delay": 0})
    ok, detail = http.with_retries(spec, lambda: http.local(spec, None))
    assert not ok and detail == "http://127.0.0.1:1/: [Errno 111] Connection refused (after 3 tries)"


def test_http_check_from_a_node_uses_its_python(server):
    """The script a node runs, run here by this machine's Python 3 and by Python 2.7 where pyenv has it."""
    import shutil
    import subprocess

    from labctl.spec.model import HttpSpec
    from labctl.verify import http

    spec = HttpSpec.model_validate({"url": f"{server}/api", "auth": {"user": "u", "password_secret": "s"}, "json": {"path": "count", "equals": 2}})
    command, stdin = http.remote(spec, "pw")
    assert "pw" not in command  # the password is on stdin, not on the command line
    pythons = [shutil.which("python3"), *filter(os.path.exists, ["/root/.pyenv/versions/2.7.18/bin/python"])]
    for python in pythons:
        out = subprocess.run([python, "-"], input=stdin, capture_output=True)
        assert http.judge_remote(spec, out.returncode, out.stdout.decode()) == (True, f"{server}/api: status 200, count is 2"), python


# --- what a phase's input hash covers -------------------------------------------------------------

def test_input_hash_follows_loaded_files_and_role_directories(tmp_path):
    from labctl.provision import hashing
    from labctl.spec.model import PhaseSpec

    phase = PhaseSpec(name="p", playbook="site.yml")
    (tmp_path / "site.yml").write_text("- hosts: all\n")
    (tmp_path / "tasks.yml").write_text("- debug: {}\n")
    role = tmp_path / "roles/web"
    (role / "tasks").mkdir(parents=True)
    (role / "tasks/main.yml").write_text("- template: {src: page.j2}\n")
    (role / "templates").mkdir()
    (role / "templates/page.j2").write_text("one\n")
    loaded = (str(tmp_path / "tasks.yml"), str(role / "tasks/main.yml"))
    base = hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded)
    assert hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded) == base
    (role / "templates/page.j2").write_text("two\n")
    changed_template = hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded)
    assert changed_template != base
    (tmp_path / "tasks.yml").write_text("- debug: {msg: x}\n")
    assert hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded) != changed_template
    source = (tmp_path, "abc123")  # files under a git checkout count by its commit
    pinned = hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded, source)
    (tmp_path / "tasks.yml").write_text("- debug: {msg: y}\n")
    assert hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded, source) == pinned
    assert hashing.digest(phase, tmp_path, [tmp_path / "site.yml"], loaded, (tmp_path, "def456")) != pinned


# --- the recorded lab ------------------------------------------------------------------------------

def test_a_rendered_lab_is_found_by_name_with_its_settings(tmp_path):
    from labctl.render import render_lab
    from labctl.spec import record

    ref = _spec(tmp_path, "name: recorded-unit\nextends: smoke\nparams: {greeting: hi}\n")
    lab, _ = load_lab(ref, provider="ssh", sets=("greeting=there",))
    render_lab(lab, record.find(ref).labdir)  # under the session's LABCTL_HOME: removed at the end
    found = record.find("recorded-unit")
    assert (found.lab.provider, found.lab.spec.params["greeting"], found.notes) == ("ssh", "there", ())
    again = record.find("recorded-unit", sets=("greeting=later",))
    assert again.lab.spec.params["greeting"] == "later" and again.lab.provider == "ssh"
    assert again.notes == ("recorded-unit: recorded settings changed (--set greeting=later); later commands use them too",)
    assert record.changes(found.labdir, again.lab) == ['params.greeting: "there" -> "later"']
    shutil.rmtree(found.labdir)


def test_an_unknown_lab_name_says_what_exists():
    from labctl.spec import record

    with pytest.raises(UsageError) as info:
        record.find("nosuchlab")
    assert info.value.render().startswith("no built-in lab or spec file named 'nosuchlab' (built-in labs: avi, nsxt,")


def test_the_validated_spec_cache_gives_the_same_lab(tmp_path):
    from labctl import paths

    ref = _spec(tmp_path, "name: cached\nextends: smoke\n")
    first, _ = load_lab(ref)
    cached = sorted((paths.cache_dir() / "specs").glob("*.pickle"))
    second, _ = load_lab(ref)
    assert cached and (second.nodes, second.spec, dict(second.dump)) == (first.nodes, first.spec, dict(first.dump))
    assert _problems(_spec(tmp_path, "name: cached\nextends: smoke\nnodes: {smoke-1: {cpus: 0}}\n"))  # invalid: never from the cache


# --- state, junit, proc, plan ----------------------------------------------------------------------

def test_state_round_trips_and_refuses_another_version(tmp_path):
    from labctl import state
    from labctl.errors import LabctlError

    current = state.State("t", provider="docker")
    current.phase("common").status = state.DONE
    current.phase("common").files = ["/x/tasks.yml"]
    state.save(tmp_path, current)
    assert state.load(tmp_path, "t") == current
    (tmp_path / state.STATE_FILE).write_text(json.dumps({"lab": "t", "version": 99}))
    with pytest.raises(LabctlError) as info:
        state.load(tmp_path, "t")
    assert "has version 99, expected 1" in info.value.render()


def test_junit_report_names_failures(tmp_path):
    import xml.etree.ElementTree as ET

    from labctl.junit import Case, write

    write(tmp_path / "r.xml", "labctl.t", [Case("up", 1.5), Case("check: x", 0.1, "port 80 closed")])
    suite = ET.parse(tmp_path / "r.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert suite.findall("testcase")[1].find("failure").get("message").startswith("port 80 closed")


def test_a_failed_command_reports_command_code_tail_and_log(tmp_path):
    from labctl import proc

    log = tmp_path / "x.log"
    with pytest.raises(CommandFailed) as info:
        proc.run(["sh", "-c", "echo one; echo two; exit 3"], log=log)
    assert info.value.render() == f"`sh -c echo one; echo two; exit 3` failed with exit code 3; full log: {log}\none\ntwo"
    assert log.read_text().endswith("one\ntwo\n")


def test_plan_summary_counts_changes_and_objects():
    from labctl.lifecycle.plan import changes, summarize

    results = [
        {"host": "a", "task": "copy", "status": "ok", "objects": []},
        {"host": "b", "task": "copy", "status": "changed", "objects": []},
        {"host": "localhost", "task": "design", "status": "changed",
         "objects": [{"kind": "tier1", "name": "t1", "action": "create"}, {"kind": "tier0", "name": "t0", "action": "unchanged"}]},
    ]
    tasks = summarize(results)
    assert [(t["task"], t["status"], t["changed"]) for t in tasks] == [("copy", "changed", ["b"]), ("design", "changed", ["localhost"])]
    assert changes([{"phase": "p", "tasks": tasks, "error": None}]) == 2

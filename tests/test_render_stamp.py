"""`labctl render` of an unchanged lab is answered from its stamp, and every changed input is noticed;
a spec the cache has seen renders from its view, with the bytes the model renders; a lab rendered
before renders into another directory without the templates, with the bytes the templates render.

Tool-free: each render is a real `labctl` process, so whether the templates ran (FULL), a render took
their outputs from the memo (MEMO) or the stamp answered (STAMP) is observed in the process itself,
not inferred from timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """\
name: {name}
provider: docker
params:
  greeting: hello
defaults: {{box: labctl/debian12, image: "labctl/debian12:latest", memory: 256}}
networks:
  lab: {{cidr: 192.168.250.0/24}}
nodes:
  web-[1:2]: {{groups: [web]}}
groups:
  web:
    vars: {{greeting: "${{greeting}}", admin_password: "${{secret.admin}}"}}
secrets:
  admin: {{kind: password}}
"""
PROBE_OF = ("import atexit, sys\n"
            "atexit.register(lambda: print({report}, file=sys.stderr))\n"
            "from labctl.cli import main\n"
            "main(sys.argv[1:])\n").format
PROBE = PROBE_OF(report="'FULL' if 'jinja2' in sys.modules else 'MEMO' if 'labctl.render.secrets' in sys.modules else 'STAMP'")


def _render(spec: Path, outdir: Path, *args: str, env: dict | None = None) -> tuple[str, str]:
    """(how the render was answered: FULL, MEMO or STAMP, its stdout)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, "render", str(spec), "-o", str(outdir), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.strip().splitlines()[-1], proc.stdout.strip()


@pytest.fixture()
def lab(tmp_path):
    spec = tmp_path / "stamped.yaml"
    spec.write_text(SPEC.format(name="stamped"))
    outdir = tmp_path / "out"
    how, out = _render(spec, outdir)
    assert how == "FULL" and out.startswith("stamped: 5 of 5 files written")
    return spec, outdir


def test_an_unchanged_lab_is_answered_without_the_model(lab):
    spec, outdir = lab
    how, out = _render(spec, outdir)
    assert (how, out) == ("STAMP", f"stamped: 0 of 5 files written in {outdir}")
    how, out = _render(spec, outdir, "--json")
    assert how == "STAMP"
    assert {r["status"] for r in json.loads(out)} == {"unchanged"} and len(json.loads(out)) == 5
    (outdir / ".labctl" / "render.json").unlink()  # the oracle: a render agrees that nothing changed
    assert _render(spec, outdir) == ("MEMO", f"stamped: 0 of 5 files written in {outdir}")
    (outdir / ".labctl" / "render.json").write_text("{not json")
    assert _render(spec, outdir) == ("MEMO", f"stamped: 0 of 5 files written in {outdir}")
    assert _render(spec, outdir)[0] == "STAMP"  # the full render wrote a good stamp again


def test_a_changed_spec_or_request_renders_again(lab):
    spec, outdir = lab
    inventory = outdir / "inventory" / "hosts.yml"
    spec.write_text(spec.read_text().replace("greeting: hello", "greeting: bonjour"))
    assert _render(spec, outdir) == ("FULL", f"stamped: 2 of 5 files written in {outdir}")  # inventory, lab record
    assert "bonjour" in inventory.read_text()
    how, _ = _render(spec, outdir, "--set", "greeting=salut")
    assert how == "FULL" and "salut" in inventory.read_text()
    assert _render(spec, outdir, "--set", "greeting=salut")[0] == "STAMP"
    assert _render(spec, outdir, "--provider", "libvirt")[0] == "FULL"
    assert _render(spec, outdir, "--set", "greeting=salut")[0] == "MEMO"  # the last render was another request, seen before
    how, _ = _render(spec, outdir, env={"LABCTL_PARAM_GREETING": "hola"})
    assert how == "FULL" and "hola" in inventory.read_text()


def test_a_file_changed_by_hand_is_rewritten(lab):
    spec, outdir = lab
    vagrantfile = outdir / "Vagrantfile"
    original = vagrantfile.read_text()
    vagrantfile.write_text(original + "# edited\n")
    assert _render(spec, outdir) == ("MEMO", f"stamped: 1 of 5 files written in {outdir}")
    assert vagrantfile.read_text() == original
    vagrantfile.chmod(0o600)
    assert _render(spec, outdir)[1] == f"stamped: 1 of 5 files written in {outdir}"
    assert vagrantfile.stat().st_mode & 0o777 == 0o644
    (outdir / "ansible.cfg").unlink()
    assert _render(spec, outdir)[1] == f"stamped: 1 of 5 files written in {outdir}"


def test_lost_secrets_are_made_again(lab):
    spec, outdir = lab
    inventory = outdir / "inventory" / "hosts.yml"
    before = inventory.read_text()
    (outdir / ".labctl" / "secrets.json").unlink()
    how, out = _render(spec, outdir)
    assert how == "MEMO" and out == f"stamped: 1 of 5 files written in {outdir}"
    assert inventory.read_text() != before  # a new password, in the 0600 inventory
    assert inventory.stat().st_mode & 0o777 == 0o600


def test_secrets_from_the_environment_are_never_answered_from_a_stamp(tmp_path):
    spec = tmp_path / "envsecret.yaml"
    spec.write_text(SPEC.format(name="envsecret").replace("{kind: password}", "{kind: password, from_env: STAMP_TEST_PW}"))
    outdir = tmp_path / "out"
    for password in ("first-pw", "first-pw", "second-pw"):
        how, _ = _render(spec, outdir, env={"STAMP_TEST_PW": password})
        assert how == "FULL"
        assert password in (outdir / "inventory" / "hosts.yml").read_text()
    assert not (outdir / ".labctl" / "render.json").exists()


def test_the_stamp_holds_no_secret(lab):
    spec, outdir = lab
    password = json.loads((outdir / ".labctl" / "secrets.json").read_text())
    text = (outdir / ".labctl" / "render.json").read_text()
    values = [v for v in _strings(password) if len(v) >= 12]
    assert values and not any(v in text for v in values)


def _strings(data) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    return [data] if isinstance(data, str) else []


def test_a_changed_template_renders_again(lab, tmp_path, monkeypatch):
    """The renderer's own files are inputs: touching one (as an upgrade does) voids the stamp and the memo."""
    spec, outdir = lab
    import labctl.render as render_pkg

    module = Path(render_pkg.__file__).with_name("inventory.py")
    stat = module.stat()
    try:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert _render(spec, outdir)[0] == "FULL"
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("ref,sets", [("smoke", ()), ("openshift", ()), ("openshift", ("release=3.7",)), ("openshift-small", ()),
                                      ("avi", ()), ("nsxt", ())])
def test_the_render_view_renders_what_the_model_renders(tmp_path, ref, sets):
    """A spec the cache has seen is rendered from its view (no pydantic): the same bytes as from the model."""
    from labctl.render import render_lab
    from labctl.spec import view
    from labctl.spec.load import merge_layers, validated

    env = {"LABCTL_NSX_PASSWORD": "not-a-real-password"} if ref == "nsxt" else {}
    os.environ.update(env)
    try:
        full = validated(merge_layers(ref, sets=sets))
        first = render_lab(full, tmp_path)
        assert first.changed
        cached = validated(merge_layers(ref, sets=sets), for_render=True)
        assert isinstance(cached.spec, view.Fields) and not isinstance(full.spec, view.Fields)
        assert render_lab(cached, tmp_path).changed == ()
    finally:
        for name in env:
            os.environ.pop(name)


def test_a_spec_the_cache_has_seen_renders_into_a_new_directory_without_pydantic(lab, tmp_path):
    spec, _ = lab
    probe = PROBE_OF(report="'MODEL' if 'pydantic' in sys.modules else 'VIEW'")
    proc = subprocess.run([sys.executable, "-c", probe, "render", str(spec), "-o", str(tmp_path / "fresh")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "VIEW"
    assert proc.stdout.startswith("stamped: 5 of 5 files written")


LOADED = PROBE_OF(report="' '.join(m for m in ('yaml', 'pydantic', 'jinja2') if m in sys.modules) or '-'")


def _loaded(ref: str, outdir: Path, cwd: Path, env: dict | None = None) -> tuple[set[str], str]:
    """(the heavy modules a `labctl render REF` process imported, its stdout)."""
    proc = subprocess.run([sys.executable, "-c", LOADED, "render", ref, "-o", str(outdir)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.strip().splitlines()[-1].split()) - {"-"}, proc.stdout.strip()


def test_merged_layers_are_recalled_while_every_file_they_read_is_unchanged(tmp_path):
    """labctl.spec.merged: an unchanged spec is not even parsed; any file the merge read, or a file
    that now answers one of its references, makes it merge again (and the render shows the change)."""
    (tmp_path / "base.yaml").write_text(SPEC.format(name="recalled"))
    (tmp_path / "lab.yaml").write_text("extends: base.yaml\nnodes: {web-2: {memory: 384}}\n")
    out = tmp_path / "out"
    assert _loaded("lab.yaml", out, tmp_path)[0] == {"yaml", "pydantic", "jinja2"}  # seen by no cache: parsed, validated
    assert _loaded("lab.yaml", out, tmp_path) == (set(), f"recalled: 0 of 5 files written in {out}")
    assert _loaded("lab.yaml", tmp_path / "new", tmp_path)[0] == {"yaml"}  # the YAML inventory; not parsed, no templates

    (tmp_path / "base.yaml").write_text(SPEC.format(name="recalled").replace("greeting: hello", "greeting: servus"))
    loaded, said = _loaded("lab.yaml", out, tmp_path)
    assert "yaml" in loaded and said == f"recalled: 2 of 5 files written in {out}"
    assert "servus" in (out / "inventory" / "hosts.yml").read_text()

    config = Path(os.environ["LABCTL_HOME"]) / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("ansible: {strategy: free}\n")
    try:
        assert _loaded("lab.yaml", out, tmp_path)[1] == f"recalled: 2 of 5 files written in {out}"  # ansible.cfg, lab record
        assert "strategy = free\n" in (out / "ansible.cfg").read_text()
    finally:
        config.unlink()
    assert _loaded("lab.yaml", out, tmp_path)[1] == f"recalled: 2 of 5 files written in {out}"

    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "lab.yaml").write_text(SPEC.format(name="other"))  # the same reference from another directory
    assert _loaded("lab.yaml", tmp_path / "o", other)[1].startswith("other: 5 of 5 files written")
    absolute = str(tmp_path / "lab.yaml")  # one file, shown by a name that depends on the working directory
    for cwd, outdir, shown in ((tmp_path, tmp_path / "a1", "lab.yaml"), (other, tmp_path / "a2", absolute)):
        assert _loaded(absolute, outdir, cwd)[1].startswith("recalled: 5 of 5 files written")
        assert json.loads((outdir / ".labctl" / "lab.json").read_text())["source"] == shown

    assert _loaded("smoke", tmp_path / "s", tmp_path)[1].startswith("smoke: 5 of 5 files written")
    assert _loaded("smoke", tmp_path / "s", other) == (set(), f"smoke: 0 of 5 files written in {tmp_path / 's'}")
    home = {"LABCTL_HOME": str(tmp_path / "home")}  # a user config that does not exist, under one directory only
    assert _loaded("smoke", tmp_path / "h", tmp_path, home)[1].startswith("smoke: 5 of 5 files written")
    assert _loaded("smoke", tmp_path / "h", other, home)[0] == set()
    (other / "smoke").write_text(SPEC.format(name="shadow"))  # a file now answers the built-in's name
    assert _loaded("smoke", tmp_path / "s", other)[1].startswith("shadow: 5 of 5 files written")


KEPT = ("Vagrantfile", "ansible.cfg", "inventory/labctl.yml")


def test_a_lab_rendered_before_renders_into_another_directory_from_the_memo(lab, tmp_path):
    """labctl.render.memo: the templates' outputs are kept by their inputs. A render into another
    directory takes them (no jinja2) with the bytes a render without the memo writes, and builds its
    own inventory with its own secrets; a changed input runs the templates again; an unreadable entry
    is rendered again."""
    spec, first = lab
    second, oracle = tmp_path / "second", tmp_path / "oracle"
    assert _render(spec, second) == ("MEMO", f"stamped: 5 of 5 files written in {second}")
    assert _render(spec, oracle, env={"LABCTL_HOME": str(tmp_path / "no-memo")})[0] == "FULL"
    for rel in KEPT:
        assert (second / rel).read_bytes() == (oracle / rel).read_bytes() == (first / rel).read_bytes()
    passwords = [json.loads((d / ".labctl" / "secrets.json").read_text())["admin"] for d in (first, second)]
    assert passwords[0] != passwords[1]
    inventory = (second / "inventory" / "hosts.yml")
    assert passwords[1]["value"] in inventory.read_text() and inventory.stat().st_mode & 0o777 == 0o600
    memo = sorted((Path(os.environ["LABCTL_HOME"]) / "cache" / "render").glob("*.json"))
    assert memo and not any(p["value"] in m.read_text() for p in passwords for m in memo)

    third, fourth = tmp_path / "third", tmp_path / "fourth"
    assert _render(spec, third, "--set", "defaults.memory=512")[0] == "FULL"
    assert "'--memory=512m'" in (third / "Vagrantfile").read_text()
    assert _render(spec, fourth, "--set", "defaults.memory=512")[0] == "MEMO"
    assert all((third / rel).read_bytes() == (fourth / rel).read_bytes() for rel in KEPT)

    for entry in (Path(os.environ["LABCTL_HOME"]) / "cache" / "render").glob("*.json"):
        entry.write_text('{"Vagrantfile": 1}')
    assert _render(spec, tmp_path / "fifth")[0] == "FULL"
    assert (tmp_path / "fifth" / "Vagrantfile").read_bytes() == (first / "Vagrantfile").read_bytes()

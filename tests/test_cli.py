"""The command line as a user meets it: exit codes, one-line errors, --json, --help examples."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS


def labctl(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labctl", *args], capture_output=True, text=True, cwd=cwd)


def test_list_json_names_every_builtin_lab():
    result = labctl("list", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["avi", "nsxt", "openshift", "openshift-small", "smoke"]
    assert all(r["description"] for r in rows)


def test_invalid_spec_exits_2_without_traceback():
    result = labctl("validate", "specs/many-mistakes.yaml", cwd=SPECS.parent)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == "labctl: error: specs/many-mistakes.yaml: 15 errors in lab spec"


def test_unknown_lab_suggests_a_name():
    result = labctl("show", "opnshift")
    assert result.returncode == 2
    assert result.stderr == "labctl: error: no built-in lab or spec file named 'opnshift' (did you mean 'openshift'?)\n"


def test_bad_set_flag_is_one_line():
    result = labctl("render", "smoke", "--set", "novalue")
    assert result.returncode == 2
    assert result.stderr == "labctl: error: --set 'novalue' is not KEY=VALUE (for example --set release=3.11)\n"


def test_debug_shows_the_traceback():
    result = labctl("--debug", "show", "opnshift")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_render_writes_the_lab_directory(tmp_path):
    result = labctl("render", "smoke", "-o", str(tmp_path / "lab"), "--json", cwd=tmp_path)  # from any directory
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["status"] for r in rows} == {"written"}
    assert (tmp_path / "lab/Vagrantfile").is_file()
    again = json.loads(labctl("render", "smoke", "-o", str(tmp_path / "lab"), "--json").stdout)
    assert {r["status"] for r in again} == {"unchanged"}


def test_show_origins_json():
    result = labctl("show", "smoke", "--origins", "--json", "--set", "nodes.smoke-2.memory=512")
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert rows["nodes.smoke-2.memory"] == {"key": "nodes.smoke-2.memory", "value": 512, "origin": "--set nodes.smoke-2.memory"}
    assert rows["nodes.smoke-1.memory"]["origin"] == "labs/smoke.yaml:10:3"


def test_schema_is_json_schema_and_the_shipped_copy_is_current():
    result = labctl("schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "labctl lab spec"
    assert "nodes" in schema["required"]
    assert schema == json.loads((ROOT / "labs/lab.schema.json").read_text()), "run: labctl schema > labs/lab.schema.json"


@pytest.mark.parametrize("name", ["avi", "nsxt", "openshift", "openshift-small", "smoke"])
def test_builtin_specs_point_editors_at_the_schema(name):
    first = (ROOT / f"labs/{name}.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=lab.schema.json"


@pytest.mark.parametrize("command", ["list", "show", "validate", "render", "schema"])
def test_help_has_examples(command):
    result = labctl(command, "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout
    assert "labctl " + command in result.stdout

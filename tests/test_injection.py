"""Hostile strings in a spec: every place a spec string lands either is refused or comes back verbatim.

For each (place, payload) the outcome must be ONE of:
  (a) loading or rendering raises a LabctlError whose message names the key path; or
  (b) rendering succeeds and the value round-trips exactly through the real consumer:
      `ansible-inventory --list --export` for the inventories, Ruby for the Vagrantfile
      (a recording stub of `Vagrant.configure` prints back every assigned value), and one
      real `vagrant validate -p` over every rendered Vagrantfile at once, after which no
      marker file written by a payload may exist.

The real tools run a handful of times in total: each matrix is classified in-process first
(cheap), then every accepted cell is checked from one batched tool run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from conftest import skip_or_fail

from labctl.errors import LabctlError, SpecError
from labctl.render import render_lab
from labctl.spec.load import load_lab

# ------------------------------------------------------------------------- tools


def need_tool(name: str) -> str:
    """The tool's path; skip (or fail under LABCTL_REQUIRE_INTEGRATION=1) when it is missing."""
    found = shutil.which(name)
    if not found:
        beside = Path(sys.executable).parent / name  # the venv's own ansible-inventory
        found = str(beside) if beside.is_file() else None
    if not found:
        skip_or_fail(f"needs {name}")
    return found


# ---------------------------------------------------------------------- payloads

MARK = "MARKER"  # replaced by a path under a per-session directory; no payload may create it

PAYLOADS: dict[str, str] = {
    "squote": "'",
    "dquote": '"',
    "backslash": "\\",
    "backslash-squote": "\\'",
    "ruby-interp": '#{system("touch MARKER")}',
    "ruby-breakout-id": "'; system(\"id\"); '",
    "ruby-breakout": "'; system(\"touch MARKER\"); '",
    "newline-section": "\n[evil]\nhost",
    "cr": "x\r[evil]\rhost",
    "line-separator": "x\u2028[evil]\u2028host",
    "nel": "x\x85[evil]\x85host",
    "nul": "x\x00y",
    "jinja-id": "{{ lookup('pipe','id') }}",
    "jinja-touch": "{{ lookup('pipe','touch MARKER') }}",
    "shell-subst": "$(touch MARKER)",
    "backticks": "`touch MARKER`",
    "kitchen-sink": "\\'\"#{`touch MARKER`} $(touch MARKER); # [evil] ${{x}}",
    "padded": "  x = y  ",
    "looks-like-list": "['a', 1]",
    "looks-like-number": "1e3",
}
PAYLOAD_IDS = list(PAYLOADS)


def materialize(payload_id: str, marker: str) -> str:
    return PAYLOADS[payload_id].replace(MARK, marker)


@pytest.fixture(scope="module")
def marker_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("marker")


@pytest.fixture(scope="module", autouse=True)
def _module_env(tmp_path_factory):
    """LABCTL_HOME in a tmp dir for the module's shared fixtures; fsync off (tmp files only)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABCTL_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setattr(os, "fsync", lambda fd: None)
        yield


@pytest.fixture(autouse=True)
def _labctl_home(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCTL_HOME", str(tmp_path / "home"))


def _message(exc: BaseException) -> str:
    return exc.render() if isinstance(exc, LabctlError) else str(exc)


def _attempt(spec: dict, sets: list[str], directory: Path, name: str = "spec.yaml"):
    """Write, load and render one spec; return (error, lab, outdir)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    try:
        lab, _ = load_lab(str(path), sets=sets, env={})
        render_lab(lab, directory / "out")
    except LabctlError as exc:  # anything else is a crash and fails the test
        return exc, None, None
    return None, lab, directory / "out"


MISSING = object()


def _yaml_reading(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return MISSING


# ===================================================================== inventory

def _inventory_base(fmt: str) -> dict:
    return {
        "name": "inj",
        "provider": "docker",
        "networks": {"lab": {"cidr": "10.20.0.0/16"}},
        "params": {"plain": "x"},
        "defaults": {"vars": {"dv": "d"}},
        "nodes": {
            "n-[1:2]": {"groups": ["g"]},
            "h-[1:2]": {"groups": ["g"], "vars": {"hv": "h"}},  # one folded INI host line
            "u-1": {"vars": {"uv": "u"}},  # ungrouped: a host line before any section
        },
        "groups": {"g": {"vars": {"gv": 1}}},
        "inventory": {"format": fmt, "vars": {"av": "a"}},
    }


def _structure(v: str) -> dict:
    """A nested value holding the payload at several depths, and as a nested key."""
    return {"list": [v, 1, None, True, 2.5], "map": {"k": v, v: "as-key"}, "deep": [[{"x": v}]]}


@dataclass(frozen=True)
class Inv:
    """`ansible-inventory --list --export`: host vars and group vars kept apart."""

    raw: dict

    @property
    def hostvars(self) -> dict:
        return self.raw["_meta"]["hostvars"]

    @property
    def groups(self) -> dict:
        return {k: v for k, v in self.raw.items() if k != "_meta"}

    def group_vars(self, name: str) -> dict:
        return self.groups.get(name, {}).get("vars", {})

    def host_var(self, host: str, key: str):
        return self.hostvars.get(host, {}).get(key, MISSING)


ALL_HOSTS = ["n-1", "n-2", "h-1", "h-2", "u-1"]


@dataclass(frozen=True)
class InvPlace:
    id: str
    apply: Callable[[dict, list, Any, str], None]  # (spec, sets, value, key) -> None
    paths: Callable[[Any, str], list[str]]  # any of these names the place in an error
    lookup: Callable[[Inv, Any, str], list]  # the values Ansible sees
    expected: Callable[[Any, Any], Any] = lambda v, lab_value: v  # (payload, loader's value)
    loader_value: Callable[[Any, Any, str], Any] = lambda lab, v, k: None


def _setvar(where: Callable[[dict], dict]):
    def apply(spec, sets, value, key):
        where(spec)[key] = value

    return apply


def _g(spec):
    return spec["groups"]["g"]["vars"]


def _h(spec):
    return spec["nodes"]["h-[1:2]"]["vars"]


def _u(spec):
    return spec["nodes"]["u-1"]["vars"]


def _all(spec):
    return spec["inventory"]["vars"]


def _defaults(spec):
    return spec["defaults"]["vars"]


def _apply_set_existing(spec, sets, value, key):
    _g(spec)[key] = "orig"  # a string already: --set keeps the text as given
    sets.append(f"groups.g.vars.{key}={value}")


def _apply_set_host_existing(spec, sets, value, key):
    _h(spec)[key] = "orig"
    sets.append(f"nodes.h-1.vars.{key}={value}")


def _apply_set_new(spec, sets, value, key):
    sets.append(f"inventory.vars.{key}={value}")


def _apply_param_embedded(spec, sets, value, key):
    spec["params"][key] = value
    _g(spec)[key] = f"<${{{key}}}>"


def _apply_param_whole(spec, sets, value, key):
    spec["params"][key] = value
    _g(spec)[key] = f"${{{key}}}"


def _apply_param_set(spec, sets, value, key):
    spec["params"][key] = "orig"
    sets.append(f"{key}={value}")
    _g(spec)[key] = f"${{{key}}}"


def _apply_group_name(spec, sets, value, key):
    spec["groups"][value] = {"vars": {"gn": 1}}


def _apply_node_group_ref(spec, sets, value, key):
    spec["nodes"]["n-[1:2]"]["groups"] = ["g", value]


def _apply_group_host_ref(spec, sets, value, key):
    spec["groups"]["g"]["hosts"] = [value]


def _apply_group_child_ref(spec, sets, value, key):
    spec["groups"]["g"]["children"] = [value]


def _apply_node_name(spec, sets, value, key):
    spec["nodes"][value] = {"groups": ["g"]}


def _apply_set_var_name(spec, sets, value, key):
    sets.append(f"inventory.vars.{value}=1")


def _set_var_name_path(value, key):
    dotted = f"inventory.vars.{value}".partition("=")[0]
    return [".".join(dotted.split(".")[:3])]


INV_PLACES = [
    # values: expected to round-trip
    InvPlace("group-var", _setvar(_g), lambda v, k: [f"groups.g.vars.{k}"], lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)]),
    InvPlace("range-host-var", _setvar(_h), lambda v, k: [f"nodes.h-[1:2].vars.{k}"],
             lambda inv, v, k: [inv.host_var("h-1", k), inv.host_var("h-2", k)]),
    InvPlace("ungrouped-host-var", _setvar(_u), lambda v, k: [f"nodes.u-1.vars.{k}"], lambda inv, v, k: [inv.host_var("u-1", k)]),
    InvPlace("defaults-var", _setvar(_defaults), lambda v, k: [f"defaults.vars.{k}"],
             lambda inv, v, k: [inv.host_var(h, k) for h in ALL_HOSTS]),
    InvPlace("all-var", _setvar(_all), lambda v, k: [f"inventory.vars.{k}"], lambda inv, v, k: [inv.group_vars("all").get(k, MISSING)]),
    InvPlace("group-nested", lambda s, sets, v, k: _g(s).__setitem__(k, _structure(v)), lambda v, k: [f"groups.g.vars.{k}"],
             lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)], expected=lambda v, lv: _structure(v)),
    InvPlace("host-nested", lambda s, sets, v, k: _h(s).__setitem__(k, _structure(v)), lambda v, k: [f"nodes.h-[1:2].vars.{k}"],
             lambda inv, v, k: [inv.host_var("h-1", k), inv.host_var("h-2", k)], expected=lambda v, lv: _structure(v)),
    InvPlace("all-nested", lambda s, sets, v, k: _all(s).__setitem__(k, _structure(v)), lambda v, k: [f"inventory.vars.{k}"],
             lambda inv, v, k: [inv.group_vars("all").get(k, MISSING)], expected=lambda v, lv: _structure(v)),
    InvPlace("set-existing", _apply_set_existing, lambda v, k: [f"groups.g.vars.{k}"], lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)]),
    InvPlace("set-host-existing", _apply_set_host_existing, lambda v, k: [f"nodes.h-1.vars.{k}", f"nodes.h-[1:2].vars.{k}"],
             lambda inv, v, k: [inv.host_var("h-1", k)]),
    # a new key has no type to keep: the value is read as a YAML scalar; Ansible must see the loader's value
    InvPlace("set-new", _apply_set_new, lambda v, k: [f"inventory.vars.{k}"], lambda inv, v, k: [inv.group_vars("all").get(k, MISSING)],
             expected=lambda v, lv: lv, loader_value=lambda lab, v, k: lab.spec.inventory.vars[k]),
    InvPlace("param-embedded", _apply_param_embedded, lambda v, k: [f"groups.g.vars.{k}", f"params.{k}"],
             lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)], expected=lambda v, lv: f"<{v}>"),
    InvPlace("param-whole", _apply_param_whole, lambda v, k: [f"groups.g.vars.{k}", f"params.{k}"],
             lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)]),
    InvPlace("param-set", _apply_param_set, lambda v, k: [f"params.{k}", f"groups.g.vars.{k}"],
             lambda inv, v, k: [inv.group_vars("g").get(k, MISSING)]),
    # names: no payload is a valid name, but a value that were accepted must still round-trip
    InvPlace("group-var-name", lambda s, sets, v, k: _g(s).__setitem__(v, 1), lambda v, k: [f"groups.g.vars.{v}"],
             lambda inv, v, k: [inv.group_vars("g").get(v, MISSING)], expected=lambda v, lv: 1),
    InvPlace("host-var-name", lambda s, sets, v, k: _h(s).__setitem__(v, 1), lambda v, k: [f"nodes.h-[1:2].vars.{v}"],
             lambda inv, v, k: [inv.host_var("h-1", v)], expected=lambda v, lv: 1),
    InvPlace("all-var-name", lambda s, sets, v, k: _all(s).__setitem__(v, 1), lambda v, k: [f"inventory.vars.{v}"],
             lambda inv, v, k: [inv.group_vars("all").get(v, MISSING)], expected=lambda v, lv: 1),
    InvPlace("set-var-name", _apply_set_var_name, _set_var_name_path,
             lambda inv, v, k: [inv.group_vars("all").get(v, MISSING)], expected=lambda v, lv: 1),
    InvPlace("group-name", _apply_group_name, lambda v, k: [f"groups.{v}"],
             lambda inv, v, k: [inv.group_vars(v).get("gn", MISSING)], expected=lambda v, lv: 1),
    InvPlace("node-group-ref", _apply_node_group_ref, lambda v, k: ["nodes.n-[1:2].groups"],
             lambda inv, v, k: ["n-1" in inv.groups.get(v, {}).get("hosts", [])], expected=lambda v, lv: True),
    InvPlace("group-host-ref", _apply_group_host_ref, lambda v, k: ["groups.g.hosts[0]"],
             lambda inv, v, k: [v in inv.groups.get("g", {}).get("hosts", [])], expected=lambda v, lv: True),
    InvPlace("group-child-ref", _apply_group_child_ref, lambda v, k: ["groups.g.children[0]"],
             lambda inv, v, k: [v in inv.groups.get("g", {}).get("children", [])], expected=lambda v, lv: True),
    InvPlace("node-name", _apply_node_name, lambda v, k: [f"nodes.{v}"],
             lambda inv, v, k: [v in inv.hostvars], expected=lambda v, lv: True),
]
INV_PLACE_IDS = [p.id for p in INV_PLACES]
_INV_BY_ID = {p.id: p for p in INV_PLACES}


@dataclass
class Cell:
    place_id: str
    payload_id: str
    value: Any
    key: str
    error: LabctlError | None = None
    lab: Any = None
    outdir: Path | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class InventoryMatrix:
    fmt: str
    cells: dict
    combined_lab: Any
    combined_out: Path
    _inv: Inv | None = None
    _failure: str | None = None

    def inventory(self) -> Inv:
        """One ansible-inventory run for the whole matrix; a failure is kept, not retried per cell."""
        if self._failure is not None:
            pytest.fail(self._failure, pytrace=False)
        if self._inv is None:
            try:
                self._inv, _ = run_ansible_inventory(self.combined_out)
            except AssertionError as exc:
                self._failure = f"ansible-inventory cannot read the lab holding every accepted payload: {exc}"
                raise
        return self._inv


def run_ansible_inventory(outdir: Path) -> tuple[Inv, str]:
    tool = need_tool("ansible-inventory")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(outdir / "ansible.cfg"),
        "ANSIBLE_HOME": str(outdir / ".ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(outdir / ".ansible-tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        [tool, "-i", str(outdir / "inventory"), "--list", "--export"],
        cwd=outdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"ansible-inventory failed:\n{done.stderr}"
    assert "Failed to parse" not in done.stderr and "Unable to parse" not in done.stderr, done.stderr
    return Inv(json.loads(done.stdout)), done.stderr


@pytest.fixture(scope="module")
def inventory_matrix(tmp_path_factory, marker_dir, _module_env):
    """fmt -> every (place, payload) cell classified alone, then all accepted cells in one lab."""
    cache: dict[str, InventoryMatrix] = {}

    def get(fmt: str) -> InventoryMatrix:
        if fmt in cache:
            return cache[fmt]
        root = tmp_path_factory.mktemp(f"inv-{fmt}")
        marker = str(marker_dir / "pwned")
        cells: dict = {}
        combined = _inventory_base(fmt)
        combined_sets: list[str] = []
        for pi, payload_id in enumerate(PAYLOAD_IDS):
            value = materialize(payload_id, marker)
            for place in INV_PLACES:
                key = f"{place.id.replace('-', '_')}_{pi}"
                spec, sets = _inventory_base(fmt), []
                place.apply(spec, sets, value, key)
                error, lab, out = _attempt(spec, sets, root / f"{place.id}-{pi}")
                cell = Cell(place.id, payload_id, value, key, error, lab, out)
                if lab is not None:
                    cell.extra["loader_value"] = place.loader_value(lab, value, key)
                    place.apply(combined, combined_sets, value, key)
                cells[(place.id, payload_id)] = cell
        error, lab, out = _attempt(combined, combined_sets, root / "combined")
        assert error is None, f"the accepted cells fail together: {error and _message(error)}"
        cache[fmt] = InventoryMatrix(fmt, cells, lab, out)
        return cache[fmt]

    return get


def _shown(path: str) -> list[str]:
    """How a key path may appear in a message: as is, or escaped when its line is not printable."""
    return [path, path.encode("unicode_escape").decode("ascii")]


def _assert_rejected(cell: Cell, paths: list[str]) -> None:
    assert isinstance(cell.error, LabctlError)
    text = _message(cell.error)
    assert any(shown in text for p in paths for shown in _shown(p)), f"error does not name {paths}:\n{text}"


@pytest.mark.integration
@pytest.mark.parametrize("payload_id", PAYLOAD_IDS)
@pytest.mark.parametrize("place_id", INV_PLACE_IDS)
@pytest.mark.parametrize("fmt", ["ini", "yaml"])
def test_inventory_payload(fmt, place_id, payload_id, inventory_matrix, marker_dir):
    matrix = inventory_matrix(fmt)
    place, cell = _INV_BY_ID[place_id], matrix.cells[(place_id, payload_id)]
    if cell.error is not None:
        _assert_rejected(cell, place.paths(cell.value, cell.key))
        return
    expected = place.expected(cell.value, cell.extra.get("loader_value"))
    if place_id == "set-new":  # the text itself, or its reading as a YAML scalar
        assert expected == cell.value or expected == _yaml_reading(cell.value)
    seen = place.lookup(matrix.inventory(), cell.value, cell.key)
    assert seen and all(s == expected for s in seen), f"Ansible saw {seen!r}, spec had {expected!r}"
    assert not any(marker_dir.iterdir()), "a payload ran a command"


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["ini", "yaml"])
def test_inventory_has_exactly_the_labs_hosts_groups_and_vars(fmt, inventory_matrix):
    """All accepted payloads at once: Ansible's view equals labctl's resolved lab, nothing more."""
    matrix = inventory_matrix(fmt)
    lab, inv = matrix.combined_lab, matrix.inventory()
    names = [n.name for n in lab.nodes]
    assert sorted(inv.hostvars) == sorted(names)
    groups = set(lab.spec.groups) | {g for n in lab.nodes for g in n.groups}
    assert set(inv.groups) == {"all", "ungrouped"} | groups
    for node in lab.nodes:
        assert inv.hostvars[node.name] == {**node.vars, "labctl_address": node.address}, node.name
    assert inv.group_vars("g") == lab.spec.groups["g"].vars
    assert inv.group_vars("all") == lab.spec.inventory.vars
    assert sorted(inv.groups["g"]["hosts"]) == sorted(n.name for n in lab.nodes if "g" in n.groups)
    accepted = [c for c in matrix.cells.values() if c.error is None]
    assert len(accepted) >= len(PAYLOADS) * 10  # the value places took (almost) every payload


# Regression (found by this file, fixed in ef06ff7): a string ast.literal_eval rejects with TypeError
# (an unhashable set or dict key) was written raw, and Ansible's INI parser, which only catches
# ValueError/SyntaxError, then failed on the whole inventory.
LITERAL_TYPEERROR = ["{{ 'a' }}", "{{ [1, 2] }}", "{[]: 1}", "{{ {} }}"]


@pytest.mark.integration
@pytest.mark.parametrize("where", ["group-var", "range-host-var", "all-var"])
@pytest.mark.parametrize("value", LITERAL_TYPEERROR)
def test_ini_value_that_literal_eval_rejects_with_typeerror(value, where, tmp_path):
    spec, sets = _inventory_base("ini"), []
    _INV_BY_ID[where].apply(spec, sets, value, "v")
    error, lab, out = _attempt(spec, sets, tmp_path / "lab")
    assert error is None
    seen = _INV_BY_ID[where].lookup(run_ansible_inventory(out)[0], value, "v")
    assert seen and all(s == value for s in seen), seen


# Regression (found by this file, fixed in ef06ff7): float('nan')/float('inf') were written to INI as
# `nan`/`inf`, which Ansible read back as strings. Either outcome is fine: refused naming the key, or
# read back as the same float.
@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["yaml", "ini"])
@pytest.mark.parametrize(("name", "value"), [("fnan", float("nan")), ("finf", float("inf")), ("fneg", float("-inf")),
                                             ("flist", [float("inf")])])
def test_float_specials(fmt, name, value, tmp_path):
    spec = _inventory_base(fmt)
    spec["groups"]["g"]["vars"][name] = value
    error, lab, out = _attempt(spec, [], tmp_path / "lab")
    if error is not None:
        assert f"groups.g.vars.{name}" in _message(error)
        return
    seen = run_ansible_inventory(out)[0].group_vars("g")[name]
    if name == "fnan":
        assert isinstance(seen, float) and seen != seen
    else:
        assert seen == value


# ===================================================================== Vagrantfile

NODES = ("n-1", "n-2")
ALIAS = {"docker": "d", "libvirt": "lv", "virtualbox": "vb"}


def _vagrant_base() -> dict:
    return {
        "name": "inj",
        "provider": "docker",
        "networks": {"lab": {"cidr": "10.30.0.0/16"}},
        "params": {"plain": "x"},
        "nodes": {"n-[1:2]": {"groups": ["g"]}},
        "groups": {"g": {}},
        "providers": {p: {"extra": {}} for p in ALIAS},
    }


def _rec(provider: str, attr: str, nodes=NODES) -> list[str]:
    return [f"config.vm.define({n}).vm.provider({provider}).{attr}" for n in nodes]


@dataclass(frozen=True)
class VPlace:
    id: str
    apply: Callable[[dict, list, Any, str], None]
    paths: Callable[[Any, str], list[str]]
    # (line prefix, expected literal value) in the rendered text; the records Ruby must see
    lines: Callable[[Any, str], list[tuple[str, Any]]] = lambda v, k: []
    records: Callable[[Any, str], list[tuple[str, Any]]] = lambda v, k: []
    benign: str = "benign"
    spec_name: Callable[[Any], str] = lambda v: "spec.yaml"


def _extra(provider: str):
    def apply(spec, sets, value, key):
        spec["providers"][provider]["extra"][key] = value

    return apply


def _apply_set_extra(spec, sets, value, key):
    spec["providers"]["docker"]["extra"][key] = "orig"
    sets.append(f"providers.docker.extra.{key}={value}")


def _apply_param_extra(spec, sets, value, key):
    spec["params"][key] = value
    spec["providers"]["docker"]["extra"][key] = f"${{{key}}}"


def _apply_param_box(spec, sets, value, key):
    spec["params"][key] = value
    spec["defaults"] = {"box": f"${{{key}}}"}


def _extra_place(provider: str) -> VPlace:
    a = ALIAS[provider]
    return VPlace(
        f"extra-{provider}", _extra(provider), lambda v, k: [f"providers.{provider}.extra.{k}"],
        lines=lambda v, k: [(f"{a}.{k} = ", v)],
        records=lambda v, k: [(r, v) for r in _rec(provider, k)],
    )


def _box_records(v, k):
    return [(r, v) for r in _rec("virtualbox", "vm.box") + _rec("libvirt", "vm.box")]


def _source_name(value: str) -> str:
    return f"{value}.yaml"


V_PLACES = [
    _extra_place("docker"),
    _extra_place("libvirt"),
    _extra_place("virtualbox"),
    VPlace("extra-key", lambda s, sets, v, k: s["providers"]["docker"]["extra"].__setitem__(v, "v"),
           lambda v, k: [f"providers.docker.extra.{v}"],
           lines=lambda v, k: [(f"d.{v} = ", "v")], records=lambda v, k: [(r, "v") for r in _rec("docker", v)]),
    VPlace("set-extra", _apply_set_extra, lambda v, k: [f"providers.docker.extra.{k}"],
           lines=lambda v, k: [(f"d.{k} = ", v)], records=lambda v, k: [(r, v) for r in _rec("docker", k)]),
    VPlace("param-extra", _apply_param_extra, lambda v, k: [f"providers.docker.extra.{k}", f"params.{k}"],
           lines=lambda v, k: [(f"d.{k} = ", v)], records=lambda v, k: [(r, v) for r in _rec("docker", k)]),
    VPlace("box", lambda s, sets, v, k: s.__setitem__("defaults", {"box": v}), lambda v, k: ["defaults.box"],
           lines=lambda v, k: [("override.vm.box = ", v)], records=_box_records),
    VPlace("node-box", lambda s, sets, v, k: s["nodes"]["n-[1:2]"].__setitem__("box", v), lambda v, k: ["nodes.n-[1:2].box"],
           lines=lambda v, k: [("override.vm.box = ", v)], records=_box_records),
    VPlace("set-box", lambda s, sets, v, k: sets.append(f"defaults.box={v}"), lambda v, k: ["defaults.box"],
           lines=lambda v, k: [("override.vm.box = ", v)], records=_box_records),
    VPlace("param-box", _apply_param_box, lambda v, k: ["defaults.box", f"params.{k}"],
           lines=lambda v, k: [("override.vm.box = ", v)], records=_box_records),
    VPlace("image", lambda s, sets, v, k: s.__setitem__("defaults", {"image": v}), lambda v, k: ["defaults.image"],
           lines=lambda v, k: [("d.image = ", v)], records=lambda v, k: [(r, v) for r in _rec("docker", "image")]),
    VPlace("lab-name", lambda s, sets, v, k: s.__setitem__("name", v), lambda v, k: ["name"],
           lines=lambda v, k: [("lv.default_prefix = ", f"{v}_")],
           records=lambda v, k: [(r, f"{v}_") for r in _rec("libvirt", "default_prefix")] + [(_rec("docker", "name")[0], f"{v}-n-1")]),
    VPlace("set-lab-name", lambda s, sets, v, k: sets.append(f"name={v}"), lambda v, k: ["name"],
           lines=lambda v, k: [("lv.default_prefix = ", f"{v}_")],
           records=lambda v, k: [(r, f"{v}_") for r in _rec("libvirt", "default_prefix")]),
    VPlace("description", lambda s, sets, v, k: s.__setitem__("description", v), lambda v, k: ["description"]),
    VPlace("node-name", lambda s, sets, v, k: s["nodes"].__setitem__(v, {}), lambda v, k: [f"nodes.{v}"],
           lines=lambda v, k: [], records=lambda v, k: [(f"config.vm.define({v}).vm.hostname", v)]),
    VPlace("storage-pool", lambda s, sets, v, k: s["providers"]["libvirt"].__setitem__("storage_pool", v),
           lambda v, k: ["providers.libvirt.storage_pool"],
           lines=lambda v, k: [("lv.storage_pool_name = ", v)], records=lambda v, k: [(r, v) for r in _rec("libvirt", "storage_pool_name")]),
    VPlace("management-address", lambda s, sets, v, k: s["providers"]["libvirt"].__setitem__("management_network_address", v),
           lambda v, k: ["providers.libvirt.management_network_address"],
           lines=lambda v, k: [("lv.management_network_address = ", v)],
           records=lambda v, k: [(r, v) for r in _rec("libvirt", "management_network_address")]),
    VPlace("cpu-mode", lambda s, sets, v, k: s["providers"]["libvirt"].__setitem__("cpu_mode", v),
           lambda v, k: ["providers.libvirt.cpu_mode"], benign="host-model",
           lines=lambda v, k: [("lv.cpu_mode = ", v)], records=lambda v, k: [(r, v) for r in _rec("libvirt", "cpu_mode")]),
    VPlace("node-address", lambda s, sets, v, k: s["nodes"].__setitem__("s-1", {"networks": {"lab": v}}),
           lambda v, k: ["nodes.s-1.networks.lab"], benign="10.30.9.9",
           records=lambda v, k: [(r + "(private_network)#ip", v) for r in _rec("virtualbox", "vm.network", ["s-1"])]),
    VPlace("network-cidr", lambda s, sets, v, k: s["networks"]["lab"].__setitem__("cidr", v),
           lambda v, k: ["networks.lab.cidr"], benign="10.31.0.0/16"),
    # the spec file's own name lands in the Vagrantfile's header comment
    VPlace("source", lambda s, sets, v, k: None, lambda v, k: [], spec_name=_source_name),
]
V_PLACE_IDS = [p.id for p in V_PLACES]
_V_BY_ID = {p.id: p for p in V_PLACES}


def _v_cells() -> list:
    out = []
    for place_id in V_PLACE_IDS:
        for payload_id in PAYLOAD_IDS:
            if place_id == "source" and payload_id == "nul":
                continue  # no file name can hold NUL
            out.append(pytest.param(place_id, payload_id, id=f"{place_id}-{payload_id}"))
    return out


@dataclass
class VagrantMatrix:
    cells: dict
    baselines: dict  # place id -> Cell rendered with the place's benign value
    root: Path
    _records: dict | None = None

    def records(self) -> dict:
        if self._records is None:
            files = [c.outdir / "Vagrantfile" for c in [*self.cells.values(), *self.baselines.values()] if c.error is None]
            self._records = ruby_records(files, self.root)
        return self._records


@pytest.fixture(scope="module")
def vagrant_matrix(tmp_path_factory, marker_dir, _module_env) -> VagrantMatrix:
    root = tmp_path_factory.mktemp("vagrant")
    cells, baselines = {}, {}
    for place in V_PLACES:
        spec, sets = _vagrant_base(), []
        place.apply(spec, sets, place.benign, "k_b")
        error, lab, out = _attempt(spec, sets, root / f"{place.id}-benign", place.spec_name(place.benign))
        assert error is None, f"benign value for {place.id} refused: {_message(error)}"
        baselines[place.id] = Cell(place.id, "benign", place.benign, "k_b", None, lab, out)
        for pi, payload_id in enumerate(PAYLOAD_IDS):
            if place.id == "source" and payload_id == "nul":
                continue
            # a file name cannot hold '/': the source payloads touch a relative marker (cwd = marker_dir)
            marker = "pwned" if place.id == "source" else str(marker_dir / "pwned")
            value, key = materialize(payload_id, marker), f"k_{pi}"
            spec, sets = _vagrant_base(), []
            place.apply(spec, sets, value, key)
            error, lab, out = _attempt(spec, sets, root / f"{place.id}-{pi}", place.spec_name(value))
            cells[(place.id, payload_id)] = Cell(place.id, payload_id, value, key, error, lab, out)
    return VagrantMatrix(cells, baselines, root)


def _v_rejected(place: VPlace, cell: Cell, root: Path) -> None:
    if place.id == "source":  # the error must name the spec file (shown with repr())
        _assert_rejected(cell, [repr(_source_name(cell.value))[1:-1]])
    else:
        _assert_rejected(cell, place.paths(cell.value, cell.key))


def ruby_single_quoted(text: str) -> tuple[str, str]:
    """Parse one Ruby single-quoted literal at the start of `text`; return (value, rest)."""
    assert text.startswith("'"), text
    out, i = [], 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "\\'":
            out.append(text[i + 1])
            i += 2
        elif ch == "'":
            return "".join(out), text[i + 1:]
        else:
            out.append(ch)
            i += 1
    raise AssertionError(f"unterminated Ruby literal: {text!r}")


def test_ruby_single_quoted_parser_knows_ruby_rules():
    assert ruby_single_quoted(r"'a\\b\'c\n#{x}'rest") == ("a\\b'c\\n#{x}", "rest")


@pytest.mark.parametrize(("place_id", "payload_id"), _v_cells())
def test_vagrantfile_payload(place_id, payload_id, vagrant_matrix):
    """Tool-free half: refused naming the path, or one single-quoted literal holding the exact value."""
    place, cell = _V_BY_ID[place_id], vagrant_matrix.cells[(place_id, payload_id)]
    if cell.error is not None:
        _v_rejected(place, cell, vagrant_matrix.root)
        return
    text = (cell.outdir / "Vagrantfile").read_text(encoding="utf-8")
    base = (vagrant_matrix.baselines[place_id].outdir / "Vagrantfile").read_text(encoding="utf-8")
    assert "\r" not in text and "\x00" not in text
    assert text.count("\n") == base.count("\n"), "the value added lines to the Vagrantfile"
    for prefix, expected in place.lines(cell.value, cell.key):
        found = [line.strip()[len(prefix):] for line in text.split("\n") if line.strip().startswith(prefix)]
        assert found, f"no line starting {prefix!r}"
        for literal in found:
            assert ruby_single_quoted(literal) == (expected, "")
    if place_id == "description":
        record = json.loads((cell.outdir / ".labctl" / "lab.json").read_text())
        assert record["spec"]["description"] == cell.value
    if place_id == "source":
        assert text.split("\n")[1] == f"# Generated by labctl from {cell.lab.source} (lab inj)."
        assert cell.lab.source.endswith(_source_name(cell.value))


# ------------------------------------------------------------------ Ruby evaluation

# A stand-in for Vagrant: `Vagrant.configure` yields a recorder; every `x.y = value` and every
# keyword argument is recorded under its full path and printed back as hex, so the test
# compares the exact bytes Ruby evaluated. Run once over many Vagrantfiles.
RUBY_STUB = r'''
$records = []
class Recorder < BasicObject
  def initialize(path)
    @path = path
  end

  def method_missing(name, *args, **kw, &blk)
    n = name.to_s
    if n.end_with?("=")
      $records << [@path + "." + n.chomp("="), args[0]]
      return args[0]
    end
    label = @path + "." + n
    label += "(" + args.map(&:to_s).join(",") + ")" unless args.empty?
    kw.each { |k, v| $records << [label + "#" + k.to_s, v] }
    child = ::Recorder.new(label)
    blk.call(child, child) if blk
    child
  end

  def respond_to_missing?(*)
    true
  end
end

module Vagrant
  def self.configure(version)
    yield ::Recorder.new("config")
  end
end

def enc(value)
  value.is_a?(String) ? "s" + value.b.unpack1("H*") : "r" + value.inspect.b.unpack1("H*")
end

ARGV.each do |file|
  $records = []
  puts "FILE\t" + file.b.unpack1("H*")
  begin
    load file
    $records.each { |path, value| puts path.b.unpack1("H*") + "\t" + enc(value) }
  rescue ::Exception => e
    puts "ERROR\t" + (e.class.to_s + ": " + e.message).b.unpack1("H*")
  end
end
'''


def ruby_records(files: list[Path], workdir: Path) -> dict:
    """Vagrantfile -> ("ok", {path: [values]}) or ("error", message), from one ruby run."""
    ruby = need_tool("ruby")
    stub = workdir / "record.rb"
    stub.write_text(RUBY_STUB)
    done = subprocess.run(
        [ruby, str(stub), *map(str, files)], cwd=workdir, capture_output=True, timeout=300,
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out: dict = {}
    current = None
    for line in done.stdout.decode().splitlines():
        head, _, tail = line.partition("\t")
        if head == "FILE":
            current = bytes.fromhex(tail).decode()
            out[current] = ("ok", {})
        elif head == "ERROR":
            out[current] = ("error", bytes.fromhex(tail).decode(errors="replace"))
        else:
            path = bytes.fromhex(head).decode()
            raw = bytes.fromhex(tail[1:])
            value = raw.decode() if tail[0] == "s" else ("inspect", raw.decode())
            out[current][1].setdefault(path, []).append(value)
    return out


@pytest.fixture(scope="module")
def ruby_canary(tmp_path_factory):
    """A Vagrantfile that does run a command inside a provider block: proves the harness would notice."""
    root = tmp_path_factory.mktemp("canary")
    vf = root / "Vagrantfile"
    canary = root / "canary-ran"
    vf.write_text(
        'Vagrant.configure("2") do |config|\n'
        '  config.vm.define \'n-1\' do |node|\n'
        '    node.vm.provider :docker do |d, override|\n'
        f'      d.image = "#{{system(\'touch {canary}\')}}x"\n'
        '    end\n  end\nend\n'
    )
    return vf, canary


@pytest.mark.integration
def test_ruby_harness_detects_code_that_runs(ruby_canary, tmp_path):
    vf, canary = ruby_canary
    records = ruby_records([vf], tmp_path)
    assert records[str(vf)][0] == "ok"
    assert records[str(vf)][1]["config.vm.define(n-1).vm.provider(docker).image"] == ["truex"]
    assert canary.exists()


@pytest.mark.integration
def test_every_accepted_vagrantfile_payload_in_ruby(vagrant_matrix, marker_dir):
    """Ruby half, for the accepted cells (test_vagrantfile_payload checks the refused ones): each
    Vagrantfile evaluates, every field holds exactly the spec's value, and nothing ran."""
    records = vagrant_matrix.records()
    accepted = [(key, cell) for key, cell in vagrant_matrix.cells.items() if cell.error is None]
    assert accepted
    wrong = []
    for (place_id, payload_id), cell in accepted:
        status, got = records[str(cell.outdir / "Vagrantfile")]
        wanted = _V_BY_ID[place_id].records(cell.value, cell.key)
        if status != "ok":
            wrong.append(f"{place_id}/{payload_id}: {got}")
        elif any(got.get(path) != [expected] for path, expected in wanted):
            wrong.append(f"{place_id}/{payload_id}: Ruby saw {got!r}, spec had {wanted!r}")
        elif not wanted and got != records[str(vagrant_matrix.baselines[place_id].outdir / "Vagrantfile")][1]:
            wrong.append(f"{place_id}/{payload_id}: a value that is not configuration changed it")
    assert wrong == []
    assert not any(marker_dir.iterdir()), f"a payload ran a command: {list(marker_dir.iterdir())}"
    assert not (vagrant_matrix.root / "pwned").exists()


MULTI = {"extra-docker", "extra-libvirt", "extra-virtualbox", "extra-key", "set-extra", "param-extra"}


def _all_payload_labs(matrix: VagrantMatrix, root: Path) -> tuple[list[Path], list[tuple[str, str, Any]]]:
    """A few rendered Vagrantfiles holding every accepted payload, and the records one of them must show.

    The places that take many values share one lab (every accepted description joined into its
    description); the spec-file-name payloads are joined into as few file names as fit; each
    other accepted cell (a single-valued field) keeps its own Vagrantfile.
    """
    accepted = [c for c in matrix.cells.values() if c.error is None]
    spec, sets, wanted = _vagrant_base(), [], []
    for c in accepted:
        if c.place_id in MULTI:
            key = f"{c.place_id.replace('-', '_')}_{PAYLOAD_IDS.index(c.payload_id)}"
            _V_BY_ID[c.place_id].apply(spec, sets, c.value, key)
            wanted += _V_BY_ID[c.place_id].records(c.value, key)
    spec["description"] = "".join(c.value for c in accepted if c.place_id == "description")
    labs = [("combined", spec, sets, "spec.yaml")]
    chunks = [""]
    for c in accepted:
        if c.place_id == "source":
            if len((chunks[-1] + c.value).encode()) > 200:
                chunks.append("")
            chunks[-1] += c.value
    labs += [(f"names-{i}", _vagrant_base(), [], _source_name(chunk)) for i, chunk in enumerate(chunks) if chunk]
    files = []
    for label, lab_spec, lab_sets, name in labs:
        error, _, out = _attempt(lab_spec, lab_sets, root / label, name)
        assert error is None, _message(error)
        files.append(out / "Vagrantfile")
    # single-valued fields: one lab with the first accepted value of each, the rest on their own
    single, single_sets, rest, taken = _vagrant_base(), [], [], set()
    for c in accepted:
        if c.place_id in MULTI | {"description", "source"}:
            continue
        if c.place_id in taken:
            rest.append(c.outdir / "Vagrantfile")
        else:
            taken.add(c.place_id)
            _V_BY_ID[c.place_id].apply(single, single_sets, c.value, c.key)
    error, _, out = _attempt(single, single_sets, root / "single")
    if error is None:
        files += [out / "Vagrantfile", *rest]
    else:  # the values do not fit in one lab together: every one keeps its own Vagrantfile
        files += [c.outdir / "Vagrantfile" for c in accepted if c.place_id not in MULTI | {"description", "source"}]
    return files, wanted


@pytest.mark.integration
def test_vagrant_validate_every_accepted_payload_at_once(vagrant_matrix, marker_dir, ruby_canary, tmp_path):
    """One real `vagrant validate -p` over every accepted payload (and a canary proving blocks run)."""
    vagrant = need_tool("vagrant")
    files, wanted = _all_payload_labs(vagrant_matrix, tmp_path / "labs")
    assert len(wanted) >= 2 * 10 * 4  # the combined lab really holds (most) payloads in every place
    status, got = ruby_records(files[:1], tmp_path)[str(files[0])]
    assert status == "ok", got
    for path, expected in wanted:
        assert got.get(path) == [expected], path
    canary_file, canary = ruby_canary
    canary.unlink(missing_ok=True)
    composite = tmp_path / "all"
    composite.mkdir()
    loads = "\n".join(f'load ["{f.as_posix().encode().hex()}"].pack("H*").force_encoding("UTF-8")'
                      for f in [*files, canary_file])
    (composite / "Vagrantfile").write_text(f"# every Vagrantfile holding an accepted payload\n{loads}\n")
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1",
           "VAGRANT_CWD": str(composite)}
    # cwd is the marker directory: the file-name payloads touch a relative `pwned` there
    done = subprocess.run([vagrant, "validate", "-p"], cwd=marker_dir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout
    assert canary.exists(), "the canary's provider block did not run: the check proves nothing"
    assert [p.name for p in marker_dir.iterdir()] == [], "a payload ran a command under vagrant"


# Regression (found by this file, fixed in ef06ff7): a float extra value was written with repr(), so
# .nan/.inf became the bare Ruby names `nan`/`inf`: a NameError when Vagrant loads the file.
@pytest.mark.integration
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e300, -0.0, 5e-324],
                         ids=["nan", "inf", "-inf", "1e300", "-0.0", "denormal"])
def test_float_extra_value(value, tmp_path):
    spec = _vagrant_base()
    spec["providers"]["docker"]["extra"]["cpus_limit"] = value
    error, lab, out = _attempt(spec, [], tmp_path / "lab")
    if error is not None:
        assert "providers.docker.extra.cpus_limit" in _message(error)
        return
    status, got = ruby_records([out / "Vagrantfile"], tmp_path)[str(out / "Vagrantfile")]
    assert status == "ok", got
    [(kind, text)] = got["config.vm.define(n-1).vm.provider(docker).cpus_limit"]
    assert kind == "inspect" and float(text) == value and str(float(text)) == str(value)  # -0.0 keeps its sign


# ============================================================== error messages

# Regression (found by this file, fixed in ef06ff7): problem lines showed spec keys raw, so a key
# holding a line break could forge a second problem line, or send terminal escapes to the user.
@pytest.mark.parametrize("key", ["a\nspec.yaml:1:1: all good", "a\rb", "a\x1b[2Jb", "a\u2028b"], ids=["lf", "cr", "esc", "u2028"])
def test_problem_lines_are_single_lines(key, tmp_path):
    spec = _vagrant_base()
    spec["nodes"][key] = {}
    error, _, _ = _attempt(spec, [], tmp_path / "lab")
    assert isinstance(error, SpecError)
    for problem in error.problems:
        assert problem.isprintable(), repr(problem)

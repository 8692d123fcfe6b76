"""Fuzzing the loader: whatever a spec file holds, load_lab raises SpecError or succeeds.

Properties:
- arbitrary text, arbitrary bytes, arbitrary YAML-able structures and structures close to the
  real schema (random node names and ranges, random types everywhere) never raise anything
  but SpecError from load_lab; `--set` strings only SpecError or UsageError;
- whenever load_lab succeeds, render_lab succeeds or raises a LabctlError, and rendering again
  writes nothing and leaves byte-identical files.
Explicit adversarial cases follow: alias bombs, deep nesting, Python tags, !!binary, duplicate
keys, a 10 MB string, a huge range, non-UTF-8 bytes.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from labctl.errors import LabctlError, SpecError, UsageError
from labctl.render import render_lab
from labctl.spec import view
from labctl.spec.load import load_lab
from labctl.spec.model import PROVIDERS

FUZZ = settings(
    max_examples=int(os.environ.get("LABCTL_FUZZ_EXAMPLES", "200")),  # raise it to hunt for more
    deadline=None,
    database=None,  # nothing written into the project tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

MINIMAL = """\
name: t
provider: docker
networks: {lab: {cidr: 192.168.56.0/24}}
params: {p: "1.0", q: 3}
nodes:
  n-[1:2]: {groups: [g]}
groups:
  g: {vars: {x: 1, s: text}}
"""


# ------------------------------------------------------------------ harness

@pytest.fixture(scope="module")
def workdir():
    """Files for every example; LABCTL_HOME in here too (hypothesis reuses one fixture per test).

    Every file written here is scratch: fsync is skipped, which makes rendering several times faster.
    """
    with tempfile.TemporaryDirectory(prefix="labctl-fuzz-") as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABCTL_HOME", str(Path(tmp) / "home"))
        mp.setattr(os, "fsync", lambda fd: None)
        yield Path(tmp)


@pytest.fixture(autouse=True)
def _labctl_home(monkeypatch, tmp_path):
    monkeypatch.setenv("LABCTL_HOME", str(tmp_path / "home"))


_counter = itertools.count()

def _event(text: str) -> None:
    """Count outcomes for --hypothesis-show-statistics (only inside a @given test)."""
    if currently_in_test_context():
        event(text)


def _write(workdir: Path, content: str | bytes) -> Path:
    path = workdir / f"spec-{next(_counter)}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def load_or_specerror(workdir: Path, content: str | bytes, sets=(), provider=None, allowed=(SpecError,), user_config=None):
    """The lab, or None after one of the allowed errors; anything else propagates and fails."""
    path = _write(workdir, content)
    try:
        lab, layer = load_lab(str(path), sets=sets, provider=provider, env={}, user_config=user_config)
    except allowed as exc:
        assert isinstance(exc, LabctlError)
        assert exc.render().strip(), "an error without a message"
        if isinstance(exc, SpecError):
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        _event(f"refused: {type(exc).__name__}")
        return None
    _event("loaded")
    assert lab.name == layer.data["name"]
    assert len({n.name for n in lab.nodes}) == len(lab.nodes)
    return lab


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def render_twice(workdir: Path, lab) -> None:
    """render_lab succeeds or raises a LabctlError; a second render writes nothing and changes nothing."""
    out = workdir / f"out-{next(_counter)}"
    try:
        first = render_lab(lab, out)
    except LabctlError as exc:
        assert exc.render().strip()
        _event(f"render refused: {type(exc).__name__}")
        return
    _event("rendered")
    assert first.files and all((out / f).is_file() for f in first.files)
    before = _snapshot(out)
    second = render_lab(lab, out)
    assert second.changed == ()
    assert _snapshot(out) == before
    from_view = render_lab(replace(lab, spec=view.of(lab.spec)), out)  # what `labctl render` reads from the cache
    assert from_view.changed == () and _snapshot(out) == before
    if not lab.spec.secrets:  # without generated secrets a fresh directory gets the same bytes
        again = workdir / f"out-{next(_counter)}"
        render_lab(lab, again)
        stamp = ".labctl/render.json"  # the stamp describes its own directory (paths, file stamps)
        assert {k: v for k, v in _snapshot(again).items() if k != stamp} == {k: v for k, v in before.items() if k != stamp}


def load_and_render(workdir: Path, content, **kw) -> None:
    lab = load_or_specerror(workdir, content, **kw)
    if lab is not None:
        render_twice(workdir, lab)
    for scratch in workdir.glob("*-*"):  # keep the directory small: one example at a time
        if scratch.is_dir():
            shutil.rmtree(scratch)
        elif scratch.name.startswith("spec-"):
            scratch.unlink()


def test_minimal_spec_loads_and_renders(workdir):
    lab = load_or_specerror(workdir, MINIMAL)
    assert lab is not None and [n.name for n in lab.nodes] == ["n-1", "n-2"]
    render_twice(workdir, lab)


# ------------------------------------------------------------------ strategies

_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
_junk = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=10**6), st.floats(), st.text(max_size=10),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

_ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_var_name = st.one_of(_ident, st.sampled_from(["all", "1x", "a-b", "a b", "", "x.y"]), st.text(max_size=6))
_group_name = st.one_of(st.sampled_from(["g", "web", "db", "all", "ungrouped", "OSEv3"]), _ident, st.text(max_size=6))
_node_name = st.one_of(
    st.sampled_from([
        "a", "n-1", "n-2", "web", "a-[1:3]", "b-[01:03]", "x-[3:1]", "c-[1:2]-d", "[1:2]", "a-[0:0]",
        "a-[1:2][3:4]", "a-[:3]", "-a", "a-", "n-[9:11]", "n-[1:300]", "n-[1:10001]", "a" * 64,
    ]),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\[[0-9]{1,2}:[0-9]{1,2}\])?", fullmatch=True),
    st.text(max_size=10),
)
_address = st.one_of(
    st.just("auto"), st.sampled_from(["192.168.56.20", "192.168.56.0", "192.168.56.255", "10.9.9.9", "1.2.3", "::1"]),
    st.ip_addresses(v=4).map(str), _junk,
)
_cidr = st.one_of(
    st.sampled_from(["192.168.56.0/24", "10.0.0.0/30", "10.0.0.0/31", "10.0.0.0/32", "10.0.0.1/24", "::/64", "x", ""]),
    st.builds(lambda ip, n: f"{ip}/{n}", st.ip_addresses(v=4), st.integers(0, 33)),
    _junk,
)
_vars = st.one_of(st.dictionaries(_var_name, _json, max_size=4), _junk)
_net_name = st.one_of(st.sampled_from(["lab", "mgmt"]), st.text(max_size=5))


def _maybe(strategy):
    return st.one_of(strategy, _junk)


_node = st.fixed_dictionaries({}, optional={
    "box": _maybe(st.sampled_from(["centos/7", "labctl/debian12", "a b", "x'y"])),
    "image": _maybe(st.sampled_from(["labctl/debian12:latest", "a'b"])),
    "cpus": _maybe(st.integers(-2, 300)),
    "memory": _maybe(st.integers(0, 5_000_000)),
    "groups": _maybe(st.lists(_group_name, max_size=3)),
    "vars": _vars,
    "networks": _maybe(st.dictionaries(_net_name, _address, max_size=2)),
    "synced_folder": _junk,
    "host": _maybe(st.sampled_from(["10.0.0.5", "h.example.com", "a b"])),
    "port": _maybe(st.integers(-1, 70000)),
    "user": _maybe(st.sampled_from(["vagrant", "root", "Bad User"])),
    "key": _maybe(st.sampled_from(["~/.ssh/id_ed25519", "a\nb"])),
    "bogus": _junk,
})
_group = st.fixed_dictionaries({}, optional={
    "hosts": st.one_of(st.lists(_node_name, max_size=3), _junk),
    "children": st.one_of(st.lists(_group_name, max_size=3), _junk),
    "vars": _vars,
})
_phase = st.fixed_dictionaries({}, optional={
    "name": _maybe(st.sampled_from(["common", "deploy", "Bad Name"])),
    "playbook": _maybe(st.sampled_from(["site.yml", "a\nb.yml"])),
    "playbooks": _maybe(st.lists(st.sampled_from(["a.yml", "b.yml"]), max_size=2)),
    "hosts": _maybe(st.sampled_from(["all", "web:&db", "a b"])),
    "when": _maybe(st.sampled_from(["p >= 1.0", "q == 3", "zz < 1", "p >", "release >= 3.9"])),
    "vars": _vars,
    "source": _maybe(st.fixed_dictionaries({"git": _maybe(st.just("https://x/y.git")), "ref": _maybe(st.just("v1"))})),
})
_check = st.fixed_dictionaries({}, optional={
    "name": _maybe(st.text(max_size=8)),
    "node": _maybe(_node_name),
    "port": _maybe(st.integers(-1, 70000)),
    "command": _maybe(st.text(max_size=8)),
    "expect": _maybe(st.text(max_size=8)),
})
_provider_block = st.fixed_dictionaries({}, optional={
    "extra": st.one_of(st.dictionaries(_var_name, _scalar, max_size=3), _junk),
    "privileged": _junk, "gui": _junk, "driver": _maybe(st.sampled_from(["kvm", "qemu", "xen"])),
    "storage_pool": _maybe(st.sampled_from(["default", "a b"])),
})
_spec = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["t", "lab-1", "Bad", "-x", "a" * 64]), _junk)},
    optional={
        "description": _maybe(st.text(max_size=20)),
        "provider": st.one_of(st.sampled_from([*PROVIDERS, "vmware", ""]), _junk),
        "providers": _maybe(st.fixed_dictionaries({}, optional={p: _maybe(_provider_block) for p in ("docker", "libvirt", "virtualbox", "vmware")})),
        "defaults": _maybe(_node),
        "params": _maybe(st.dictionaries(st.sampled_from(["p", "q", "release", "x.y", "1"]), _scalar, max_size=3)),
        "networks": _maybe(st.dictionaries(_net_name, _maybe(st.fixed_dictionaries({"cidr": _cidr}, optional={"start": _maybe(st.integers(-1, 300))})), max_size=2)),
        "nodes": _maybe(st.dictionaries(_node_name, st.one_of(st.none(), _node, _junk), max_size=4)),
        "groups": _maybe(st.dictionaries(_group_name, st.one_of(st.none(), _group, _junk), max_size=3)),
        "inventory": _maybe(st.fixed_dictionaries({}, optional={"format": _maybe(st.sampled_from(["yaml", "ini", "json"])), "vars": _vars})),
        "secrets": _maybe(st.dictionaries(_ident, _maybe(st.fixed_dictionaries({"kind": _maybe(st.sampled_from(["password", "htpasswd"]))}, optional={"user": _maybe(st.just("demo")), "password": _maybe(st.just("pw"))})), max_size=2)),
        "phases": _maybe(st.lists(_maybe(_phase), max_size=3)),
        "checks": _maybe(st.lists(_maybe(_check), max_size=3)),
        "extends": st.one_of(st.sampled_from(["smoke", "no-such-lab", "/", "../x.yaml"]), _junk),
        "bogus": _junk,
    },
)


def _dump(data) -> str:
    """The spec as YAML that reads back as `data`: PyYAML's pure-Python emitter writes U+0085 raw
    inside single quotes with allow_unicode, where YAML folds it to a space; libyaml's escapes it."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True, sort_keys=False)


def _rarely(draw, valid, junk=_junk, one_in: int = 15):
    """Draw from `valid`, or now and then from `junk`: most specs stay valid, every field sometimes is not."""
    # 0 (what hypothesis draws and shrinks to most) means valid; junk is one value out of `one_in`
    return draw(junk) if draw(st.integers(0, one_in - 1)) == one_in // 2 else draw(valid)


_word = st.from_regex(r"[a-z]{1,4}", fullmatch=True)
_valid_node_key = st.one_of(
    st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?", fullmatch=True),
    st.builds(lambda p, lo, n: f"{p}-[{lo}:{lo + n}]", _word, st.integers(0, 3), st.integers(0, 3)),
    st.builds(lambda p, n: f"{p}-[01:{n:02d}]", _word, st.integers(1, 12)),
)
_safe_scalar = st.one_of(st.booleans(), st.integers(-1000, 10**12), st.text(max_size=10),
                         st.floats(allow_nan=False, allow_infinity=False))


def _names(key: str) -> list[str]:
    from labctl.spec.expand import expand_name  # only to name the hosts a range makes

    try:
        return expand_name(key)
    except ValueError:
        return [key]


@st.composite
def close_specs(draw):
    """Coherent specs (groups, hosts, checks refer to what exists) with a junk value here and there."""
    groups = draw(st.lists(_ident, max_size=3, unique=True))
    keys = draw(st.lists(_valid_node_key, min_size=1, max_size=4, unique=True))
    hosts = [name for key in keys for name in _names(key)]
    var_map = st.dictionaries(_ident, _json, max_size=3)
    nodes = {}
    for key in keys:
        node = {}
        for field_name, valid in [
            ("groups", st.lists(st.sampled_from(groups), max_size=2) if groups else st.just([])),
            ("cpus", st.integers(1, 8)), ("memory", st.integers(128, 8192)), ("vars", var_map),
            ("networks", st.fixed_dictionaries({"lab": st.one_of(st.just("auto"), st.integers(20, 250).map(lambda i: f"10.77.0.{i}"))})),
            ("box", st.sampled_from(["centos/7", "labctl/debian12"])), ("image", st.sampled_from(["labctl/debian12:latest"])),
            ("synced_folder", st.booleans()),
        ]:
            if draw(st.integers(0, 3)) == 0:
                node[field_name] = _rarely(draw, valid)
        nodes[key] = node or None
    spec: dict = {
        "name": _rarely(draw, st.sampled_from(["t", "lab-1", "x9"])),
        "networks": {"lab": {"cidr": _rarely(draw, st.sampled_from(["10.77.0.0/16", "10.77.0.0/24"])),
                             "start": _rarely(draw, st.integers(1, 20))}},
        "nodes": nodes,
    }
    if draw(st.booleans()):
        spec["provider"] = _rarely(draw, st.sampled_from(["docker", "libvirt", "virtualbox"]))
    if draw(st.booleans()):
        spec["description"] = _rarely(draw, st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20))
    if draw(st.booleans()):
        spec["defaults"] = {"cpus": _rarely(draw, st.integers(1, 4)), "vars": _rarely(draw, var_map)}
    params = draw(st.dictionaries(st.sampled_from(["p", "q", "release"]), _safe_scalar, max_size=2))
    if params:
        spec["params"] = params
    spec["groups"] = {}
    for name in groups:
        group = {}
        if draw(st.booleans()):
            group["vars"] = _rarely(draw, var_map)
        if draw(st.integers(0, 3)) == 0:
            group["hosts"] = _rarely(draw, st.lists(st.sampled_from(hosts), max_size=2))
        others = [g for g in groups if g != name]
        if others and draw(st.integers(0, 3)) == 0:
            group["children"] = _rarely(draw, st.lists(st.sampled_from(others), max_size=1))
        spec["groups"][name] = group
    if draw(st.booleans()):
        fmt = _rarely(draw, st.sampled_from(["ini", "yaml"]))
        spec["inventory"] = {"format": fmt, "vars": _rarely(draw, var_map)}
    if draw(st.integers(0, 3)) == 0:
        spec["secrets"] = {"s": {"kind": _rarely(draw, st.sampled_from(["password", "htpasswd"])), "password": "pw"}}
        if groups:
            spec["groups"][groups[0]] = {"vars": {"pw": "${secret.s}"}}
    if draw(st.integers(0, 2)) == 0:
        spec["providers"] = {"docker": {"extra": _rarely(draw, st.dictionaries(_ident, _safe_scalar, max_size=2)),
                                        "privileged": _rarely(draw, st.booleans())}}
    if draw(st.integers(0, 2)) == 0:
        when = st.sampled_from([f"{p} >= 1" for p in params] or ["nothing == 1"])
        spec["phases"] = [
            {"name": f"ph{i}", "playbook": "site.yml", **({"when": _rarely(draw, when)} if params and draw(st.booleans()) else {})}
            for i in range(draw(st.integers(1, 2)))
        ]
    if draw(st.integers(0, 2)) == 0:
        spec["checks"] = [
            {"node": _rarely(draw, st.sampled_from(hosts)), **({"port": _rarely(draw, st.integers(1, 65535))}
                                                              if draw(st.booleans()) else {"command": "true"})}
        ]
    return spec


# ------------------------------------------------------------------ properties

@FUZZ
@given(text=st.text())
def test_any_text(workdir, text):
    load_and_render(workdir, text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_any_bytes(workdir, data):
    load_and_render(workdir, data)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("{}[]:,-?&*!|>'\"%@` \n\t#abc01.<=")), max_size=60))
def test_yaml_punctuation_soup(workdir, text):
    load_and_render(workdir, text)


@FUZZ
@given(data=_json)
def test_any_yaml_structure(workdir, data):
    load_and_render(workdir, _dump(data))


@FUZZ
@given(data=st.dictionaries(st.sampled_from(["name", "nodes", "groups", "networks", "phases", "checks", "params",
                                             "defaults", "inventory", "secrets", "providers", "provider"]), _json, max_size=6))
def test_real_keys_random_values(workdir, data):
    load_and_render(workdir, _dump(data))


@FUZZ
@given(data=_spec)
def test_structures_close_to_the_schema(workdir, data):
    load_and_render(workdir, _dump(data))


@FUZZ
@given(data=close_specs())
def test_mostly_valid_specs(workdir, data):
    load_and_render(workdir, _dump(data))


_user_config = st.one_of(
    st.fixed_dictionaries({}, optional={
        "provider": st.one_of(st.sampled_from([*PROVIDERS, "vmware"]), _junk),
        "defaults": st.one_of(_node, _junk),
        "params": st.one_of(st.dictionaries(st.sampled_from(["p", "q", "new"]), _scalar, max_size=2), _junk),
        "providers": st.one_of(st.fixed_dictionaries({}, optional={"docker": _provider_block}), _junk),
        "nodes": _junk,  # not allowed in a user config
    }),
    _json,
)


@FUZZ
@given(config=_user_config, spec=close_specs())
def test_user_config_under_any_spec(workdir, config, spec):
    user = _write(workdir, _dump(config))
    load_and_render(workdir, _dump(spec), user_config=user)


@FUZZ
@given(parent=close_specs(), child=close_specs(), keep=st.sets(st.sampled_from(["name", "nodes", "groups", "networks", "phases", "checks", "params", "inventory"])),
       drop=st.lists(st.sampled_from(["groups", "phases", "checks", "nodes"]), max_size=2))
def test_extends_chains(workdir, parent, child, keep, drop):
    """A child spec extending a parent (by path, or the built-in smoke lab): merged, then validated."""
    parent_path = _write(workdir, _dump(parent))
    override = {k: v for k, v in child.items() if k in keep}
    for key in drop:  # null removes a key of the parent
        override[key] = None
    override["extends"] = parent_path.name if len(keep) % 2 else "smoke"
    load_and_render(workdir, _dump(override))


_edit = st.tuples(st.integers(0, len(MINIMAL)), st.sampled_from(["insert", "delete", "replace"]),
                  st.one_of(st.sampled_from(list("{}[]:,-'\"&*!|>#\n \t$")), st.characters()))


@FUZZ
@given(edits=st.lists(_edit, min_size=1, max_size=4))
def test_mutated_valid_spec(workdir, edits):
    text = MINIMAL
    for pos, op, char in edits:
        pos = min(pos, len(text))
        if op == "insert":
            text = text[:pos] + char + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1:]
        else:
            text = text[:pos] + char + text[pos + 1:]
    load_and_render(workdir, text)


_set_key = st.one_of(
    st.sampled_from([
        "p", "q", "name", "provider", "description", "nodes", "nodes.n-1", "nodes.n-1.cpus", "nodes.n-1.memory",
        "nodes.n-[1:2].cpus", "nodes.n-3.box", "groups.g.vars.x", "groups.g.vars.s", "groups.g", "groups.g.hosts",
        "groups.g.children", "networks.lab.cidr", "networks.lab.start", "inventory.format", "inventory.vars.a",
        "phases", "checks", "params.p", "params.new", "defaults.cpus", "providers.docker.extra.a", "a..b", ".", "",
    ]),
    st.text(max_size=12),
)
_set_value = st.one_of(
    st.sampled_from(["1", "0", "true", "null", "~", "", "[1, 2]", "{a: 1}", "3.10", ".nan", "-.inf", "'q'", "a: b", "&a x", "*a", "!!binary aGk="]),
    st.text(max_size=12),
)
_set_item = st.integers(0, 9).flatmap(
    lambda r: st.text(max_size=15) if r == 0 else st.builds(lambda k, v: f"{k}={v}", _set_key, _set_value))


@FUZZ
@given(sets=st.lists(_set_item, max_size=3), provider=st.one_of(st.none(), st.sampled_from([*PROVIDERS, "vmware", ""]), st.text(max_size=5)))
def test_set_strings(workdir, sets, provider):
    load_and_render(workdir, MINIMAL, sets=sets, provider=provider, allowed=(SpecError, UsageError))


# ------------------------------------------------------------------ adversarial inputs

def _load_expecting_specerror(workdir: Path, content, *, within: float = 10.0, **kw) -> SpecError:
    started = time.monotonic()
    with pytest.raises(SpecError) as info:
        load_lab(str(_write(workdir, content)), env={}, **kw)
    assert time.monotonic() - started < within, "took too long"
    return info.value


def _text(error: SpecError) -> str:
    return error.render()


def test_billion_laughs_is_refused_quickly(workdir):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    error = _load_expecting_specerror(workdir, MINIMAL + "\n".join(lines) + "\n")
    assert "too deeply nested or too large" in _text(error)


def test_alias_bomb_through_merge_keys_is_refused_quickly(workdir):
    lines = ["x0: &a0 {k0: 1, k1: 2}"] + [f"x{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i + 1}: {i}}}" for i in range(1, 40)]
    error = _load_expecting_specerror(workdir, MINIMAL + "\n".join(lines) + "\n")
    assert "x0" in _text(error) or "too large" in _text(error)


@pytest.mark.parametrize("style", ["flow-list", "flow-map", "block-list"])
def test_deeply_nested_document_is_refused(workdir, style):
    depth = 10_000
    if style == "flow-list":
        body = "x: " + "[" * depth + "]" * depth + "\n"
    elif style == "flow-map":
        body = "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    else:  # block style nests by indentation; libyaml's own limit is not the one hit first
        body = "x:\n" + "".join(" " * (i + 1) + "-\n" for i in range(200))
    error = _load_expecting_specerror(workdir, MINIMAL + body)
    assert "nest" in _text(error)


def test_nesting_just_past_the_limit_is_refused_by_labctl(workdir):
    body = "groups:\n  g:\n    vars:\n      deep: " + "[" * 70 + "]" * 70 + "\n"
    error = _load_expecting_specerror(workdir, MINIMAL.replace("groups:\n  g: {vars: {x: 1, s: text}}\n", "") + body)
    assert "too deeply nested" in _text(error)


@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:os.system ["touch {marker}"]',
    "!!python/name:os.system",
    "!!python/module:os",
    '!!python/object:__main__.X {{a: 1}}',
    "!!python/tuple [1, 2]",
    "!!set {{a: null}}",
    "!custom x",
    "!<tag:example.com,2000:x> y",
])
def test_object_building_tags_are_refused(workdir, tag):
    marker = workdir / f"pwned-{next(_counter)}"
    body = f"groups:\n  g:\n    vars:\n      x: {tag.format(marker=marker)}\n"
    error = _load_expecting_specerror(workdir, MINIMAL.replace("groups:\n  g: {vars: {x: 1, s: text}}\n", "") + body)
    text = _text(error)
    # refused by name, or (a scalar under the !! prefix with no safe constructor) as invalid YAML at its line
    assert ("groups.g.vars.x" in text and "is not allowed" in text) or re.search(
        r"spec-\d+\.yaml:10:10: invalid YAML: could not determine a constructor", text)
    assert not marker.exists()


def test_python_tag_as_a_key_is_refused(workdir):
    marker = workdir / "pwned-key"
    error = _load_expecting_specerror(workdir, MINIMAL + f'? !!python/object/apply:os.system ["touch {marker}"]\n: 1\n')
    assert "<top>: keys must be plain strings" in _text(error) or "not allowed" in _text(error)
    assert not marker.exists()


def test_binary_is_refused(workdir):
    error = _load_expecting_specerror(workdir, MINIMAL + "description: !!binary aGVsbG8=\n")
    assert "description" in _text(error) and "binary" in _text(error)


@pytest.mark.parametrize(("extra", "path"), [
    ("name: u\n", "name"),
    ("nodes:\n  z: {}\n", "nodes"),
    ("groups:\n  g: {vars: {x: 1, x: 2}}\n", None),
])
def test_duplicate_keys_are_refused(workdir, extra, path):
    if path is None:  # a duplicate inside a nested mapping
        content = MINIMAL.replace("groups:\n  g: {vars: {x: 1, s: text}}\n", extra)
        path = "groups.g.vars.x"
    else:
        content = MINIMAL + extra
    error = _load_expecting_specerror(workdir, content)
    assert f"{path}: duplicate key" in _text(error)


def test_merge_key_can_be_overridden(workdir):
    content = MINIMAL.replace(
        "groups:\n  g: {vars: {x: 1, s: text}}\n",
        "groups:\n  base: &base {vars: {x: 1}}\n  g:\n    <<: *base\n    vars: {x: 2}\n",
    )
    lab = load_or_specerror(workdir, content)
    assert lab is not None and lab.spec.groups["g"].vars == {"x": 2}


def test_ten_megabyte_string(workdir):
    big = "a" * 10_000_000
    started = time.monotonic()
    lab = load_or_specerror(workdir, MINIMAL + f"description: {big}\n")
    assert lab is not None and lab.spec.description == big
    lab = load_or_specerror(workdir, MINIMAL.replace("s: text", f"s: {big}"))
    assert lab is not None and lab.spec.groups["g"].vars["s"] == big
    render_twice(workdir, lab)
    assert time.monotonic() - started < 60


def test_ten_megabyte_key(workdir):
    long_key = "k" * 10_000_000 + "-"  # not a variable name
    content = MINIMAL.replace("groups:\n  g: {vars: {x: 1, s: text}}\n", f"groups:\n  g:\n    vars:\n      ? {long_key}\n      : 1\n")
    error = _load_expecting_specerror(workdir, content, within=30)
    assert "is not a valid variable name" in _text(error)


def test_ten_megabyte_plain_key_in_flow_mapping(workdir):
    error = _load_expecting_specerror(workdir, MINIMAL.replace("x: 1", f"{'k' * 10_000_000}: 1"), within=30)
    assert "invalid YAML" in _text(error)  # libyaml refuses simple keys longer than 1024 characters


@pytest.mark.parametrize("key", ["n-[1:99999999]", "n-[0:10000]", "n-[99999999999999999999:1]", "n-[5:1]"])
def test_huge_or_backward_range_is_refused(workdir, key):
    error = _load_expecting_specerror(workdir, MINIMAL.replace("n-[1:2]", key))
    assert f"nodes.{key}: bad node range" in _text(error)


def test_a_range_of_hundreds_loads_and_renders(workdir):
    lab = load_or_specerror(workdir, MINIMAL.replace("n-[1:2]", "n-[001:300]").replace("192.168.56.0/24", "10.0.0.0/16"))
    assert lab is not None and len(lab.nodes) == 300 and lab.nodes[-1].name == "n-300"
    render_twice(workdir, lab)


def test_largest_range_loads_in_seconds(workdir):
    content = MINIMAL.replace("n-[1:2]", "n-[1:10000]").replace("192.168.56.0/24", "10.0.0.0/16")
    path = _write(workdir, content)
    script = (
        "import sys\n"
        "from labctl.spec.load import load_lab\n"
        "lab, _ = load_lab(sys.argv[1], env={})\n"
        "print(len(lab.nodes), lab.nodes[-1].name)\n"
    )
    # a child process: the clock can stop it, which a signal in this process cannot do reliably
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=8,
                          env={**os.environ, "LABCTL_HOME": str(workdir / "home")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10000", "n-10000"]


@pytest.mark.parametrize("data", [
    b"\xff\xfe" + "name: t\n".encode("utf-16-le"),
    MINIMAL.encode() + b"description: caf\xe9\n",
    MINIMAL.encode() + b"description: \xc3\x28\n",
    MINIMAL.encode() + b"description: \xed\xa0\x80\n",  # an encoded surrogate
], ids=["utf16", "latin1", "bad-continuation", "surrogate"])
def test_non_utf8_bytes_are_refused(workdir, data):
    error = _load_expecting_specerror(workdir, data)
    assert "cannot read" in _text(error)


@pytest.mark.parametrize("data", [
    MINIMAL.encode() + b"description: a\x00b\n",
    MINIMAL.encode() + b"description: a\x07b\n",
    b"\x00",
], ids=["nul", "bell", "only-nul"])
def test_raw_control_bytes_are_refused(workdir, data):
    error = _load_expecting_specerror(workdir, data)
    assert "invalid YAML" in _text(error)


def test_utf8_bom_is_accepted(workdir):
    lab = load_or_specerror(workdir, "\ufeff" + MINIMAL)
    assert lab is not None and lab.name == "t"


@pytest.mark.parametrize("sets", [["="], [""], ["noequals"], ["=value"]])
def test_malformed_set_is_a_usage_error(workdir, sets):
    with pytest.raises(UsageError) as info:
        load_lab(str(_write(workdir, MINIMAL)), sets=sets, env={})
    assert "KEY=VALUE" in info.value.render()


# ------------------------------------------------------------------ crashes found by fuzzing

@pytest.mark.parametrize("field", ["hosts", "children"])
@pytest.mark.parametrize("value", ["5", "true", "1.5"])
def test_group_hosts_or_children_scalar(workdir, field, value):
    content = MINIMAL.replace("g: {vars: {x: 1, s: text}}", f"g: {{{field}: {value}}}")
    try:
        load_lab(str(_write(workdir, content)), env={})
    except SpecError as exc:
        assert f"groups.g.{field}" in exc.render()
    except TypeError as exc:
        raise AssertionError(f"crash: {exc!r}") from exc
    else:
        raise AssertionError("accepted")


@pytest.mark.parametrize("name", ["[a]", "{a: 1}"])
def test_phase_name_unhashable(workdir, name):
    content = MINIMAL + f"phases:\n  - {{name: {name}, playbook: site.yml}}\n"
    try:
        load_lab(str(_write(workdir, content)), env={})
    except SpecError as exc:
        assert "phases[0].name" in exc.render()
    except TypeError as exc:
        raise AssertionError(f"crash: {exc!r}") from exc
    else:
        raise AssertionError("accepted")


@pytest.mark.parametrize("value", ["5", "[smoke]", "{a: 1}", "true"])
def test_non_string_extends_is_refused(workdir, value):
    error = _load_expecting_specerror(workdir, MINIMAL + f"extends: {value}\n")
    assert "extends" in _text(error)


def _crash_free(workdir: Path, content: str, sets=()) -> None:
    """SpecError naming groups.g.vars.x, or a lab that renders (or is refused by a LabctlError)."""
    try:
        lab, _ = load_lab(str(_write(workdir, content)), sets=sets, env={})
    except SpecError as exc:
        assert "groups.g.vars.x" in exc.render()
        return
    except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
        raise AssertionError(f"load_lab crashed: {exc!r}") from exc
    try:
        render_lab(lab, workdir / f"out-{next(_counter)}")
    except LabctlError:
        pass
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"render_lab crashed: {exc!r}") from exc


_BIG = "1" * 5000  # Python refuses str<->int conversion past 4300 decimal digits (sys.get_int_max_str_digits)


@pytest.mark.parametrize("how", ["in-spec", "set", "underscored"])
def test_integer_too_long_to_convert_is_refused(workdir, how):
    if how == "set":
        _crash_free(workdir, MINIMAL, sets=[f"groups.g.vars.x={_BIG}"])
    else:
        _crash_free(workdir, MINIMAL.replace("x: 1", f"x: {_BIG if how == 'in-spec' else '1_' + _BIG}"))


@pytest.mark.parametrize("literal", ["0x" + "f" * 5000, "0b" + "1" * 20000], ids=["hex", "binary"])
@pytest.mark.parametrize("fmt", ["yaml", "ini"])
def test_integer_too_long_to_print_is_refused_or_rendered(workdir, literal, fmt):
    _crash_free(workdir, MINIMAL.replace("x: 1", f"x: {literal}") + f"inventory: {{format: {fmt}}}\n")


# ------------------------------------------------------------------ valid specs: every one must load and round-trip

_ident = st.from_regex(r"\A[a-z][a-z0-9_]{0,7}\Z", fullmatch=True).filter(lambda s: s not in ("all", "ungrouped"))
_safe_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="$\\{}%"), max_size=12)
_var_value = st.one_of(_safe_text, st.integers(-10**6, 10**6), st.booleans(), st.lists(st.one_of(_safe_text, st.integers(0, 99)), max_size=3))


@st.composite
def valid_specs(draw):
    """Specs that are valid by construction, with what Ansible must read back from their inventory."""
    prefixes = draw(st.lists(st.from_regex(r"\A[a-z][a-z0-9]{0,5}\Z", fullmatch=True), min_size=1, max_size=3, unique=True))
    groups = draw(st.lists(_ident.filter(lambda g: g not in prefixes), max_size=3, unique=True))  # a node's name is no group's
    nodes, expected = {}, {}
    for prefix in prefixes:
        count = draw(st.integers(1, 3))
        key = f"{prefix}-[1:{count}]" if count > 1 else prefix
        node_vars = draw(st.dictionaries(_ident, _var_value, max_size=3))
        member = draw(st.lists(st.sampled_from(groups), unique=True)) if groups else []
        nodes[key] = {"groups": member, "vars": node_vars}
        for i in range(1, count + 1):
            expected[f"{prefix}-{i}" if count > 1 else prefix] = (member, node_vars)
    group_vars = {g: draw(st.dictionaries(_ident, _var_value, max_size=2)) for g in groups}
    spec = {"name": "valid", "provider": draw(st.sampled_from(["docker", "libvirt", "virtualbox"])),
            "networks": {"lab": {"cidr": "10.40.0.0/16"}}, "nodes": nodes,
            "groups": {g: {"vars": v} for g, v in group_vars.items()},
            "inventory": {"format": draw(st.sampled_from(["yaml", "ini"]))}}
    return spec, expected, group_vars


def _hostvars(labdir: Path) -> dict:
    import subprocess
    import sys as _sys

    tool = Path(_sys.executable).parent / "ansible-inventory"
    out = subprocess.run([str(tool), "-i", str(labdir / "inventory"), "--list"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["_meta"]["hostvars"]


@settings(FUZZ, max_examples=int(os.environ.get("LABCTL_FUZZ_VALID_EXAMPLES", "25")))
@given(case=valid_specs())
def test_valid_specs_load_render_and_round_trip_through_ansible_inventory(workdir, case):
    """The oracle is the generated data itself: every host, with its own vars over its groups' vars."""
    spec, expected, group_vars = case
    lab, _ = load_lab(str(_write(workdir, _dump(spec))))
    labdir = render_lab(lab, workdir / "valid").directory
    assert render_lab(replace(lab, spec=view.of(lab.spec)), labdir).changed == ()  # `labctl render`'s cached view
    hostvars = _hostvars(labdir)
    assert set(hostvars) == set(expected)
    for host, (member, own) in expected.items():
        wanted = {}
        for group in member:
            wanted.update(group_vars[group])
        wanted.update(own)
        got = {k: v for k, v in hostvars[host].items() if k in wanted}
        assert got == wanted, (host, spec["inventory"]["format"])
        assert hostvars[host]["labctl_address"].startswith("10.40.")

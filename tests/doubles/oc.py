#!/usr/bin/env python3
"""A TEST DOUBLE of OpenShift 3.x's `oc` client, for the WordPress demo phase (no cluster runs here).

It keeps the cluster's objects in a JSON file (OC_DOUBLE_STATE) and behaves as `oc` 3.11 does
for the commands the demo uses, including its refusals: creating an object that exists fails
with `Error from server (AlreadyExists)` (rc 1), reading a missing one with
`Error from server (NotFound)` (rc 1), and names must be DNS-1123 labels. Every object created is
appended to the state's `created` list, so a test can tell what a run created.

    oc get project/NAME | KIND/NAME -n P [-o name]
    oc new-project NAME
    oc new-app mysql-ephemeral -n P             # secret, service, dc "mysql" (the template's objects)
    oc new-app php~GIT_URL [--name N] -n P      # imagestream, buildconfig, dc, service (N: repo name)
    oc expose svc/NAME -n P                     # route NAME, host NAME-P.OC_DOUBLE_SUBDOMAIN
    oc adm policy add-role-to-user ROLE USER -n P
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KINDS = {"dc": "deploymentconfig", "svc": "service", "route": "route", "is": "imagestream", "bc": "buildconfig",
         "secret": "secret", "project": "project"}
RESOURCE = {"project": "project.project.openshift.io", "route": "routes.route.openshift.io",
            "deploymentconfig": "deploymentconfigs.apps.openshift.io", "service": "services", "secret": "secrets",
            "imagestream": "imagestreams.image.openshift.io", "buildconfig": "buildconfigs.build.openshift.io"}
TEMPLATES = {"mysql-ephemeral": [("secret", "mysql"), ("service", "mysql"), ("deploymentconfig", "mysql")]}


class OcError(Exception):
    pass


def _path() -> Path:
    return Path(os.environ.get("OC_DOUBLE_STATE", "oc-double.json"))


def load() -> dict:
    path = _path()
    return json.loads(path.read_text()) if path.is_file() else {"projects": {}, "created": [], "roles": []}


def save(state: dict) -> None:
    tmp = _path().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(_path())


def _flag(args: list[str], name: str, default: str | None = None) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else default


def _project(state: dict, args: list[str]) -> dict:
    name = _flag(args, "-n", state.get("current", "default"))
    if name not in state["projects"]:
        raise OcError(f'Error from server (NotFound): namespaces "{name}" not found')
    return state["projects"][name]


def _create(state: dict, project: str, kind: str, name: str, extra: dict | None = None) -> None:
    if not DNS1123.match(name) or len(name) > 63:
        raise OcError(f'The {kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": a DNS-1123 label')
    objects = state["projects"][project]
    if f"{kind}/{name}" in objects:
        raise OcError(f'Error from server (AlreadyExists): {RESOURCE[kind]} "{name}" already exists')
    objects[f"{kind}/{name}"] = extra or {}
    state["created"].append(f"{project}:{kind}/{name}")
    print(f'{kind} "{name}" created')


def cmd_get(state: dict, args: list[str]) -> None:
    kind, _, name = args[0].partition("/")
    kind = KINDS.get(kind, kind)
    if kind == "project":
        if name not in state["projects"]:
            raise OcError(f'Error from server (NotFound): {RESOURCE["project"]} "{name}" not found')
    elif f"{kind}/{name}" not in _project(state, args):
        raise OcError(f'Error from server (NotFound): {RESOURCE.get(kind, kind)} "{name}" not found')
    print(f"{kind}/{name}")


def cmd_new_project(state: dict, args: list[str]) -> None:
    name = args[0]
    if not DNS1123.match(name):
        raise OcError(f'The ProjectRequest "{name}" is invalid: metadata.name: Invalid value: "{name}"')
    if name in state["projects"]:
        raise OcError(f'Error from server (AlreadyExists): project.project.openshift.io "{name}" already exists')
    state["projects"][name] = {}
    state["created"].append(f"project/{name}")
    state["current"] = name
    print(f'Now using project "{name}" on server "https://double:8443".')


def cmd_new_app(state: dict, args: list[str]) -> None:
    project = _flag(args, "-n", state.get("current", "default"))
    _project(state, args)
    source = args[0]
    if source in TEMPLATES:
        objects = TEMPLATES[source]
    elif source.startswith("php~"):
        name = _flag(args, "--name") or Path(source[4:]).name.removesuffix(".git").lower()
        objects = [("imagestream", name), ("buildconfig", name), ("deploymentconfig", name), ("service", name)]
    else:
        raise OcError(f'error: no match for "{source}"')
    failed = []
    for kind, name in objects:  # as oc does: create what it can, report each refusal, then fail
        try:
            _create(state, project, kind, name)
        except OcError as exc:
            failed.append(str(exc).replace("Error from server (AlreadyExists): ", "error: "))
    if failed:
        raise OcError("\n".join(failed))


def cmd_expose(state: dict, args: list[str]) -> None:
    project = _flag(args, "-n", state.get("current", "default"))
    kind, _, name = args[0].partition("/")
    if f"service/{name}" not in _project(state, args):
        raise OcError(f'Error from server (NotFound): services "{name}" not found')
    host = f"{name}-{project}.{os.environ.get('OC_DOUBLE_SUBDOMAIN', 'apps.example.com')}"
    _create(state, project, "route", name, {"host": host})


def cmd_adm(state: dict, args: list[str]) -> None:
    if args[:2] != ["policy", "add-role-to-user"] or len(args) < 4:
        raise OcError(f"error: unknown command {' '.join(args)!r} (double)")
    project = _flag(args, "-n", state.get("current", "default"))
    _project(state, args)
    entry = f"{project}:{args[2]}:{args[3]}"
    if entry not in state["roles"]:  # oc adds a binding once and says the same on every call
        state["roles"].append(entry)
    print(f'role "{args[2]}" added: "{args[3]}"')


COMMANDS = {"get": cmd_get, "new-project": cmd_new_project, "new-app": cmd_new_app, "expose": cmd_expose, "adm": cmd_adm}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[:1]} for the oc double", file=sys.stderr)
        return 1
    state = load()
    try:
        COMMANDS[argv[0]](state, argv[1:])
    except OcError as exc:
        save(state)
        print(exc, file=sys.stderr)
        return 1
    save(state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

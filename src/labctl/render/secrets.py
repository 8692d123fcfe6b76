"""Secrets a spec asks for: kept in DIR/.labctl/secrets.json (0600), stable across renders.

`${secret.NAME}` in any var is replaced at render time, so `labctl show` never sees a secret; the
files it lands in are written 0600. Kinds:
- `password`: the value (given, from the environment or a file, else generated once per lab);
- `htpasswd`: an apr1 hash of the password (the password is stored too, for `labctl secret`);
- `ssh_key`: an ed25519 key pair; `${secret.NAME}` is the private key's path, `${secret.NAME.public}` the public line.
A value taken from the environment or a file is read on every render and never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labctl.errors import LabctlError, SpecError
from labctl.fsutil import write_atomic
from labctl.render.apr1 import apr1

if TYPE_CHECKING:
    from labctl.spec.model import SecretSpec

_REF = re.compile(r"\$\{secret\.([A-Za-z_][A-Za-z0-9_]*(?:\.public)?)\}")
SECRETS_FILE = Path(".labctl") / "secrets.json"
KEYS_DIR = Path(".labctl") / "keys"


class SecretMissing(LabctlError):
    """A secret the user must supply (generate: false) has no value."""


@dataclass(frozen=True)
class Values:
    refs: dict[str, str]       # what `${secret.REF}` becomes
    passwords: dict[str, str]  # NAME -> what a person types (`labctl secret`, http check auth)


def materialize(specs: Mapping[str, SecretSpec], outdir: Path, env: Mapping[str, str] | None = None) -> Values:
    """Every secret's value, creating and storing any generated one not yet stored."""
    env = os.environ if env is None else env
    path = outdir / SECRETS_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    refs: dict[str, str] = {}
    passwords: dict[str, str] = {}
    for name, spec in specs.items():
        supplied = _supplied(spec, env)
        if supplied is not None and spec.kind == "password":  # the user's own value: never stored
            refs[name] = passwords[name] = supplied
            stored.pop(name, None)
            continue
        entry = _entry(name, spec, supplied, stored.get(name), outdir)
        stored[name] = {k: v for k, v in entry.items() if not (supplied is not None and k == "password")}
        passwords[name] = supplied if supplied is not None else entry["password"]
        refs[name] = entry["value"]
        if spec.kind == "ssh_key":
            refs[f"{name}.public"] = entry["public"]
    if stored:
        write_atomic(path, json.dumps(stored, indent=1, sort_keys=True) + "\n", mode=0o600)
    return Values(refs, passwords)


def _supplied(spec: SecretSpec, env: Mapping[str, str]) -> str | None:
    if spec.from_env and env.get(spec.from_env):
        return env[spec.from_env]
    if spec.from_file:
        try:
            return Path(spec.from_file).expanduser().read_text().rstrip("\n")
        except OSError as exc:
            raise LabctlError(f"cannot read the secret file {spec.from_file}: {exc.strerror}", "fix the path or its permissions") from None
    return None


def _entry(name: str, spec: SecretSpec, supplied: str | None, entry: dict | None, outdir: Path) -> dict:
    """The stored entry when it still fits the spec (and the supplied value), else a new one."""
    fingerprint = _fingerprint(spec, supplied)
    if entry and entry.get("spec") == fingerprint and (spec.kind != "ssh_key" or Path(entry["value"]).is_file()):
        return {**entry, "password": supplied if supplied is not None else entry.get("password", entry["value"])}
    if supplied is None and spec.password is None and not spec.generate:
        raise SecretMissing(f"secret {name} has no value", _how_to_supply(spec))
    if spec.kind == "ssh_key":
        return {"spec": fingerprint, **_key_pair(outdir / KEYS_DIR / name)}
    password = supplied if supplied is not None else spec.password if spec.password is not None else _random.token_urlsafe(18)
    return {"spec": fingerprint, "value": _hash(spec, password), "password": password}


def _fingerprint(spec: SecretSpec, supplied: str | None) -> str:
    given = spec.password if supplied is None else supplied
    digest = hashlib.sha256(given.encode()).hexdigest()[:16] if given is not None else ""
    return f"{spec.kind}:{spec.user}:{digest}"


def _hash(spec: SecretSpec, password: str) -> str:
    if spec.kind == "password":
        return password
    return apr1(password)


def _how_to_supply(spec: SecretSpec) -> str:
    ways = [f"set {spec.from_env}" if spec.from_env else "", "name a file in from_file" if spec.from_file is not None else ""]
    return " or ".join(w for w in ways if w) or "give it `password:` or let labctl generate it"


def _key_pair(path: Path) -> dict:
    """A new ed25519 key pair: the private key in `path` (0600), the public line returned."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, private.decode(), mode=0o600)
    return {"value": str(path.resolve()), "public": f"{public} labctl", "password": str(path.resolve())}


def fill(value, values: Values, source: str):
    """Replace `${secret.NAME}` inside strings of `value`, recursively."""
    if isinstance(value, dict):
        return {k: fill(v, values, source) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values, source) for v in value]
    if isinstance(value, str) and "${secret." in value:
        return _REF.sub(lambda m: _lookup(m[1], values.refs, source), value)
    return value


def _lookup(name: str, refs: dict[str, str], source: str) -> str:
    if name not in refs:
        raise SpecError(source, [f"{source}: unknown secret '{name}' (declare it under secrets:)"])
    return refs[name]


def contains_secret(value) -> bool:
    """Whether a spec value refers to a secret (its rendered file must then be 0600)."""
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return isinstance(value, str) and "${secret." in value

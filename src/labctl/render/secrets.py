"""Secrets a spec asks for: kept in DIR/.labctl/secrets.json (0600), stable across renders.

`${secret.NAME}` in any var is replaced at render time, so `labctl show` never sees a secret.
"""

from __future__ import annotations

import json
import re
import secrets as _random
from pathlib import Path

from labctl.errors import SpecError
from labctl.fsutil import write_atomic
from labctl.spec.model import SecretSpec

_REF = re.compile(r"\$\{secret\.([A-Za-z_][A-Za-z0-9_]*)\}")
SECRETS_FILE = Path(".labctl") / "secrets.json"


def materialize(specs: dict[str, SecretSpec], outdir: Path) -> dict[str, str]:
    """Return NAME -> value, creating and storing any secret not yet stored."""
    path = outdir / SECRETS_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    values: dict[str, str] = {}
    for name, spec in specs.items():
        fingerprint = f"{spec.kind}:{spec.user}:{spec.password}"
        entry = stored.get(name)
        if not entry or entry.get("spec") != fingerprint:
            entry = {"spec": fingerprint, "value": _make(spec)}
        values[name] = entry["value"]
        stored[name] = entry
    if stored:
        write_atomic(path, json.dumps(stored, indent=1, sort_keys=True) + "\n", mode=0o600)
    return values


def _make(spec: SecretSpec) -> str:
    password = spec.password or _random.token_urlsafe(18)
    if spec.kind == "password":
        return password
    from passlib.hash import apr_md5_crypt  # apr1 is what OpenShift 3.x htpasswd reads

    return apr_md5_crypt.hash(password)


def fill(value, values: dict[str, str], source: str):
    """Replace `${secret.NAME}` inside strings of `value`, recursively."""
    if isinstance(value, dict):
        return {k: fill(v, values, source) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values, source) for v in value]
    if isinstance(value, str) and "${secret." in value:
        return _REF.sub(lambda m: _lookup(m[1], values, source), value)
    return value


def _lookup(name: str, values: dict[str, str], source: str) -> str:
    if name not in values:
        raise SpecError(source, [f"{source}: unknown secret '{name}' (declare it under secrets:)"])
    return values[name]

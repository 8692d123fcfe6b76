"""Part of the NSX-T Manager API TEST DOUBLE (tests/doubles/nsxt.py), not NSX-T: the 2.5.1 schema check.

Every POST/PUT body the double accepts is validated here against the definitions of
../shared/reference/nsxt/nsx_api_2.5.1.json: `$ref` and `allOf` resolved, `resource_type` discriminators
followed to the concrete type, unknown fields and bad enums refused, required fields checked, read-only
fields ignored. `ApiError` is the manager's error shape.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "nsxt" / "nsx_api_2.5.1.json"
_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "number": (int, float)}


class ApiError(Exception):
    """A manager error: HTTP status, NSX error code and message."""

    def __init__(self, status: int, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code or status, message

    def body(self) -> dict:
        names = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
                 412: "PRECONDITION_FAILED"}
        return {"httpStatus": names.get(self.status, "ERROR"), "error_code": self.code,
                "module_name": "labctl-nsxt-double", "error_message": self.message}


def bad(message: str, code: int = 255) -> ApiError:
    return ApiError(400, message, code)


class Schema:
    """The spec's definitions, flattened: properties and required fields with `allOf` merged."""

    def __init__(self, path: Path = SPEC) -> None:
        self.defs = json.loads(Path(path).read_text())["definitions"]
        self._flat: dict[str, tuple[dict, set, str | None]] = {}

    def flat(self, name: str) -> tuple[dict, set, str | None]:
        if name not in self._flat:
            self._flat[name] = self._merge(self.defs[name])
        return self._flat[name]

    def _merge(self, schema: dict) -> tuple[dict, set, str | None]:
        props, required, disc = dict(schema.get("properties", {})), set(schema.get("required", [])), schema.get("discriminator")
        for part in schema.get("allOf", []):
            p, r, d = self.flat(part["$ref"].split("/")[-1]) if "$ref" in part else self._merge(part)
            props, required, disc = {**p, **props}, required | r, disc or d
        return props, required, disc

    def concrete(self, name: str, body: dict) -> str:
        """Follow a `resource_type` discriminator to the concrete definition the body names."""
        disc = self.flat(name)[2]
        kind = body.get(disc) if disc else None
        if kind and kind != name:
            if kind not in self.defs or not self._extends(kind, name):
                raise bad(f"Invalid {disc} '{kind}' for {name}")
            return kind
        return name

    def _extends(self, child: str, parent: str) -> bool:
        refs = [p["$ref"].split("/")[-1] for p in self.defs[child].get("allOf", []) if "$ref" in p]
        return parent in refs or any(self._extends(r, parent) for r in refs)

    def check(self, name: str, body) -> None:
        """Raise 400 listing every problem of `body` as definition `name`."""
        errors: list[str] = []
        self._object(name, body, name, errors)
        if errors:
            raise bad("Field level validation errors: {" + "; ".join(errors) + "}")

    def _object(self, name: str, body, where: str, errors: list[str]) -> None:
        if not isinstance(body, dict):
            errors.append(f"{where}: expected an object")
            return
        try:
            name = self.concrete(name, body)
        except ApiError as err:
            errors.append(f"{where}: {err.message}")
            return
        props, required, _ = self.flat(name)
        for key, value in body.items():
            if key not in props:
                errors.append(f"{where}: field {key} is not allowed in {name}")
            elif not props[key].get("readOnly"):
                self._value(props[key], value, f"{where}.{key}", errors)
        errors.extend(f"{where}: required property {key} is missing" for key in sorted(required - set(body)))

    def _value(self, schema: dict, value, where: str, errors: list[str]) -> None:
        if "$ref" in schema:
            self._object(schema["$ref"].split("/")[-1], value, where, errors)
            return
        kind = schema.get("type")
        if kind and (not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))):
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
        elif "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: '{value}' is not one of {schema['enum']}")
        elif kind == "string" and len(value) > schema.get("maxLength", 1 << 30):
            errors.append(f"{where}: longer than {schema['maxLength']}")
        elif kind == "string" and schema.get("format") == "ip" and not _is_ip(value):
            errors.append(f"{where}: '{value}' is not an IP address")
        elif kind == "array":
            for i, item in enumerate(value):
                self._value(schema.get("items", {}), item, f"{where}[{i}]", errors)

    def strip(self, name: str, body: dict) -> dict:
        """The body without read-only fields (what the manager keeps of a client's body)."""
        props = self.flat(self.concrete(name, body))[0]
        return {k: self._strip_value(props[k], v) for k, v in body.items() if not props[k].get("readOnly")}

    def _strip_value(self, schema: dict, value):
        if "$ref" in schema and isinstance(value, dict):
            return self.strip(schema["$ref"].split("/")[-1], value)
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            return [self._strip_value(schema["items"], v) for v in value]
        return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


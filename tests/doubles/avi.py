"""A TEST DOUBLE of the Avi Vantage 17.2.11 controller REST API. It is not Avi.

It exists because no Avi controller can run here. It enforces, as the controller does:
- the vendor's Swagger 2.0 schemas read from ../shared/reference/avi/*.json (avinetworks/sdk 17.2.11:
  SystemConfiguration, Cloud, CloudConnectorUser, Cluster): unknown fields, wrong types, missing required
  fields and values outside "Enum options" are refused (400), and so is a field "introduced in" a version
  newer than the request's X-Avi-Version header (answers leave such fields out, as the controller does);
- `POST /login` (JSON or form: username, password) sets the `csrftoken` and `sessionid` cookies; every
  /api call needs the session cookie (or HTTP basic auth once portal_configuration.allow_basic_authentication
  is on) and X-Avi-Version (a version like 17.2.11, not newer than the controller); writes also need the
  X-CSRFToken header equal to the cookie and a Referer of this controller;
- until the factory password is changed (`PUT /api/useraccount` {username, old_password, password}; no
  schema file, these are the fields the double accepts) every other /api call is refused (403);
- `_last_modified` on a PUT must match the stored object (else 412, as for a concurrent update);
- `*_ref` fields resolve (`/api/KIND/UUID`, a full URL, or `/api/KIND?name=NAME`) and come back as full URLs;
- a Service Engine appears in `/api/serviceengine` for a host of a CLOUD_LINUXSERVER cloud only after the
  double could SSH (paramiko) into that host as the cloud's connector user with its private key and run
  `sudo -n true` (as the controller does before it deploys the SE container).

    double = start(schema_dir, initial_password="...")    # https://127.0.0.1:double.port, CA double.cafile
    double.controller.calls                                # [(method, path), ...] every request seen
    double.controller.inject("PUT", "/api/cloud/", 400, "msg")  # the next matching call fails so, once
    double.stop()

Standalone: `python -m tests.doubles.avi --port 9443 --initial-password PW` (prints the URL and CA file).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import re
import secrets
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .tls import serve_https

VERSION = "17.2.11"
KINDS = {"systemconfiguration": "SystemConfiguration", "cloud": "Cloud", "cloudconnectoruser": "CloudConnectorUser"}
META = {"_last_modified", "url", "uuid"}
HIDDEN = {"cloudconnectoruser": ("private_key", "password")}  # the controller never returns these


def vtuple(text):
    return tuple(int(p) for p in text.split("."))


class Schemas:
    """Swagger 2.0 definitions of the vendor's files, checked the way the controller checks bodies."""

    def __init__(self, schema_dir: Path):
        self.defs = {}
        for path in sorted(Path(schema_dir).glob("*.json")):
            self.defs.update(json.loads(path.read_text())["definitions"])

    def check(self, kind: str, body, version: str) -> list[str]:
        return self._check(self.defs[KINDS[kind]], body, kind, vtuple(version), top=True)

    def _check(self, schema, value, where, version, top=False):
        schema = self.defs[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
        kind = schema.get("type", "object")
        if kind == "object" and isinstance(value, dict):
            return self._object(schema, value, where, version, top)
        if kind == "array" and isinstance(value, list):
            return [e for i, v in enumerate(value) for e in self._check(schema["items"], v, f"{where}[{i}]", version)]
        if not _is(kind, value):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
        options = _enum(schema.get("description", ""))
        if options and value not in options:
            return [f"{where}: {value!r} is not one of {', '.join(options)}"]
        return []

    def for_version(self, kind: str, obj: dict, version: str) -> dict:
        """`obj` as the controller answers a client of `version`: fields introduced later left out."""
        return self._older(self.defs[KINDS[kind]], obj, vtuple(version)) if kind in KINDS else obj

    def _older(self, schema, value, version):
        schema = self.defs[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
        if isinstance(value, list) and "items" in schema:
            return [self._older(schema["items"], v, version) for v in value]
        if not isinstance(value, dict):
            return value
        props, kept = schema.get("properties", {}), {}
        for key, item in value.items():
            since = re.search(r"Field introduced in (\d+(?:\.\d+)+)", props.get(key, {}).get("description", ""))
            if not since or vtuple(since.group(1)) <= version:
                kept[key] = self._older(props[key], item, version) if key in props else item
        return kept

    def _object(self, schema, value, where, version, top):
        props, errors = schema.get("properties", {}), []
        for key in sorted(value):
            if top and key in META:
                continue
            if key not in props:
                errors.append(f"{where}.{key}: unknown field")
                continue
            since = re.search(r"Field introduced in (\d+(?:\.\d+)+)", props[key].get("description", ""))
            if since and vtuple(since.group(1)) > version:
                errors.append(f"{where}.{key}: field introduced in {since.group(1)}, request version is "
                              f"{'.'.join(map(str, version))}")
            elif not props[key].get("readOnly"):
                errors.extend(self._check(props[key], value[key], f"{where}.{key}", version))
        errors.extend(f"{where}.{key}: required field missing" for key in schema.get("required", []) if key not in value)
        return errors


def _is(kind, value):
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, types.get(kind, object))


def _enum(description):
    found = re.search(r"Enum options - (.*?)\.(?:\s|$)", description)
    if not found or "..." in found.group(1):
        return []
    return [o.strip() for o in found.group(1).split(",")]


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Controller:
    """The double's state and rules (thread-safe); the HTTP handler only routes to it."""

    def __init__(self, schemas: Schemas, initial_password: str, ssh_port: int = 22, register_timeout: float = 180):
        self.schemas, self.password, self.initial = schemas, initial_password, True
        self.ssh_port, self.register_timeout = ssh_port, register_timeout
        self.lock, self.sessions, self.calls = threading.RLock(), {}, []
        self.se_errors, self.base, self.faults = {}, "https://127.0.0.1", []
        self.objects = {"systemconfiguration": {}, "cloud": {}, "cloudconnectoruser": {}, "serviceengine": {}}
        self._add("systemconfiguration", _factory_systemconfiguration(), uuid="default")
        self._add("cloud", {"name": "Default-Cloud", "vtype": "CLOUD_NONE", "dhcp_enabled": False, "mtu": 1500,
                            "license_type": "LIC_CORES", "tenant_ref": "/api/tenant/admin"})

    def inject(self, method, path_prefix, status, message):
        """Make the next `method` call on a path starting with `path_prefix` fail with `status`, once."""
        self.faults.append((method, path_prefix, status, message))

    def fault(self, method, path):
        for item in self.faults:
            if item[0] == method and path.startswith(item[1]):
                self.faults.remove(item)
                raise ApiError(item[2], item[3])

    # -- sessions -------------------------------------------------------------------------------------------
    def login(self, username, password):
        if username != "admin" or password != self.password:
            raise ApiError(401, "Invalid credentials")
        sid, token = secrets.token_hex(16), secrets.token_hex(16)
        self.sessions[sid] = token
        return sid, token

    def change_password(self, body):
        unknown = sorted(set(body) - {"username", "old_password", "password", "full_name", "email"})
        if unknown:
            raise ApiError(400, f"useraccount: unknown field(s) {', '.join(unknown)}")
        if body.get("old_password") != self.password:
            raise ApiError(400, "Old password is incorrect")
        if not body.get("password") or len(body["password"]) < 8:
            raise ApiError(400, "Password must be at least 8 characters")
        self.password, self.initial = body["password"], False
        return {"username": "admin", "name": "admin"}

    # -- objects --------------------------------------------------------------------------------------------
    def _add(self, kind, body, uuid=None):
        uuid = uuid or f"{kind}-{uuidlib.uuid4()}"
        obj = dict(body, uuid=uuid, _last_modified=str(time.time_ns() // 1000))
        self.objects[kind][uuid] = obj
        return obj

    def view(self, kind, obj, version=VERSION):
        shown = {k: v for k, v in obj.items() if k not in HIDDEN.get(kind, ())}
        shown["url"] = f"{self.base}/api/{kind}/{obj['uuid']}"
        return _full_refs(self.schemas.for_version(kind, shown, version), self.base)

    def find(self, kind, name=None, uuid=None):
        if uuid is not None:
            obj = self.objects[kind].get(uuid)
            if obj is None:
                raise ApiError(404, f"{kind} object with uuid {uuid} not found")
            return [obj]
        return [o for o in self.objects[kind].values() if name is None or o.get("name") == name]

    def write(self, kind, body, version, uuid=None):
        errors = self.schemas.check(kind, body, version)
        if errors:
            raise ApiError(400, "; ".join(errors))
        body = self._resolve_refs(body)
        if uuid is None:
            if any(o.get("name") == body.get("name") for o in self.objects[kind].values()):
                raise ApiError(409, f"{kind} with name {body.get('name')} already exists")
            obj = self._add(kind, {k: v for k, v in body.items() if k not in META})
        else:
            obj = self._replace(kind, uuid, body)
        if kind == "cloud":
            self._deploy_service_engines(obj)
        return obj

    def _replace(self, kind, uuid, body):
        current = self.find(kind, uuid=uuid)[0]
        if "_last_modified" in body and body["_last_modified"] != current["_last_modified"]:
            raise ApiError(412, f"Concurrent update of {kind} {uuid}: re-read the object and retry")
        keep = {k: current[k] for k in HIDDEN.get(kind, ()) if k in current and k not in body}
        return self._add(kind, dict({k: v for k, v in body.items() if k not in META}, **keep), uuid=uuid)

    def _resolve_refs(self, value, key=""):
        if isinstance(value, dict):
            return {k: self._resolve_refs(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve_refs(v, key) for v in value]
        if key.endswith("_ref") and isinstance(value, str) and "/api/cloudconnectoruser" in value:
            return f"/api/cloudconnectoruser/{self._ref_uuid('cloudconnectoruser', value)}"
        return value

    def _ref_uuid(self, kind, ref):
        parts = urlsplit(ref)
        if parts.query:
            found = self.find(kind, name=parse_qs(parts.query).get("name", [""])[0])
            if not found:
                raise ApiError(400, f"Cannot find object of type {kind} for ref {ref}")
            return found[0]["uuid"]
        uuid = parts.path.rstrip("/").rsplit("/", 1)[1].split("#")[0]
        return self.find(kind, uuid=uuid)[0]["uuid"]

    # -- service engines ------------------------------------------------------------------------------------
    def _deploy_service_engines(self, cloud):
        config = cloud.get("linuxserver_configuration") or {}
        if cloud.get("vtype") != "CLOUD_LINUXSERVER" or not config.get("ssh_user_ref"):
            return
        user = self.find("cloudconnectoruser", uuid=config["ssh_user_ref"].rsplit("/", 1)[1])[0]
        registered = {se["name"] for se in self.objects["serviceengine"].values()}
        for host in config.get("hosts", []):
            addr = host["host_ip"]["addr"]
            if addr not in registered:
                args = (cloud["uuid"], addr, user["name"], user.get("private_key", ""))
                threading.Thread(target=self._register, args=args, daemon=True).start()

    def _register(self, cloud_uuid, addr, username, private_key):
        deadline = time.monotonic() + self.register_timeout
        while time.monotonic() < deadline:
            error = _ssh_sudo(addr, self.ssh_port, username, private_key)
            with self.lock:
                self.se_errors[addr] = error
                if error is None and not any(se["name"] == addr for se in self.objects["serviceengine"].values()):
                    self._add("serviceengine", _service_engine(addr, cloud_uuid))
            if error is None:
                return
            time.sleep(1)


def _ssh_sudo(addr, port, username, private_key):
    """None when `username` with `private_key` can SSH into addr and run `sudo -n true`, else the error."""
    import paramiko

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # a host not up yet is expected, not news
    try:
        key = _load_key(paramiko, private_key)
        with paramiko.SSHClient() as client:
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            client.connect(addr, port=port, username=username, pkey=key, timeout=5, look_for_keys=False,
                           allow_agent=False, banner_timeout=5, auth_timeout=5)
            _, stdout, stderr = client.exec_command("sudo -n true", timeout=10)
            status = stdout.channel.recv_exit_status()
            return None if status == 0 else f"sudo -n true exited {status}: {stderr.read().decode().strip()}"
    except Exception as err:  # noqa: BLE001 - any failure means: not registered yet, try again
        return f"{type(err).__name__}: {err}"


def _load_key(paramiko, text):
    for cls in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("the connector user's private_key is not a key paramiko can read")


def _service_engine(addr, cloud_uuid):
    vnic = {"vnic_networks": [{"ip": {"ip_addr": {"addr": addr, "type": "V4"}, "mask": 24}, "mode": "STATIC"}]}
    return {"name": addr, "cloud_ref": f"/api/cloud/{cloud_uuid}", "se_connected": True, "mgmt_vnic": vnic}


def _full_refs(value, base, key=""):
    if isinstance(value, dict):
        return {k: _full_refs(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_full_refs(v, base, key) for v in value]
    if key.endswith("_ref") and isinstance(value, str) and value.startswith("/api/"):
        return base + value
    return value


def _factory_systemconfiguration():
    pool = [{"server": {"addr": f"{i}.us.pool.ntp.org", "type": "DNS"}} for i in range(4)]
    email = {"smtp_type": "SMTP_LOCAL_HOST", "from_email": "admin@avicontroller.net",
             "mail_server_name": "localhost", "mail_server_port": 25}
    return {"dns_configuration": {"search_domain": ""}, "ntp_configuration": {"ntp_servers": pool},
            "email_configuration": email, "docker_mode": False, "default_license_tier": "ENTERPRISE_18",
            "portal_configuration": {"allow_basic_authentication": False, "use_uuid_from_input": False}}


class Handler(BaseHTTPRequestHandler):
    """Routes HTTP to `self.server.controller`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: tests read controller.calls instead
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method):
        ctl = self.server.controller
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with ctl.lock:
            ctl.calls.append((method, parts.path))
            ctl.base = f"https://{self.headers.get('Host', '127.0.0.1')}"
            try:
                ctl.fault(method, parts.path)
                status, body, cookies = route(ctl, method, parts, self.headers, raw)
            except ApiError as err:
                status, body, cookies = err.status, {"error": err.message}, {}
        self._send(status, body, cookies)

    def _send(self, status, body, cookies):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in cookies.items():
            self.send_header("Set-Cookie", f"{name}={value}; Path=/; Secure")
        self.end_headers()
        self.wfile.write(data)


def route(ctl, method, parts, headers, raw):
    """(status, body, cookies) for one request; raises ApiError for refusals."""
    path = parts.path.rstrip("/")
    if path == "/login" and method == "POST":
        creds = _form(raw, headers)
        sid, token = ctl.login(creds.get("username"), creds.get("password"))
        return 200, {"user": {"username": "admin"}, "version": {"Version": VERSION}}, {"sessionid": sid, "csrftoken": token}
    if path == "/api/initial-data" and method == "GET":
        return 200, {"version": {"Version": VERSION, "build": 9014}, "user_initial_setup": ctl.initial}, {}
    if not path.startswith("/api/"):
        raise ApiError(404, f"no such resource {path}")
    version = _authorize(ctl, method, headers)
    return _api(ctl, method, path[len("/api/"):], parse_qs(parts.query), _json(raw), version)


def _authorize(ctl, method, headers):
    cookies = dict(c.strip().split("=", 1) for c in headers.get("Cookie", "").split(";") if "=" in c)
    basic = _basic_ok(ctl, headers.get("Authorization", ""))
    if not basic and cookies.get("sessionid") not in ctl.sessions:
        raise ApiError(401, "Authentication credentials were not provided.")
    version = headers.get("X-Avi-Version", "")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ApiError(400, f"X-Avi-Version header missing or not a version like 17.2.11: {version!r}")
    if vtuple(version) > vtuple(VERSION):
        raise ApiError(400, f"Unsupported version {version}: this controller runs {VERSION}")
    if method != "GET" and not basic:
        if headers.get("X-CSRFToken") != ctl.sessions[cookies["sessionid"]]:
            raise ApiError(403, "CSRF Failed: CSRF token missing or incorrect.")
        if not (headers.get("Referer") or "").startswith(ctl.base):
            raise ApiError(403, f"CSRF Failed: Referer checking failed - Referer is not {ctl.base}.")
    return version


def _basic_ok(ctl, header):
    portal = ctl.objects["systemconfiguration"]["default"].get("portal_configuration", {})
    if not header.startswith("Basic ") or not portal.get("allow_basic_authentication"):
        return False
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user == "admin" and password == ctl.password and not ctl.initial


def _api(ctl, method, path, query, body, version):
    kind, _, uuid = path.partition("/")
    if kind == "useraccount" and method == "PUT":
        return 200, ctl.change_password(body or {}), {}
    if ctl.initial:
        raise ApiError(403, "The default admin password must be changed first (PUT /api/useraccount)")
    if kind == "cluster" and uuid == "runtime":
        return 200, {"cluster_state": {"state": "CLUSTER_UP_NO_HA", "progress": 100}}, {}
    if kind == "systemconfiguration":
        uuid = "default"
        if method == "GET":
            return 200, ctl.view(kind, ctl.find(kind, uuid=uuid)[0], version), {}
    if kind not in ctl.objects:
        raise ApiError(404, f"no such object type {kind}")
    if method == "GET":
        found = ctl.find(kind, name=query.get("name", [None])[0], uuid=uuid or None)
        if uuid:
            return 200, ctl.view(kind, found[0], version), {}
        return 200, {"count": len(found), "results": [ctl.view(kind, o, version) for o in found]}, {}
    if kind == "serviceengine" or method not in ("POST", "PUT") or (method == "PUT") != bool(uuid):
        raise ApiError(405, f"{method} not allowed on /api/{path}")
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return (201 if method == "POST" else 200), ctl.view(kind, ctl.write(kind, body, version, uuid or None), version), {}


def _json(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError as err:
        raise ApiError(400, f"malformed JSON: {err}")


def _form(raw, headers):
    if "json" in headers.get("Content-Type", ""):
        return _json(raw) or {}
    return {k: v[0] for k, v in parse_qs(raw.decode()).items()}


@dataclass
class Double:
    server: object
    port: int
    cafile: str
    controller: Controller

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start(schema_dir, initial_password, port=0, ssh_port=22, register_timeout=180.0, cert_dir=None) -> Double:
    """Start the double on 127.0.0.1:`port` (0: any free port) in a background thread."""
    controller = Controller(Schemas(Path(schema_dir)), initial_password, ssh_port, register_timeout)
    server, port, cafile = serve_https(Handler, port, cert_dir)
    server.controller = controller
    return Double(server, port, cafile, controller)


def main(argv=None):
    default_schemas = Path(__file__).resolve().parents[3] / "shared" / "reference" / "avi"
    parser = argparse.ArgumentParser(description="Avi 17.2 controller API test double (not Avi)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--initial-password", required=True)
    parser.add_argument("--schemas", default=str(default_schemas))
    parser.add_argument("--ssh-port", type=int, default=22)
    parser.add_argument("--cert-dir")
    args = parser.parse_args(argv)
    double = start(args.schemas, args.initial_password, args.port, args.ssh_port, cert_dir=args.cert_dir)
    print(f"avi double listening on {double.url} cafile={double.cafile}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        double.stop()


if __name__ == "__main__":
    main()

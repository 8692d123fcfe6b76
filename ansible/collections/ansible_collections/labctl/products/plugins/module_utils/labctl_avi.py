# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""Avi Vantage rules on top of labctl_rest (the shared REST client).

``avi_argument_spec()``: controller, username, password (no_log), api_version, plus rest_argument_spec().
``header_version(avi_version)``: "17.2.11-9014" -> "17.2.11" (X-Avi-Version takes no build number).
``Avi(module)``: ``.login(password=None)`` (POST /login, then X-CSRFToken from the csrftoken cookie;
    Referer and X-Avi-Version go on every call), ``.find(kind, name)``, ``.read(path)``, ``.create(kind, body)``,
    ``.update(kind, body, wanted)`` (PUT /api/KIND/UUID; a 412 re-reads and re-applies ``wanted``),
    ``.session``, ``.log`` (ObjectLog), ``.fail(error, kind, name)``.
    ``.login_or_fail()``: log in or fail naming the controller; in check mode a 401 instead marks the session
    ``.fresh`` (the admin password task would change it first), and ``.plan_fresh(kind, name, action, wanted)``
    then records what a real run would write to a factory-fresh controller. ``.done(**extra)`` exits.
``read_private_key(module, path, kind, name)``: a key file's text, registered as a no_log value.
``ip_addr(text)``: ``{addr, type}`` with type V4, V6 or DNS, as Avi wants addresses.
``local_refs(obj)``: every ``*_ref`` URL ("https://host/api/kind/uuid#name") as "/api/kind/uuid", so a
    reference compares equal however the controller spelled it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import (
    ObjectLog, RestError, Session, fail, flatten_fields, merge, rest_argument_spec)

try:
    import ipaddress
except ImportError:  # pragma: no cover - Python 2 without the backport
    ipaddress = None


def avi_argument_spec():
    """Connection options of every labctl Avi module (set once with module_defaults group/labctl.products.avi)."""
    spec = dict(
        controller=dict(type="str", required=True),
        username=dict(type="str", default="admin"),
        password=dict(type="str", required=True, no_log=True),
        api_version=dict(type="str", required=True),
    )
    spec.update(rest_argument_spec())
    return spec


def header_version(avi_version):
    """The X-Avi-Version value for an Avi version tag such as 17.2.11-9014."""
    found = re.match(r"^(\d+\.\d+\.\d+)(?:-\d+)?$", str(avi_version).strip())
    if not found:
        raise ValueError("api_version %r is not an Avi version like 17.2.11 or 17.2.11-9014" % avi_version)
    return found.group(1)


def ip_addr(text):
    """Avi's IpAddr for an address or a host name."""
    text = str(text).strip()
    try:
        version = ipaddress.ip_address(u"%s" % text).version
    except ValueError:
        return dict(addr=text, type="DNS")
    return dict(addr=text, type="V4" if version == 4 else "V6")


def local_refs(value, key=""):
    """Normalise every *_ref in `value` to /api/KIND/UUID (see module docstring)."""
    if isinstance(value, dict):
        return dict((k, local_refs(v, k)) for k, v in value.items())
    if isinstance(value, list):
        return [local_refs(v, key) for v in value]
    if key.endswith("_ref") and isinstance(value, str) and "/api/" in value:
        return "/api/" + value.split("/api/", 1)[1].split("#", 1)[0]
    return value


class Avi:
    """A logged-in (after .login) Avi session for one module run."""

    def __init__(self, module):
        self.module, self.params, self.log, self.fresh = module, module.params, ObjectLog(), False
        self.base = self.params["controller"].rstrip("/")
        try:
            version = header_version(self.params["api_version"])
        except ValueError as err:
            module.fail_json(msg="avi: %s" % err)
        self.session = Session(self.base, self.params["validate_certs"], self.params["ca_path"],
                               self.params["timeout"], self.params["retries"],
                               headers={"X-Avi-Version": version, "Referer": self.base + "/"},
                               secrets=[self.params["password"]])

    def login(self, password=None):
        """POST /login; raises RestError (status 401 for a wrong password)."""
        password = self.params["password"] if password is None else password
        self.session.add_secret(password)
        self.session.headers.pop("X-CSRFToken", None)
        self.session.post("/login", {"username": self.params["username"], "password": password})
        token = self.session.cookie("csrftoken")
        if token:
            self.session.headers["X-CSRFToken"] = token
        return self

    def find(self, kind, name):
        """The object of `kind` named `name`, refs normalised, or None."""
        body = self.session.get("/api/%s?name=%s" % (kind, _quote(name))).body or {}
        results = body.get("results") or []
        return local_refs(results[0]) if results else None

    def read(self, path):
        return local_refs(self.session.get(path).body)

    def create(self, kind, body):
        return local_refs(self.session.post("/api/%s" % kind, body).body)

    def update(self, kind, body, wanted):
        """PUT the object; a 412 (stale _last_modified) re-reads it and applies `wanted` again."""
        path = "/api/%s/%s" % (kind, body["uuid"]) if kind != "systemconfiguration" else "/api/systemconfiguration"

        def reread():
            return merge(self.read(path), wanted)

        return local_refs(self.session.put(path, body, on_412=reread).body)

    def fail(self, error, kind=None, name=None):
        fail(self.module, error, self.log, self.session.redactor, kind, name)

    def login_or_fail(self):
        """Log in with the module's password, or fail naming the controller."""
        try:
            return self.login()
        except RestError as err:
            if err.status == 401 and self.module.check_mode:
                self.fresh = True  # a factory-fresh controller: nothing can be read before the password changes
                return self
            self.fail(err.about("login", "%s at %s" % (self.params["username"], self.base)))

    def plan_fresh(self, kind, name, action, wanted):
        """Check mode on a fresh controller: record every field `wanted` sets as changing."""
        fields = [f for f in flatten_fields(wanted) if action == "create" or f != "name"]
        self.log.add(kind, name, action, fields)

    def done(self, **extra):
        """Exit the module with labctl_objects (and `extra`)."""
        self.module.exit_json(**self.log.result(**extra))


def read_private_key(module, path, kind, name):
    """The private key file's text, kept out of every result (no_log_values); fail naming the object."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as err:
        module.fail_json(msg="%s %s: cannot read private key file %s: %s" % (kind, name, path, err.strerror))
    module.no_log_values.add(text)
    return text


def _quote(text):
    try:
        from urllib.parse import quote
    except ImportError:  # Python 2
        from urllib import quote
    return quote(str(text), safe="")

# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""The NSX-T Manager engine every labctl NSX-T module shares (over labctl_rest).

Public API:

``nsx_argument_spec()``
    hostname, username (admin), password (no_log), lab, plus labctl_rest's validate_certs, ca_path, timeout, retries.
``session(params) -> Session``
    Basic auth to ``https://HOST[:443]``; the password and its token are redacted from every error.
``Nsx(session, log, lab, check_mode)``
    ``all(coll, query="")`` reads a collection once (all pages); ``select(coll, keep)``; ``find(kind, coll, name, match)``
    by display_name (two of one name: ValueError); ``existing(...)`` (missing: ValueError); ``ensure(kind, coll, name,
    wanted, match, current, extra)`` creates (tagged ``{scope: labctl, tag: LAB}``, ``extra`` fields sent on create
    only) or updates with ``_revision`` only when a field of ``wanted`` differs; ``put(path, body, wanted)`` re-reads
    and retries on 412; ``delete_tagged(coll, kind, keep)`` deletes what carries the lab's tag.
    In check mode nothing is written and the same ``labctl_objects`` entries are recorded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import (
    RestError, Session, merge, reconcile, rest_argument_spec, reuse_tls_context,
)

API = "/api/v1"
MISSING = object()


def nsx_argument_spec(**more):
    """The connection options of every labctl NSX-T module, plus `more`."""
    spec = dict(
        hostname=dict(type="str", required=True), username=dict(type="str", default="admin"),
        password=dict(type="str", required=True, no_log=True), lab=dict(type="str", required=True),
    )
    spec.update(rest_argument_spec())
    spec.update(more)
    return spec


def session(p):
    """A session to the manager with basic auth; the password is redacted from every error."""
    host = p["hostname"] if ":" in p["hostname"] else p["hostname"] + ":443"
    token = to_text(base64.b64encode(to_bytes("%s:%s" % (p["username"], p["password"]))))
    rest = Session("https://" + host, validate_certs=p["validate_certs"], ca_path=p["ca_path"], timeout=p["timeout"],
                   retries=p["retries"], headers={"Authorization": "Basic " + token}, secrets=(p["password"], token))
    return reuse_tls_context(rest, p["validate_certs"], p["ca_path"])


class Nsx:
    """The generic engine: each collection read once, objects found by display_name, read-compare-write."""

    def __init__(self, session, log, lab, check_mode):
        self.session, self.log, self.check = session, log, check_mode
        self.tag = {"scope": "labctl", "tag": lab}
        self.cache = {}
        self.added = []

    def all(self, coll, query=""):
        """Every object of `coll` (all pages); `query` ("a=b") is sent too (e.g. include_system_owned=true)."""
        if coll not in self.cache:
            rows, cursor = [], ""
            while True:
                args = "&".join(a for a in (query, "cursor=" + cursor if cursor else "") if a)
                body = self.session.get("%s/%s%s" % (API, coll, "?" + args if args else "")).body or {}
                rows.extend(body.get("results") or [])
                cursor = body.get("cursor")
                if not cursor:
                    break
            self.cache[coll] = rows
        return self.cache[coll]

    def select(self, coll, keep):
        return [o for o in self.all(coll) if keep(o)]

    def find(self, kind, coll, name, match=None):
        rows = self.select(coll, lambda o: o.get("display_name") == name and matches(o, match or {}))
        if len(rows) > 1:
            raise ValueError("%s %s: %d objects of that name on the manager (ids %s): rename or delete the extra ones"
                             % (kind, name, len(rows), ", ".join(sorted(o["id"] for o in rows))))
        return rows[0] if rows else None

    def existing(self, kind, coll, name):
        found = self.find(kind, coll, name)
        if found is None:
            raise ValueError("%s %s: no object of that name on the manager; labctl never creates it: deploy it "
                             "or fix the name in the spec" % (kind, name))
        return found

    def ensure(self, kind, coll, name, wanted, match=None, current=MISSING, extra=None):
        """Create `name` when missing, update it when a field of `wanted` differs; return the object.
        `extra` (a credential) is sent on create only and never compared: the manager does not return it."""
        if current is MISSING:
            current = self.find(kind, coll, name, match)
        path = "%s/%s" % (API, coll)
        try:
            obj = reconcile(self.log, kind, name, current, wanted,
                            lambda w: self.session.post(path, merge(dict(w, display_name=name, tags=[self.tag]), extra or {})).body,
                            lambda body: self.put("%s/%s" % (path, body["id"]), body, wanted), self.check)
        except RestError as err:
            raise err.about(kind, name)
        if current is None and self.check:
            obj = dict(obj, id="(new %s %s)" % (kind, name), display_name=name, tags=[self.tag])
        self._remember(coll, current, obj)
        return obj

    def _remember(self, coll, old, new):
        rows = self.all(coll)
        if old is not None:
            rows[:] = [o for o in rows if o["id"] != old["id"]]
        rows.append(new)

    def put(self, path, body, wanted):
        """PUT with the object's _revision; on 412 read it again and apply `wanted` to what is there now."""
        return self.session.put(path, body, on_412=lambda: merge(self.session.get(path).body, wanted)).body

    def delete_tagged(self, coll, kind, keep=lambda o: True, query=""):
        """Delete every object of `coll` that carries the lab's tag (and passes `keep`)."""
        for obj in self.select(coll, lambda o: self.tag in (o.get("tags") or []) and keep(o)):
            self.log.add(kind, obj.get("display_name", obj["id"]), "delete")
            if not self.check:
                try:
                    self.session.delete("%s/%s/%s%s" % (API, coll, obj["id"], "?" + query if query else ""))
                except RestError as err:
                    raise err.about(kind, obj.get("display_name"))


def matches(obj, fields):
    """True when `obj` has every field of `fields` with that value."""
    return all(obj.get(k) == v for k, v in fields.items())

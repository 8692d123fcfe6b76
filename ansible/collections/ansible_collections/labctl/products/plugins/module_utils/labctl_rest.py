# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""The REST client every labctl lab-product module shares (Avi, NSX-T, ...).

Public API (stable; vendor modules build on it):

``rest_argument_spec()``
    The options every REST module takes: validate_certs (default true), ca_path, timeout, retries.
``Session(base_url, validate_certs=True, ca_path=None, timeout=30, retries=3, headers=None, secrets=())``
    One HTTP session over ``ansible.module_utils.urls.Request`` with a cookie jar.
    ``session.request(method, path, body=None, headers=None, on_412=None) -> Response``;
    ``get/post/put/patch/delete(path, body=None, **kw)`` are shortcuts; ``session.cookie(name)`` reads a cookie;
    ``session.headers`` (dict) is sent on every call; ``session.add_secret(value)`` redacts more values.
    The session builds one TLS context for all its calls (``reuse_tls_context``, kept for callers).
    Connection errors and 5xx responses are retried ``retries`` times (0.5 s, 1 s, 2 s ...). A 412 calls
    ``on_412()`` (re-read the object, return the new body to send, or None to give up), bounded the same way.
    Any other non-2xx status raises ``RestError``.
``Response``: ``status``, ``headers`` (dict, lower-case keys), ``body`` (parsed JSON, or text, or None).
``RestError(Exception)``: ``method``, ``path``, ``status`` (None for connection errors), ``vendor_message``;
    ``str(err)`` is one line quoting the vendor's message. ``err.about(kind, name)`` prefixes the object.
``prune(value)``: drop None values from nested dicts (unset module options).
``diff_fields(wanted, current)``: dotted names of the fields ``wanted`` sets that differ in ``current``;
    nested dicts compare only the keys ``wanted`` sets; lists compare element by element (same rule for dict items).
``merge(current, wanted)``: a copy of ``current`` with ``wanted`` applied (dicts deep, lists replaced).
``flatten_fields(wanted)``: the dotted names of every leaf field ``wanted`` sets (the fields of a create).
``Redactor(secrets)``: ``.text(s)`` and ``.value(obj)`` replace every secret (and values of secret-named
    keys such as password/private_key) with ``********``.
``ObjectLog``: ``.add(kind, name, action, fields=())`` records a ``labctl_objects`` entry (engine contract:
    action create|update|unchanged|delete); ``.changed``; ``.result(**extra)`` -> module result dict.
``reconcile(log, kind, name, current, wanted, create, update, check_mode)``: read-compare-write for one object:
    no ``current`` -> create(wanted); fields differ -> update(merge(current, wanted)); else nothing.
    In check mode nothing is written and the same entry is recorded. Returns the resulting object.
``fail(module, error, log=None, redactor=None, kind=None, name=None)``: ``module.fail_json`` with one redacted
    line naming the object, plus ``labctl_objects`` so far.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import socket
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import Request

try:
    from http.cookiejar import CookieJar
    from http.client import HTTPException
    from urllib.error import HTTPError, URLError
except ImportError:  # Python 2 on an old runtime
    from cookielib import CookieJar  # noqa
    from httplib import HTTPException  # noqa
    from urllib2 import HTTPError, URLError  # noqa

MASK = "********"
SECRET_KEYS = ("password", "private_key", "passwd", "secret", "token", "auth_password")
RETRY_STATUSES = (500, 502, 503, 504)


def rest_argument_spec():
    """Options every REST module accepts, to merge into its own argument_spec."""
    return dict(
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
    )


class RestError(Exception):
    """A failed call: one line with the method, path, status and the vendor's own message."""

    def __init__(self, method, path, status, vendor_message):
        self.method, self.path, self.status, self.vendor_message = method, path, status, vendor_message
        self.prefix = ""
        super(RestError, self).__init__(str(self))

    def about(self, kind, name):
        """Name the object this call was about (kept for str())."""
        self.prefix = "%s %s: " % (kind, name) if name else "%s: " % kind
        return self

    def __str__(self):
        status = "HTTP %s" % self.status if self.status else "no response"
        return "%s%s %s failed (%s): %s" % (self.prefix, self.method, self.path, status, self.vendor_message)


class Response:
    """A finished call: status, lower-case headers, body (JSON, text or None)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = _parse(raw)


def _parse(raw):
    text = to_text(raw or b"", errors="replace")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def vendor_message(body):
    """The vendor's error text from a response body (Avi: error; NSX-T: error_message)."""
    if isinstance(body, dict):
        for key in ("error", "error_message", "detail", "message", "msg"):
            if body.get(key):
                return one_line(body[key])
        return one_line(json.dumps(body, sort_keys=True))
    return one_line(body or "empty response")


def one_line(value):
    """Collapse any text to one line (vendors put newlines in their errors)."""
    return " ".join(to_text(value).split())


class Session:
    """An HTTP session to one product API (see the module docstring)."""

    def __init__(self, base_url, validate_certs=True, ca_path=None, timeout=30, retries=3, headers=None, secrets=()):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.retries = max(0, int(retries))
        self.redactor = Redactor(secrets)
        self.jar = CookieJar()
        self._request = Request(validate_certs=validate_certs, ca_path=ca_path, timeout=timeout,
                                cookies=self.jar, follow_redirects="none", use_netrc=False)
        reuse_tls_context(self, validate_certs, ca_path)  # one TLS context: loading CAs per call costs ~50 ms

    def add_secret(self, value):
        """Redact `value` from every error this session raises."""
        self.redactor.add(value)

    def cookie(self, name):
        """The value of cookie `name` the server set, or None."""
        for item in self.jar:
            if item.name == name:
                return item.value
        return None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def request(self, method, path, body=None, headers=None, on_412=None):
        """One call with bounded retries; returns a Response or raises RestError."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                return self._once(method, path, body, headers)
            except RestError as err:
                if err.status == 412 and on_412 is not None and not last:
                    body = on_412()
                    if body is not None:
                        continue
                if last or not _retryable(err):
                    raise
            time.sleep(0.5 * 2 ** attempt)  # only after a failure, never after a write that worked

    def _once(self, method, path, body, headers):
        url = path if path.startswith("http") else self.base_url + path
        all_headers = dict(self.headers, **(headers or {}))
        data = None
        if body is not None:
            data = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        all_headers.setdefault("Accept", "application/json")
        try:
            resp = self._request.open(method, url, data=data, headers=all_headers)
            return Response(resp.getcode(), dict(resp.headers.items()), resp.read())
        except HTTPError as err:
            raw = err.read() if hasattr(err, "read") else b""
            raise self._error(method, path, err.code, vendor_message(_parse(raw)))
        except (URLError, HTTPException, socket.error, socket.timeout, ValueError) as err:
            raise self._error(method, path, None, one_line(getattr(err, "reason", None) or err))

    def _error(self, method, path, status, message):
        return RestError(method, path, status, self.redactor.text(message))


def _retryable(err):
    return err.status is None or err.status in RETRY_STATUSES


def prune(value):
    """Drop None values (unset options) from nested dicts and lists."""
    if isinstance(value, dict):
        return dict((k, prune(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def diff_fields(wanted, current, prefix=""):
    """Dotted names of the fields `wanted` sets whose value in `current` differs."""
    current = current if isinstance(current, dict) else {}
    changed = []
    for key in sorted(wanted):
        name = prefix + key
        want, have = wanted[key], current.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            changed.extend(diff_fields(want, have, name + "."))
        elif not _same(want, have):
            changed.append(name)
    return changed


def _same(want, have):
    if isinstance(want, dict):
        return isinstance(have, dict) and not diff_fields(want, have)
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(_same(w, h) for w, h in zip(want, have))
    return want == have


def merge(current, wanted):
    """A copy of `current` with `wanted` applied: dicts merge deeply, everything else is replaced."""
    result = copy.deepcopy(current) if isinstance(current, dict) else {}
    for key, want in wanted.items():
        if isinstance(want, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], want)
        else:
            result[key] = copy.deepcopy(want)
    return result


def flatten_fields(wanted, prefix=""):
    """Dotted names of every leaf field `wanted` sets (what a create writes)."""
    names = []
    for key in sorted(wanted):
        if isinstance(wanted[key], dict) and wanted[key]:
            names.extend(flatten_fields(wanted[key], prefix + key + "."))
        else:
            names.append(prefix + key)
    return names


class Redactor:
    """Replaces secret values, and the values of secret-named keys, with a mask."""

    def __init__(self, secrets=()):
        self.secrets = set()
        for value in secrets:
            self.add(value)

    def add(self, value):
        if value and len(to_text(value)) >= 4:  # masking tiny strings would garble every message
            self.secrets.add(to_text(value))
            self.secrets.update(line for line in to_text(value).splitlines() if len(line) >= 8)

    def text(self, text):
        text = to_text(text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def value(self, obj):
        if isinstance(obj, dict):
            return dict((k, MASK if _secret_key(k) and obj[k] else self.value(obj[k])) for k in obj)
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, str):
            return self.text(obj)
        return obj


def _secret_key(key):
    return any(word in to_text(key).lower() for word in SECRET_KEYS)


class ObjectLog:
    """The `labctl_objects` of one module run (engine contract: kind, name, action, fields)."""

    def __init__(self):
        self.objects = []

    def add(self, kind, name, action, fields=()):
        self.objects.append(dict(kind=kind, name=name, action=action, fields=list(fields)))

    @property
    def changed(self):
        return any(o["action"] != "unchanged" for o in self.objects)

    def result(self, **extra):
        return dict(extra, changed=self.changed, labctl_objects=self.objects)


def reconcile(log, kind, name, current, wanted, create, update, check_mode):
    """Read-compare-write one object; see the module docstring. Returns the resulting object."""
    if current is None:
        log.add(kind, name, "create", flatten_fields(wanted))
        return dict(wanted) if check_mode else create(wanted)
    fields = diff_fields(wanted, current)
    if not fields:
        log.add(kind, name, "unchanged")
        return current
    log.add(kind, name, "update", fields)
    body = merge(current, wanted)
    return body if check_mode else update(body)


def fail(module, error, log=None, redactor=None, kind=None, name=None):
    """Fail the module with one redacted line naming the object (and what was done so far)."""
    if kind and isinstance(error, RestError) and not error.prefix:
        error.about(kind, name)
    prefix = "" if isinstance(error, RestError) or not kind else "%s %s: " % (kind, name or "")
    message = prefix + one_line(error)
    if redactor is not None:
        message = redactor.text(message)
    result = log.result() if log is not None else dict(changed=False, labctl_objects=[])
    module.fail_json(msg=message, **result)


def reuse_tls_context(session, validate_certs=True, ca_path=None):
    """Give `session` one TLS context for all its calls (added for nsxt_design).

    Without it ansible's Request builds a context per call, and loading the system CA store costs about
    50 ms each time: most of a no-change run. Ansible versions without ``make_context`` keep the old way.
    """
    try:
        from ansible.module_utils.urls import make_context
    except ImportError:
        return session
    session._request.context = make_context(cafile=ca_path, validate_certs=validate_certs)
    return session

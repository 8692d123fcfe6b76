"""The `http` check kind: a request from the control host, or from a node (its Python, over SSH).

Both paths share `judge`: the status, the body's regular expression and the JSON assertion.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable

from labctl.spec.model import HttpSpec, JsonAssert

MAX_BODY = 1 << 20  # bytes of a response body read
_MISSING = object()


def with_retries(spec: HttpSpec, attempt: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """Try once, then up to `retries` more times `delay` seconds apart while it fails."""
    ok, detail = attempt()
    for _ in range(spec.retries):
        if ok:
            break
        time.sleep(spec.delay)
        ok, detail = attempt()
    tries = "" if ok or not spec.retries else f" (after {spec.retries + 1} tries)"
    return ok, detail + tries


def local(spec: HttpSpec, password: str | None) -> tuple[bool, str]:
    """One request from the control host."""
    request = urllib.request.Request(spec.url, headers=dict(spec.headers))
    if spec.auth and password is not None:
        token = b64encode(f"{spec.auth.user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=spec.timeout, context=_tls(spec)) as response:
            return judge(spec, response.status, response.read(MAX_BODY).decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:  # a status is an answer: judge it like any other
        return judge(spec, error.code, error.read(MAX_BODY).decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, f"{spec.url}: {_reason(error)}"


def _tls(spec: HttpSpec) -> ssl.SSLContext | None:
    if not spec.url.startswith("https:"):
        return None
    if spec.insecure:
        return ssl._create_unverified_context()  # noqa: S323 - the spec asked for it (a lab's self-signed cert)
    return ssl.create_default_context(cafile=spec.ca)


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    return " ".join(str(reason).split()) or type(error).__name__


# Run by the node's own Python (2.7 or 3): it prints the body, then the status on the last line.
_REMOTE = r"""
import json, ssl, sys, base64
try:
    import urllib.request as u, urllib.error as e
except ImportError:
    import urllib2 as u
    e = u
c = json.loads(%r)
r = u.Request(c["url"], headers=c["headers"])
if c.get("user") is not None:
    r.add_header("Authorization", "Basic " + base64.b64encode((c["user"] + ":" + c["password"]).encode()).decode())
kw = {"timeout": c["timeout"]}
if c["url"].startswith("https:") and hasattr(ssl, "create_default_context"):
    kw["context"] = ssl._create_unverified_context() if c["insecure"] else ssl.create_default_context(cafile=c["ca"])
try:
    a = u.urlopen(r, **kw)
except e.HTTPError as x:
    a = x
except Exception as x:
    sys.stdout.write("labctl: %%s\n" %% x)
    sys.exit(3)
sys.stdout.write(a.read(%d).decode("utf-8", "replace") + "\n" + str(a.getcode()))
"""


def remote(spec: HttpSpec, password: str | None) -> tuple[str, bytes]:
    """The command a node runs for this check, and the script it reads on stdin.

    The node's own Python makes the request (curl is not on every minimal image); the
    password travels inside the script on stdin, never on a command line.
    """
    config = {"url": spec.url, "headers": dict(spec.headers), "timeout": spec.timeout, "insecure": spec.insecure,
              "ca": spec.ca, "user": spec.auth.user if spec.auth and password is not None else None, "password": password}
    command = 'p=$(command -v python3 || command -v python) || { echo "labctl: no python on the node"; exit 3; }; exec "$p" -'
    return command, (_REMOTE % (json.dumps(config), MAX_BODY)).encode()


def judge_remote(spec: HttpSpec, status: int | None, output: str) -> tuple[bool, str]:
    """Read the node's answer (the body, then the status code on the last line)."""
    if status is None:
        return False, f"{spec.url}: the request on the node did not finish"
    body, _, code = output.rpartition("\n")
    if status != 0 or not code.strip().isdigit():
        return False, f"{spec.url}: {output.strip()[-300:].removeprefix('labctl: ') or f'exit code {status}'}"
    return judge(spec, int(code), body)


def judge(spec: HttpSpec, status: int, body: str) -> tuple[bool, str]:
    """Whether an answer is what the check expects, and what was seen."""
    if status != spec.status:
        return False, f"{spec.url}: status {status}, expected {spec.status}{_excerpt(body)}"
    if spec.body and not re.search(spec.body, body, re.M):
        return False, f"{spec.url}: status {status} but the body does not match /{spec.body}/{_excerpt(body)}"
    if spec.json_:
        ok, detail = json_holds(spec.json_, body)
        if not ok:
            return False, f"{spec.url}: status {status} but {detail}"
    return True, f"{spec.url}: status {status}" + (f", body matches /{spec.body}/" if spec.body else "") + (
        f", {json_holds(spec.json_, body)[1]}" if spec.json_ else "")


def json_holds(check: JsonAssert, body: str) -> tuple[bool, str]:
    """The JSON assertion: the value at `path` equals `equals` and/or holds `count` items."""
    try:
        value = _at(json.loads(body), check.path)
    except ValueError:
        return False, "the body is not JSON"
    where = check.path or "the body"
    if value is _MISSING:
        return False, f"{where} is not in the JSON body"
    if check.count is not None:
        size = len(value) if isinstance(value, (list, dict)) else None
        if size != check.count:
            return False, f"{where} holds {size if size is not None else 'no list'} items, expected {check.count}"
    if check.equals is not None and value != check.equals:
        return False, f"{where} is {json.dumps(value)[:200]}, expected {json.dumps(check.equals)}"
    return True, f"{where} " + (f"holds {check.count} items" if check.count is not None else f"is {json.dumps(value)[:100]}")


def _at(value, path: str):
    for part in filter(None, path.split(".")):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return f": {text[:200]}" if text else ""

"""A lab's checks: one runner per check kind (port, command, http), in `RUNNERS`.

Checks with a node run over one SSH connection per node; an http check without a node runs
from the control host. Adding a kind means a model in spec/model.py and a runner here.
"""

from __future__ import annotations

import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import paramiko

from labctl.spec.model import CheckSpec, CommandCheck, HttpCheck, PortCheck
from labctl.verify import http
from labctl.verify.ssh import Endpoint, describe, execute, session

COMMAND_TIMEOUT = 60.0  # seconds a check's command may run
PORT_TIMEOUT = 5  # seconds to connect to a port from inside the node
DETAIL_LINES = 5  # lines of output a failed command check reports
MAX_WORKERS = 8  # nodes checked at the same time


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `detail` says what was seen, `seconds` how long it took."""

    name: str
    node: str | None  # None: run from the control host
    ok: bool
    detail: str
    seconds: float


def run_checks(
    checks: list[CheckSpec],
    endpoints: dict[str, Endpoint],
    addresses: dict[str, str],
    timeout: float = COMMAND_TIMEOUT,
    secrets: dict[str, str] | None = None,
) -> list[CheckResult]:
    """Run every check and return one result per check, in the order given.

    A port check connects to the port from inside its node: to the node's lab address
    (`addresses[node]`) when it has one, and to 127.0.0.1. A command check passes when
    the command exits 0 within `timeout` seconds and, if the check has `expect`, that
    regular expression matches its output (stdout and stderr together, multi-line mode).
    Nodes are checked in parallel, one SSH connection per node; a node that cannot be
    reached fails its checks rather than raising. `secrets` maps a secret's name to the
    password an http check's `auth.password_secret` names.
    """
    context = _Context(addresses, timeout, secrets or {})
    by_node: dict[str | None, list[int]] = {}
    for index, check in enumerate(checks):
        by_node.setdefault(check.node, []).append(index)
    results: list[CheckResult | None] = [None] * len(checks)
    if not by_node:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(by_node)), thread_name_prefix="labctl-check") as pool:
        jobs = [
            (indexes, pool.submit(_node_checks, [checks[i] for i in indexes], node, endpoints.get(node) if node else None, context))
            for node, indexes in by_node.items()
        ]
        for indexes, job in jobs:
            for index, result in zip(indexes, job.result()):
                results[index] = result
    return [r for r in results if r is not None]


@dataclass(frozen=True)
class _Context:
    addresses: dict[str, str]
    timeout: float
    secrets: dict[str, str]


def check_name(check: CheckSpec) -> str:
    """The check's own name, or one made from what it tests."""
    if check.name:
        return check.name
    where = f" on {check.node}" if check.node else ""
    if isinstance(check, PortCheck):
        return f"port {check.port}{where}"
    if isinstance(check, HttpCheck):
        return f"GET {check.http.url}{where}"
    return f"`{check.command}`{where}"


def _node_checks(checks: list[CheckSpec], node: str | None, endpoint: Endpoint | None, context: _Context) -> list[CheckResult]:
    """Run one node's checks in order over a single SSH connection (none for the control host)."""
    started = time.monotonic()
    if node is None:
        return [_one(None, c, context) for c in checks]
    if endpoint is None:
        return [_result(c, False, f"no SSH endpoint known for node {node}", started) for c in checks]
    try:
        with session(endpoint) as client:
            return [_one(client, c, context) for c in checks]
    except Exception as error:  # noqa: BLE001 - a node that fails fails its checks, not the run
        detail = f"cannot connect over SSH to {endpoint}: {describe(error)}"
        return [_result(c, False, detail, started) for c in checks]


def _one(client: paramiko.SSHClient | None, check: CheckSpec, context: _Context) -> CheckResult:
    started = time.monotonic()
    try:
        ok, detail = RUNNERS[type(check)](client, check, context)
    except Exception as error:  # noqa: BLE001 - one broken check does not stop the others
        ok, detail = False, f"{'SSH ' if client else ''}error: {describe(error)}"
    return _result(check, ok, detail, started)


def _run_port(client: paramiko.SSHClient, check: PortCheck, context: _Context) -> tuple[bool, str]:
    return port_open(client, check.port, context.addresses.get(check.node))


def _run_command(client: paramiko.SSHClient, check: CommandCheck, context: _Context) -> tuple[bool, str]:
    return command_ok(client, check.command, check.expect, context.timeout)


def _run_http(client: paramiko.SSHClient | None, check: HttpCheck, context: _Context) -> tuple[bool, str]:
    spec = check.http
    password = context.secrets.get(spec.auth.password_secret) if spec.auth else None
    if client is None:
        return http.with_retries(spec, lambda: http.local(spec, password))
    command, stdin = http.remote(spec, password)

    def attempt() -> tuple[bool, str]:
        status, output = execute(client, command, spec.timeout + 5, stdin=stdin)
        return http.judge_remote(spec, status, output)

    return http.with_retries(spec, attempt)


RUNNERS = {PortCheck: _run_port, CommandCheck: _run_command, HttpCheck: _run_http}


def _result(check: CheckSpec, ok: bool, detail: str, started: float) -> CheckResult:
    return CheckResult(check_name(check), check.node, ok, detail, round(time.monotonic() - started, 3))


def port_command(port: int, address: str | None) -> str:
    """A shell command, run on the node, that prints the first of its addresses where `port` accepts."""
    targets = " ".join(shlex.quote(a) for a in dict.fromkeys([a for a in (address, "127.0.0.1") if a]))
    probe = f"timeout {PORT_TIMEOUT} bash -c \"</dev/tcp/$a/{int(port)}\" 2>/dev/null"
    return f"for a in {targets}; do if {probe}; then echo \"$a\"; exit 0; fi; done; exit 1"


def port_open(client: paramiko.SSHClient, port: int, address: str | None) -> tuple[bool, str]:
    """Whether `port` accepts connections on the node, tested from inside the node."""
    where = " or ".join(a for a in dict.fromkeys([address, "127.0.0.1"]) if a)
    status, output = execute(client, port_command(port, address), timeout=2 * PORT_TIMEOUT + 5)
    if status == 0:
        return True, f"port {port} open on {output.strip() or where}"
    if status is None:
        return False, f"port {port}: the test on the node did not finish"
    return False, f"port {port} closed on {where}"


def command_ok(client: paramiko.SSHClient, command: str, expect: str | None, timeout: float) -> tuple[bool, str]:
    """Whether `command` exits 0 on the node and its output matches `expect` (if any)."""
    try:
        pattern = re.compile(expect, re.M) if expect else None
    except re.error as error:
        return False, f"invalid expect pattern {expect!r}: {error}"
    status, output = execute(client, command, timeout)
    if status is None:
        return False, f"did not finish within {timeout:g}s{_excerpt(output)}"
    if status != 0:
        return False, f"exit code {status}{_excerpt(output)}"
    if pattern and not pattern.search(output):
        return False, f"exit code 0 but output does not match /{expect}/{_excerpt(output)}"
    return True, "exit code 0" + (f", output matches /{expect}/" if expect else "")


def _excerpt(output: str) -> str:
    lines = output.strip().splitlines()
    if not lines:
        return "; no output"
    more = f"\n... ({len(lines) - DETAIL_LINES} more lines)" if len(lines) > DETAIL_LINES else ""
    return ":\n" + "\n".join(lines[:DETAIL_LINES]) + more

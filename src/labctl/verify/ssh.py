"""SSH endpoints of lab nodes: connecting with paramiko and waiting for them to come up."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager


import paramiko

from labctl.endpoints import Endpoint
from labctl.errors import SSHUnreachable

CONNECT_TIMEOUT = 10.0  # seconds for one TCP connect, banner or authentication
RETRY_PAUSE = 1.0  # seconds between two attempts on one node
MAX_OUTPUT = 1 << 20  # bytes of command output kept

# paramiko logs every failed attempt (e.g. "Error reading SSH protocol banner" while a
# machine boots) with a traceback at ERROR level; with no handler configured Python would
# print those to stderr. Records still reach any handler the application sets up.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def connect(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> paramiko.SSHClient:
    """An authenticated SSH client for `endpoint`; the caller closes it.

    Host keys are accepted without a known_hosts file (AutoAddPolicy, kept in memory only):
    lab machines are fresh, their host keys are new on every build and known to nobody in
    advance, and the endpoints are loopback ports or addresses labctl itself assigned.
    Only the given key is offered: no agent, no keys from ~/.ssh.
    """
    key = load_key(endpoint.key)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            endpoint.host, port=endpoint.port, username=endpoint.user, pkey=key,
            look_for_keys=False, allow_agent=False,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout,
        )
    except BaseException:
        client.close()
        raise
    return client


def load_key(path: str) -> paramiko.PKey:
    """The private key in file `path`, of whatever type it is.

    Loaded here rather than through `key_filename`, which tries every key type and then
    reports the last type's complaint ("expected OPENSSH key") instead of the real error.
    """
    return paramiko.PKey.from_path(path)


@contextmanager
def session(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> Iterator[paramiko.SSHClient]:
    """`connect` as a context manager that always closes the client."""
    client = connect(endpoint, timeout)
    try:
        yield client
    finally:
        client.close()


def describe(error: BaseException) -> str:
    """A short one-line description of a connection error."""
    if isinstance(error, socket.timeout):
        return "timed out"
    text = " ".join(str(error).split())
    if isinstance(error, (OSError, EOFError, paramiko.SSHException)):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def execute(client: paramiko.SSHClient, command: str, timeout: float, stdin: bytes | None = None) -> tuple[int | None, str]:
    """Run `command` (fed `stdin`, if any); return (exit status, combined stdout and stderr).

    The exit status is None when the command did not finish within `timeout` seconds.
    """
    channel = client.get_transport().open_session(timeout=timeout)  # type: ignore[union-attr]
    try:
        channel.set_combine_stderr(True)
        channel.settimeout(min(timeout, 1.0))
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin)
            channel.shutdown_write()
        output = _read_until_exit(channel, time.monotonic() + timeout)
        status = channel.recv_exit_status() if channel.exit_status_ready() else None
        return status, output.decode("utf-8", errors="replace")
    finally:
        channel.close()


def _read_until_exit(channel: paramiko.Channel, deadline: float) -> bytes:
    chunks: list[bytes] = []
    kept = 0
    while time.monotonic() < deadline:
        try:
            data = channel.recv(32768)
        except socket.timeout:
            continue
        if not data:  # EOF: the command closed its output
            break
        if kept < MAX_OUTPUT:
            chunks.append(data[: MAX_OUTPUT - kept])
            kept += len(chunks[-1])
    while not channel.exit_status_ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    return b"".join(chunks)


def wait_for_ssh(
    endpoints: list[Endpoint],
    timeout: float = 120,
    progress: Callable[[str], None] = lambda s: None,
) -> None:
    """Wait until every endpoint accepts an SSH login and runs a command, all in parallel.

    Waits `timeout` seconds in all (an attempt under way then may take a few seconds
    more to give up). `progress` receives one line saying what it waits for, then one
    line per node that came up, all called from the calling thread. Raises
    SSHUnreachable naming every node still unreachable, with its last error.
    """
    if not endpoints:
        return
    deadline = time.monotonic() + timeout
    failures: dict[str, str] = {}
    progress(f"waiting up to {timeout:g}s for SSH on {', '.join(e.name for e in endpoints)}")
    with ThreadPoolExecutor(max_workers=len(endpoints), thread_name_prefix="labctl-ssh-wait") as pool:
        futures = {pool.submit(_wait_one, e, deadline): e for e in endpoints}
        for future in as_completed(futures):
            endpoint = futures[future]
            error = future.result()
            if error is None:
                progress(f"{endpoint.name}: SSH is up ({endpoint})")
            else:
                failures[endpoint.name] = error
    if failures:
        raise SSHUnreachable(failures, timeout)


def _wait_one(endpoint: Endpoint, deadline: float) -> str | None:
    """None once `endpoint` answers, else the last error when `deadline` passes."""
    try:
        load_key(endpoint.key)
    except Exception as error:  # noqa: BLE001 - a key that cannot be read will not become readable
        return f"cannot use private key {endpoint.key}: {describe(error)}"
    last = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return last
        try:
            budget = max(1.0, min(CONNECT_TIMEOUT, remaining))
            with session(endpoint, timeout=budget) as client:
                status, output = execute(client, "true", budget)
            if status == 0:
                return None
            last = f"`true` exited with {status}: {output.strip()[:200]}"
        except Exception as error:  # noqa: BLE001 - any failure is retried until the deadline
            last = describe(error)
        time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))

"""The verify stage: wait for SSH on every node, then run the lab's checks over SSH.

Everything goes through paramiko; a port check is made from inside the node itself,
so no traffic leaves for any host other than the nodes' SSH endpoints.
"""

from __future__ import annotations

from labctl.verify.checks import CheckResult, run_checks
from labctl.verify.ssh import Endpoint, SSHUnreachable, wait_for_ssh

__all__ = ["CheckResult", "Endpoint", "SSHUnreachable", "run_checks", "wait_for_ssh"]

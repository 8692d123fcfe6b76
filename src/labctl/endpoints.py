"""Where a node answers SSH: learnt from a provider, used by provisioning and verification."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """Where to reach one node over SSH: `key` is the path of a private key file."""

    name: str
    host: str
    port: int
    user: str
    key: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

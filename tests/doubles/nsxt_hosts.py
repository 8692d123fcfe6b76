"""Part of the NSX-T Manager API TEST DOUBLE (tests/doubles/nsxt.py), not NSX-T: hypervisor hosts as transport nodes.

A mixin of `Manager` for what NSX-T 2.5 does when a KVM host is registered (POST /transport-nodes with a HostNode
`node_deployment_info`), checked as the real manager checks it:
- the manager logs in to the host at `ip_addresses[0]` by a REAL SSH login (paramiko, port `ssh_port`, 22 by
  default) as `host_credential.username` with `host_credential.password`, offering only RSA host-key algorithms
  (the key NSX-T's KVM guide takes the thumbprint of), and the presented key's thumbprint (base64 of the SHA-256
  of the key blob) must equal `host_credential.thumbprint`; the user must be root (`id -u` is 0: it installs
  packages); any failure is a 400 with the manager's error shape;
- the credential is never stored or returned (GET has no `host_credential`);
- referenced transport zones, host-switch profiles (of the key's type) and IP pools must exist; a pnic's uplink
  must be an uplink of the switch's uplink profile; a device is used by one host switch only;
- the manager adds its default LLDP profile to each host switch that names none;
- `/pools/ip-pools` (ranges inside the cidr) and `/host-switch-profiles` (the manager's own
  `nsx-default-uplink-hostswitch-profile` and LLDP profile are system-owned: listed only with
  `include_system_owned=true`, never changed or deleted); a pool or profile in use is not deleted;
- `GET /transport-nodes/ID/state` reports `success` (the SSH login above is what registration checks here).
Not modelled: installing NSX on the host, the host's own state after registration.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import socket

from tests.doubles.nsxt_schema import ApiError, bad

HOST_COLLECTIONS = {"pools/ip-pools": "IpPool", "host-switch-profiles": "BaseHostSwitchProfile"}
HOST_QUERY = {"include_system_owned", "hostswitch_profile_type", "uplink_teaming_policy_name", "node_types"}
DEFAULT_UPLINK = "nsx-default-uplink-hostswitch-profile"
DEFAULT_LLDP = "LLDP [Send Packet Disabled]"
_NOT_RSA = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
            "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]


class Hosts:
    """Host transport nodes, IP pools and host-switch profiles (mixed into Manager)."""

    ssh_port = 22

    def _seed_profiles(self) -> None:
        self.host_logins: list[dict] = []  # every registration's SSH login: address, user, thumbprint, error
        teaming = {"policy": "FAILOVER_ORDER", "active_list": [{"uplink_name": "uplink-1", "uplink_type": "PNIC"}]}
        self._store("host-switch-profiles", {"resource_type": "UplinkHostSwitchProfile", "display_name": DEFAULT_UPLINK,
                                             "mtu": 1600, "transport_vlan": 0, "teaming": teaming}, system=True)
        self._store("host-switch-profiles", {"resource_type": "LldpHostSwitchProfile", "display_name": DEFAULT_LLDP,
                                             "send_enabled": False}, system=True)
        for obj in self.objects["host-switch-profiles"].values():
            obj["_system_owned"] = True

    def _visible(self, coll: str, rows: list[dict], query: dict) -> list[dict]:
        if coll == "host-switch-profiles" and query.get("include_system_owned") != "true":
            return [o for o in rows if not o.get("_system_owned")]
        return rows

    def _node_state(self, node: dict) -> tuple[int, dict]:
        return 200, {"transport_node_id": node["id"], "state": "success", "node_deployment_state": {"state": "NODE_READY"}}

    # -- rules ---------------------------------------------------------------------------------------------
    def _rule_ip_pools(self, obj: dict, current: dict | None) -> None:
        for subnet in obj.get("subnets", []):
            try:
                network = ipaddress.ip_network(subnet["cidr"], strict=False)
                ranges = [(ipaddress.ip_address(r["start"]), ipaddress.ip_address(r["end"])) for r in subnet["allocation_ranges"]]
            except ValueError as err:
                raise bad(f"IP pool {obj.get('display_name')}: {err}", 5100) from None
            for start, end in ranges:
                if start not in network or end not in network or start > end:
                    raise bad(f"IP pool {obj.get('display_name')}: range {start}-{end} is not inside {network}", 5101)

    def _rule_host_switch_profiles(self, obj: dict, current: dict | None) -> None:
        if current and current.get("_system_owned"):
            raise ApiError(403, f"Host switch profile {current['display_name']} is system owned and cannot be modified", 5102)
        if current and obj["resource_type"] != current["resource_type"]:
            raise bad("resource_type of a host switch profile cannot be changed", 5103)
        if obj["resource_type"] == "UplinkHostSwitchProfile" and not 1280 <= obj.get("mtu", 1600) <= 9000:
            raise bad(f"MTU {obj['mtu']} is not in the range 1280-9000", 5104)

    def _rule_host_node(self, obj: dict, current: dict | None) -> None:
        """A HostNode transport node: references, pnics, then (on registration) the real SSH login."""
        info = obj["node_deployment_info"]
        credential = info.pop("host_credential", None) or {}  # never stored, never returned
        devices: set[str] = set()
        for switch in (obj.get("host_switch_spec") or {}).get("host_switches", []):
            self._host_switch(obj, switch, devices)
        if current is None:
            if not info.get("ip_addresses"):
                raise bad(f"Host node {obj.get('display_name')}: ip_addresses is required", 9401)
            error = _ssh_login(info["ip_addresses"][0], self.ssh_port, credential)
            self.host_logins.append({"address": info["ip_addresses"][0], "username": credential.get("username"),
                                     "thumbprint": credential.get("thumbprint"), "error": error})
            if error:
                raise bad(f"Host node {obj.get('display_name')}: {error}", 9402)

    def _host_switch(self, obj: dict, switch: dict, devices: set[str]) -> None:
        entries = switch.get("host_switch_profile_ids", [])
        uplinks = None
        for entry in entries:
            profile = self._ref("host-switch-profiles", entry["value"], "Host switch profile")
            if entry.get("key") and profile["resource_type"] != entry["key"]:
                raise bad(f"Host switch profile {profile['display_name']} is a {profile['resource_type']}, not a {entry['key']}", 9403)
            if profile["resource_type"] == "UplinkHostSwitchProfile":
                teaming = profile.get("teaming") or {}
                uplinks = {u["uplink_name"] for u in teaming.get("active_list", []) + teaming.get("standby_list", [])}
        if not any(e.get("key") == "LldpHostSwitchProfile" for e in entries):
            lldp = next(o for o in self.objects["host-switch-profiles"].values() if o["display_name"] == DEFAULT_LLDP)
            switch["host_switch_profile_ids"] = entries + [{"key": "LldpHostSwitchProfile", "value": lldp["id"]}]
        for pnic in switch.get("pnics", []):
            if uplinks is not None and pnic["uplink_name"] not in uplinks:
                raise bad(f"Uplink {pnic['uplink_name']} of pnic {pnic['device_name']} is not in the uplink profile "
                          f"of host switch {switch.get('host_switch_name')}", 9404)
            if pnic["device_name"] in devices:
                raise bad(f"Pnic {pnic['device_name']} is used by more than one host switch", 9405)
            devices.add(pnic["device_name"])
        spec = switch.get("ip_assignment_spec") or {}
        if spec.get("resource_type") == "StaticIpPoolSpec":
            self._ref("pools/ip-pools", spec["ip_pool_id"], "IP pool")

    def _host_users(self, coll: str, obj: dict) -> list[dict] | None:
        """Who uses a pool or profile (None: not a collection of this mixin)."""
        if coll not in HOST_COLLECTIONS:
            return None
        if obj.get("_system_owned"):
            raise ApiError(403, f"{obj['display_name']} is system owned and cannot be deleted", 5105)
        return [n for n in self.objects["transport-nodes"].values() if obj["id"] in _references(n)]


def _references(node: dict) -> set[str]:
    out = set()
    for switch in (node.get("host_switch_spec") or {}).get("host_switches", []):
        out.update(e["value"] for e in switch.get("host_switch_profile_ids", []))
        out.add((switch.get("ip_assignment_spec") or {}).get("ip_pool_id"))
    return out


def host_thumbprint(key) -> str:
    """NSX-T's KVM thumbprint of a paramiko public key: base64 of the SHA-256 of the key blob."""
    return base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode()


def _ssh_login(addr: str, port: int, credential: dict) -> str | None:
    """None when the host presents the given thumbprint and the user logs in with the password as root."""
    import paramiko

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    for field in ("username", "password", "thumbprint"):
        if not credential.get(field):
            return f"host_credential.{field} is required to register a KVM host"
    try:
        sock = socket.create_connection((addr, port), timeout=5)
    except OSError as err:
        return f"Failed to connect to host {addr}:{port}: {err}"
    transport = paramiko.Transport(sock, disabled_algorithms={"keys": _NOT_RSA})
    try:
        transport.start_client(timeout=10)
        presented = host_thumbprint(transport.get_remote_server_key())
        if presented != credential["thumbprint"]:
            return (f"Host {addr} presented SSH host key thumbprint {presented}, not the thumbprint "
                    f"{credential['thumbprint']} given in host_credential")
        transport.auth_password(credential["username"], credential["password"])
        return _is_root(transport, addr, credential["username"])
    except paramiko.AuthenticationException:
        return f"Failed to log in to host {addr} as {credential['username']}: invalid user name or password"
    except (paramiko.SSHException, OSError, EOFError) as err:
        return f"SSH to host {addr} failed: {type(err).__name__}: {err}"
    finally:
        transport.close()


def _is_root(transport, addr: str, username: str) -> str | None:
    channel = transport.open_session(timeout=10)
    channel.exec_command("id -u")
    out = channel.makefile("r").read().strip()
    if channel.recv_exit_status() != 0 or out not in ("0", b"0"):
        return f"User {username} on host {addr} is not root (id -u: {out!r}): NSX needs root to install its packages"
    return None

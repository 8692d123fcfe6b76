"""A TEST DOUBLE of the NSX-T Manager API (`/api/v1`), not NSX-T: NSX-T is licensed and cannot run here.

It enforces what labctl's NSX-T modules must get right against a real manager:
- every POST/PUT body is validated against the definitions of the NSX-T 2.5.1 Manager API spec
  (../shared/reference/nsxt/nsx_api_2.5.1.json): `$ref` and `allOf` resolved, `resource_type`
  discriminators followed to the concrete type, unknown fields and bad enums refused, required fields
  checked, read-only fields ignored (the manager drops them, so a body read by GET can be sent back);
- `_revision`: a PUT with a stale or missing `_revision` gets 412; each write bumps it;
- ordering rules: a LinkPortOnTIER1 needs an existing, unlinked LinkPortOnTIER0 it points at (the
  manager then links the Tier-0 port back); port types fit router types (uplinks and Tier-0 link ports
  on TIER0, Tier-1 link ports on TIER1); an uplink needs its router's edge cluster, a valid member index
  and edges that are members of the VLAN switch's transport zone; a transport-zone endpoint needs a host
  switch of the zone's name on the node; routers with ports are deleted only with `?force=true`; switches
  with ports, ports attached to a router, zones in use, edge clusters in use are not deleted;
- immutable fields (transport_type, host_switch_name, router_type, ...) cannot change on PUT;
- HTTP basic authentication (401 without credentials, 403 with wrong ones); errors in the manager's
  shape `{httpStatus, error_code, module_name, error_message}`.
- KVM hosts registered as transport nodes (tests/doubles/nsxt_hosts.py): a REAL SSH login to the host with the
  given root password, checking its host key against the given thumbprint; IP pools and host-switch profiles.
Two edge transport nodes, `edge-1` and `edge-2`, exist from the start (host switches nvds-overlay and
nvds-vlan, no transport zones), and the manager's own default uplink and LLDP profiles. Not modelled:
realization state, pagination beyond `page_size`/`cursor`, anything outside the collections below.
The double's parts: nsxt_schema.py (the 2.5.1 schema check), nsxt_rules.py (the manager's rules),
nsxt_hosts.py (hypervisor hosts), nsxt_http.py (HTTP), this module (state, storage, deletes, advertisement).

Test hooks outside /api/v1 (no auth, loopback only): GET /_double/writes (every write attempted),
GET /_double/state, POST /_double/inject-412 `{"method": "PUT", "match": "advertisement"}` (the next
matching write finds the object changed by someone else: its `_revision` is bumped, so it gets 412).

    python -m tests.doubles.nsxt --port 8443 [--user admin] [--ssh-port 22]   # password from $NSXT_DOUBLE_PASSWORD
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import secrets
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from tests.doubles.nsxt_hosts import HOST_COLLECTIONS, HOST_QUERY, Hosts
from tests.doubles.nsxt_http import Handler
from tests.doubles.nsxt_rules import Rules
from tests.doubles.nsxt_schema import SPEC, ApiError, Schema, bad  # noqa: F401 (SPEC, bad: the double's public names)

COLLECTIONS = {
    "transport-zones": "TransportZone", "transport-nodes": "TransportNode", "edge-clusters": "EdgeCluster",
    "logical-switches": "LogicalSwitch", "logical-ports": "LogicalPort", "logical-routers": "LogicalRouter",
    "logical-router-ports": "LogicalRouterPort", **HOST_COLLECTIONS,
}
IMMUTABLE = {
    "transport-zones": ("transport_type", "host_switch_name"), "logical-switches": ("transport_zone_id",),
    "logical-ports": ("logical_switch_id",), "logical-routers": ("router_type",),
    "logical-router-ports": ("logical_router_id", "resource_type"),
}
PAGING = {"cursor", "page_size", "included_fields", "sort_by", "sort_ascending", "force", "cascade", "detach", *HOST_QUERY}


class Manager(Rules, Hosts):
    """The manager's state and rules; `handle` is the whole API (the HTTP layer only parses)."""

    def __init__(self, user: str, password: str, schema: Schema | None = None, ssh_port: int = 22) -> None:
        self.user, self.password, self.ssh_port = user, password, ssh_port
        self.schema = schema or Schema()
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, dict]] = {c: {} for c in COLLECTIONS}
        self.advertisement: dict[str, dict] = {}
        self.writes: list[dict] = []
        self.inject: list[dict] = []
        self.links = 0
        for name in ("edge-1", "edge-2"):
            self._seed_edge(name)
        self._seed_profiles()

    def _seed_edge(self, name: str) -> None:
        switches = [{"host_switch_name": n, "host_switch_profile_ids": [], "pnics": []} for n in ("nvds-overlay", "nvds-vlan")]
        self._store("transport-nodes", {
            "resource_type": "TransportNode", "display_name": name, "transport_zone_endpoints": [],
            "host_switch_spec": {"resource_type": "StandardHostSwitchSpec", "host_switches": switches},
            "node_deployment_info": {"resource_type": "EdgeNode", "display_name": name, "ip_addresses": []},
        }, system=True)

    # -- entry point ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body, auth: str | None):
        """Return (status, body) for one API call; every rule violation is an ApiError."""
        self._authenticate(auth)
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["pools", "ip-pools"]:  # the one collection two segments deep
            parts = ["pools/ip-pools", *parts[2:]]
        if len(parts) < 1 or parts[0] not in COLLECTIONS:
            raise ApiError(404, f"The requested URI: {path} could not be found.", 404)
        if method in ("POST", "PUT", "DELETE"):
            self.writes.append({"method": method, "path": path, "at": time.time()})
        if len(parts) == 4 and parts[0] == "logical-routers" and parts[2:] == ["routing", "advertisement"]:
            return self._advertisement(method, parts[1], body)
        if len(parts) == 3 and parts[0] == "transport-nodes" and parts[2] == "state" and method == "GET":
            return self._node_state(self.get("transport-nodes", parts[1]))
        if len(parts) == 1:
            return self._collection(method, parts[0], query, body)
        if len(parts) == 2:
            return self._item(method, parts[0], parts[1], query, body)
        raise ApiError(404, f"The requested URI: {path} could not be found.", 404)

    def _authenticate(self, header: str | None) -> None:
        if not header or not header.startswith("Basic "):
            raise ApiError(401, "Authentication required: HTTP basic credentials missing", 401)
        user, _, password = base64.b64decode(header[6:]).decode(errors="replace").partition(":")
        if not (secrets.compare_digest(user, self.user) and secrets.compare_digest(password, self.password)):
            raise ApiError(403, "The credentials were incorrect or the account specified has been locked.", 403)

    def _collection(self, method: str, coll: str, query: dict, body):
        if method == "GET":
            return 200, self._list(coll, query)
        if method != "POST":
            raise ApiError(405, f"{method} is not allowed on /{coll}", 405)
        obj = self._validated(coll, body)
        self._rules(coll, obj, None)
        created = self._store(coll, obj)
        self._after_create(coll, created)
        return 201, created

    def _list(self, coll: str, query: dict) -> dict:
        filters = {k: v for k, v in query.items() if k not in PAGING}
        rows = [o for o in self.objects[coll].values() if all(str(o.get(k)) == v for k, v in filters.items())]
        rows = self._visible(coll, rows, query)
        start, size = int(query.get("cursor") or 0), int(query.get("page_size") or 1000)
        page = {"results": copy.deepcopy(rows[start:start + size]), "result_count": len(rows)}
        if start + size < len(rows):
            page["cursor"] = str(start + size)
        return page

    def _item(self, method: str, coll: str, oid: str, query: dict, body):
        current = self.get(coll, oid)
        if method == "GET":
            return 200, copy.deepcopy(current)
        if method == "DELETE":
            self._delete(coll, current, query)
            return 200, None
        if method != "PUT":
            raise ApiError(405, f"{method} is not allowed on /{coll}/{oid}", 405)
        obj = self._validated(coll, body)
        self._check_revision(coll, current, body)
        for key in IMMUTABLE.get(coll, ()):
            if obj.get(key, current.get(key)) != current.get(key):
                raise bad(f"{key} of {current['display_name']} cannot be changed", 8325)
        self._rules(coll, obj, current)
        return 200, self._replace(coll, current, obj)

    def get(self, coll: str, oid: str) -> dict:
        if oid not in self.objects[coll]:
            raise ApiError(404, f"The requested object : {oid} could not be found. Object identifiers are case sensitive.", 600)
        return self.objects[coll][oid]

    def _validated(self, coll: str, body) -> dict:
        definition = COLLECTIONS[coll]
        if coll == "logical-router-ports" and isinstance(body, dict) and body.get("resource_type") in (None, definition):
            raise bad("resource_type must name the kind of logical router port")
        self.schema.check(definition, body)
        return self.schema.strip(definition, body)

    def _check_revision(self, coll: str, current: dict, body: dict) -> None:
        self._injected("PUT", f"/{coll}/{current['id']}", current)
        if "_revision" not in body or body["_revision"] != current["_revision"]:
            raise ApiError(412, f"The object was modified by somebody else: {current['display_name']} is at "
                                f"_revision {current['_revision']}, the request had {body.get('_revision')}", 244)

    def _injected(self, method: str, path: str, current: dict) -> None:
        for hook in list(self.inject):
            if hook.get("method", "PUT") == method and hook.get("match", "") in path:
                self.inject.remove(hook)
                current["_revision"] += 1
                current["_last_modified_user"] = "someone-else"

    # -- storage ----------------------------------------------------------------------------
    def _store(self, coll: str, obj: dict, system: bool = False) -> dict:
        now = int(time.time() * 1000)
        oid = str(uuid.uuid4())
        obj = {**obj, "id": oid, "_revision": 0, "_create_time": now, "_last_modified_time": now,
               "_create_user": "system" if system else self.user, "_last_modified_user": self.user,
               "_system_owned": False, "_protection": "NOT_PROTECTED"}
        obj.setdefault("display_name", oid)
        obj.setdefault("resource_type", COLLECTIONS[coll])
        self.objects[coll][oid] = obj
        return copy.deepcopy(obj)

    def _replace(self, coll: str, current: dict, obj: dict) -> dict:
        keep = {k: v for k, v in current.items() if k.startswith("_") or k in ("id", "resource_type")}
        managed = {k: current[k] for k in ("subnets", "linked_logical_router_port_id", "member_index") if
                   k in current and coll == "logical-router-ports" and current["resource_type"].startswith("LogicalRouterLinkPort")}
        new = {**obj, **keep, **managed, "_revision": current["_revision"] + 1,
               "_last_modified_time": int(time.time() * 1000), "_last_modified_user": self.user}
        new.setdefault("display_name", current["id"])
        if coll == "edge-clusters":
            _index_members(new)
        self.objects[coll][current["id"]] = new
        return copy.deepcopy(new)

    def _after_create(self, coll: str, created: dict) -> None:
        stored = self.objects[coll][created["id"]]
        if coll == "edge-clusters":
            _index_members(stored)
        elif coll == "logical-routers" and stored["router_type"] == "TIER1":
            self.advertisement[stored["id"]] = {
                "resource_type": "AdvertisementConfig", "logical_router_id": stored["id"], "_revision": 0,
                "enabled": True, **{k: False for k in ("advertise_nsx_connected_routes", "advertise_static_routes",
                                                       "advertise_nat_routes", "advertise_lb_vip", "advertise_lb_snat_ip",
                                                       "advertise_dns_forwarder", "advertise_ipsec_local_ip")}}
        elif coll == "logical-router-ports":
            self._wire_port(stored)
        created.update(copy.deepcopy(stored))

    def _wire_port(self, port: dict) -> None:
        link = port.get("linked_logical_switch_port_id")
        if link:
            self.objects["logical-ports"][link["target_id"]]["attachment"] = {"attachment_type": "LOGICALROUTER", "id": port["id"]}
        if port["resource_type"] == "LogicalRouterLinkPortOnTIER1":
            peer = self.objects["logical-router-ports"][port["linked_logical_router_port_id"]["target_id"]]
            peer["linked_logical_router_port_id"] = port["id"]
            self.links += 1
            n = self.links
            peer["subnets"] = [{"ip_addresses": [f"100.64.{n // 128}.{n % 128 * 2}"], "prefix_length": 31}]
            port["subnets"] = [{"ip_addresses": [f"100.64.{n // 128}.{n % 128 * 2 + 1}"], "prefix_length": 31}]

    # -- delete -----------------------------------------------------------------------------
    def _delete(self, coll: str, obj: dict, query: dict) -> None:
        users = self._users(coll, obj)
        if coll == "logical-routers" and users and query.get("force") == "true":
            for port in users:
                self._drop_port(port)
            users = []
        if coll == "logical-ports" and users and query.get("detach") == "true":
            obj.pop("attachment", None)
            users = []
        if users:
            raise bad(f"{COLLECTIONS[coll]} {obj['display_name']} is in use by {len(users)} object(s): "
                      f"{', '.join(u.get('display_name', u['id']) for u in users[:3])}", 8400)
        if coll == "logical-router-ports":
            self._drop_port(obj)
            return
        del self.objects[coll][obj["id"]]
        self.advertisement.pop(obj["id"], None)

    def _users(self, coll: str, obj: dict) -> list[dict]:
        oid, o = obj["id"], self.objects
        hosts = self._host_users(coll, obj)
        if hosts is not None:
            return hosts
        if coll == "transport-zones":
            return [s for s in o["logical-switches"].values() if s["transport_zone_id"] == oid] + [
                n for n in o["transport-nodes"].values() if oid in {e["transport_zone_id"] for e in n.get("transport_zone_endpoints", [])}]
        if coll == "transport-nodes":
            return [c for c in o["edge-clusters"].values() if oid in {m["transport_node_id"] for m in c.get("members", [])}]
        if coll == "edge-clusters":
            return [r for r in o["logical-routers"].values() if r.get("edge_cluster_id") == oid]
        if coll == "logical-switches":
            return [p for p in o["logical-ports"].values() if p["logical_switch_id"] == oid]
        if coll == "logical-ports":
            return [{"id": obj["attachment"]["id"]}] if obj.get("attachment") else []
        if coll == "logical-routers":
            return [p for p in o["logical-router-ports"].values() if p["logical_router_id"] == oid]
        linked = obj.get("linked_logical_router_port_id")
        return [o["logical-router-ports"][linked]] if obj["resource_type"].endswith("TIER0") and linked else []

    def _drop_port(self, port: dict) -> None:
        ports = self.objects["logical-router-ports"]
        link = port.get("linked_logical_switch_port_id")
        if link and link["target_id"] in self.objects["logical-ports"]:
            self.objects["logical-ports"][link["target_id"]].pop("attachment", None)
        peer = port.get("linked_logical_router_port_id")
        if isinstance(peer, dict) and peer.get("target_id") in ports:
            ports[peer["target_id"]].pop("linked_logical_router_port_id", None)
            ports[peer["target_id"]].pop("subnets", None)
        elif isinstance(peer, str) and peer in ports:
            self._drop_port(ports[peer])
        ports.pop(port["id"], None)

    # -- routing advertisement ------------------------------------------------------------
    def _advertisement(self, method: str, rid: str, body):
        router = self._ref("logical-routers", rid, "Logical router")
        if router["router_type"] != "TIER1":
            raise bad(f"Route advertisement is configured on TIER1 routers; {router['display_name']} is TIER0", 8230)
        current = self.advertisement[rid]
        if method == "GET":
            return 200, copy.deepcopy(current)
        if method != "PUT":
            raise ApiError(405, f"{method} is not allowed on advertisement", 405)
        self.schema.check("AdvertisementConfig", body)
        current.setdefault("display_name", rid)
        self._injected("PUT", f"/logical-routers/{rid}/routing/advertisement", current)
        if body.get("_revision") != current["_revision"]:
            raise ApiError(412, f"The object was modified by somebody else: advertisement of {router['display_name']} "
                                f"is at _revision {current['_revision']}, the request had {body.get('_revision')}", 244)
        new = {**self.schema.strip("AdvertisementConfig", body), "resource_type": "AdvertisementConfig",
               "logical_router_id": rid, "_revision": current["_revision"] + 1}
        self.advertisement[rid] = new
        return 200, copy.deepcopy(new)

    def state(self) -> dict:
        """Every object by collection and display_name, advertisement by router name, KVM host logins (for tests)."""
        names = {r["id"]: r["display_name"] for r in self.objects["logical-routers"].values()}
        out = {c: sorted(o.get("display_name", "") for o in objs.values()) for c, objs in self.objects.items()}
        out["objects"] = copy.deepcopy(self.objects)
        out["advertisement"] = {names[k]: copy.deepcopy(v) for k, v in self.advertisement.items() if k in names}
        out["host_logins"] = copy.deepcopy(self.host_logins)
        return out


def _index_members(cluster: dict) -> None:
    for index, member in enumerate(cluster.get("members", [])):
        member["member_index"] = index



def serve(user: str, password: str, port: int = 0, directory: Path | None = None, ssh_port: int = 22):
    """Start the double over HTTPS on 127.0.0.1; return (server, port, cafile, manager)."""
    from tests.doubles.tls import serve_https

    manager = Manager(user, password, ssh_port=ssh_port)
    handler = type("NsxtHandler", (Handler,), {"manager": manager})
    server, port, cafile = serve_https(handler, port, directory)
    return server, port, cafile, manager


@contextmanager
def running(user: str, password: str):
    """The double for one test: (manager, port, cafile), shut down afterwards."""
    server, port, cafile, manager = serve(user, password)
    try:
        yield manager, port, cafile
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NSX-T Manager API double (for labctl's tests)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-env", default="NSXT_DOUBLE_PASSWORD", help="environment variable with the password")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the certificate")
    parser.add_argument("--ssh-port", type=int, default=22, help="the port it logs in to KVM hosts on")
    args = parser.parse_args(argv)
    password = os.environ.get(args.password_env)
    if not password:
        parser.error(f"set {args.password_env} to the password the double accepts")
    server, port, cafile, _ = serve(args.user, password, args.port, args.dir, args.ssh_port)
    print(json.dumps({"port": port, "cafile": cafile}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

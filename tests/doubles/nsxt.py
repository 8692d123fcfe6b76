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
Two edge transport nodes, `edge-1` and `edge-2`, exist from the start (host switches nvds-overlay and
nvds-vlan, no transport zones). Not modelled: realization state, pagination beyond `page_size`/`cursor`,
anything outside the collections below.

Test hooks outside /api/v1 (no auth, loopback only): GET /_double/writes (every write attempted),
GET /_double/state, POST /_double/inject-412 `{"method": "PUT", "match": "advertisement"}` (the next
matching write finds the object changed by someone else: its `_revision` is bumped, so it gets 412).

    python -m tests.doubles.nsxt --port 8443 [--user admin]   # password from $NSXT_DOUBLE_PASSWORD
"""

from __future__ import annotations

import argparse
import base64
import copy
import ipaddress
import json
import os
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "nsxt" / "nsx_api_2.5.1.json"
COLLECTIONS = {
    "transport-zones": "TransportZone", "transport-nodes": "TransportNode", "edge-clusters": "EdgeCluster",
    "logical-switches": "LogicalSwitch", "logical-ports": "LogicalPort", "logical-routers": "LogicalRouter",
    "logical-router-ports": "LogicalRouterPort",
}
IMMUTABLE = {
    "transport-zones": ("transport_type", "host_switch_name"), "logical-switches": ("transport_zone_id",),
    "logical-ports": ("logical_switch_id",), "logical-routers": ("router_type",),
    "logical-router-ports": ("logical_router_id", "resource_type"),
}
PAGING = {"cursor", "page_size", "included_fields", "sort_by", "sort_ascending", "force", "cascade", "detach"}
_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "number": (int, float)}


class ApiError(Exception):
    """A manager error: HTTP status, NSX error code and message."""

    def __init__(self, status: int, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code or status, message

    def body(self) -> dict:
        names = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
                 412: "PRECONDITION_FAILED"}
        return {"httpStatus": names.get(self.status, "ERROR"), "error_code": self.code,
                "module_name": "labctl-nsxt-double", "error_message": self.message}


def bad(message: str, code: int = 255) -> ApiError:
    return ApiError(400, message, code)


class Schema:
    """The spec's definitions, flattened: properties and required fields with `allOf` merged."""

    def __init__(self, path: Path = SPEC) -> None:
        self.defs = json.loads(Path(path).read_text())["definitions"]
        self._flat: dict[str, tuple[dict, set, str | None]] = {}

    def flat(self, name: str) -> tuple[dict, set, str | None]:
        if name not in self._flat:
            self._flat[name] = self._merge(self.defs[name])
        return self._flat[name]

    def _merge(self, schema: dict) -> tuple[dict, set, str | None]:
        props, required, disc = dict(schema.get("properties", {})), set(schema.get("required", [])), schema.get("discriminator")
        for part in schema.get("allOf", []):
            p, r, d = self.flat(part["$ref"].split("/")[-1]) if "$ref" in part else self._merge(part)
            props, required, disc = {**p, **props}, required | r, disc or d
        return props, required, disc

    def concrete(self, name: str, body: dict) -> str:
        """Follow a `resource_type` discriminator to the concrete definition the body names."""
        disc = self.flat(name)[2]
        kind = body.get(disc) if disc else None
        if kind and kind != name:
            if kind not in self.defs or not self._extends(kind, name):
                raise bad(f"Invalid {disc} '{kind}' for {name}")
            return kind
        return name

    def _extends(self, child: str, parent: str) -> bool:
        refs = [p["$ref"].split("/")[-1] for p in self.defs[child].get("allOf", []) if "$ref" in p]
        return parent in refs or any(self._extends(r, parent) for r in refs)

    def check(self, name: str, body) -> None:
        """Raise 400 listing every problem of `body` as definition `name`."""
        errors: list[str] = []
        self._object(name, body, name, errors)
        if errors:
            raise bad("Field level validation errors: {" + "; ".join(errors) + "}")

    def _object(self, name: str, body, where: str, errors: list[str]) -> None:
        if not isinstance(body, dict):
            errors.append(f"{where}: expected an object")
            return
        try:
            name = self.concrete(name, body)
        except ApiError as err:
            errors.append(f"{where}: {err.message}")
            return
        props, required, _ = self.flat(name)
        for key, value in body.items():
            if key not in props:
                errors.append(f"{where}: field {key} is not allowed in {name}")
            elif not props[key].get("readOnly"):
                self._value(props[key], value, f"{where}.{key}", errors)
        errors.extend(f"{where}: required property {key} is missing" for key in sorted(required - set(body)))

    def _value(self, schema: dict, value, where: str, errors: list[str]) -> None:
        if "$ref" in schema:
            self._object(schema["$ref"].split("/")[-1], value, where, errors)
            return
        kind = schema.get("type")
        if kind and (not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))):
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
        elif "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: '{value}' is not one of {schema['enum']}")
        elif kind == "string" and len(value) > schema.get("maxLength", 1 << 30):
            errors.append(f"{where}: longer than {schema['maxLength']}")
        elif kind == "string" and schema.get("format") == "ip" and not _is_ip(value):
            errors.append(f"{where}: '{value}' is not an IP address")
        elif kind == "array":
            for i, item in enumerate(value):
                self._value(schema.get("items", {}), item, f"{where}[{i}]", errors)

    def strip(self, name: str, body: dict) -> dict:
        """The body without read-only fields (what the manager keeps of a client's body)."""
        props = self.flat(self.concrete(name, body))[0]
        return {k: self._strip_value(props[k], v) for k, v in body.items() if not props[k].get("readOnly")}

    def _strip_value(self, schema: dict, value):
        if "$ref" in schema and isinstance(value, dict):
            return self.strip(schema["$ref"].split("/")[-1], value)
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            return [self._strip_value(schema["items"], v) for v in value]
        return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class Manager:
    """The manager's state and rules; `handle` is the whole API (the HTTP layer only parses)."""

    def __init__(self, user: str, password: str, schema: Schema | None = None) -> None:
        self.user, self.password = user, password
        self.schema = schema or Schema()
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, dict]] = {c: {} for c in COLLECTIONS}
        self.advertisement: dict[str, dict] = {}
        self.writes: list[dict] = []
        self.inject: list[dict] = []
        self.links = 0
        for name in ("edge-1", "edge-2"):
            self._seed_edge(name)

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
        if len(parts) < 1 or parts[0] not in COLLECTIONS:
            raise ApiError(404, f"The requested URI: {path} could not be found.", 404)
        if method in ("POST", "PUT", "DELETE"):
            self.writes.append({"method": method, "path": path, "at": time.time()})
        if len(parts) == 4 and parts[0] == "logical-routers" and parts[2:] == ["routing", "advertisement"]:
            return self._advertisement(method, parts[1], body)
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

    # -- rules ------------------------------------------------------------------------------
    def _rules(self, coll: str, obj: dict, current: dict | None) -> None:
        rule = getattr(self, "_rule_" + coll.replace("-", "_"), None)
        if rule:
            rule(obj, current)

    def _ref(self, coll: str, oid, what: str) -> dict:
        if not isinstance(oid, str) or oid not in self.objects[coll]:
            raise ApiError(404, f"{what} {oid} does not exist", 600)
        return self.objects[coll][oid]

    def _rule_transport_nodes(self, obj: dict, current: dict | None) -> None:
        spec = obj.get("host_switch_spec") or {}
        names = {s.get("host_switch_name", "nsxDefaultHostSwitch") for s in spec.get("host_switches", [])}
        for endpoint in obj.get("transport_zone_endpoints", []):
            zone = self._ref("transport-zones", endpoint["transport_zone_id"], "Transport zone")
            if zone.get("host_switch_name", "nsxDefaultHostSwitch") not in names:
                raise bad(f"Transport node {obj.get('display_name')} has no host switch {zone.get('host_switch_name')} "
                          f"for transport zone {zone['display_name']}", 8301)
        kind = (obj.get("node_deployment_info") or {}).get("resource_type")
        if current and kind and kind != current["node_deployment_info"]["resource_type"]:
            raise bad("node_deployment_info.resource_type cannot be changed")

    def _rule_edge_clusters(self, obj: dict, current: dict | None) -> None:
        for member in obj.get("members", []):
            node = self._ref("transport-nodes", member["transport_node_id"], "Transport node")
            if node["node_deployment_info"]["resource_type"] != "EdgeNode":
                raise bad(f"Transport node {node['display_name']} is not an edge node", 15009)

    def _rule_logical_switches(self, obj: dict, current: dict | None) -> None:
        zone = self._ref("transport-zones", obj["transport_zone_id"], "Transport zone")
        if zone["transport_type"] == "VLAN" and not 0 <= obj.get("vlan", -1) <= 4094:
            raise bad(f"Logical switch {obj.get('display_name')} on VLAN transport zone needs vlan 0-4094", 5021)
        if zone["transport_type"] == "OVERLAY" and "vlan" in obj:
            raise bad(f"Logical switch {obj.get('display_name')} on an overlay transport zone cannot have a vlan", 5022)

    def _rule_logical_ports(self, obj: dict, current: dict | None) -> None:
        self._ref("logical-switches", obj["logical_switch_id"], "Logical switch")

    def _rule_logical_routers(self, obj: dict, current: dict | None) -> None:
        if obj.get("edge_cluster_id") is not None:
            self._ref("edge-clusters", obj["edge_cluster_id"], "Edge cluster")
        if obj["router_type"] == "TIER1" and obj.get("high_availability_mode") == "ACTIVE_ACTIVE":
            raise bad("A TIER1 logical router cannot be ACTIVE_ACTIVE", 8254)

    def _rule_logical_router_ports(self, obj: dict, current: dict | None) -> None:
        router = self._ref("logical-routers", obj["logical_router_id"], "Logical router")
        kind = obj["resource_type"]
        wants = {"LogicalRouterUpLinkPort": "TIER0", "LogicalRouterLinkPortOnTIER0": "TIER0",
                 "LogicalRouterLinkPortOnTIER1": "TIER1", "LogicalRouterDownLinkPort": None}
        if kind not in wants:
            raise bad(f"{kind} is not supported by this double")
        if wants[kind] and router["router_type"] != wants[kind]:
            raise bad(f"{kind} cannot be created on {router['router_type']} router {router['display_name']}", 8209)
        for subnet in obj.get("subnets", []):
            if not 0 <= subnet["prefix_length"] <= 32:
                raise bad(f"prefix_length {subnet['prefix_length']} is not valid", 8210)
        getattr(self, "_port_" + kind[len("LogicalRouter"):])(obj, router, current)

    def _switch_port(self, obj: dict, current: dict | None, zone_type: str) -> dict:
        link = obj.get("linked_logical_switch_port_id")
        if not link:
            raise bad(f"{obj['resource_type']} needs linked_logical_switch_port_id", 8211)
        lport = self._ref("logical-ports", link.get("target_id"), "Logical port")
        attached = (lport.get("attachment") or {}).get("id")
        if attached and attached != (current or {}).get("id"):
            raise bad(f"Logical port {lport['display_name']} is already attached to {attached}", 8212)
        switch = self.objects["logical-switches"][lport["logical_switch_id"]]
        zone = self.objects["transport-zones"][switch["transport_zone_id"]]
        if zone["transport_type"] != zone_type:
            raise bad(f"{obj['resource_type']} needs a {zone_type} logical switch, {switch['display_name']} is not", 8213)
        return zone

    def _port_UpLinkPort(self, obj: dict, router: dict, current: dict | None) -> None:
        zone = self._switch_port(obj, current, "VLAN")
        if not router.get("edge_cluster_id"):
            raise bad(f"Router {router['display_name']} has no edge cluster for an uplink", 8214)
        members = self.objects["edge-clusters"][router["edge_cluster_id"]].get("members", [])
        for index in obj["edge_cluster_member_index"]:
            if not 0 <= index < len(members):
                raise bad(f"Edge cluster member index {index} is not valid (the cluster has {len(members)})", 8215)
            node = self.objects["transport-nodes"][members[index]["transport_node_id"]]
            if zone["id"] not in {e["transport_zone_id"] for e in node.get("transport_zone_endpoints", [])}:
                raise bad(f"Edge node {node['display_name']} is not in transport zone {zone['display_name']}", 8216)

    def _port_DownLinkPort(self, obj: dict, router: dict, current: dict | None) -> None:
        self._switch_port(obj, current, "OVERLAY")

    def _port_LinkPortOnTIER0(self, obj: dict, router: dict, current: dict | None) -> None:
        return None

    def _port_LinkPortOnTIER1(self, obj: dict, router: dict, current: dict | None) -> None:
        target = (obj.get("linked_logical_router_port_id") or {}).get("target_id")
        peer = self._ref("logical-router-ports", target, "Tier-0 link port")
        if peer["resource_type"] != "LogicalRouterLinkPortOnTIER0":
            raise bad(f"linked_logical_router_port_id {target} is not a LogicalRouterLinkPortOnTIER0", 8217)
        if current and target != current["linked_logical_router_port_id"]["target_id"]:
            raise bad("linked_logical_router_port_id cannot be changed", 8218)
        if not current and peer.get("linked_logical_router_port_id"):
            raise bad(f"Tier-0 link port {peer['display_name']} is already linked", 8219)
        others = [p for p in self.objects["logical-router-ports"].values() if p["logical_router_id"] == router["id"]
                  and p["resource_type"] == obj["resource_type"] and p["id"] != (current or {}).get("id")]
        if others:
            raise bad(f"Router {router['display_name']} already has a Tier-1 link port", 8220)

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
        """Every object by collection and display_name, plus advertisement by router name (for tests)."""
        names = {r["id"]: r["display_name"] for r in self.objects["logical-routers"].values()}
        out = {c: sorted(o.get("display_name", "") for o in objs.values()) for c, objs in self.objects.items()}
        out["objects"] = copy.deepcopy(self.objects)
        out["advertisement"] = {names[k]: copy.deepcopy(v) for k, v in self.advertisement.items() if k in names}
        return out


def _index_members(cluster: dict) -> None:
    for index, member in enumerate(cluster.get("members", [])):
        member["member_index"] = index


class Handler(BaseHTTPRequestHandler):
    """HTTP on top of `Manager`: /api/v1/... is the API, /_double/... the test hooks."""

    manager: Manager
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's names)
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_PUT(self):  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self):  # noqa: N802
        self._serve("DELETE")

    def log_message(self, *args) -> None:  # quiet: tests read /_double/writes instead
        return None

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, ApiError(400, "The request body is not valid JSON").body())
        with self.manager.lock:
            try:
                if url.path.startswith("/_double/"):
                    status, payload = self._hook(method, url.path[len("/_double/"):], body)
                elif url.path.startswith("/api/v1/"):
                    status, payload = self.manager.handle(method, url.path[len("/api/v1"):], query, body,
                                                          self.headers.get("Authorization"))
                else:
                    raise ApiError(404, f"The requested URI: {url.path} could not be found.", 404)
            except ApiError as err:
                status, payload = err.status, err.body()
        self._send(status, payload)

    def _hook(self, method: str, name: str, body):
        if name == "writes" and method == "GET":
            return 200, self.manager.writes
        if name == "state" and method == "GET":
            return 200, self.manager.state()
        if name == "inject-412" and method == "POST":
            self.manager.inject.append(body or {})
            return 200, {"pending": len(self.manager.inject)}
        raise ApiError(404, f"no test hook {name}", 404)

    def _send(self, status: int, payload) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="NSX-T double"')
        self.end_headers()
        self.wfile.write(data)


def serve(user: str, password: str, port: int = 0, directory: Path | None = None):
    """Start the double over HTTPS on 127.0.0.1; return (server, port, cafile, manager)."""
    from tests.doubles.tls import serve_https

    manager = Manager(user, password)
    handler = type("NsxtHandler", (Handler,), {"manager": manager})
    server, port, cafile = serve_https(handler, port, directory)
    return server, port, cafile, manager


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NSX-T Manager API double (for labctl's tests)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-env", default="NSXT_DOUBLE_PASSWORD", help="environment variable with the password")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the certificate")
    args = parser.parse_args(argv)
    password = os.environ.get(args.password_env)
    if not password:
        parser.error(f"set {args.password_env} to the password the double accepts")
    server, port, cafile, _ = serve(args.user, password, args.port, args.dir)
    print(json.dumps({"port": port, "cafile": cafile}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

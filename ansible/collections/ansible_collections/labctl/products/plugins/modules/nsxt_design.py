#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""labctl's NSX-T module: applies the lab's edge and routing design through the Manager API."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nsxt_design
short_description: Apply labctl's NSX-T edge and routing design to an NSX-T Manager (/api/v1)
description:
  - "Every object is looked up by display_name (two of one name is an error), created when missing (tagged
    C({scope: labctl, tag: LAB})) and updated with C(_revision) only when a field this module sets differs."
  - "Order: transport zones, edge membership of those zones, edge cluster, VLAN uplink switch, Tier-0 and its
    uplink, then per Tier-1: the router, the Tier-0 link port, the Tier-1 link port pointing at it (found by
    that link), downlinks on overlay switches and advertisement of connected routes."
  - A 412 (the object changed in between) is answered by re-reading it and retrying, bounded by I(retries).
  - Check mode reads only and reports exactly what a real run would do, in C(labctl_objects).
options:
  hostname: {description: Manager address, host or host:port., type: str, required: true}
  username: {description: API user., type: str, default: admin}
  password: {description: API password., type: str, required: true}
  lab: {description: Lab name, the value of the labctl tag., type: str, required: true}
  state:
    description: C(present) applies the design; C(absent) deletes what carries the lab's tag (ports, routers, switches,
      edge cluster, zones, in that order) and the zone memberships recorded in I(memberships_file), and leaves the rest.
    type: str
    choices: [present, absent]
    default: present
  transport_zones: {description: "Zones: name, transport_type, host_switch_name.", type: list, elements: dict}
  edges: {description: Display names of existing edge transport nodes (never created)., type: list, elements: str}
  edge_cluster: {description: Name of the edge cluster of I(edges)., type: str}
  tier0:
    description: "name, high_availability_mode (ACTIVE_STANDBY), uplinks: switch, vlan (0), ip (CIDR), member_index (0),
      transport_zone (default: the first VLAN zone)."
    type: dict
  tier1_routers:
    description: "Routers: name, downlinks: switch (an overlay switch, created), ip (CIDR), transport_zone (default: the
      first OVERLAY zone)."
    type: list
    elements: dict
    default: []
  memberships_file: {description: JSON file recording the zone memberships this module added (for teardown)., type: path}
  validate_certs: {description: Verify the manager's certificate., type: bool, default: true}
  ca_path: {description: CA file to verify it with., type: path}
  timeout: {description: Seconds per call., type: int, default: 30}
  retries: {description: Retries of a failed call or a 412., type: int, default: 3}
"""

EXAMPLES = r"""
- name: Apply the NSX-T design
  labctl.products.nsxt_design:
    hostname: nsx.example:443
    password: "{{ nsx_password }}"
    lab: nsxt
    transport_zones: [{name: tz-overlay, transport_type: OVERLAY, host_switch_name: nvds-overlay}]
    edges: [edge-1, edge-2]
    edge_cluster: edge-cluster-1
    tier0: {name: t0-gateway, high_availability_mode: ACTIVE_STANDBY, uplinks: []}
"""

RETURN = r"""
labctl_objects: {description: "Per object: kind, name, action (create, update, unchanged), fields.", returned: always, type: list}
added_memberships: {description: Zone memberships added to edges in this run., returned: always, type: list}
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils.labctl_nsxt import API, Nsx, matches, nsx_argument_spec, session
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import (
    ObjectLog, RestError, diff_fields, fail, flatten_fields, merge,
)


class Engine(Nsx):
    """The shared engine (labctl_nsxt.Nsx) plus the design's two special writes: zone membership, advertisement."""

    def join_zones(self, edges, zones):
        """Every edge joins every zone it is missing; what was added is recorded for teardown."""
        for node in edges:
            have = set(e["transport_zone_id"] for e in node.get("transport_zone_endpoints") or [])
            missing = [z for z in zones if z["id"] not in have]
            for zone in zones:
                action = "create" if zone in missing else "unchanged"
                self.log.add("tz_membership", "%s/%s" % (node["display_name"], zone["display_name"]), action,
                             ["transport_zone_endpoints"] if action == "create" else [])
            if missing and not self.check:
                self._add_endpoints(node, missing)
            self.added.extend({"node_id": node["id"], "node": node["display_name"], "zone_id": z["id"],
                               "zone": z["display_name"]} for z in missing)

    def _add_endpoints(self, node, zones):
        path = "%s/transport-nodes/%s" % (API, node["id"])

        def joined(current):
            have = current.get("transport_zone_endpoints") or []
            ids = set(e["transport_zone_id"] for e in have)
            return dict(current, transport_zone_endpoints=have + [{"transport_zone_id": z["id"]} for z in zones if z["id"] not in ids])

        try:
            self.session.put(path, joined(node), on_412=lambda: joined(self.session.get(path).body))
        except RestError as err:
            raise err.about("tz_membership", node["display_name"])

    def advertise(self, router, created, wanted):
        """Advertisement: read, compare, PUT with _revision only on a difference (always on a new router)."""
        name, path = router["display_name"], "%s/logical-routers/%s/routing/advertisement" % (API, router["id"])
        try:
            current = None if created and self.check else self.session.get(path).body
            fields = flatten_fields(wanted) if created else diff_fields(wanted, current)
            self.log.add("advertisement", name, "create" if created else "update" if fields else "unchanged", fields)
            if fields and not self.check:
                self.put(path, merge(current, wanted), wanted)
        except RestError as err:
            raise err.about("advertisement", name)


def argument_spec():
    text, req = dict(type="str"), dict(type="str", required=True)
    uplink = dict(switch=req, vlan=dict(type="int", default=0), ip=req, member_index=dict(type="int", default=0), transport_zone=text)
    downlink = dict(switch=req, ip=req, transport_zone=text)
    return nsx_argument_spec(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        transport_zones=dict(type="list", elements="dict", options=dict(
            name=req, transport_type=dict(type="str", required=True, choices=["OVERLAY", "VLAN"]), host_switch_name=req)),
        edges=dict(type="list", elements="str"), edge_cluster=dict(type="str"),
        tier0=dict(type="dict", options=dict(name=req, high_availability_mode=dict(
            type="str", default="ACTIVE_STANDBY", choices=["ACTIVE_STANDBY", "ACTIVE_ACTIVE"]),
            uplinks=dict(type="list", elements="dict", default=[], options=uplink))),
        tier1_routers=dict(type="list", elements="dict", default=[], options=dict(
            name=req, downlinks=dict(type="list", elements="dict", default=[], options=downlink))),
        memberships_file=dict(type="path"),
    )


def subnet(cidr):
    """'192.0.2.2/24' -> the manager's IPSubnet."""
    address, _, prefix = str(cidr).partition("/")
    return [{"ip_addresses": [address], "prefix_length": int(prefix or 32)}]


class Design:
    """The design's order and references on top of the generic object-by-display_name engine."""

    def __init__(self, nsx, params):
        self.nsx, self.p = nsx, params
        self.zones = {}

    def apply(self):
        zones = [self.zone(z) for z in self.p["transport_zones"]]
        edges = [self.nsx.existing("edge", "transport-nodes", name) for name in self.p["edges"]]
        self.nsx.join_zones(edges, zones)
        cluster = self.nsx.ensure("edge_cluster", "edge-clusters", self.p["edge_cluster"],
                                  {"members": [{"transport_node_id": e["id"]} for e in edges]})
        t0 = self.router(self.p["tier0"], "TIER0", cluster)
        for index, uplink in enumerate(self.p["tier0"]["uplinks"]):
            self.uplink(t0, index, uplink)
        for t1 in self.p["tier1_routers"]:
            self.tier1(t0, t1)

    def zone(self, z):
        wanted = {"transport_type": z["transport_type"], "host_switch_name": z["host_switch_name"]}
        obj = self.nsx.ensure("transport_zone", "transport-zones", z["name"], wanted)
        self.zones.setdefault(z["transport_type"], obj)
        self.zones[z["name"]] = obj
        return obj

    def switch(self, name, zone_name, vlan=None):
        key = zone_name or ("VLAN" if vlan is not None else "OVERLAY")
        if key not in self.zones:
            raise ValueError("logical_switch %s: no transport zone %s in transport_zones" % (name, key))
        zone = self.zones[key]
        wanted = {"transport_zone_id": zone["id"], "admin_state": "UP"}
        if vlan is not None:
            wanted["vlan"] = int(vlan)
        return self.nsx.ensure("logical_switch", "logical-switches", name, wanted)

    def router(self, spec, tier, cluster):
        wanted = {"router_type": tier}
        if tier == "TIER0":
            wanted.update(high_availability_mode=spec["high_availability_mode"], edge_cluster_id=cluster["id"])
        return self.nsx.ensure(tier.lower(), "logical-routers", spec["name"], wanted)

    def switch_port(self, kind, router, switch, name, wanted):
        """A router port on a logical switch: the switch's logical port first, then the router port on it."""
        lport = self.nsx.ensure("logical_port", "logical-ports", name, {"logical_switch_id": switch["id"], "admin_state": "UP"},
                                match={"logical_switch_id": switch["id"]})
        wanted = dict(wanted, logical_router_id=router["id"],
                      linked_logical_switch_port_id={"target_type": "LogicalPort", "target_id": lport["id"]})
        return self.nsx.ensure(kind, "logical-router-ports", name, wanted, match={"logical_router_id": router["id"]})

    def uplink(self, t0, index, spec):
        switch = self.switch(spec["switch"], spec["transport_zone"], spec["vlan"])
        self.switch_port("tier0_uplink", t0, switch, "%s-uplink-%d" % (t0["display_name"], index + 1), {
            "resource_type": "LogicalRouterUpLinkPort", "edge_cluster_member_index": [spec["member_index"]],
            "subnets": subnet(spec["ip"])})

    def tier1(self, t0, spec):
        t1 = self.router(spec, "TIER1", None)
        created = self.nsx.log.objects[-1]["action"] == "create"
        self.link(t0, t1)
        for down in spec["downlinks"]:
            switch = self.switch(down["switch"], down["transport_zone"])
            self.switch_port("tier1_downlink", t1, switch, "%s-%s" % (t1["display_name"], down["switch"]), {
                "resource_type": "LogicalRouterDownLinkPort", "subnets": subnet(down["ip"])})
        self.nsx.advertise(t1, created, {"enabled": True, "advertise_nsx_connected_routes": True})

    def link(self, t0, t1):
        """The Tier-0 link port first, then the Tier-1 link port found by its link to it (not by position)."""
        name0 = "%s-to-%s" % (t0["display_name"], t1["display_name"])
        port0 = self.nsx.ensure("tier0_link_port", "logical-router-ports", name0, {
            "resource_type": "LogicalRouterLinkPortOnTIER0", "logical_router_id": t0["id"]}, match={"logical_router_id": t0["id"]})
        mine = {"resource_type": "LogicalRouterLinkPortOnTIER1", "logical_router_id": t1["id"]}
        linked = self.nsx.select("logical-router-ports", lambda p: matches(p, mine) and _target(p) == port0["id"])
        other = self.nsx.select("logical-router-ports", lambda p: matches(p, mine) and _target(p) != port0["id"])
        name1 = "%s-to-%s" % (t1["display_name"], t0["display_name"])
        if other and not linked:
            raise ValueError("tier1_link_port %s: %s is linked to another Tier-0 port (%s): unlink it first"
                             % (name1, t1["display_name"], _target(other[0])))
        self.nsx.ensure("tier1_link_port", "logical-router-ports", name1, dict(
            mine, linked_logical_router_port_id={"target_type": "LogicalRouterLinkPortOnTIER0", "target_id": port0["id"]}),
            current=linked[0] if linked else None)


def _target(port):
    return (port.get("linked_logical_router_port_id") or {}).get("target_id")


class Teardown:
    """Delete what carries this lab's tag, dependents first, and the zone memberships labctl added."""

    PORTS = ("LogicalRouterLinkPortOnTIER1", "LogicalRouterDownLinkPort", "LogicalRouterUpLinkPort", "LogicalRouterLinkPortOnTIER0")
    KINDS = {"LogicalRouterLinkPortOnTIER1": "tier1_link_port", "LogicalRouterDownLinkPort": "tier1_downlink",
             "LogicalRouterUpLinkPort": "tier0_uplink", "LogicalRouterLinkPortOnTIER0": "tier0_link_port"}

    def __init__(self, nsx, memberships_file):
        self.nsx, self.file = nsx, memberships_file

    def apply(self):
        for kind in self.PORTS:
            self.delete("logical-router-ports", self.KINDS[kind], lambda o, k=kind: o.get("resource_type") == k)
        self.delete("logical-ports", "logical_port")
        for tier in ("TIER1", "TIER0"):
            self.delete("logical-routers", tier.lower(), lambda o, t=tier: o.get("router_type") == t)
        self.delete("logical-switches", "logical_switch")
        self.delete("edge-clusters", "edge_cluster")
        self.leave_zones()
        self.delete("transport-zones", "transport_zone")

    def delete(self, coll, kind, keep=lambda o: True):
        self.nsx.delete_tagged(coll, kind, keep)

    def leave_zones(self):
        """Remove only the memberships recorded as added by labctl, where they are still there."""
        for entry in read_memberships(self.file):
            self.nsx.log.add("tz_membership", "%s/%s" % (entry["node"], entry["zone"]), "delete", ["transport_zone_endpoints"])
            if not self.nsx.check:
                self._leave(entry)
        if self.file and os.path.exists(self.file) and not self.nsx.check:
            os.remove(self.file)

    def _leave(self, entry):
        path = "%s/transport-nodes/%s" % (API, entry["node_id"])

        def without(current):
            kept = [e for e in current.get("transport_zone_endpoints") or [] if e["transport_zone_id"] != entry["zone_id"]]
            return dict(current, transport_zone_endpoints=kept)

        try:
            node = self.nsx.session.get(path).body
            if any(e["transport_zone_id"] == entry["zone_id"] for e in node.get("transport_zone_endpoints") or []):
                self.nsx.session.put(path, without(node), on_412=lambda: without(self.nsx.session.get(path).body))
        except RestError as err:
            if err.status != 404:  # the node is gone: nothing left to remove
                raise err.about("tz_membership", "%s/%s" % (entry["node"], entry["zone"]))


def read_memberships(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as handle:
        return json.load(handle)


def record_memberships(path, added):
    """Add this run's memberships to the record teardown reads (written 0600, atomically)."""
    entries = read_memberships(path)
    entries.extend(e for e in added if e not in entries)
    if not entries:
        return
    if not os.path.isdir(os.path.dirname(path) or "."):
        os.makedirs(os.path.dirname(path), 0o700)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(entries, handle, indent=1, sort_keys=True)
    os.rename(tmp, path)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("transport_zones", "edges", "edge_cluster", "tier0"))])
    p = module.params
    log = ObjectLog()
    rest = session(p)
    nsx = Engine(rest, log, p["lab"], module.check_mode)
    try:
        if p["state"] == "absent":
            Teardown(nsx, p["memberships_file"]).apply()
        else:
            Design(nsx, p).apply()
    except (RestError, ValueError) as err:
        about = {"kind": "nsx_manager", "name": p["hostname"]} if isinstance(err, RestError) else {}  # no object: the manager
        fail(module, err, log, rest.redactor, **about)
    if p["state"] == "present" and not module.check_mode and p["memberships_file"]:
        record_memberships(p["memberships_file"], nsx.added)
    module.exit_json(**log.result(added_memberships=nsx.added))


if __name__ == "__main__":
    main()

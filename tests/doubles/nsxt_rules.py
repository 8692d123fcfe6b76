"""Part of the NSX-T Manager API TEST DOUBLE (tests/doubles/nsxt.py), not NSX-T: the manager's rules for
transport nodes, edge clusters, switches, ports and router ports (a mixin of `Manager`)."""

from __future__ import annotations

from tests.doubles.nsxt_schema import ApiError, bad


class Rules:
    """`_rule_<collection>(obj, current)` runs before a write is stored; a violation is an ApiError."""

    def _rules(self, coll: str, obj: dict, current: dict | None) -> None:
        rule = getattr(self, "_rule_" + coll.split("/")[-1].replace("-", "_"), None)
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
        if kind == "HostNode":
            self._rule_host_node(obj, current)

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


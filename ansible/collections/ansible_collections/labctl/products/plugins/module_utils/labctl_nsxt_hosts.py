# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""KVM hosts as NSX-T transport nodes (2.5 Manager API), on the labctl_nsxt engine.

Public API:

``thumbprint(host_key)``
    What NSX-T takes as a KVM host's ``host_credential.thumbprint``: base64 of the SHA-256 of the host's SSH public
    key blob (NSX-T's KVM install guide: ``awk '{print $2}' /etc/ssh/ssh_host_rsa_key.pub | base64 -d |
    sha256sum -b | sed 's/ .*$//' | xxd -r -p | base64``), from the key line ``ssh-rsa AAAA... comment``.
``HostNodes(nsx, params).apply()``
    The uplink profile (created, or an existing one such as the manager's default looked up by name), the TEP IP
    pool, then one transport node per host: HostNode (UBUNTUKVM) at its address with root's credential, a
    StandardHostSwitch per transport zone (the overlay one takes TEP addresses from the pool), in both zones.
``HostTeardown(nsx, parts, wait_timeout).apply()``
    Deletes the lab's tagged transport nodes (and waits until the manager has removed them), IP pool and uplink
    profile: each only when its part is asked for, so the playbook can order them around the zones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import time

from ansible_collections.labctl.products.plugins.module_utils.labctl_nsxt import API
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError

UPLINK = "UplinkHostSwitchProfile"
SYSTEM = "include_system_owned=true"  # the manager lists its own (default) profiles only when asked


def thumbprint(host_key):
    """base64(sha256(key blob)) of an OpenSSH public key line; ValueError when it is not one."""
    fields = str(host_key or "").split()
    try:
        blob = base64.b64decode(fields[1].encode("ascii"), validate=True) if len(fields) >= 2 else b""
    except (ValueError, TypeError):
        blob = b""
    if not blob:
        raise ValueError("not an OpenSSH public key line (TYPE BASE64 [COMMENT])")
    return base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")


class HostNodes:
    """Profile, pool, then the transport nodes, each read-compare-write through the engine."""

    def __init__(self, nsx, params):
        self.nsx, self.p = nsx, params

    def apply(self):
        profile = self.profile(self.p["uplink_profile"])
        pool = self.pool(self.p["ip_pool"])
        zones = [self.zone(s["transport_zone"]) for s in self.p["host_switches"]]
        for host in self.p["hosts"]:
            self.node(host, profile, pool, zones)

    def profile(self, spec):
        self.nsx.all("host-switch-profiles", SYSTEM)
        if not spec["create"]:
            return self.nsx.existing("uplink_profile", "host-switch-profiles", spec["name"])
        teaming = {"policy": spec["teaming_policy"], "active_list": [
            {"uplink_name": name, "uplink_type": "PNIC"} for name in spec["uplinks"]]}
        wanted = {"resource_type": UPLINK, "mtu": spec["mtu"], "transport_vlan": spec["transport_vlan"], "teaming": teaming}
        return self.nsx.ensure("uplink_profile", "host-switch-profiles", spec["name"], wanted)

    def pool(self, spec):
        subnet = {"cidr": spec["cidr"], "allocation_ranges": [{"start": spec["start"], "end": spec["end"]}]}
        if spec.get("gateway"):
            subnet["gateway_ip"] = spec["gateway"]
        return self.nsx.ensure("ip_pool", "pools/ip-pools", spec["name"], {"subnets": [subnet]})

    def zone(self, name):
        """The zone on the manager; in check mode one the design task would create (from transport_zones)."""
        found = self.nsx.find("transport_zone", "transport-zones", name)
        if found is not None:
            return found
        planned = [z for z in self.p["transport_zones"] if z["name"] == name]
        if not (self.nsx.check and planned):
            raise ValueError("transport_zone %s: no zone of that name on the manager: the nsxt_design task creates "
                             "the lab's zones first (add it to transport_zones)" % name)
        return dict(planned[0], id="(new transport_zone %s)" % name, display_name=name)

    def node(self, host, profile, pool, zones):
        current = self.nsx.find("transport_node", "transport-nodes", host["name"])
        switches = [self.switch(s, z, profile, pool, current) for s, z in zip(self.p["host_switches"], zones)]
        info = {"resource_type": "HostNode", "display_name": host["name"], "ip_addresses": [host["address"]],
                "os_type": host["os_type"]}
        wanted = {"node_deployment_info": info,
                  "host_switch_spec": {"resource_type": "StandardHostSwitchSpec", "host_switches": switches},
                  "transport_zone_endpoints": [{"transport_zone_id": z["id"]} for z in zones]}
        credential = {"username": self.p["host_username"], "password": self.p["host_password"],
                      "thumbprint": host["thumbprint"] or thumbprint_of(host)}
        obj = self.nsx.ensure("transport_node", "transport-nodes", host["name"], wanted, current=current,
                              extra={"node_deployment_info": {"host_credential": credential}})
        if current is None and not self.nsx.check:
            wait_state(self.nsx, obj, self.p["wait_timeout"])

    def switch(self, spec, zone, profile, pool, current):
        """One StandardHostSwitch of `zone`: the uplink profile, the pnics, TEPs from the pool on an overlay zone."""
        name = zone.get("host_switch_name") or "nsxDefaultHostSwitch"
        switch = {"host_switch_name": name,
                  "host_switch_profile_ids": profile_ids(profile["id"], _current_switch(current, name)),
                  "pnics": [{"device_name": p["device"], "uplink_name": p["uplink"]} for p in spec["pnics"]]}
        if zone.get("transport_type") == "OVERLAY":
            switch["ip_assignment_spec"] = {"resource_type": "StaticIpPoolSpec", "ip_pool_id": pool["id"]}
        return switch


def thumbprint_of(host):
    try:
        return thumbprint(host["host_key"])
    except ValueError as err:
        raise ValueError("transport_node %s: host_key %s: read it from the host's /etc/ssh/ssh_host_rsa_key.pub"
                         % (host["name"], err))


def _current_switch(node, name):
    switches = ((node or {}).get("host_switch_spec") or {}).get("host_switches") or []
    return next((s for s in switches if s.get("host_switch_name") == name), {})


def profile_ids(uplink_id, current):
    """The switch's profile entries as the manager holds them (it adds its default LLDP one), with labctl's
    uplink profile in place: comparing only that entry keeps a second run from rewriting the manager's own."""
    entries = [dict(e) for e in current.get("host_switch_profile_ids") or []]
    mine = {"key": UPLINK, "value": uplink_id}
    for index, entry in enumerate(entries):
        if entry.get("key") == UPLINK:
            entries[index] = mine
            return entries
    return [mine] + entries


def wait_state(nsx, node, timeout):
    """The manager installs NSX on the host after the POST: wait for /state to say success (or fail)."""
    path = "%s/transport-nodes/%s/state" % (API, node["id"])
    deadline = time.time() + timeout
    while True:
        try:
            state = (nsx.session.get(path).body or {}).get("state")
        except RestError as err:
            raise err.about("transport_node", node["display_name"])
        if state == "success":
            return
        if state in ("failed", "partial_success") or time.time() > deadline:
            raise ValueError("transport_node %s: the manager reports state %s after registration: see its "
                             "transport node status page for the host's error" % (node["display_name"], state))
        time.sleep(2)


class HostTeardown:
    """Delete the lab's tagged transport nodes, IP pool and uplink profile (the parts asked for)."""

    def __init__(self, nsx, parts, wait_timeout):
        self.nsx, self.parts, self.timeout = nsx, parts, wait_timeout

    def apply(self):
        if "transport_nodes" in self.parts:
            nodes = self.nsx.select("transport-nodes", lambda o: self.nsx.tag in (o.get("tags") or []))
            self.nsx.delete_tagged("transport-nodes", "transport_node")
            if not self.nsx.check:
                self.wait_gone(nodes)
        if "ip_pool" in self.parts:
            self.nsx.delete_tagged("pools/ip-pools", "ip_pool")
        if "uplink_profile" in self.parts:
            self.nsx.all("host-switch-profiles", SYSTEM)
            self.nsx.delete_tagged("host-switch-profiles", "uplink_profile")

    def wait_gone(self, nodes):
        """A deleted host node stays while the manager uninstalls NSX from it; its zones are in use till then."""
        deadline = time.time() + self.timeout
        for node in nodes:
            while self._exists(node):
                if time.time() > deadline:
                    raise ValueError("transport_node %s: still on the manager %d s after its deletion"
                                     % (node["display_name"], self.timeout))
                time.sleep(2)

    def _exists(self, node):
        try:
            self.nsx.session.get("%s/transport-nodes/%s" % (API, node["id"]))
        except RestError as err:
            if err.status == 404:
                return False
            raise err.about("transport_node", node["display_name"])
        return True

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""labctl's NSX-T module: KVM hosts registered as transport nodes through the Manager API."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nsxt_transport_nodes
short_description: Register KVM hosts as NSX-T transport nodes (NSX-T 2.5 Manager API, /api/v1/transport-nodes)
description:
  - "In order: the uplink host-switch profile (created, or with I(uplink_profile.create=false) an existing one such as
    the manager's C(nsx-default-uplink-hostswitch-profile), never changed), the TEP IP pool, then per host a transport
    node (POST /transport-nodes with a HostNode C(node_deployment_info): the host's address, os_type, and root's
    credential with the host's SSH key thumbprint; a StandardHostSwitchSpec with one host switch per transport zone,
    TEP addresses from the pool on the overlay one; endpoints in every zone)."
  - "Same rules as nsxt_design: looked up by display_name (the host's name), created when missing with the tag
    C({scope: labctl, tag: LAB}), updated with C(_revision) only when a field this module sets differs (the credential
    is sent on create only: the manager never returns it), 412 re-read and retried, check mode reads only."
  - After a create the module waits for C(/transport-nodes/ID/state) to report C(success) (the manager installs NSX on
    the host after the POST).
  - C(state=absent) deletes what carries the lab's tag, only the I(parts) asked for (transport nodes before the zones,
    IP pool and uplink profile after them), and waits until deleted transport nodes are gone.
options:
  hostname: {description: Manager address, host or host:port., type: str, required: true}
  username: {description: API user., type: str, default: admin}
  password: {description: API password., type: str, required: true}
  lab: {description: Lab name, the value of the labctl tag., type: str, required: true}
  state: {description: C(present) registers; C(absent) deletes the tagged I(parts)., type: str, choices: [present, absent], default: present}
  parts:
    description: With C(state=absent), what to delete.
    type: list
    elements: str
    choices: [transport_nodes, ip_pool, uplink_profile]
    default: [transport_nodes, ip_pool, uplink_profile]
  hosts:
    description: "Hosts: name (the transport node's display_name), address (the manager logs in there), host_key (the
      host's SSH public key line; its thumbprint is computed) or thumbprint, os_type (UBUNTUKVM)."
    type: list
    elements: dict
    default: []
  host_username: {description: User the manager logs in to the hosts as., type: str, default: root}
  host_password: {description: That user's password (never logged)., type: str}
  transport_zones: {description: "The lab's zones (name, transport_type, host_switch_name): read in check mode when
    the design task has not created them yet.", type: list, elements: dict, default: []}
  host_switches:
    description: "One host switch per transport zone: transport_zone (name; the switch takes the zone's host switch
      name), pnics (device, uplink)."
    type: list
    elements: dict
    default: []
  ip_pool: {description: "TEP pool: name, cidr, start, end, gateway (optional).", type: dict}
  uplink_profile:
    description: "name; create (default true; false: an existing profile of that name); mtu (1600), transport_vlan (0),
      uplinks (names, active in FAILOVER_ORDER), teaming_policy."
    type: dict
  wait_timeout: {description: Seconds to wait for a transport node's state after a create or a delete., type: int, default: 600}
  validate_certs: {description: Verify the manager's certificate., type: bool, default: true}
  ca_path: {description: CA file to verify it with., type: path}
  timeout: {description: Seconds per call., type: int, default: 30}
  retries: {description: Retries of a failed call or a 412., type: int, default: 3}
"""

EXAMPLES = r"""
- name: Register the KVM hosts
  labctl.products.nsxt_transport_nodes:
    hostname: nsx.example:443
    password: "{{ nsx_password }}"
    lab: nsxt
    host_password: "{{ kvm_root_password }}"
    hosts: [{name: nsxt-kvm-1, address: 192.168.80.10, host_key: "ssh-rsa AAAA..."}]
    transport_zones: [{name: tz-overlay, transport_type: OVERLAY, host_switch_name: nvds-overlay}]
    host_switches: [{transport_zone: tz-overlay, pnics: [{device: eth1, uplink: uplink-1}]}]
    ip_pool: {name: tep-pool, cidr: 192.168.80.0/24, start: 192.168.80.200, end: 192.168.80.220}
    uplink_profile: {name: labctl-kvm-uplink, uplinks: [uplink-1]}
"""

RETURN = r"""
labctl_objects: {description: "Per object: kind, name, action (create, update, unchanged, delete), fields.", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils.labctl_nsxt import Nsx, nsx_argument_spec, session
from ansible_collections.labctl.products.plugins.module_utils.labctl_nsxt_hosts import HostNodes, HostTeardown
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import ObjectLog, RestError, fail

PARTS = ["transport_nodes", "ip_pool", "uplink_profile"]


def argument_spec():
    text, req = dict(type="str"), dict(type="str", required=True)
    host = dict(name=req, address=req, host_key=text, thumbprint=text, os_type=dict(type="str", default="UBUNTUKVM", choices=[
        "UBUNTUKVM", "RHELKVM", "CENTOSKVM", "SLESKVM"]))
    pnic = dict(device=req, uplink=req)
    zone = dict(name=req, transport_type=dict(type="str", required=True, choices=["OVERLAY", "VLAN"]), host_switch_name=req)
    return nsx_argument_spec(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        parts=dict(type="list", elements="str", choices=PARTS, default=PARTS),
        hosts=dict(type="list", elements="dict", default=[], options=host),
        host_username=dict(type="str", default="root"), host_password=dict(type="str", no_log=True),
        transport_zones=dict(type="list", elements="dict", default=[], options=zone),
        host_switches=dict(type="list", elements="dict", default=[], options=dict(
            transport_zone=req, pnics=dict(type="list", elements="dict", default=[], options=pnic))),
        ip_pool=dict(type="dict", options=dict(name=req, cidr=req, start=req, end=req, gateway=text)),
        uplink_profile=dict(type="dict", options=dict(
            name=req, create=dict(type="bool", default=True), mtu=dict(type="int", default=1600),
            transport_vlan=dict(type="int", default=0), uplinks=dict(type="list", elements="str", default=["uplink-1"]),
            teaming_policy=dict(type="str", default="FAILOVER_ORDER", choices=["FAILOVER_ORDER", "LOADBALANCE_SRCID"]))),
        wait_timeout=dict(type="int", default=600),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, required_if=[
        ("state", "present", ("hosts", "host_password", "host_switches", "ip_pool", "uplink_profile"))])
    p = module.params
    log = ObjectLog()
    rest = session(p)
    rest.add_secret(p["host_password"])
    nsx = Nsx(rest, log, p["lab"], module.check_mode)
    try:
        if p["state"] == "absent":
            HostTeardown(nsx, p["parts"], p["wait_timeout"]).apply()
        else:
            HostNodes(nsx, p).apply()
    except (RestError, ValueError) as err:
        about = {"kind": "nsx_manager", "name": p["hostname"]} if isinstance(err, RestError) else {}  # no object: the manager
        fail(module, err, log, rest.redactor, **about)
    module.exit_json(**log.result())


if __name__ == "__main__":
    main()

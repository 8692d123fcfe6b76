#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""Wait, bounded, until /api/serviceengine lists a Service Engine for every SE host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_se_wait
short_description: Wait until every Service Engine host has registered its SE with the controller
description:
  - Reads C(/api/serviceengine) at once and then every O(delay) seconds until each host's address is listed
    (by SE name or management address), or fails after O(wait_timeout) seconds naming the hosts missing.
  - Never writes. Check mode reads once and reports, without waiting or failing.
options:
  hosts: {description: "Service Engine hosts: {name: lab address}.", type: dict, required: true}
  wait_timeout: {description: Seconds to wait at most., type: int, default: 600}
  delay: {description: Seconds between reads., type: float, default: 3}
"""

EXAMPLES = r"""
- name: Service Engines registered
  labctl.products.avi_se_wait:
    hosts: {avi-se-1: 192.168.70.11}
    wait_timeout: 600
"""

RETURN = r"""
labctl_objects: {description: "[{kind: serviceengine, name: host, action: unchanged, fields: []}]", returned: always, type: list}
missing: {description: Hosts without an SE (check mode)., returned: always, type: list}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError


def se_addresses(se):
    """The SE's name and its management addresses."""
    found = {se.get("name")}
    for net in (se.get("mgmt_vnic") or {}).get("vnic_networks") or []:
        found.add(((net.get("ip") or {}).get("ip_addr") or {}).get("addr"))
    return found


def missing(avi, hosts):
    listed = set()
    for se in (avi.session.get("/api/serviceengine?page_size=1000").body or {}).get("results") or []:
        listed |= se_addresses(se)
    return [h for h in hosts if h["addr"] not in listed]


def main():
    spec = avi_argument_spec()
    spec.update(hosts=dict(type="dict", required=True),
                wait_timeout=dict(type="int", default=600), delay=dict(type="float", default=3))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    avi = Avi(module).login_or_fail()
    hosts = [dict(name=k, addr=str(v)) for k, v in sorted(module.params["hosts"].items())]
    deadline = time.time() + module.params["wait_timeout"]
    try:
        left = hosts if avi.fresh else missing(avi, hosts)
        while left and not module.check_mode and time.time() < deadline:
            time.sleep(module.params["delay"])  # waiting on the controller's SE deployment, not after a write
            left = missing(avi, hosts)
    except RestError as err:
        avi.fail(err, "serviceengine", ", ".join(h["addr"] for h in hosts))
    for host in hosts:
        avi.log.add("serviceengine", host["addr"], "unchanged")
    if left and not module.check_mode:
        names = ", ".join("%s (%s)" % (h.get("name", h["addr"]), h["addr"]) for h in left)
        avi.fail("%d of %d Service Engine hosts did not register within %ss: %s" % (
            len(left), len(hosts), module.params["wait_timeout"], names), "serviceengine", "registration")
    module.exit_json(missing=[h["addr"] for h in left], **avi.log.result())


if __name__ == "__main__":
    main()

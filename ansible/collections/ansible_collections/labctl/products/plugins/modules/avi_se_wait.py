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
extends_documentation_fragment: [labctl.products.avi]
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec


def main():
    spec = avi_argument_spec()
    spec.update(hosts=dict(type="dict", required=True),
                wait_timeout=dict(type="int", default=600), delay=dict(type="float", default=3))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    avi = Avi(module).login_or_fail()
    left = steps.se_wait(avi, module.params["hosts"], module.params["wait_timeout"], module.params["delay"])
    avi.done(missing=left)


if __name__ == "__main__":
    main()

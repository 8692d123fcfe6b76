#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""A CLOUD_LINUXSERVER cloud listing the Service Engine hosts, with the connector user for SSH."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_cloud
short_description: An Avi Linux-server cloud (/api/cloud) listing the Service Engine hosts
description:
  - Turns the cloud O(name) into a CLOUD_LINUXSERVER cloud (for Default-Cloud, which every controller has)
    or creates it. Compares only vtype, the hosts' addresses and ssh_user_ref; PUTs only on a difference.
options:
  name: {description: Cloud name., type: str, default: Default-Cloud}
  hosts: {description: Lab addresses of the Service Engine hosts., type: list, elements: str, required: true}
  ssh_user: {description: Name of the cloud connector user the controller logs in as., type: str, required: true}
extends_documentation_fragment: [labctl.products.avi]
"""

EXAMPLES = r"""
- name: Linux-server cloud
  labctl.products.avi_cloud:
    hosts: [192.168.70.11, 192.168.70.12]
    ssh_user: aviconnector
"""

RETURN = r"""
labctl_objects: {description: "[{kind: cloud, name, action, fields}]", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec


def main():
    spec = avi_argument_spec()
    spec.update(name=dict(type="str", default="Default-Cloud"),
                hosts=dict(type="list", elements="str", required=True),
                ssh_user=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    avi = Avi(module).login_or_fail()
    steps.cloud(avi, module.params["name"], module.params["hosts"], module.params["ssh_user"])
    avi.done()


if __name__ == "__main__":
    main()

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
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec, ip_addr
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError, reconcile


def user_ref(avi, name, check_mode):
    """/api/cloudconnectoruser/UUID of the user; in check mode a by-name ref when it does not exist yet."""
    user = None if avi.fresh else avi.find("cloudconnectoruser", name)
    if user is not None:
        return "/api/cloudconnectoruser/%s" % user["uuid"]
    if check_mode:
        return "/api/cloudconnectoruser?name=%s" % name
    avi.fail("connector user %s does not exist: run avi_cloudconnectoruser first" % name, "cloud", avi.params["name"])


def main():
    spec = avi_argument_spec()
    spec.update(name=dict(type="str", default="Default-Cloud"),
                hosts=dict(type="list", elements="str", required=True),
                ssh_user=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    name = module.params["name"]
    avi = Avi(module).login_or_fail()
    try:
        config = dict(hosts=[dict(host_ip=ip_addr(a)) for a in module.params["hosts"]],
                      ssh_user_ref=user_ref(avi, module.params["ssh_user"], module.check_mode))
        want = dict(name=name, vtype="CLOUD_LINUXSERVER", linuxserver_configuration=config)
        if avi.fresh:  # every controller has Default-Cloud (a CLOUD_NONE cloud); any other name is new
            avi.plan_fresh("cloud", name, "update" if name == "Default-Cloud" else "create", want)
        reconcile(avi.log, "cloud", name, avi.find("cloud", name), want,
                  lambda body: avi.create("cloud", body),
                  lambda body: avi.update("cloud", body, want), module.check_mode)
    except RestError as err:
        avi.fail(err, "cloud", name)
    module.exit_json(**avi.log.result())


if __name__ == "__main__":
    main()

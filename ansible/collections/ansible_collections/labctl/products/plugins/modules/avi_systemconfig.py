#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""DNS, NTP, SMTP (and HTTP basic auth) in the Avi systemconfiguration, written only when a set field differs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_systemconfig
short_description: DNS, NTP and SMTP settings of an Avi controller (PUT /api/systemconfiguration)
description:
  - Reads the systemconfiguration, compares only the fields set here and PUTs the object only when one differs.
  - An empty list or string leaves that setting as the controller has it.
options:
  dns_servers: {description: DNS server addresses., type: list, elements: str, default: []}
  search_domain: {description: DNS search domain., type: str, default: ""}
  ntp_servers: {description: NTP server addresses or host names., type: list, elements: str, default: []}
  smtp_type: {description: Mail service., type: str, choices: [SMTP_NONE, SMTP_LOCAL_HOST, SMTP_SERVER, SMTP_ANONYMOUS_SERVER]}
  mail_server_name: {description: Mail server (SMTP_SERVER, SMTP_ANONYMOUS_SERVER)., type: str}
  mail_server_port: {description: Mail server port., type: int}
  allow_basic_authentication: {description: HTTP basic auth on the API (labctl's http checks use it)., type: bool}
extends_documentation_fragment: [labctl.products.avi]
"""

EXAMPLES = r"""
- name: DNS, NTP and SMTP
  labctl.products.avi_systemconfig:
    dns_servers: [192.0.2.53]
    ntp_servers: [192.0.2.123]
    smtp_type: SMTP_NONE
"""

RETURN = r"""
labctl_objects: {description: "[{kind: systemconfiguration, name: default, action, fields}]", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec


def main():
    spec = avi_argument_spec()
    spec.update(steps.system_options())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("smtp_type", "SMTP_SERVER", ("mail_server_name",))])
    avi = Avi(module).login_or_fail()
    steps.systemconfig(avi, module.params)
    avi.done()


if __name__ == "__main__":
    main()

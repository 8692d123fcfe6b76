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
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec, ip_addr
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError, reconcile

SMTP_TYPES = ["SMTP_NONE", "SMTP_LOCAL_HOST", "SMTP_SERVER", "SMTP_ANONYMOUS_SERVER"]


def wanted(params):
    """The systemconfiguration fields these options set (nothing for an empty option)."""
    body = {}
    dns = dict(server_list=[ip_addr(a) for a in params["dns_servers"]] or None, search_domain=params["search_domain"] or None)
    if any(v is not None for v in dns.values()):
        body["dns_configuration"] = dict((k, v) for k, v in dns.items() if v is not None)
    if params["ntp_servers"]:
        body["ntp_configuration"] = dict(ntp_servers=[dict(server=ip_addr(a)) for a in params["ntp_servers"]])
    email = dict(smtp_type=params["smtp_type"], mail_server_name=params["mail_server_name"],
                 mail_server_port=params["mail_server_port"])
    if params["smtp_type"]:
        body["email_configuration"] = dict((k, v) for k, v in email.items() if v is not None)
    if params["allow_basic_authentication"] is not None:
        body["portal_configuration"] = dict(allow_basic_authentication=params["allow_basic_authentication"])
    return body


def main():
    spec = avi_argument_spec()
    spec.update(
        dns_servers=dict(type="list", elements="str", default=[]),
        search_domain=dict(type="str", default=""),
        ntp_servers=dict(type="list", elements="str", default=[]),
        smtp_type=dict(type="str", choices=SMTP_TYPES),
        mail_server_name=dict(type="str"),
        mail_server_port=dict(type="int"),
        allow_basic_authentication=dict(type="bool"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("smtp_type", "SMTP_SERVER", ("mail_server_name",))])
    avi = Avi(module).login_or_fail()
    want = wanted(module.params)
    if avi.fresh:
        avi.plan_fresh("systemconfiguration", "default", "update", want)
    try:
        current = avi.read("/api/systemconfiguration")
        reconcile(avi.log, "systemconfiguration", "default", current, want, None,
                  lambda body: avi.update("systemconfiguration", body, want), module.check_mode)
    except RestError as err:
        avi.fail(err, "systemconfiguration", "default")
    module.exit_json(**avi.log.result())


if __name__ == "__main__":
    main()

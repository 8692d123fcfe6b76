#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""The whole Avi lab configuration in one module run: one process, one login, every object's result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_config
short_description: Configure an Avi controller for a lab in one run (password, DNS/NTP/SMTP, connector user, cloud, SEs)
description:
  - Runs the steps of avi_password, avi_systemconfig, avi_cloudconnectoruser, avi_cloud and avi_se_wait in that
    order in one process with one session, so a no-change run costs one module start instead of five.
  - Every object is read first and written only when a field set here differs; labctl_objects lists each one.
  - Check mode writes nothing and reports the same entries a real run would.
options:
  initial_password: {description: The controller's factory password., type: str, required: true}
  system:
    description: Options of avi_systemconfig (dns_servers, search_domain, ntp_servers, smtp_type, mail_server_name, mail_server_port, allow_basic_authentication).
    type: dict
    default: {}
  connector_user:
    description: "The cloud-connector user: name, private_key_file, public_key."
    type: dict
    required: true
  cloud:
    description: "The Linux-server cloud: name (default Default-Cloud, turned into one), hosts (lab addresses)."
    type: dict
    required: true
  service_engines:
    description: "The SE wait: hosts ({name: lab address}), wait_timeout (600 s), delay (3 s)."
    type: dict
    required: true
extends_documentation_fragment: [labctl.products.avi]
"""

EXAMPLES = r"""
- name: Avi controller for the lab
  labctl.products.avi_config:
    initial_password: "{{ avi_initial_password }}"
    system: {dns_servers: [192.0.2.53], ntp_servers: [192.0.2.123], smtp_type: SMTP_NONE}
    connector_user: {name: aviconnector, private_key_file: /path/key, public_key: "ssh-ed25519 AAAA... labctl"}
    cloud: {hosts: [192.168.70.11, 192.168.70.12]}
    service_engines: {hosts: {avi-se-1: 192.168.70.11, avi-se-2: 192.168.70.12}}
"""

RETURN = r"""
labctl_objects: {description: "[{kind, name, action: create|update|unchanged, fields}] for every object", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec, read_private_key


def argument_spec():
    spec = avi_argument_spec()
    user = dict(name=dict(type="str", required=True), private_key_file=dict(type="path", required=True),
                public_key=dict(type="str", required=True))
    cloud = dict(name=dict(type="str", default="Default-Cloud"), hosts=dict(type="list", elements="str", required=True))
    ses = dict(hosts=dict(type="dict", required=True), wait_timeout=dict(type="int", default=600),
               delay=dict(type="float", default=3))
    spec.update(
        initial_password=dict(type="str", required=True, no_log=True),
        system=dict(type="dict", default={}, options=steps.system_options()),
        connector_user=dict(type="dict", required=True, options=user),
        cloud=dict(type="dict", required=True, options=cloud),
        service_engines=dict(type="dict", required=True, options=ses),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    user = p["connector_user"]
    private_key = read_private_key(module, user["private_key_file"], "cloudconnectoruser", user["name"])
    avi = Avi(module)
    steps.password(avi, p["initial_password"])
    steps.systemconfig(avi, p["system"])
    steps.connector_user(avi, user["name"], private_key, user["public_key"])
    steps.cloud(avi, p["cloud"]["name"], p["cloud"]["hosts"], user["name"])
    ses = p["service_engines"]
    avi.done(missing=steps.se_wait(avi, ses["hosts"], ses["wait_timeout"], ses["delay"]))


if __name__ == "__main__":
    main()

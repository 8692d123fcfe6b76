#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""The cloud connector user (SSH user and key pair the controller deploys Service Engines with)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_cloudconnectoruser
short_description: An Avi cloud connector user with an SSH key pair (/api/cloudconnectoruser)
description:
  - The controller never returns the private key, so the user is compared on its public key (the pair's
    public half); the private key is sent on create and whenever the public key differs.
options:
  name: {description: The user's name (the SSH login on the Service Engine hosts)., type: str, required: true}
  private_key_file: {description: Path of the private key on the control host., type: path, required: true}
  public_key: {description: The public key line., type: str, required: true}
extends_documentation_fragment: [labctl.products.avi]
"""

EXAMPLES = r"""
- name: Connector user
  labctl.products.avi_cloudconnectoruser:
    name: aviconnector
    private_key_file: "{{ avi_connector_private_key_file }}"
    public_key: "{{ avi_connector_public_key }}"
"""

RETURN = r"""
labctl_objects: {description: "[{kind: cloudconnectoruser, name, action, fields}]", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec, read_private_key


def main():
    spec = avi_argument_spec()
    spec.update(name=dict(type="str", required=True), private_key_file=dict(type="path", required=True),
                public_key=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    name = module.params["name"]
    private_key = read_private_key(module, module.params["private_key_file"], "cloudconnectoruser", name)
    avi = Avi(module).login_or_fail()
    steps.connector_user(avi, name, private_key, module.params["public_key"])
    avi.done()


if __name__ == "__main__":
    main()

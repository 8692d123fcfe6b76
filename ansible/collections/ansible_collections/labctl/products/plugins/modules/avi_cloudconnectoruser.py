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
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError, reconcile


def read_key(module, path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as err:
        module.fail_json(msg="cloudconnectoruser %s: cannot read private_key_file %s: %s"
                         % (module.params["name"], path, err.strerror))


def main():
    spec = avi_argument_spec()
    spec.update(name=dict(type="str", required=True), private_key_file=dict(type="path", required=True),
                public_key=dict(type="str", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    name = module.params["name"]
    private_key = read_key(module, module.params["private_key_file"])
    module.no_log_values.add(private_key)
    avi = Avi(module).login_or_fail()
    avi.session.add_secret(private_key)
    want = dict(name=name, public_key=module.params["public_key"].strip())
    if avi.fresh:
        avi.plan_fresh("cloudconnectoruser", name, "create", want)
    try:
        current = avi.find("cloudconnectoruser", name)
        reconcile(avi.log, "cloudconnectoruser", name, current, want,
                  lambda body: avi.create("cloudconnectoruser", dict(body, private_key=private_key)),
                  lambda body: avi.update("cloudconnectoruser", dict(body, private_key=private_key), want),
                  module.check_mode)
    except RestError as err:
        avi.fail(err, "cloudconnectoruser", name)
    module.exit_json(**avi.log.result())


if __name__ == "__main__":
    main()

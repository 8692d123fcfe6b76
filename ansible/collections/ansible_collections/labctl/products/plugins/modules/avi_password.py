#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""Set the Avi admin password idempotently: the new password first, else the initial one + PUT /api/useraccount."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: avi_password
short_description: Change the Avi controller's admin password from its factory value, idempotently
description:
  - Logs in with O(password) first; when the controller takes it, nothing changes.
  - Otherwise logs in with O(initial_password) and sends C(PUT /api/useraccount) with the old and new password.
  - Check mode logs in (read-only) and reports the change without writing it.
options:
  initial_password: {description: The controller's factory password., type: str, required: true}
extends_documentation_fragment: [labctl.products.avi]
"""

EXAMPLES = r"""
- name: Admin password
  labctl.products.avi_password:
    controller: https://192.168.70.10
    password: "{{ avi_admin_password }}"
    initial_password: "{{ avi_initial_password }}"
    api_version: 17.2.11
"""

RETURN = r"""
labctl_objects: {description: "[{kind: useraccount, name, action, fields}]", returned: always, type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.labctl.products.plugins.module_utils import labctl_avi_steps as steps
from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import Avi, avi_argument_spec


def main():
    spec = avi_argument_spec()
    spec.update(initial_password=dict(type="str", required=True, no_log=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    avi = Avi(module)
    steps.password(avi, module.params["initial_password"])
    avi.done()


if __name__ == "__main__":
    main()

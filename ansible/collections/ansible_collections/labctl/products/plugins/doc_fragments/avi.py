# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""Connection options of every labctl Avi module (labctl_avi.avi_argument_spec)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  controller: {description: "The controller's URL, https://HOST[:PORT].", type: str, required: true}
  username: {description: The admin user., type: str, default: admin}
  password: {description: The lab's admin password (never logged)., type: str, required: true}
  api_version: {description: "The Avi version (17.2.11-9014 or 17.2.11); X-Avi-Version takes its first three parts.", type: str, required: true}
  validate_certs: {description: Verify the controller's TLS certificate., type: bool, default: true}
  ca_path: {description: A CA file to verify it with., type: path}
  timeout: {description: Seconds per HTTP call., type: int, default: 30}
  retries: {description: "Retries of connection errors and 5xx answers (0.5 s, 1 s, 2 s ...).", type: int, default: 3}
notes:
  - Set the connection options once with C(module_defaults) for C(group/labctl.products.avi).
  - Every result carries C(labctl_objects), one entry per object (kind, name, action, fields).
"""

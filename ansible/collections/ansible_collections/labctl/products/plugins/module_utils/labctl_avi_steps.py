# -*- coding: utf-8 -*-
# Copyright: labctl contributors. Apache-2.0.
"""The Avi configuration steps, one per object, shared by the avi_* modules and avi_config (all in one run).

Each step takes a logged-in ``Avi`` (labctl_avi), records its object in ``avi.log`` (labctl_objects) and
fails the module with one line naming the object on an API error. In check mode nothing is written and the
same entries are recorded; on a factory-fresh controller (``avi.fresh``: nothing is readable before the
password changes) a step reports every field it sets.

``password(avi, initial_password)``: the lab's password first; else the initial one and PUT /api/useraccount.
``systemconfig(avi, options)``: DNS/NTP/SMTP (and basic auth) in /api/systemconfiguration; options as
    ``system_options()`` declares them, fields as ``system_fields(options)`` builds them.
``connector_user(avi, name, private_key, public_key)``: /api/cloudconnectoruser, compared on its public key.
``cloud(avi, name, hosts, ssh_user)``: a CLOUD_LINUXSERVER cloud listing ``hosts`` (lab addresses).
``se_wait(avi, hosts, wait_timeout, delay)``: until /api/serviceengine lists every host ({name: addr}).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.labctl.products.plugins.module_utils.labctl_avi import ip_addr
from ansible_collections.labctl.products.plugins.module_utils.labctl_rest import RestError, reconcile

SMTP_TYPES = ["SMTP_NONE", "SMTP_LOCAL_HOST", "SMTP_SERVER", "SMTP_ANONYMOUS_SERVER"]


def password(avi, initial_password):
    """Make the lab's password the admin's; leaves `avi` logged in with it (or marked fresh in check mode)."""
    user = avi.params["username"]
    if _accepted(avi, None):
        avi.log.add("useraccount", user, "unchanged")
        return
    if not _accepted(avi, initial_password):
        avi.fail("neither the lab's admin password nor avi_initial_password is accepted by %s: set "
                 "avi_initial_password (or LABCTL_AVI_INITIAL_PASSWORD) to the controller's factory password, "
                 "or the lab's secret to the password it has now" % avi.base, "useraccount", user)
    avi.log.add("useraccount", user, "update", ["password"])
    if avi.module.check_mode:
        avi.fresh = True
        return
    body = dict(username=user, old_password=initial_password, password=avi.params["password"])
    try:
        avi.session.put("/api/useraccount", body)
        avi.login()
    except RestError as err:
        avi.fail(err, "useraccount", user)


def _accepted(avi, secret):
    """True when the controller takes `secret` (None: the lab's password); a 401 means no."""
    try:
        avi.login(secret)
        return True
    except RestError as err:
        if err.status == 401:
            return False
        avi.fail(err.about("login", "%s at %s" % (avi.params["username"], avi.base)))


def system_options():
    """The argument_spec of the systemconfiguration step (avi_systemconfig's options, avi_config's `system`)."""
    return dict(
        dns_servers=dict(type="list", elements="str", default=[]),
        search_domain=dict(type="str", default=""),
        ntp_servers=dict(type="list", elements="str", default=[]),
        smtp_type=dict(type="str", choices=SMTP_TYPES),
        mail_server_name=dict(type="str"),
        mail_server_port=dict(type="int"),
        allow_basic_authentication=dict(type="bool"),
    )


def system_fields(options):
    """The systemconfiguration fields these options set; an empty option sets nothing."""
    body = {}
    dns = dict(server_list=[ip_addr(a) for a in options.get("dns_servers") or []] or None,
               search_domain=options.get("search_domain") or None)
    if any(v is not None for v in dns.values()):
        body["dns_configuration"] = _set(dns)
    if options.get("ntp_servers"):
        body["ntp_configuration"] = dict(ntp_servers=[dict(server=ip_addr(a)) for a in options["ntp_servers"]])
    if options.get("smtp_type"):
        email = dict(smtp_type=options["smtp_type"], mail_server_name=options.get("mail_server_name") or None,
                     mail_server_port=options.get("mail_server_port"))
        body["email_configuration"] = _set(email)
    if options.get("allow_basic_authentication") is not None:
        body["portal_configuration"] = dict(allow_basic_authentication=options["allow_basic_authentication"])
    return body


def _set(fields):
    return dict((k, v) for k, v in fields.items() if v is not None)


def systemconfig(avi, options):
    want = system_fields(options)
    if avi.fresh:
        return avi.plan_fresh("systemconfiguration", "default", "update", want)
    try:
        reconcile(avi.log, "systemconfiguration", "default", avi.read("/api/systemconfiguration"), want, None,
                  lambda body: avi.update("systemconfiguration", body, want), avi.module.check_mode)
    except RestError as err:
        avi.fail(err, "systemconfiguration", "default")


def connector_user(avi, name, private_key, public_key):
    """The controller never returns the private key: compare the public half, send both when it differs."""
    avi.session.add_secret(private_key)
    want = dict(name=name, public_key=public_key.strip())
    if avi.fresh:
        return avi.plan_fresh("cloudconnectoruser", name, "create", want)
    try:
        reconcile(avi.log, "cloudconnectoruser", name, avi.find("cloudconnectoruser", name), want,
                  lambda body: avi.create("cloudconnectoruser", dict(body, private_key=private_key)),
                  lambda body: avi.update("cloudconnectoruser", dict(body, private_key=private_key), want),
                  avi.module.check_mode)
    except RestError as err:
        avi.fail(err, "cloudconnectoruser", name)


def cloud(avi, name, hosts, ssh_user):
    try:
        config = dict(hosts=[dict(host_ip=ip_addr(a)) for a in hosts], ssh_user_ref=_user_ref(avi, name, ssh_user))
        want = dict(name=name, vtype="CLOUD_LINUXSERVER", linuxserver_configuration=config)
        if avi.fresh:  # every controller has Default-Cloud (a CLOUD_NONE cloud); any other name is new
            return avi.plan_fresh("cloud", name, "update" if name == "Default-Cloud" else "create", want)
        reconcile(avi.log, "cloud", name, avi.find("cloud", name), want, lambda body: avi.create("cloud", body),
                  lambda body: avi.update("cloud", body, want), avi.module.check_mode)
    except RestError as err:
        avi.fail(err, "cloud", name)


def _user_ref(avi, cloud_name, ssh_user):
    """/api/cloudconnectoruser/UUID; in check mode a by-name ref when the user does not exist yet."""
    user = None if avi.fresh else avi.find("cloudconnectoruser", ssh_user)
    if user is not None:
        return "/api/cloudconnectoruser/%s" % user["uuid"]
    if avi.module.check_mode:
        return "/api/cloudconnectoruser?name=%s" % ssh_user
    avi.fail("connector user %s does not exist: configure it first" % ssh_user, "cloud", cloud_name)


def se_wait(avi, hosts, wait_timeout, delay):
    """Wait (never in check mode) until every {name: addr} host has an SE; fail naming the missing ones."""
    hosts = [dict(name=k, addr=str(v)) for k, v in sorted(hosts.items())]
    deadline = time.time() + wait_timeout
    try:
        left = hosts if avi.fresh else _missing(avi, hosts)
        while left and not avi.module.check_mode and time.time() < deadline:
            time.sleep(delay)  # waiting on the controller's SE deployment, never after a write
            left = _missing(avi, hosts)
    except RestError as err:
        avi.fail(err, "serviceengine", ", ".join(h["addr"] for h in hosts))
    for host in hosts:
        avi.log.add("serviceengine", host["addr"], "unchanged")
    if left and not avi.module.check_mode:
        names = ", ".join("%s (%s)" % (h["name"], h["addr"]) for h in left)
        avi.fail("%d of %d Service Engine hosts did not register within %ss: %s"
                 % (len(left), len(hosts), wait_timeout, names), "serviceengine", "registration")
    return [h["addr"] for h in left]


def _missing(avi, hosts):
    listed = set()
    for item in (avi.session.get("/api/serviceengine?page_size=1000").body or {}).get("results") or []:
        listed |= _se_addresses(item)
    return [h for h in hosts if h["addr"] not in listed]


def _se_addresses(item):
    """An SE's name and management addresses."""
    found = {item.get("name")}
    for net in (item.get("mgmt_vnic") or {}).get("vnic_networks") or []:
        found.add(((net.get("ip") or {}).get("ip_addr") or {}).get("addr"))
    return found

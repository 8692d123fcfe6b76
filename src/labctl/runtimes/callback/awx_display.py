# labctl's stand-in for ansible-runner's `awx_display` stdout callback, for runtimes whose
# Python cannot load ansible-runner 2.4's own (it needs Python 3.9: `from __future__ import
# annotations`, functools.cache, dict |) or whose Ansible lacks what it calls. labctl points
# ansible-runner here with AWX_LIB_DIRECTORY for those runtimes only.
#
# It speaks ansible-runner's protocol: each event's data goes to
# $AWX_ISOLATED_DATA_DIR/job_events/UUID-partial.json, and stdout carries a begin marker
# (base64 JSON {"uuid": ...} between ESC[K tokens), the default callback's text, and an end
# marker ({}). ansible-runner then numbers the events, attaches their stdout, calls the event
# handler and writes the artifacts, as under its own callback.
#
# Written for Python 3.5+ and Ansible 2.3 to 2.13: no f-strings, no annotations.

import base64
import datetime
import json
import os
import stat
import sys
import threading
import uuid

from ansible.plugins.callback.default import CallbackModule as DefaultCallbackModule

DOCUMENTATION = """
    callback: awx_display
    type: stdout
    short_description: ansible-runner job events for old Ansibles and Pythons (labctl)
    description:
        - Writes ansible-runner job events; set as the stdout callback by ansible-runner.
    extends_documentation_fragment:
        - default_callback
"""

CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
LOCK = threading.RLock()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _dump(data, out):
    """One marker: ESC[K, base64 JSON in chunks each followed by ESC[<len>D, ESC[K."""
    b64 = base64.b64encode(json.dumps(data).encode("utf-8")).decode("ascii")
    out.write("\x1b[K")
    for offset in range(0, len(b64), 78):
        chunk = b64[offset:offset + 78]
        out.write("%s\x1b[%dD" % (chunk, len(chunk)))  # noqa: UP031 (Python 3.5: no f-strings)
    out.write("\x1b[K")


def _write_partial(event):
    base = os.environ.get("AWX_ISOLATED_DATA_DIR")
    if not base:
        return
    folder = os.path.join(base, "job_events")
    if not os.path.isdir(folder):
        os.mkdir(folder, 0o700)
    final = os.path.join(folder, "%s-partial.json" % event["uuid"])  # noqa: UP031
    temp = final + ".tmp"
    handle = os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR), "w")
    with handle:
        handle.write(json.dumps(event, default=str))
    os.rename(temp, final)


def _censor(res):
    """no_log results never leave the callback (nor do their loop items)."""
    if not isinstance(res, dict):
        return res
    if res.get("_ansible_no_log"):
        return {"censored": CENSORED}
    if isinstance(res.get("results"), list):
        res = dict(res)
        res["results"] = [{"censored": CENSORED} if isinstance(i, dict) and i.get("_ansible_no_log") else i
                          for i in res["results"]]
    return res


class CallbackModule(DefaultCallbackModule):
    """The default callback's output, wrapped in ansible-runner job events."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "awx_display"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ctx = {"playbook_uuid": str(uuid.uuid4())}

    def set_options(self, *args, **kwargs):
        # the default callback's options are declared under its own name
        load_name = getattr(self, "_load_name", None)
        self._load_name = "default"
        try:
            return super().set_options(*args, **kwargs)
        finally:
            self._load_name = load_name

    def _event(self, name, data, method, *args, **kwargs):
        event_data = dict(self._ctx)
        event_data.update(data)
        parent = event_data.get("task_uuid") or event_data.get("play_uuid") or event_data.get("playbook_uuid")
        event = {"event": name, "uuid": str(uuid.uuid4()), "created": _now(), "pid": os.getpid(),
                 "event_data": event_data}
        if parent and name != "playbook_on_start":
            event["parent_uuid"] = parent
        with LOCK:
            _write_partial(event)
            _dump({"uuid": event["uuid"]}, sys.stdout)
            try:
                if method is not None:
                    method(*args, **kwargs)
            finally:
                _dump({}, sys.stdout)
                sys.stdout.flush()

    def _result(self, result):
        host = result._host
        data = {"host": host.get_name(), "remote_addr": host.get_name(), "res": _censor(dict(result._result)),
                "task": result._task.get_name(), "task_action": result._task.action}
        return data

    # playbook, play, task

    def v2_playbook_on_start(self, playbook):
        name = os.path.basename(getattr(playbook, "_file_name", "") or "")
        self._ctx["playbook"] = name
        self._event("playbook_on_start", {}, super().v2_playbook_on_start, playbook)

    def v2_playbook_on_play_start(self, play):
        self._ctx.update({"play": play.get_name(), "play_uuid": str(play._uuid), "play_pattern": ",".join(play.hosts)
                          if isinstance(play.hosts, list) else str(play.hosts)})
        self._ctx.pop("task_uuid", None)
        self._event("playbook_on_play_start", {"name": play.get_name()},
                    super().v2_playbook_on_play_start, play)

    def _task(self, task):
        path = task.get_path() if hasattr(task, "get_path") else ""
        self._ctx.update({"task": task.get_name(), "task_action": task.action, "task_uuid": str(task._uuid),
                          "task_path": path or "", "task_args": ""})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)
        self._event("playbook_on_task_start", {"is_conditional": is_conditional},
                    super().v2_playbook_on_task_start, task, is_conditional)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)
        self._event("playbook_on_handler_task_start", {},
                    super().v2_playbook_on_handler_task_start, task)

    def v2_playbook_on_no_hosts_matched(self):
        self._event("playbook_on_no_hosts_matched", {}, super().v2_playbook_on_no_hosts_matched)

    # host results

    def v2_runner_on_ok(self, result):
        self._event("runner_on_ok", self._result(result), super().v2_runner_on_ok, result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        data = self._result(result)
        data["ignore_errors"] = ignore_errors
        self._event("runner_on_failed", data, super().v2_runner_on_failed, result, ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._event("runner_on_unreachable", self._result(result),
                    super().v2_runner_on_unreachable, result)

    def v2_runner_on_skipped(self, result):
        self._event("runner_on_skipped", self._result(result), super().v2_runner_on_skipped, result)

    def v2_runner_item_on_ok(self, result):
        self._event("runner_item_on_ok", self._result(result), super().v2_runner_item_on_ok, result)

    def v2_runner_item_on_failed(self, result):
        self._event("runner_item_on_failed", self._result(result),
                    super().v2_runner_item_on_failed, result)

    def v2_runner_item_on_skipped(self, result):
        self._event("runner_item_on_skipped", self._result(result),
                    super().v2_runner_item_on_skipped, result)

    def v2_runner_retry(self, result):
        self._event("runner_retry", self._result(result), super().v2_runner_retry, result)

    # the end: ansible-runner's `stats` reads this event

    def v2_playbook_on_stats(self, stats):
        data = {key: dict(getattr(stats, key, {}) or {}) for key in
                ("changed", "dark", "failures", "ignored", "ok", "processed", "rescued", "skipped")}
        for key in ("task", "task_uuid", "task_action", "task_path", "task_args", "play", "play_uuid", "play_pattern"):
            self._ctx.pop(key, None)
        self._event("playbook_on_stats", data, super().v2_playbook_on_stats, stats)

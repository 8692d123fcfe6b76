"""Quoting for the two languages a spec's strings land in: Ruby and Ansible's INI.

Ruby: every string becomes a single-quoted literal, where only \\ and ' are special,
so `#{...}` is never interpolated. Control characters are refused outright.
INI: values are written so Ansible's parser (shlex, then ast.literal_eval) gives back
exactly the spec's value; nothing can start a new line or section.
"""

from __future__ import annotations

import ast
import re

from labctl.errors import UnsafeValue

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _plain(value: object, where: str) -> str:
    text = str(value)
    if _CONTROL.search(text):
        raise UnsafeValue(f"{where}: {text!r} contains a control character or line break", "remove it from the spec")
    return text


def rb(value: object) -> str:
    text = _plain(value, "Vagrantfile value")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rb_comment(value: object) -> str:
    return _plain(value, "Vagrantfile comment")


def rb_int(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnsafeValue(f"Vagrantfile value {value!r} must be an integer")
    return str(value)


def rb_bool(value: object) -> str:
    if not isinstance(value, bool):
        raise UnsafeValue(f"Vagrantfile value {value!r} must be true or false")
    return "true" if value else "false"


def rb_value(value: object) -> str:
    if isinstance(value, bool):
        return rb_bool(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return rb(value)


def rb_ident(value: object) -> str:
    if not isinstance(value, str) or not _IDENT.match(value):
        raise UnsafeValue(f"provider setting name {value!r} must be a Ruby identifier", "letters, digits and _")
    return value


def ini_key(key: object) -> str:
    if not isinstance(key, str) or not _IDENT.match(key):
        raise UnsafeValue(f"inventory variable name {key!r} is not a valid Ansible variable name")
    return key


def ini_value(value: object) -> str:
    """Text that Ansible's INI parser turns back into `value`, on one line."""
    if isinstance(value, str):
        raw_ok = value == value.strip() and value.isprintable() and _stays_text(value)
        # isprintable() is False for every line break Python's splitlines() knows (\x85, \u2028, ...)
        return value if raw_ok else repr(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    return repr(_plain_data(value))


def ini_host_value(value: object) -> str:
    """Like ini_value, then quoted for the shlex split Ansible applies to host lines."""
    text = ini_value(value)
    if re.fullmatch(r"[A-Za-z0-9_.,:/@%+=-]+", text):
        return text
    if '"' not in text and "\\" not in text:
        return f'"{text}"'
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _stays_text(text: str) -> bool:
    """True when Ansible keeps `text` as the same string: ast.literal_eval must fail the way
    Ansible expects (ValueError, SyntaxError); anything else would change or break the value."""
    if not text:
        return False
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return True
    except Exception:  # noqa: BLE001 - TypeError, MemoryError, RecursionError: Ansible would crash
        return False
    return False


def _plain_data(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    return value

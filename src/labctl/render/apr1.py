"""apr1, Apache's MD5-crypt: the htpasswd hash OpenShift 3.x reads (`$apr1$SALT$DIGEST`).

The algorithm is PHK's md5crypt with the magic `$apr1$`, as apr_md5_encode and `openssl passwd -apr1`
compute it; tests check it against both OpenSSL and passlib. It is here rather than through passlib,
which is unmaintained and costs a sixth of a render to import (it loads the stdlib's deprecated
`crypt` and runs test hashes at import time). MD5-crypt is what OpenShift 3.x accepts, not a
choice for new systems: the hash stays in 0600 files, like the password.
"""

from __future__ import annotations

import hashlib
import secrets

MAGIC = b"$apr1$"
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ORDER = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))  # the digest's bytes, 3 per 4 characters


def new_salt() -> str:
    return "".join(secrets.choice(_ITOA64) for _ in range(8))


def apr1(password: str, salt: str | None = None) -> str:
    """The htpasswd line's hash of `password` (a new random salt unless one is given)."""
    salt = new_salt() if salt is None else salt[:8]
    pw, s = password.encode(), salt.encode()
    return f"{MAGIC.decode()}{salt}${_encode(_stretch(pw, s, _initial(pw, s)))}"


def _initial(pw: bytes, salt: bytes) -> bytes:
    alternate = hashlib.md5(pw + salt + pw).digest()  # noqa: S324 - the format is MD5 by definition
    ctx = hashlib.md5(pw + MAGIC + salt)  # noqa: S324
    ctx.update((alternate * (len(pw) // 16 + 1))[: len(pw)])
    length = len(pw)
    while length:
        ctx.update(b"\0" if length & 1 else pw[:1])
        length >>= 1
    return ctx.digest()


def _stretch(pw: bytes, salt: bytes, digest: bytes) -> bytes:
    for i in range(1000):
        ctx = hashlib.md5(pw if i & 1 else digest)  # noqa: S324
        if i % 3:
            ctx.update(salt)
        if i % 7:
            ctx.update(pw)
        ctx.update(digest if i & 1 else pw)
        digest = ctx.digest()
    return digest


def _encode(digest: bytes) -> str:
    out = "".join(_b64((digest[a] << 16) | (digest[b] << 8) | digest[c], 4) for a, b, c in _ORDER)
    return out + _b64(digest[11], 2)


def _b64(value: int, count: int) -> str:
    chars = []
    for _ in range(count):
        chars.append(_ITOA64[value & 0x3F])
        value >>= 6
    return "".join(chars)

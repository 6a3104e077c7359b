"""Signed, expiring sign-in cookies for the users-file mode, so that a reload, a typed URL or a new tab keeps
an operator signed in, as `st.login`'s cookie does for OpenID Connect.

A token is `<payload>.<signature>`. The payload (base64url JSON) holds the user's name, when the token was
issued and when it expires; the signature is HMAC-SHA256 over the payload and the user's stored password hash,
keyed with a secret kept beside the users file (`session.key`, owner-only) or DASHBOARD_SESSION_SECRET. The
token carries no password, hash or secret, and never the role: that is read from the users file each time. It
is refused when altered, expired, issued before the user last signed out, or when the user is gone or has a
new password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from services.core.access import Caller
from services.core.errors import ServiceError
from services.security.users import UserStore

COOKIE = "dashboard_session"
LIFETIME_S = 12 * 3600
"""How long a sign-in lasts without signing in again: a working day."""
SECRET_FILE = "session.key"
_SECRET_BYTES = 32


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_secret(users_file: Path, *, create: bool) -> bytes | None:
    """DASHBOARD_SESSION_SECRET, else the key beside the users file, made on first use when `create` (so a
    restart keeps everyone signed in); None when there is none yet and `create` is False."""
    configured = os.environ.get("DASHBOARD_SESSION_SECRET", "")
    if configured:
        if len(configured) < _SECRET_BYTES:
            raise ServiceError(f"DASHBOARD_SESSION_SECRET must be at least {_SECRET_BYTES} characters long.")
        return configured.encode()
    path = users_file.with_name(SECRET_FILE)
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another session made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(_SECRET_BYTES))
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(secret) < _SECRET_BYTES:
        raise ServiceError(f"The session key {path} is too short: delete it and every visitor signs in again.")
    return secret


class SessionTokens:
    """Issues and checks sign-in tokens against one users file."""

    def __init__(
        self, store: UserStore, *, clock: Callable[[], float] = time.time, lifetime_s: float = LIFETIME_S
    ) -> None:
        self.store = store
        self._clock = clock
        self.lifetime_s = lifetime_s

    def _signature(self, secret: bytes, payload: str, password_hash: str) -> str:
        message = f"{payload}.{hashlib.sha256(password_hash.encode()).hexdigest()}".encode()
        return _encode(hmac.new(secret, message, hashlib.sha256).digest())

    def issue(self, caller: Caller) -> str:
        """A token for a caller who has just signed in with the right password."""
        user = self.store.user(caller.name or "")
        if user is None:
            raise ServiceError(f"User '{caller.name}' is not in the users file.")
        now = self._clock()
        body = {"sub": user.name, "iat": now, "exp": now + self.lifetime_s}
        payload = _encode(json.dumps(body, separators=(",", ":")).encode())
        secret = session_secret(self.store.path, create=True)
        if secret is None:
            raise ServiceError(f"Could not keep a session key beside {self.store.path}.")
        return f"{payload}.{self._signature(secret, payload, user.password_hash)}"

    def verify(self, token: str) -> Caller | None:
        """The signed-in caller, with the role the users file gives now; None for any token not to be honoured."""
        secret = session_secret(self.store.path, create=False)
        payload, _, signature = token.partition(".")
        if secret is None or not payload or not signature:
            return None
        try:
            body = json.loads(_decode(payload))
            name, issued, expires = str(body["sub"]), float(body["iat"]), float(body["exp"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        user = self.store.user(name)
        if user is None or not hmac.compare_digest(signature, self._signature(secret, payload, user.password_hash)):
            return None
        now = self._clock()
        if not issued > user.sessions_after or not issued <= now < expires:
            return None
        return Caller(user.name, user.role)

    def end(self, name: str) -> None:
        """Signing out: every token of `name` issued until now is refused from now on, in every tab."""
        self.store.end_sessions(name, self._clock())

"""The console's session cookie: the signed-in API key sealed (Fernet: AES + HMAC, timestamped)
under a key derived from the workspace's master key, with the session's CSRF token.

The key never travels in clear: the browser holds an opaque token only this workspace can
open. Each request opens it and authenticates the key again, so a disabled or rotated key ends
its sessions at once. Forms carry the session's CSRF token (synchroniser token); the sign-in
form, before any session exists, uses a double-submit cookie.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass

import orjson
from cryptography.fernet import Fernet, InvalidToken

SESSION_COOKIE = "so_session"
LOGIN_COOKIE = "so_login_csrf"
#: A session lasts a working day; signing in again starts a new one.
MAX_AGE_S = 8 * 3600
PURPOSE = "supportops console session v1"


@dataclass(frozen=True)
class Session:
    """What the cookie holds: the API key and the CSRF token of this session."""

    api_key: str
    csrf: str


class SessionCodec:
    """Seals and opens session cookies with one workspace-derived key."""

    def __init__(self, secret: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(secret[:32].ljust(32, b"\0")))

    def seal(self, api_key: str) -> tuple[str, Session]:
        session = Session(api_key, new_token())
        body = orjson.dumps({"k": session.api_key, "c": session.csrf})
        return self._fernet.encrypt(body).decode(), session

    def open(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None when absent, forged, or older than a day."""
        if not cookie:
            return None
        try:
            data = orjson.loads(self._fernet.decrypt(cookie.encode(), ttl=MAX_AGE_S))
        except (InvalidToken, orjson.JSONDecodeError):
            return None
        return Session(str(data["k"]), str(data["c"]))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an absent token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())

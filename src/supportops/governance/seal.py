"""The keys of a tenant's audit chain and anchors, handed in from outside the database.

The workspace derives one secret from the master key through the key provider (HKDF) and
gives each tenant handle an :class:`AuditSealer` in its context; governance never sees the
master key and never imports privacy. Whoever holds only the database cannot recompute a
MAC or forge an anchor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: The purpose the workspace asks its key provider to derive the integrity secret for.
INTEGRITY_PURPOSE = "supportops integrity v1"


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=purpose.encode()).derive(secret)


class AuditSealer:
    """HMAC-SHA256 for the audit chain and Ed25519 for anchors, both per tenant. ``secret``
    may be a callable: it is then resolved on first use (opening a tenant asks no key)."""

    def __init__(self, tenant_id: str, secret: bytes | Callable[[], bytes]) -> None:
        self.tenant_id = tenant_id
        self._secret = secret
        self._keys: tuple[bytes, Ed25519PrivateKey] | None = None

    def _resolved(self) -> tuple[bytes, Ed25519PrivateKey]:
        if self._keys is None:
            secret = self._secret() if callable(self._secret) else self._secret
            self._keys = (_derive(secret, f"supportops audit-mac v1\x1f{self.tenant_id}"),
                          Ed25519PrivateKey.from_private_bytes(_derive(
                              secret, f"supportops anchor-ed25519 v1\x1f{self.tenant_id}")))
            self._secret = b""
        return self._keys

    def mac(self, data: bytes) -> str:
        return hmac.new(self._resolved()[0], data, hashlib.sha256).hexdigest()

    @property
    def public_key(self) -> str:
        raw = self._resolved()[1].public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._resolved()[1].sign(data)).decode()

    def signature_holds(self, data: bytes, signature: str) -> bool:
        try:
            self._resolved()[1].public_key().verify(base64.b64decode(signature, validate=True), data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def __repr__(self) -> str:
        return f"AuditSealer(tenant={self.tenant_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("An AuditSealer holds key material and never leaves its process.")

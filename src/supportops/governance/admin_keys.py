"""Workspace-admin keys: the one credential that acts above tenants (create and list them).

A key reads ``sow_<secret>``; only its SHA-256 hash is kept, in the workspace config (owner-only
file), so whoever can read the config still cannot sign in with it. Tenant keys can never act
as a workspace admin, and a workspace-admin key can never act inside a tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from supportops.errors import PermissionDenied

ADMIN_KEY_PREFIX = "sow_"
CONFIG_FIELD = "admin_key_hashes"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A new key and the config that knows its hash."""
    key = f"{ADMIN_KEY_PREFIX}{secrets.token_hex(32)}"
    hashes = [*config.get(CONFIG_FIELD, []), _hash(key)]
    return key, {**config, CONFIG_FIELD: hashes}


def check(config: dict[str, Any], key: str) -> None:
    if not key.startswith(ADMIN_KEY_PREFIX):
        raise PermissionDenied("This endpoint needs a workspace-admin key ('sow_...', made by "
                               "'supportops admin-key'); tenant keys may not use it.")
    digest = _hash(key)
    if not any(hmac.compare_digest(digest, h) for h in config.get(CONFIG_FIELD, [])):
        raise PermissionDenied("That workspace-admin key is unknown.")

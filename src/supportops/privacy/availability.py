"""The privacy room as a workspace composes it, with or without its optional extra.

PII detection in free text needs ``supportops[privacy]`` (Presidio and a spaCy pipeline).
Without it, identity fields are still tokenised (that needs no model), but free text is
refused, naming the extra: it is never stored unscanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from supportops.errors import ConfigError
from supportops.events.catalogue import Catalogue
from supportops.events.wiring import CipherFactory
from supportops.governance.context import Context
from supportops.privacy.content import ContentCipher
from supportops.privacy.detection import DEFAULT_MODEL, Span
from supportops.privacy.keys import Keyring, provider_for
from supportops.privacy.service import Privacy
from supportops.storage import Database

EXTRA = "supportops[privacy]"


@cache
def detection_installed() -> bool:
    return all(find_spec(name) is not None for name in ("presidio_analyzer", DEFAULT_MODEL))


def refuse_free_text(texts: Sequence[str]) -> list[list[Span]]:
    """The detector of an install without the extra: free text cannot be scanned, so the
    records carrying it are not stored."""
    raise ConfigError(
        f"Free text needs PII detection, which is not installed: pip install '{EXTRA}' "
        "(records with identity fields only need nothing more)."
    )


def privacy_room(path: Path, config: dict[str, Any], db: Database, ctx: Context) -> Privacy:
    """The privacy room for one context: the default ``PrivacyFactory`` of a workspace."""
    privacy = Privacy.of(path, config, db, ctx)
    if not detection_installed():
        privacy.detect = refuse_free_text
    return privacy


def content_cipher(path: Path, config: dict[str, Any],
                   catalogue: Catalogue) -> CipherFactory:
    """The content cipher of a workspace (its composition's ``cipher``): content at rest is
    encrypted under its subject's key for every reader and writer of the database (the log,
    the projection, analytics), the free text of each event type as ``catalogue`` declares it.
    The key provider is made per batch, not when the workspace opens (which creates no key
    file) and not once for the process (a rotated master key is seen at once)."""

    def factory(ctx: Context) -> ContentCipher:
        return ContentCipher(Keyring(provider_for(path, config), ctx), catalogue)

    return factory

"""The tenant's single-room areas: events, principals, datasets, audit trail and lineage.

Each verb is one call into its room with the handle's context; names follow the CLI
(``supportops principals set-role`` is ``Principals.set_role``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportops.errors import ValidationFailed
from supportops.events import log, projection
from supportops.events.schemas import Event
from supportops.governance import tenants as tenant_store
from supportops.governance.context import Context
from supportops.governance.integrity import AuditTrail
from supportops.governance.lineage import LineageView
from supportops.storage import Database

if TYPE_CHECKING:
    from supportops.datasets.snapshots import Snapshot
    from supportops.governance.audit import AuditEntry

#: A customer id or token -> (keyed reference, token), as lineage and the audit trail name it.
SubjectNames = Callable[[str], tuple[str, str]]


@dataclass(frozen=True)
class Events:
    """The tenant's event log (``supportops events``)."""

    db: Database
    ctx: Context

    def tail(self, n: int = 20, event_type: str | None = None) -> list[Event]:
        return log.tail(self.db, self.ctx, n, event_type)

    def count(self) -> int:
        return log.count(self.db, self.ctx)

    def rebuild(self) -> int:
        """Replay the log into the ticket projection; returns the number of tickets."""
        return projection.rebuild(self.db, self.ctx)


@dataclass(frozen=True)
class Principals:
    """API keys and users of the tenant (``supportops principals``). Role changes, disables
    and rotations call ``changed`` (the workspace's principals generation moves on), so a face
    that remembers key checks forgets them; the area is never handed the workspace itself,
    which a handle of a lower role must not reach."""

    db: Database
    ctx: Context
    changed: Callable[[], None]

    def create(self, name: str, role: str, kind: str = "api_key", *,
               scopes: list[str] | None = None, expires_at: datetime | None = None,
               ) -> tuple[tenant_store.Principal, str | None]:
        """A new principal and, for an API key, its key (shown once)."""
        return tenant_store.create_principal(self.db, self.ctx, name, role, kind,
                                             scopes=scopes, expires_at=expires_at)

    def list(self) -> list[tenant_store.Principal]:
        return tenant_store.list_principals(self.db, self.ctx)

    def set_role(self, name: str, role: str) -> str:
        """Give a principal a new role (audited); returns the role it had."""
        from supportops.governance.roles import set_principal_role

        previous = set_principal_role(self.db, self.ctx, name, role)
        self.changed()
        return previous

    def disable(self, name: str) -> None:
        """Disable a principal: its key stops working at once (audited)."""
        from supportops.governance.roles import disable_principal

        disable_principal(self.db, self.ctx, name)
        self.changed()

    def rotate_key(self, name: str) -> str:
        """A fresh key for an API-key principal; the old one stops working (audited)."""
        key = tenant_store.rotate_key(self.db, self.ctx, name)
        self.changed()
        return key


@dataclass(frozen=True)
class Datasets:
    """Point-in-time snapshots of the log (``supportops datasets``)."""

    db: Database
    ctx: Context
    artifacts: Path

    def create(self, name: str, require: str | None = None) -> Snapshot:
        """Snapshot the log now (opted-out and erased subjects excluded)."""
        from supportops.datasets.snapshots import create_snapshot

        return create_snapshot(self.db, self.ctx, self.artifacts, name, require=require)

    def list(self) -> list[Snapshot]:
        from supportops.datasets.snapshots import list_snapshots

        return list_snapshots(self.db, self.ctx)

    def get(self, snapshot_id: str) -> Snapshot:
        from supportops.datasets.snapshots import get_snapshot

        return get_snapshot(self.db, self.ctx, snapshot_id)

    def rebuild_flagged(self) -> builtins.list[dict[str, str]]:
        """Rebuild the snapshots an erasure flagged, without the erased data."""
        from supportops.datasets.snapshots import rebuild_flagged

        return rebuild_flagged(self.db, self.ctx, self.artifacts)


@dataclass(frozen=True)
class Audit(AuditTrail):
    """The audit trail (``supportops audit``): a customer is found by id or token."""

    subject_names: SubjectNames | None = None

    def list(self, *, subject: str | builtins.list[str] | None = None,
             **filters: Any) -> builtins.list[AuditEntry]:
        """Audit entries; ``subject`` may be a token, a principal name or a customer id
        (matched as given, as its token and as its keyed reference)."""
        if isinstance(subject, str) and self.subject_names is not None:
            # entries about a customer name it by its keyed reference (older ones by its token)
            subject = sorted({subject, *self.subject_names(subject)})
        return super().list(subject=subject, **filters)


@dataclass(frozen=True)
class Lineage(LineageView):
    """Where data went (``supportops lineage``)."""

    subject_names: SubjectNames | None = None

    def of(self, *, subject: str | None = None, snapshot: str | None = None,
           model: str | None = None) -> dict[str, Any]:
        """Lineage of exactly one of: a customer (id or token), a snapshot,
        ``NAME@VERSION``."""
        chosen = [x for x in (subject, snapshot, model) if x is not None]
        if len(chosen) != 1:
            raise ValidationFailed("Give exactly one of --subject, --snapshot or --model "
                                   f"(got {len(chosen)}).")
        if subject is not None:
            if self.subject_names is None:
                return self.subject(subject)
            return self.subject(*self.subject_names(subject))
        if snapshot is not None:
            return self.snapshot(snapshot)
        name, sep, version = str(model).rpartition("@")
        if not sep or not name or not version:
            raise ValidationFailed(f"--model must look like NAME@VERSION. Got {model!r}.")
        return self.model(name, version)

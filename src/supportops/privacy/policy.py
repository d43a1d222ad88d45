"""Per-tenant privacy policy: retention periods and what erasure does to trained models."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from supportops.errors import ValidationFailed
from supportops.governance import audit
from supportops.governance.context import Context, Role
from supportops.privacy.tables import privacy_policies
from supportops.storage import Database

RETRAIN_CHOICES = ("on_erasure", "manual")
POLICY_ROLES: tuple[Role, ...] = ("admin", "privacy_officer")


@dataclass(frozen=True)
class Policy:
    """``None`` days: keep forever. ``retrain``: schedule retraining on erasure, or only flag."""

    message_body_days: int | None = None
    closed_ticket_pii_days: int | None = None
    retrain: str = "on_erasure"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_policy(conn: Connection, ctx: Context) -> Policy:
    row = conn.execute(select(privacy_policies).where(
        privacy_policies.c.tenant_id == ctx.tenant_id)).first()
    if row is None:
        return Policy()
    return Policy(row.message_body_days, row.closed_ticket_pii_days, row.retrain)


def _check_days(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise ValidationFailed(f"The '{name}' of a retention policy must be >= 0 days. "
                               f"Got {value}.")


def set_policy(db: Database, ctx: Context, **changes: Any) -> Policy:
    """Change some policy fields (the others stay); audited."""
    ctx.require(*POLICY_ROLES, action="change the privacy policy")
    unknown = set(changes) - set(Policy.__dataclass_fields__)
    if unknown:
        raise ValidationFailed(f"Unknown policy field(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(Policy.__dataclass_fields__)}.")
    for name in ("message_body_days", "closed_ticket_pii_days"):
        _check_days(name, changes.get(name))
    if changes.get("retrain", "on_erasure") not in RETRAIN_CHOICES:
        raise ValidationFailed(f"The 'retrain' policy must be one of {', '.join(RETRAIN_CHOICES)}"
                               f". Got {changes['retrain']!r}.")
    with db.begin(ctx.tenant_id) as conn:
        policy = Policy(**{**get_policy(conn, ctx).as_dict(), **changes})
        conn.execute(delete(privacy_policies).where(
            privacy_policies.c.tenant_id == ctx.tenant_id))
        conn.execute(insert(privacy_policies).values(
            tenant_id=ctx.tenant_id, updated_at=datetime.now(UTC), **policy.as_dict()))
        audit.record(conn, ctx, "privacy.policy.set", details=policy.as_dict())
    return policy

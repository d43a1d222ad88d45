"""Alarm thresholds: defaults in one table, a tenant's own values in ``monitor_thresholds``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from supportops.errors import ValidationFailed
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.monitor.tables import monitor_thresholds
from supportops.storage import Database

#: name -> (default, help). Input drift needs both: the AUC above ``drift_auc`` (Evidently's
#: 0.55) and above chance by ``drift_sigmas`` standard deviations at the window's size.
DEFAULTS: dict[str, tuple[float, str]] = {
    "drift_auc": (0.55, "domain-classifier ROC AUC on embeddings above which inputs drifted"),
    "drift_sigmas": (4.0, "how many standard deviations of a chance AUC the AUC must also "
                          "clear (small windows)"),
    "label_js": (0.05, "least Jensen-Shannon divergence of the predicted-label mix that "
                       "alarms (also above its own 99% chance level)"),
    "field_js": (0.1, "Jensen-Shannon divergence of a categorical field that alarms"),
    "accuracy_drop": (0.05, "estimated (or actual) accuracy this far below the reference "
                            "alarms"),
    "min_window": (50.0, "fewest new predictions 'monitor run' checks"),
}


def thresholds(db: Database, ctx: Context) -> dict[str, float]:
    """The defaults overlaid with the tenant's own values."""
    out = {k: v for k, (v, _) in DEFAULTS.items()}
    with db.begin(ctx.tenant_id) as conn:
        for key, value in conn.execute(select(monitor_thresholds.c.key,
                                              monitor_thresholds.c.value).where(
                monitor_thresholds.c.tenant_id == ctx.tenant_id)):
            out[str(key)] = float(value)
    return out


def set_threshold(db: Database, ctx: Context, key: str, value: float) -> dict[str, float]:
    """Set one of the tenant's thresholds (audited)."""
    ctx.require("admin", "ml_engineer", action="set monitoring thresholds")
    if key not in DEFAULTS:
        raise ValidationFailed(f"Unknown monitoring threshold {key!r}; known: "
                               f"{', '.join(DEFAULTS)}.")
    if not value >= 0:
        raise ValidationFailed(f"The threshold {key!r} must be a number >= 0. Got {value!r}.")
    with db.begin(ctx.tenant_id) as conn:
        conn.execute(delete(monitor_thresholds).where(
            monitor_thresholds.c.tenant_id == ctx.tenant_id, monitor_thresholds.c.key == key))
        conn.execute(insert(monitor_thresholds).values(
            tenant_id=ctx.tenant_id, key=key, value=float(value), updated_at=datetime.now(UTC)))
        audit.record(conn, ctx, "monitor.threshold", details={"key": key, "value": value})
    return thresholds(db, ctx)

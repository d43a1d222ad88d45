"""A tenant's webhook subscriptions, the deliveries they get, and the delivery loop."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import insert, select, update

from supportops.errors import NotFound, ValidationFailed
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.settings import get as setting
from supportops.storage import Database
from supportops.webhooks.signing import headers
from supportops.webhooks.tables import webhook_deliveries, webhooks

EVENT_TYPES: tuple[str, ...] = ("ticket.triaged", "draft.ready", "alarm.raised",
                                "erasure.completed")
#: Longest string a payload may carry: ids, labels and pseudonyms fit, free text does not.
MAX_VALUE_CHARS = 200
MAX_BACKOFF_S = 3600.0
TIMEOUT_S = 5.0

#: ``(url, body, headers, timeout) -> HTTP status``; raises ``OSError`` when unreachable.
Transport = Callable[[str, bytes, Mapping[str, str], float], int]


def urllib_transport(url: str, body: bytes, head: Mapping[str, str], timeout: float) -> int:
    """POST with the standard library: one seam, swapped in tests only through the argument."""
    request = urllib.request.Request(url, data=body, headers=dict(head), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _checked_url(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"The 'url' of a webhook must be an http(s) URL with a host. "
                               f"Got {url[:80]!r}.", field="url")
    return url


def _checked_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise ValidationFailed(f"The 'event_types' must name at least one of "
                               f"{', '.join(EVENT_TYPES)}.")
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(f"The 'event_types' must be among {', '.join(EVENT_TYPES)}. "
                               f"Got {unknown[0]!r}.")
    return list(dict.fromkeys(event_types))


def _checked_data(data: Mapping[str, Any]) -> None:
    """Payloads are ids, labels, numbers and pseudonyms: a long string would be free text."""
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and len(item) > MAX_VALUE_CHARS:
                raise ValidationFailed(f"Webhook payload field {key!r} holds {len(item)} "
                                       "characters; payloads carry ids and pseudonyms only.")
            if isinstance(item, dict):
                raise ValidationFailed(f"Webhook payload field {key!r} must be flat.")


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: the base doubled per failure, capped."""
    base = float(setting("webhook_retry_seconds") or 2)
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_S))


@dataclass(frozen=True)
class Webhooks:
    """Subscriptions and deliveries of one tenant; ``key`` derives each subscription's
    signing secret (never stored)."""

    db: Database
    ctx: Context
    key: Callable[[], bytes]

    def secret(self, webhook_id: str) -> str:
        mac = hmac.new(self.key(), f"{self.ctx.tenant_id}/{webhook_id}".encode(),
                       hashlib.sha256)
        return f"whsec_{mac.hexdigest()}"

    def subscribe(self, url: str, event_types: list[str]) -> dict[str, Any]:
        """Subscribe ``url`` to ``event_types``; the answer holds the signing secret."""
        self.ctx.require("admin", action="subscribe webhooks")
        row: dict[str, Any] = {"id": str(uuid.uuid4()), "url": _checked_url(url),
               "event_types": _checked_types(event_types), "created_at": datetime.now(UTC)}
        with self.db.begin(self.ctx.tenant_id) as conn:
            conn.execute(insert(webhooks).values(
                tenant_id=self.ctx.tenant_id, id=row["id"], url=row["url"],
                event_types=json.dumps(row["event_types"]), created_at=row["created_at"]))
            audit.record(conn, self.ctx, "webhook.subscribe", subject=row["id"],
                         details={"event_types": row["event_types"]})
        return {**row, "disabled_at": None, "secret": self.secret(row["id"])}

    def list(self) -> list[dict[str, Any]]:
        self.ctx.require("admin", action="list webhooks")
        with self.db.begin(self.ctx.tenant_id) as conn:
            rows = conn.execute(select(webhooks).where(
                webhooks.c.tenant_id == self.ctx.tenant_id)
                .order_by(webhooks.c.created_at)).mappings().all()
        return [_public(r) for r in rows]

    def remove(self, webhook_id: str) -> dict[str, Any]:
        """Stop a subscription (its deliveries stay recorded)."""
        self.ctx.require("admin", action="remove webhooks")
        with self.db.begin(self.ctx.tenant_id) as conn:
            done = conn.execute(update(webhooks).where(
                webhooks.c.tenant_id == self.ctx.tenant_id, webhooks.c.id == webhook_id,
                webhooks.c.disabled_at.is_(None)).values(disabled_at=datetime.now(UTC)))
            if not done.rowcount:
                raise NotFound(f"Webhook {webhook_id!r} does not exist (or is removed) in "
                               f"tenant {self.ctx.tenant_id!r}.")
            audit.record(conn, self.ctx, "webhook.remove", subject=webhook_id)
        return {"id": webhook_id, "removed": True}

    def deliveries(self, webhook_id: str | None = None, limit: int = 100
                   ) -> builtins.list[dict[str, Any]]:
        """Recorded deliveries, newest first."""
        self.ctx.require("admin", action="read webhook deliveries")
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.tenant_id == self.ctx.tenant_id)
        if webhook_id is not None:
            query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
        query = query.order_by(webhook_deliveries.c.created_at.desc()).limit(limit)
        with self.db.begin(self.ctx.tenant_id) as conn:
            rows = conn.execute(query).mappings().all()
        return [_delivery(r) for r in rows]

    def emit(self, event_type: str, data: Mapping[str, Any]) -> int:
        """Record one delivery per subscription to ``event_type``; returns how many."""
        _checked_types([event_type])
        _checked_data(data)
        now = datetime.now(UTC)
        with self.db.begin(self.ctx.tenant_id) as conn:
            subs = conn.execute(select(webhooks.c.id, webhooks.c.event_types).where(
                webhooks.c.tenant_id == self.ctx.tenant_id,
                webhooks.c.disabled_at.is_(None))).all()
            targets = [s.id for s in subs if event_type in json.loads(s.event_types)]
            for webhook_id in targets:
                delivery_id = str(uuid.uuid4())
                body = orjson.dumps({"id": delivery_id, "type": event_type,
                                     "tenant": self.ctx.tenant_id,
                                     "created_at": now.isoformat(), "data": dict(data)})
                conn.execute(insert(webhook_deliveries).values(
                    tenant_id=self.ctx.tenant_id, id=delivery_id, webhook_id=webhook_id,
                    event_type=event_type, body=body.decode(), status="pending", attempts=0,
                    created_at=now, next_attempt_at=now))
        return len(targets)

    def deliver_due(self, transport: Transport = urllib_transport,
                    now: datetime | None = None, limit: int = 50) -> dict[str, int]:
        """Attempt every delivery that is due; failures wait longer each time, then fail."""
        now = now or datetime.now(UTC)
        with self.db.begin(self.ctx.tenant_id) as conn:
            due = conn.execute(select(webhook_deliveries, webhooks.c.url).join(
                webhooks, (webhooks.c.tenant_id == webhook_deliveries.c.tenant_id)
                & (webhooks.c.id == webhook_deliveries.c.webhook_id)).where(
                webhook_deliveries.c.tenant_id == self.ctx.tenant_id,
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.next_attempt_at <= now).limit(limit)).mappings().all()
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        for row in due:
            counts[self._attempt(row, transport)] += 1
        return counts

    def _attempt(self, row: Any, transport: Transport) -> str:
        body = row["body"].encode()
        head = headers(self.secret(row["webhook_id"]), body, row["event_type"], row["id"])
        status: int | None = None
        error: str | None = None
        try:
            status = transport(row["url"], body, head, TIMEOUT_S)
        except OSError as err:
            error = f"{type(err).__name__}: {err}"[:300]
        attempts = int(row["attempts"]) + 1
        now = datetime.now(UTC)
        values: dict[str, Any] = {"attempts": attempts, "last_status": status,
                                  "last_error": error}
        if status is not None and 200 <= status < 300:
            outcome, values["status"], values["delivered_at"] = "delivered", "delivered", now
            values["next_attempt_at"] = None
        elif attempts >= int(setting("webhook_max_attempts") or 6):
            outcome, values["status"], values["next_attempt_at"] = "failed", "failed", None
        else:
            outcome, values["next_attempt_at"] = "retrying", now + backoff(attempts)
        with self.db.begin(self.ctx.tenant_id) as conn:
            conn.execute(update(webhook_deliveries).where(
                webhook_deliveries.c.tenant_id == self.ctx.tenant_id,
                webhook_deliveries.c.id == row["id"]).values(**values))
        return outcome


def _public(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "url": row["url"], "event_types": json.loads(row["event_types"]),
            "created_at": row["created_at"], "disabled_at": row["disabled_at"]}


def _delivery(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "webhook_id", "event_type", "status", "attempts",
                                "last_status", "last_error", "created_at", "next_attempt_at",
                                "delivered_at")}

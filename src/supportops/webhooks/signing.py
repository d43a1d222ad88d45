"""Signatures of webhook deliveries: HMAC-SHA256 over ``f"{timestamp}.{body}"``.

A receiver recomputes the digest with the subscription's secret, compares in constant time,
and refuses timestamps too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Supportops-Timestamp"
SIGNATURE_HEADER = "X-Supportops-Signature"
EVENT_HEADER = "X-Supportops-Event"
DELIVERY_HEADER = "X-Supportops-Delivery"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str,
           now: float | None = None) -> bool:
    """Whether ``signature`` is ours for this body and the timestamp is fresh."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - stamp) > TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


def headers(secret: str, body: bytes, event_type: str, delivery_id: str,
            now: float | None = None) -> dict[str, str]:
    stamp = int(now if now is not None else time.time())
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(secret, stamp, body), EVENT_HEADER: event_type,
            DELIVERY_HEADER: delivery_id}

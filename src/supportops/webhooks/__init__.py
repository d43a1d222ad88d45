"""Outgoing webhooks: a tenant subscribes URLs to event types; deliveries are signed
(HMAC-SHA256 over ``timestamp.body``), recorded, and retried with back-off.

Payloads carry ids, labels and pseudonyms only. Nothing below this room imports it; the
``Tenant`` emits, the server's dispatcher delivers.
"""

from supportops.webhooks.service import EVENT_TYPES, Webhooks
from supportops.webhooks.signing import sign, verify

__all__ = ["EVENT_TYPES", "Webhooks", "sign", "verify"]

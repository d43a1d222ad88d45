from __future__ import annotations

from supportops import Tenant


def test_fresh_tenant_is_empty(tenant: Tenant) -> None:
    assert tenant.tickets.count() == 0
    assert tenant.events.count() == 0

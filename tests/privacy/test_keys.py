"""Key hierarchy, pseudonym stability, crypto-shredding and the KMS seam."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from supportops import ConfigError, Tenant, Workspace
from supportops.privacy import keys
from supportops.privacy.keys import Keyring, LocalKeyProvider
from supportops.privacy.tables import tenant_keys, vault
from supportops.privacy.vault import TOKEN_RE

from .conftest import PiiData


def test_key_file_is_private_and_key_creation_audited(workspace: Workspace,
                                                      tenant: Tenant) -> None:
    token = tenant.privacy.subject_token("CUST-1")
    assert token.startswith("<CUSTOMER_") and len(token) == len("<CUSTOMER_>") + keys.TOKEN_HEX
    mode = stat.S_IMODE((workspace.path / keys.KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert [e.action for e in tenant.audit.list(action="key.create")] == ["key.create"]


def test_master_key_from_environment_must_match(workspace: Workspace, tenant: Tenant,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    tenant.privacy.subject_token("CUST-1")  # tenant key created under the env key
    assert not (workspace.path / keys.KEY_FILE).exists()
    monkeypatch.setenv("SUPPORTOPS_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(ConfigError, match="cannot be unwrapped"):
        tenant.privacy.subject_token("CUST-1")
    monkeypatch.setenv("SUPPORTOPS_MASTER_KEY", "changeme")
    with pytest.raises(ConfigError, match="SUPPORTOPS_MASTER_KEY"):
        tenant.privacy.subject_token("CUST-1")


def test_key_file_readable_by_others_is_refused(workspace: Workspace, tenant: Tenant) -> None:
    tenant.privacy.subject_token("x")
    (workspace.path / keys.KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        tenant.privacy.subject_token("x")


class _FakeKms:
    """An external KMS as a test double, through the same seam."""

    name = "fake-kms"

    def __init__(self) -> None:
        self.wrapped: list[str] = []

    def wrap(self, tenant_id: str, key: bytes) -> bytes:
        self.wrapped.append(tenant_id)
        return key[::-1]

    def unwrap(self, tenant_id: str, wrapped: bytes) -> bytes:
        return wrapped[::-1]

    def derive(self, purpose: str) -> bytes:
        """The audit chain's key comes from the provider too (never from the database)."""
        return hashlib.sha256(f"fake-kms\x1f{purpose}".encode()).digest()


def test_external_kms_plugs_in(workspace: Workspace, tenant: Tenant) -> None:
    kms = _FakeKms()
    keys.register_key_provider("fake-kms", lambda path: kms)
    try:
        workspace.config["key_provider"] = "fake-kms"
        tenant.privacy.subject_token("CUST-1")
        assert kms.wrapped == ["acme"]
        with workspace.db.begin("acme") as conn:
            assert conn.execute(select(tenant_keys.c.provider)).scalar() == "fake-kms"
        workspace.config["key_provider"] = "nope"
        with pytest.raises(ConfigError, match="nope"):
            tenant.privacy.subject_token("CUST-1")
    finally:
        keys._PROVIDERS.pop("fake-kms", None)


@pytest.fixture
def two_keyrings(workspace: Workspace) -> tuple[Keyring, Keyring]:
    provider = LocalKeyProvider(os.urandom(32))
    rings = []
    for tenant_id in ("t1", "t2"):
        workspace.create_tenant(tenant_id)
        ring = Keyring(provider, workspace.tenant(tenant_id).ctx)
        with workspace.db.begin(tenant_id) as conn:
            ring.load(conn)
        rings.append(ring)
    return rings[0], rings[1]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(min_size=1, max_size=40), kind=st.sampled_from(["EMAIL_ADDRESS", "PERSON"]))
def test_pseudonyms_stable_per_tenant_distinct_across(
    two_keyrings: tuple[Keyring, Keyring], value: str, kind: str
) -> None:
    one, two = two_keyrings
    token = one.token(kind, value)
    assert token == one.token(kind, value)
    assert token != two.token(kind, value)
    assert TOKEN_RE.fullmatch(token) and token.startswith(f"<{kind}_")


def test_erasure_shreds_backed_up_ciphertexts(workspace: Workspace, tenant: Tenant,
                                              ingested: PiiData) -> None:
    token = tenant.privacy.subject_token(ingested.customers[0].customer_id)
    ring = tenant.privacy.keyring()
    with workspace.db.begin("acme") as conn:
        ring.load(conn)
        subject = ring.subject_ref("CUSTOMER", token)  # keys and vault rows: references
        backup = conn.execute(select(vault.c.token, vault.c.ciphertext)
                              .where(vault.c.subject == subject)).all()
    assert backup
    tenant.privacy.erase(ingested.customers[0].customer_id)
    ring = tenant.privacy.keyring()
    with workspace.db.begin("acme") as conn:
        assert ring.subject_key(conn, subject, create=False) is None

"""Tables of the privacy room: wrapped keys, the vault, policies and erasure reports.

Nothing here holds plaintext personal data: tenant keys are wrapped by the master key,
subject keys by the tenant key, vault values are AES-GCM ciphertexts under the subject key,
and subjects and vault rows are named by HMAC references, never by token text.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
)

from supportops.storage.schema import UTCDateTime, tenant_table

tenant_keys = tenant_table(
    "tenant_keys",
    Column("provider", String(64), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_tenant_keys"),
)

subject_keys = tenant_table(
    "subject_keys",
    Column("subject", String(200), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "subject", name="pk_subject_keys"),
)

vault = tenant_table(
    "vault",
    Column("subject", String(200), nullable=False),
    Column("token", String(80), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "subject", "token", name="pk_vault"),
    Index("ix_vault_token", "tenant_id", "token"),
)

#: Which third-party subjects a customer's records named (erasure takes along those that no
#: other subject's records name). Both columns are subject references.
subject_links = tenant_table(
    "subject_links",
    Column("subject", String(200), nullable=False),
    Column("linked", String(200), nullable=False),
    PrimaryKeyConstraint("tenant_id", "subject", "linked", name="pk_subject_links"),
    Index("ix_subject_links_linked", "tenant_id", "linked"),
)

privacy_policies = tenant_table(
    "privacy_policies",
    Column("message_body_days", Integer, nullable=True),
    Column("closed_ticket_pii_days", Integer, nullable=True),
    Column("retrain", String(32), nullable=False, default="on_erasure"),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_privacy_policies"),
)

erasure_reports = tenant_table(
    "erasure_reports",
    Column("subject", String(200), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=False),
    Column("report", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "subject", "completed_at", name="pk_erasure_reports"),
)

#: A tenant's domain vocabulary (:mod:`supportops.privacy.domain_terms`): keyed hashes of the
#: terms of its published knowledge-base articles, per article; ``seq`` stamps each write.
domain_terms = tenant_table(
    "domain_terms",
    Column("article_id", String(200), nullable=False),
    Column("term", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "article_id", "term", name="pk_domain_terms"),
)

TABLES = [tenant_keys, subject_keys, vault, privacy_policies, erasure_reports]

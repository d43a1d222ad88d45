"""The assistant's index, kept beside the log so that erasure purges it in one transaction.

``assist_documents`` holds one row per searchable document (a knowledge-base article or a
resolved ticket): codes to filter on, the events its text lives in, and its *blind* terms
(keyed hashes of stemmed terms, never the words). Vectors live in the per-event embedding
cache (``event_embeddings``). ``assist_state`` says whether a tenant is indexed, the log
position the index was built from and a generation every change bumps (caches compare it).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
)

from supportops.storage.schema import UTCDateTime, tenant_table

assist_documents = tenant_table(
    "assist_documents",
    Column("doc_id", String(240), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("question_event", String(36), nullable=False),
    Column("answer_event", String(36), nullable=True),
    Column("seq", BigInteger, nullable=False),
    Column("subject", String(200), nullable=True),
    Column("language", String(16), nullable=True),
    Column("category", String(100), nullable=True),
    Column("intent", String(100), nullable=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("length", Integer, nullable=False),
    Column("terms", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "doc_id", name="pk_assist_documents"),
    Index("ix_assist_documents_subject", "tenant_id", "subject"),
    Index("ix_assist_documents_seq", "tenant_id", "seq"),
)

assist_state = tenant_table(
    "assist_state",
    Column("position", BigInteger, nullable=False),
    Column("generation", BigInteger, nullable=False),
    Column("encoder", String(200), nullable=False),
    Column("threshold", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_assist_state"),
)

assist_answers = tenant_table(
    "assist_answers",
    Column("answer_id", String(36), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("ticket_id", String(200), nullable=True),
    Column("citations", Text, nullable=False),
    Column("model", String(200), nullable=False),
    Column("index_version", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("abstained", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "answer_id", name="pk_assist_answers"),
)

TABLES = [assist_documents, assist_state, assist_answers]

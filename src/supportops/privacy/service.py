"""The privacy room's face for one tenant context.

    acme = ws.tenant("acme", principal="alice")     # an agent
    acme.privacy.reveal("T-1001")                   # originals back, audited
    acme.privacy.erase("CUST-42")                   # report as a dict

The workspace builds one per tenant context (its ``PrivacyFactory``, see
``privacy/availability.py``) over a database it built with its composition (content cipher,
event types, erasure hooks), so the Python API, the CLI and the HTTP API all ingest (and read)
through them; this room knows nothing of the workspace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportops.events.catalogue import CORE
from supportops.events.schemas import EventDraft
from supportops.events.wiring import wiring
from supportops.governance.context import Context
from supportops.privacy import erasure, optout, retention
from supportops.privacy.keys import KeyProvider, Keyring, provider_for
from supportops.privacy.policy import Policy, get_policy, set_policy
from supportops.privacy.protector import Detect, Pseudonymiser
from supportops.privacy.reveal import reveal_ticket
from supportops.privacy.subjects import CUSTOMER, OWNER_KINDS, EraseKind
from supportops.privacy.tenant_rotation import rotate_tenant_key
from supportops.storage import Database


class Privacy:
    """Reveal, opt-out, erasure, retention and pseudonyms for one context."""

    def __init__(self, db: Database, ctx: Context, provider: KeyProvider,
                 detect: Detect | None = None) -> None:
        self.db = db
        self.ctx = ctx
        self.provider = provider
        self.detect = detect
        self._inference: Pseudonymiser | None = None

    @classmethod
    def of(cls, path: Path, config: dict[str, Any], db: Database, ctx: Context) -> Privacy:
        return cls(db, ctx, provider_for(path, config))

    def keyring(self) -> Keyring:
        return Keyring(self.provider, self.ctx)

    def protector(self) -> Pseudonymiser:
        """Classifies strings by the event types of the database's composition."""
        return Pseudonymiser(self.keyring(), self.detect, wiring(self.db).catalogue)

    def subject_token(self, subject: str) -> str:
        """The pseudonym of a customer id (how the log, lineage and reports name it)."""
        keyring = self.keyring()
        with self.db.begin(self.ctx.tenant_id) as conn:
            keyring.load(conn)
        return keyring.token(CUSTOMER, subject)

    def subject_ref(self, subject: str, kind: EraseKind = "customer") -> str:
        """The keyed reference of a subject (id or token): how audit entries and erasure
        reports name it."""
        keyring = self.keyring()
        with self.db.begin(self.ctx.tenant_id) as conn:
            keyring.load(conn)
            token = erasure.subject_token(conn, keyring, subject, kind)
        return keyring.subject_ref(OWNER_KINDS[kind], token)

    def pseudonymise(self, drafts: list[EventDraft]) -> None:
        """Tokens in place of personal data, as at ingestion, with nothing stored (inference).
        The tenant key is loaded once per ``Privacy`` and the domain vocabulary is cached:
        serving calls this for every ticket, and pays one small query."""
        if self._inference is None:
            self._inference = self.protector()
        with self.db.begin(self.ctx.tenant_id) as conn:  # a stamp check: the vocabulary is cached
            self._inference.refresh_vocabulary(conn)
        self._inference.transient(drafts)

    def pseudonymise_texts(self, texts: list[str]) -> list[str]:
        """Free texts with personal data replaced by this tenant's tokens (nothing stored)."""
        drafts = [EventDraft("ticket.created", datetime.now(UTC), {"text": t}, "transient")
                  for t in texts]
        self.pseudonymise(drafts)
        return [str(d.payload["text"]) for d in drafts]

    def pseudonymise_labels(self, field: str, labels: list[str | None]) -> list[str | None]:
        """Values of the ticket field ``field`` (a training target such as ``category``) as
        ingestion stores them: a value that is not a valid code becomes its ``<CODE_..>`` token,
        so labels given from outside compare with a model's label space. A field that
        ``ticket.created`` does not carry (a label derived at snapshot time) is never
        pseudonymised, so its values come back unchanged; so do ``None`` entries."""
        if field not in CORE.types["ticket.created"].classes:
            return list(labels)
        at = [i for i, label in enumerate(labels) if label is not None and label.strip()]
        drafts = [EventDraft("ticket.created", datetime.now(UTC), {field: labels[i]},
                             "transient") for i in at]
        if drafts:
            self.pseudonymise(drafts)
        out = list(labels)
        for i, draft in zip(at, drafts, strict=True):
            out[i] = str(draft.payload[field])
        return out

    def reveal(self, ticket_id: str) -> dict[str, Any]:
        return reveal_ticket(self.db, self.ctx, self.keyring(), ticket_id)

    def opt_out(self, subject: str, reason: str | None = None) -> dict[str, object]:
        return optout.set_opt_out(self.db, self.ctx, self.protector(), subject, True, reason)

    def opt_in(self, subject: str, reason: str | None = None) -> dict[str, object]:
        return optout.set_opt_out(self.db, self.ctx, self.protector(), subject, False, reason)

    def opted_out(self, as_of: datetime | int | None = None) -> set[str]:
        return optout.opted_out_subjects(self.db, self.ctx, as_of)

    def erase(self, subject: str, kind: EraseKind = "customer") -> dict[str, Any]:
        """Forget a customer, agent or employee (``kind``) everywhere; the report."""
        return erasure.erase(self.db, self.ctx, self.keyring(), subject, kind).as_dict()

    def reports(self, subject: str, kind: EraseKind = "customer") -> list[dict[str, Any]]:
        return erasure.reports(self.db, self.ctx, self.keyring(), subject, kind)

    def policy(self) -> Policy:
        with self.db.begin(self.ctx.tenant_id) as conn:
            return get_policy(conn, self.ctx)

    def set_policy(self, **changes: Any) -> Policy:
        return set_policy(self.db, self.ctx, **changes)

    def rotate_key(self) -> dict[str, Any]:
        """Rotate the tenant key: subject keys re-wrapped, content untouched (admin; audited)."""
        return rotate_tenant_key(self.db, self.ctx, self.keyring())

    def enforce_retention(self, now: datetime | None = None) -> dict[str, Any]:
        return retention.enforce(self.db, self.ctx, self.keyring(), now)


"""The tenant's privacy area: the privacy room's verbs, and erasure made whole (the flagged
models retrained on request, the ``erasure.completed`` webhooks told). It lives above the
rooms, which never import it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportops.privacy.service import Privacy
from supportops.privacy.subjects import EraseKind

if TYPE_CHECKING:
    from supportops.privacy.keys import Keyring
    from supportops.privacy.policy import Policy
    from supportops.privacy.protector import Pseudonymiser
    from supportops.tenant import Tenant


class PrivacyArea:
    """Reveal, opt-out, erasure, retention, subject access and pseudonyms
    (``supportops privacy``, ``pii reveal``); ``room`` is the privacy room the other rooms
    are handed."""

    def __init__(self, room: Privacy, tenant: Tenant) -> None:
        self.room = room
        self._tenant = tenant

    def erase(self, subject: str, kind: EraseKind = "customer", *, retrain: bool = False
              ) -> dict[str, Any]:
        """Erase a data subject everywhere, then, with ``retrain``, the flagged models;
        tells the ``erasure.completed`` webhooks (by token only)."""
        report = self.room.erase(subject, kind)
        if retrain:
            report["retrain"] = self._tenant.triage.retrain_flagged()
        self._tenant.webhooks.emit("erasure.completed", {
            "subject": str(report.get("subject_token") or report.get("subject") or ""),
            "kind": kind})
        return report

    def export(self, subject: str, out: str | Path) -> dict[str, Any]:
        """Subject access: the subject's events, tickets and derived records, originals
        restored, written to ``out`` (roles that may reveal; audited)."""
        from supportops.privacy.export import export_subject

        return export_subject(self.room.db, self.room.ctx, self.room.keyring(), subject,
                              Path(out))

    def subject_token(self, subject: str) -> str:
        """The pseudonym of a customer id; a pseudonym is returned as it is."""
        from supportops.privacy.vault import TOKEN_RE

        return subject if TOKEN_RE.fullmatch(subject) else self.room.subject_token(subject)

    def subject_ref(self, subject: str, kind: EraseKind = "customer") -> str:
        return self.room.subject_ref(subject, kind)

    def reveal(self, ticket_id: str) -> dict[str, Any]:
        return self.room.reveal(ticket_id)

    def opt_out(self, subject: str, reason: str | None = None) -> dict[str, object]:
        return self.room.opt_out(subject, reason)

    def opt_in(self, subject: str, reason: str | None = None) -> dict[str, object]:
        return self.room.opt_in(subject, reason)

    def opted_out(self, as_of: datetime | int | None = None) -> set[str]:
        return self.room.opted_out(as_of)

    def reports(self, subject: str, kind: EraseKind = "customer") -> list[dict[str, Any]]:
        return self.room.reports(subject, kind)

    def policy(self) -> Policy:
        return self.room.policy()

    def set_policy(self, **changes: Any) -> Policy:
        return self.room.set_policy(**changes)

    def rotate_key(self) -> dict[str, Any]:
        return self.room.rotate_key()

    def enforce_retention(self, now: datetime | None = None) -> dict[str, Any]:
        return self.room.enforce_retention(now)

    def keyring(self) -> Keyring:
        return self.room.keyring()

    def protector(self) -> Pseudonymiser:
        return self.room.protector()

    def pseudonymise_texts(self, texts: list[str]) -> list[str]:
        return self.room.pseudonymise_texts(texts)

"""Whole-tenant verification and anchors: the event log, the audit chain and what was kept
elsewhere.

    trail = tenant.audit
    statement = trail.anchor()                    # signed heads of the log and the chain
    trail.verify(anchor=statement).ok             # nothing edited, moved, cut or wiped since

An anchor is a small JSON statement (tenant, time, event-log head, audit-chain head) signed
with Ed25519 under a key derived from the master key: kept outside the database, it turns a
truncation or wipe of everything (heads included) into a named failure. The event log's own
check is handed in (``log_verifier``), so governance never imports the events room.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from supportops.errors import ValidationFailed
from supportops.governance import audit
from supportops.governance.audit import READ_ROLES, AuditEntry, Verification
from supportops.governance.context import Context
from supportops.storage import Database

ANCHOR_KIND = "supportops.anchor"


class LogState(Protocol):
    """What the event log's verifier reports (``events.log.LogCheck``)."""

    @property
    def checked(self) -> int: ...
    @property
    def head_seq(self) -> int: ...
    @property
    def head_hash(self) -> str: ...
    @property
    def redacted(self) -> Sequence[int]: ...
    @property
    def bad_seq(self) -> int | None: ...
    @property
    def problem(self) -> str | None: ...
    @property
    def hashes(self) -> Mapping[int, str]: ...


class LogVerifier(Protocol):
    def __call__(self, db: Database, ctx: Context, positions: frozenset[int]) -> LogState: ...


@dataclass
class IntegrityReport:
    """The first problem found (``where``: anchor, audit, events or redactions) or none."""

    ok: bool = True
    checked: int = 0
    bad_seq: int | None = None
    problem: str | None = None
    where: str | None = None
    events: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    anchor: dict[str, Any] | None = None

    def fail(self, where: str, seq: int | None, problem: str) -> IntegrityReport:
        self.ok, self.where, self.bad_seq, self.problem = False, where, seq, problem
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "bad_seq": self.bad_seq,
                "problem": self.problem, "where": self.where, "events": self.events,
                "audit": self.audit, "anchor": self.anchor}


@dataclass(frozen=True)
class Anchor:
    """The parts of an anchor statement that verification uses."""

    tenant: str
    at: str
    events_seq: int
    events_hash: str
    audit_seq: int
    audit_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "events_seq": self.events_seq, "audit_seq": self.audit_seq}


def _signed_bytes(statement: Mapping[str, Any]) -> bytes:
    return orjson.dumps(statement, option=orjson.OPT_SORT_KEYS)


def make_anchor(db: Database, ctx: Context, log_verifier: LogVerifier) -> dict[str, Any]:
    """Verify everything, audit the anchoring, then sign both heads; refuses a broken state
    (anchoring it would bless the damage)."""
    ctx.require(*READ_ROLES, action="anchor the audit log")
    sealer = audit.sealer_of(ctx)
    report = verify_all(db, ctx, log_verifier)
    if not report.ok:
        raise ValidationFailed(f"Refusing to anchor tenant {ctx.tenant_id!r}: {report.problem}"
                               ". Investigate with 'supportops audit verify' first.")
    events = report.events
    entry = audit.record(db, ctx, "audit.anchor", details={
        "events_seq": events["head_seq"], "events_hash": events["head_hash"]})
    statement = {
        "kind": ANCHOR_KIND, "version": 1, "tenant": ctx.tenant_id,
        "at": datetime.now(UTC).isoformat(),
        "events": {"seq": events["head_seq"], "hash": events["head_hash"]},
        "audit": {"seq": entry.seq, "hash": entry.hash},
        "public_key": sealer.public_key,
    }
    return {"statement": statement, "signature": sealer.sign(_signed_bytes(statement))}


def read_anchor(source: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    """An anchor given as a dict or as a file path."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ValidationFailed(f"Cannot read anchor file {str(path)!r}: {exc.strerror}.") from None
    except orjson.JSONDecodeError:
        raise ValidationFailed(f"Anchor file {str(path)!r} is not JSON; give the file that "
                               "'supportops audit anchor' wrote.") from None
    if not isinstance(data, dict):
        raise ValidationFailed(f"Anchor file {str(path)!r} does not hold an anchor statement.")
    return data


def _parse_anchor(ctx: Context, data: Mapping[str, Any]) -> Anchor | str:
    """The anchor, or why it cannot be trusted (malformed, other tenant, bad signature)."""
    statement, signature = data.get("statement"), data.get("signature")
    sealer = audit.sealer_of(ctx)
    try:
        assert isinstance(statement, dict) and isinstance(signature, str)
        assert statement.get("kind") == ANCHOR_KIND
        anchor = Anchor(str(statement["tenant"]), str(statement["at"]),
                        int(statement["events"]["seq"]), str(statement["events"]["hash"]),
                        int(statement["audit"]["seq"]), str(statement["audit"]["hash"]))
    except (AssertionError, KeyError, TypeError, ValueError):
        return "the anchor is malformed (not a statement written by 'supportops audit anchor')"
    if anchor.tenant != ctx.tenant_id:
        return f"the anchor is for tenant {anchor.tenant!r}, not {ctx.tenant_id!r}"
    if statement.get("public_key") != sealer.public_key or \
            not sealer.signature_holds(_signed_bytes(statement), signature):
        return ("the anchor's signature is not valid under this workspace's key (the anchor "
                "was edited or forged, or the master key differs)")
    return anchor


def verify_all(db: Database, ctx: Context, log_verifier: LogVerifier,
               anchor: Mapping[str, Any] | str | Path | None = None) -> IntegrityReport:
    """Anchor signature, audit chain (and its anchored entry), event chain (and its anchored
    event), then redactions against audit entries; stops at the first problem."""
    ctx.require(*READ_ROLES, action="verify the audit log")
    report = IntegrityReport()
    parsed: Anchor | None = None
    if anchor is not None:
        found = _parse_anchor(ctx, read_anchor(anchor))
        if isinstance(found, str):
            return report.fail("anchor", None, found)
        parsed, report.anchor = found, found.as_dict()
    chain = audit.check_chain(db, ctx, frozenset({parsed.audit_seq} if parsed else ()))
    report.checked = chain.checked
    report.audit = {"checked": chain.checked, "head_seq": chain.head_seq,
                    "head_hash": chain.head_hash}
    if chain.problem is not None:
        return report.fail("audit", chain.bad_seq, chain.problem)
    if parsed and (problem := _anchored("audit entry", "chain", parsed.audit_seq,
                                        parsed.audit_hash, chain, parsed.at)):
        return report.fail("anchor", parsed.audit_seq, problem)
    log = log_verifier(db, ctx, frozenset({parsed.events_seq} if parsed else ()))
    report.events = {"checked": log.checked, "head_seq": log.head_seq,
                     "head_hash": log.head_hash, "redacted": len(log.redacted)}
    if log.problem is not None:
        return report.fail("events", log.bad_seq, log.problem)
    if parsed and (problem := _anchored("event", "log", parsed.events_seq, parsed.events_hash,
                                        log, parsed.at)):
        return report.fail("anchor", parsed.events_seq, problem)
    unrecorded = next((seq for seq in log.redacted if seq not in chain.redacted), None)
    if unrecorded is not None:
        return report.fail("redactions", unrecorded, (
            f"event #{unrecorded} is redacted but no audit entry records its redaction "
            "(a forged redaction)"))
    return report


class _Walked(Protocol):
    @property
    def head_seq(self) -> int: ...
    @property
    def hashes(self) -> Mapping[int, str]: ...


def _anchored(what: str, whole: str, seq: int, expected: str, walked: _Walked,
              at: str) -> str | None:
    """Why the anchored position no longer holds (``None`` when it does)."""
    if seq == 0:
        return None
    if seq > walked.head_seq:
        return (f"{what} #{seq} named by the anchor is missing: the {whole} was truncated or "
                f"wiped since the anchor of {at} (its head is now #{walked.head_seq})")
    if walked.hashes.get(seq) != expected:
        return (f"{what} #{seq} differs from the anchored one: the {whole} was rewritten or "
                f"rolled back since the anchor of {at}")
    return None


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data + b"\n")
    except OSError as exc:
        raise ValidationFailed(f"Cannot write anchor file {str(path)!r}: {exc.strerror}.") \
            from None


@dataclass(frozen=True)
class AuditTrail:
    """The audit log of one context (``tenant.audit``); ``log_verifier`` checks the event
    log (injected by the workspace)."""

    db: Database
    ctx: Context
    log_verifier: LogVerifier | None = None

    def record(self, action: str, subject: str | None = None,
               details: dict[str, Any] | None = None) -> AuditEntry:
        return audit.record(self.db, self.ctx, action, subject, details)

    def list(self, **filters: Any) -> list[AuditEntry]:
        return audit.entries(self.db, self.ctx, **filters)

    def verify_chain(self) -> Verification:
        """The audit chain alone."""
        return audit.verify(self.db, self.ctx)

    def verify(self, anchor: Mapping[str, Any] | str | Path | None = None) -> IntegrityReport:
        """Event log, audit chain, redactions and (given an anchor: dict or file) that
        nothing was rolled back, truncated or wiped since it was taken."""
        return verify_all(self.db, self.ctx, self._log(), anchor)

    def anchor(self, out: str | Path | None = None) -> dict[str, Any]:
        """A signed statement of both heads; written to ``out`` (mode 0600) when given."""
        statement = make_anchor(self.db, self.ctx, self._log())
        if out is not None:
            _write_private(Path(out), orjson.dumps(statement, option=orjson.OPT_INDENT_2))
        return statement

    def _log(self) -> LogVerifier:
        if self.log_verifier is None:
            raise ValidationFailed("This audit trail has no event-log verifier; use "
                                   "tenant.audit from a Workspace.")
        return self.log_verifier

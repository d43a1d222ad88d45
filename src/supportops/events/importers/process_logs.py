"""Real process logs where each row is an update of an incident: one row, one event.

The event type is what changed against the incident's previous row (created, reopened,
resolved, closed, assigned, priority or status changed, else ``ticket.updated``), and the
payload's ``state`` carries the row's own statement of the ticket, so the projection ends
where the source system ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from supportops.events.importers.common import (
    FieldError,
    csv_records,
    key_of,
    parse_dayfirst,
    parse_iso,
)
from supportops.events.ingest import ImportItem, Parsed, RecordError, unexpected
from supportops.events.schemas import EventDraft

_MISSING = "?"
SN_REQUIRED = ("number", "incident_state", "sys_updated_at", "opened_at", "caller_id",
               "assignment_group", "priority")
SN_ATTRIBUTES = ("active", "made_sla", "opened_by", "sys_created_by", "sys_created_at",
                 "sys_updated_by", "location", "subcategory", "u_symptom", "cmdb_ci", "impact",
                 "urgency", "knowledge", "u_priority_confirmation", "notify", "problem_id", "rfc",
                 "vendor", "caused_by", "closed_code", "resolved_by", "sys_mod_count")


def _opt(value: str) -> str | None:
    return None if value == _MISSING or value == "" else value


def _sn_time(row: dict[str, str], column: str) -> datetime | None:
    value = _opt(row[column])
    if value is None:
        return None
    try:
        return parse_dayfirst(value)
    except (ValueError, TypeError):
        raise FieldError(column, f"not a D/M/YYYY HH:MM timestamp: {value!r}") from None


def _sn_iso(row: dict[str, str], column: str) -> str | None:
    """ISO form of a ServiceNow time column (values repeat a lot, so conversions are cached)."""
    value = row[column]
    if value == _MISSING or value == "":
        return None
    try:
        return _iso_dayfirst(value)
    except (ValueError, TypeError):
        raise FieldError(column, f"not a D/M/YYYY HH:MM timestamp: {value!r}") from None


@lru_cache(maxsize=65536)
def _iso_dayfirst(value: str) -> str:
    return parse_dayfirst(value).isoformat()


def _transition(prev: dict[str, Any] | None, cur: dict[str, Any], reopened: bool) -> str:
    if prev is None:
        return "ticket.created"
    status = (cur["status"] or "").lower()
    if reopened:
        return "ticket.reopened"
    if status != (prev["status"] or "").lower():
        if status == "resolved":
            return "ticket.resolved"
        if status == "closed":
            return "ticket.closed"
    if cur["group"] != prev["group"] or cur["assignee"] != prev["assignee"]:
        return "ticket.assigned"
    if cur["priority"] != prev["priority"]:
        return "ticket.priority_changed"
    if cur["status"] != prev["status"]:
        return "ticket.status_changed"
    return "ticket.updated"


def _delta(prev: dict[str, Any] | None, state: dict[str, Any]) -> dict[str, Any]:
    """The row's statement of the ticket: every core field (the projection's own inference
    from the event type must never outlive it), and only the attributes that differ from the
    incident's previous row (all of them on the first), so the log does not repeat them."""
    if prev is None:
        return state
    out = {k: v for k, v in state.items() if k != "attributes"}
    before = prev.get("attributes") or {}
    changed = {k: v for k, v in state["attributes"].items() if before.get(k) != v}
    if changed:
        out["attributes"] = changed
    return out


def _payload(kind: str, state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"state": delta}
    if kind == "ticket.created":
        payload.update({k: state[k] for k in ("priority", "category", "group", "assignee",
                                              "channel") if state.get(k) is not None})
        if state.get("status"):
            payload["status"] = state["status"]
    elif kind == "ticket.assigned":
        payload.update(group=state["group"], assignee=state["assignee"])
        if payload["group"] is None and payload["assignee"] is None:
            return {"state": delta}
    elif kind == "ticket.priority_changed":
        payload["priority"] = state["priority"]
    elif kind == "ticket.status_changed":
        payload["status"] = state["status"]
    return payload


def _fallback(kind: str, payload: dict[str, Any]) -> str:
    """An assignment that clears both group and assignee is recorded as an update."""
    return "ticket.updated" if kind == "ticket.assigned" and len(payload) == 1 else kind


def _servicenow_row(row: dict[str, str], prev: dict[str, Any] | None) -> tuple[EventDraft, dict[str, Any]]:
    number = row["number"].strip()
    if not number or number == _MISSING:
        raise FieldError("number", "required value is empty")
    opened = _sn_time(row, "opened_at")
    updated = _sn_time(row, "sys_updated_at") or opened
    if updated is None:
        raise FieldError("sys_updated_at", "no update or opening time")
    try:
        reassignments = int(row.get("reassignment_count") or 0)
        reopens = int(row.get("reopen_count") or 0)
    except ValueError:
        raise FieldError("reassignment_count", "not an integer") from None
    state: dict[str, Any] = {
        "status": _opt(row["incident_state"]), "priority": _opt(row["priority"]),
        "category": _opt(row.get("category", "?")), "group": _opt(row["assignment_group"]),
        "assignee": _opt(row.get("assigned_to", "?")), "channel": _opt(row.get("contact_type", "?")),
        "opened_at": _sn_iso(row, "opened_at"),
        "resolved_at": _sn_iso(row, "resolved_at"),
        "closed_at": _sn_iso(row, "closed_at"),
        "reassignment_count": reassignments, "reopen_count": reopens,
        "attributes": {k: _opt(row[k]) for k in SN_ATTRIBUTES if k in row},
    }
    kind = _transition(prev, state, prev is not None and reopens > prev["reopen_count"])
    payload = _payload(kind, state, _delta(prev, state))
    kind = _fallback(kind, payload)
    key = "servicenow:" + number + ":" + key_of(*row.values())
    draft = EventDraft(kind, updated, payload, key, ticket_id=number,
                       subject=_opt(row["caller_id"]), canonical=True)
    return draft, state


def read_servicenow(
    path: Path, on_read: Callable[[int], None] | None = None
) -> Iterator[ImportItem]:
    """The UCI / ServiceNow incident event log (``?`` for missing, day-first dates)."""
    previous: dict[str, dict[str, Any]] = {}
    for item in csv_records(path, on_read, required=SN_REQUIRED):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        try:
            draft, state = _servicenow_row(row, previous.get(row["number"].strip()))
        except FieldError as err:
            yield RecordError(number, err.field, err.message)
            continue
        except Exception as err:  # a surprise in one record must not sink its file
            yield RecordError(number, "record", unexpected(err))
            continue
        previous[draft.ticket_id or ""] = state
        yield Parsed(number, [draft])


BPIC_REQUIRED = ("SR Number", "Change Date+Time", "Status", "Sub Status", "Involved ST",
                 "SR Latest Impact")


def _bpic_row(row: dict[str, str], prev: dict[str, Any] | None) -> tuple[EventDraft, dict[str, Any]]:
    sr = row["SR Number"].strip()
    if not sr:
        raise FieldError("SR Number", "required value is empty")
    when = parse_iso(row["Change Date+Time"], "Change Date+Time")
    state: dict[str, Any] = {
        "status": f"{row['Status']}/{row['Sub Status']}",
        "priority": row["SR Latest Impact"] or None, "group": row["Involved ST"] or None,
        "assignee": row.get("Owner First Name") or None, "category": row.get("Product") or None,
        "attributes": {
            "st_level": row.get("ST Level"), "function_div": row.get("Involved ST Function Div"),
            "org_line": row.get("Involved Org line 3"), "country": row.get("Country"),
            "owner_country": row.get("Owner Country"), "activity": row.get("Activity"),
        },
    }
    done = row["Status"] == "Completed"
    was_done = prev is not None and prev["done"]
    if prev is None:
        kind = "ticket.created"
    elif done and not was_done:
        kind = "ticket.closed" if row["Sub Status"] == "Closed" else "ticket.resolved"
    elif was_done and not done:
        kind = "ticket.reopened"
    else:
        kind = _transition(prev["state"], state, False)
        if kind in ("ticket.resolved", "ticket.closed"):
            kind = "ticket.status_changed"
    payload = _payload(kind, state, _delta(prev["state"] if prev else None, state))
    kind = _fallback(kind, payload)
    key = "bpic2013:" + sr + ":" + key_of(*row.values())
    draft = EventDraft(kind, when, payload, key, ticket_id=sr, subject=None, canonical=True)
    return draft, {"state": state, "done": done}


def read_bpic2013(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[ImportItem]:
    """BPI Challenge 2013 (Volvo IT) incidents: BOM, CRLF, ISO times with offsets."""
    previous: dict[str, dict[str, Any]] = {}
    for item in csv_records(path, on_read, required=BPIC_REQUIRED):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        try:
            draft, memo = _bpic_row(row, previous.get(row["SR Number"].strip()))
        except FieldError as err:
            yield RecordError(number, err.field, err.message)
            continue
        except Exception as err:  # a surprise in one record must not sink its file
            yield RecordError(number, "record", unexpected(err))
            continue
        previous[draft.ticket_id or ""] = memo
        yield Parsed(number, [draft])


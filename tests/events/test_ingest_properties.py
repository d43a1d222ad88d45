"""Property tests: arbitrary broken input never crashes ingestion and never costs a good record."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportops import Workspace

_counter = itertools.count()

good_events = st.builds(
    lambda n, text: {"type": "ticket.created", "ticket_id": f"T-{n}", "subject": "c",
                     "occurred_at": "2024-01-01T00:00:00Z", "payload": {"text": text}},
    st.integers(0, 10**9), st.text(max_size=40),
)
# A file that starts with the gzip header is read as gzip, by design: keep garbage off it.
garbage = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b and b.strip()
                                  and not b.startswith(b"\x1f\x8b\x08")),
    st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s and s.strip()
                                and not s.isspace()).map(str.encode),
    st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8), max_size=4)
    .map(orjson.dumps),
    st.just(b'{"type": "ticket.created", "occurred_at": "2024-01-01T00:00:00Z"}'),
    st.just(b'{"type": "ticket.created", "ticket_id": "x", "occurred_at": "nope"}'),
)
records = st.lists(st.one_of(good_events.map(lambda e: ("good", e)),
                             garbage.map(lambda g: ("bad", g))), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=records)
def test_broken_jsonl_never_costs_a_good_record(tmp_path: Path, items: list[tuple[str, object]]) -> None:
    ws = _workspace(tmp_path)
    tenant_id = f"t{next(_counter)}"
    ws.create_tenant(tenant_id)
    tenant = ws.tenant(tenant_id)
    lines: list[bytes] = []
    good_keys: set[bytes] = set()
    for kind, value in items:
        if kind == "good":
            line = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            good_keys.add(line)
        else:
            assert isinstance(value, bytes)
            line = value
        lines.append(line)
    path = tmp_path / f"{tenant_id}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = tenant.ingest(path, format="jsonl")
    # every good record is stored (identical good lines are one record, by idempotency)
    assert report.accepted == len(good_keys)
    assert report.accepted + report.duplicates + report.rejected == sum(
        1 for line in lines if line.strip())
    assert all(1 <= e.record <= len(lines) and e.field and e.message for e in report.errors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=6), max_size=15))
def test_broken_csv_never_crashes(tmp_path: Path, cells: list[list[str]]) -> None:
    ws = _workspace(tmp_path)
    tenant_id = f"c{next(_counter)}"
    ws.create_tenant(tenant_id)
    tenant = ws.tenant(tenant_id)
    good = "G-1,c-1,2024-01-01T00:00:00Z,a good ticket"
    import csv
    import io

    buf = io.StringIO()
    buf.write("ticket_id,customer_id,created_at,text\r\n" + good + "\r\n")
    csv.writer(buf).writerows(cells)
    path = tmp_path / f"{tenant_id}.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    tenant.ingest(path, format="csv")
    assert tenant.tickets.get("G-1", with_events=False)["ticket_id"] == "G-1"


_workspaces: dict[Path, Workspace] = {}


def _workspace(tmp_path: Path) -> Workspace:
    """One workspace per test function (hypothesis reuses tmp_path across examples)."""
    if tmp_path not in _workspaces:
        _workspaces[tmp_path] = Workspace.init(tmp_path / "ws")
    return _workspaces[tmp_path]

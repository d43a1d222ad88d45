"""The one output helper: JSON exactly as the library returns it, people get lines and
tables, and a human renderer never runs (nor costs) when a script asked for JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supportops.cli.output import fields, lines, show, show_list, table


def _never(data: Any) -> str:
    raise AssertionError("the human renderer ran for --json")


def test_show_prints_the_result_itself_as_one_json_document(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = {"model": "intents", "version": "2", "metrics": {"accuracy": 0.9}, "previous": None}
    show(result, True, _never)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out) == result


def test_show_list_is_the_data_count_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    show_list([{"id": "a"}, {"id": "b"}], True, _never)
    assert json.loads(capsys.readouterr().out) == {"data": [{"id": "a"}, {"id": "b"}],
                                                   "count": 2}
    show_list(["tok-1", "tok-2"], False, lambda rows: [f"row {r}" for r in rows])
    assert capsys.readouterr().out.splitlines() == ["row tok-1", "row tok-2"]


def test_show_for_people_prints_lines_and_tables_in_order(
        capsys: pytest.CaptureFixture[str]) -> None:
    show({"n": 3}, False, lambda r: [f"[bold]{r['n']}[/] tickets",
                                     table(("ticket", "status"), [("T-1", None)]), "done"])
    out = capsys.readouterr().out
    assert out.startswith("3 tickets\n") and out.rstrip().endswith("done")
    assert "T-1" in out and "None" not in out and "[bold]" not in out


def test_table_shows_cells_verbatim_and_whole(capsys: pytest.CaptureFixture[str]) -> None:
    long_id = "snap-" + "0123456789abcdef" * 6
    show(None, False, lambda _: table(("id", "text", "n"), [(long_id, "[bold]x[/] y", 7)]))
    out = capsys.readouterr().out
    assert "…" not in out  # folded onto more lines, never cut: ids get copied from here
    first_column = [row.split("│")[1].strip() for row in out.splitlines() if row.startswith("│")]
    assert "".join(first_column) == long_id
    assert "[bold]x[/] y" in out


def test_fields_keep_values_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    show({"snapshots": ["snap-1"], "note": "[red]not markup[/]"}, False, fields)
    assert capsys.readouterr().out.splitlines() == ["snapshots: ['snap-1']",
                                                    "note: [red]not markup[/]"]


def test_lines_stream_json_lines_or_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    records = [{"id": 1, "label": "a"}, {"id": 2, "label": None}]
    with lines(True, _never) as emit:
        for record in records:
            emit(record)
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == records
    with lines(False, lambda r: f"{r['id']}\t{r['label'] or '-'}") as emit:
        for record in records:
            emit(record)
    assert capsys.readouterr().out == "1\ta\n2\t-\n"

"""The CLI contract of the assistant, as it is evaluated from outside: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .kb import ARTICLES, write_bitext

EXE = str(Path(sys.executable).with_name("supportops"))


def run(*args: str, workspace: Path, room: tuple[str, ...] = ("assist",)
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(workspace)}
    env.pop("SUPPORTOPS_TENANT", None)
    result = subprocess.run([EXE, *room, *args], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_load_answer_feedback_contract(tmp_path: Path) -> None:
    ws, kb = tmp_path / "ws", write_bitext(tmp_path / "kb.csv")
    run("init", workspace=ws, room=())
    run("tenants", "create", "acme", workspace=ws, room=())  # load-kb creates no tenant
    load = ["load-kb", "--file", str(kb), "--format", "bitext", "--tenant", "acme", "--json"]
    first = json.loads(run(*load, workspace=ws).stdout)
    assert (first["articles"], first["added"]) == (len(ARTICLES), len(ARTICLES))
    again = json.loads(run(*load, workspace=ws).stdout)
    assert (again["articles"], again["added"], again["unchanged"]) == (len(ARTICLES), 0,
                                                                       len(ARTICLES))
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "q1", "text": "where is my refund?"}\n'
                         '{"id": 2, "text": "Who won the football world cup in 1998?"}\n'
                         '{"id": "q3"}\n')
    lines = [json.loads(x) for x in run("answer", "--file", str(questions), "--tenant", "acme",
                                        "--json", workspace=ws).stdout.splitlines()]
    by_id = {x["id"]: x for x in lines}
    assert by_id["q1"]["abstained"] is False
    assert by_id["q1"]["citations"][0]["source_id"] in ("20", "21")
    assert set(by_id["q1"]["citations"][0]) == {"source_id", "kind", "title", "score"}
    assert by_id[2]["abstained"] is True and by_id[2]["citations"]
    assert 0 <= by_id[2]["confidence"] < by_id["q1"]["confidence"] <= 1
    assert by_id[None] == {"id": None, "record": 3,
                           "error": "line 3, field 'text': a non-empty string is required"}
    verdict = json.loads(run("feedback", "--answer-id", by_id["q1"]["answer_id"], "--verdict",
                             "edited", "--tenant", "acme", "--json", workspace=ws).stdout)
    assert verdict["recorded"] == 1 and verdict["verdict"] == "edited"
    human = run("answer", "--file", str(questions), "--tenant", "acme", workspace=ws).stdout
    rows = [line.split("\t") for line in human.splitlines()]
    assert sorted(r[0] for r in rows) == ["2", "q1", "record 3"]
    assert {r[0]: r[1] for r in rows}["q1"] == "answered"
    assert not any(line.startswith("{") for line in human.splitlines())  # people get no JSON

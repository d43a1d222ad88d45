"""``supportops demo`` on a fresh workspace ends in a console that works: it prints the URL
and a key, the key signs in, the queue shows the trained model's predictions, and Ctrl-C
stops the server cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from tests.web.conftest import ENCODERS, csrf_of, free_port

pytest.importorskip("uvicorn", reason="the console needs the server extra")
pytest.importorskip("faker", reason="the generated workload needs the demo extra")
EXE = str(Path(sys.executable).with_name("supportops"))


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The JSON summary line (the demo prints it before it serves)."""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(b"{"):
            return line
        assert proc.poll() is None, f"demo exited with {proc.returncode}"
    raise AssertionError("the demo printed no summary in time")


def _wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url}")


def test_demo_serves_a_working_console_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(tmp_path / "ws"),
           "SUPPORTOPS_ENCODER_CACHE": str(ENCODERS)}
    env.pop("SUPPORTOPS_TENANT", None)
    proc = subprocess.Popen([EXE, "demo", "--tickets", "80", "--json", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        summary = orjson.loads(_first_line(proc, 300))
        assert summary["tickets"] == 80 and summary["ingest"]["rejected"] == 0
        assert {m["model"] for m in summary["models"]} == {"triage", "group", "priority"}
        assert summary["knowledge_base"]["articles"] == 6
        url = summary["console"]["url"]
        assert url == f"http://127.0.0.1:{port}/console/"
        _wait_for(url + "login", 60)
        client = httpx.Client(base_url=url.rstrip("/"), timeout=120, follow_redirects=True)
        token = csrf_of(client.get("/login").text)
        queue = client.post("/login", data={"api_key": summary["console"]["api_key"],
                                            "csrf": token})
        assert queue.status_code == 200 and "Triage queue" in queue.text
        assert "Accept category" in queue.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


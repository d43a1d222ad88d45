"""Load on ``POST /v1/triage`` over loopback, next to a baseline and the model in process.

The server runs in its own process (``supportops serve``, access log off, a fresh one for
each rate) on a workspace holding a triage model trained through the product on part of the
shared Banking77 train file (or on the generated demo set without ``../shared``); this
process is the load generator, so both share the machine's cores as they would on one box.
Requests carry texts the model did not train on, and each is pseudonymised on the server
before it is scored, as in production. The generator is open-loop and cheap: ready-made
HTTP/1.1 requests on raw keep-alive sockets (uvloop when installed); request ``i`` is due at
``start + i / rate`` and its latency counts from that moment, so a server that falls behind
is charged for the wait (no coordinated omission).

Printed, for each rate: achieved rate, errors, p50/p95/p99 and the generator's own CPU, for
``POST /v1/triage`` and, on the same fresh server at the same rate, ``GET /v1/health`` (HTTP,
routing and the event loop without key check or model) with the p99 ratio and the load
average; then the fixed rate held for ``--duration`` seconds; then the stages of one request
timed in process (key check, pseudonymisation, model) and the same model called in process,
one text at a time and in batches: the limiting stage is the one that takes the most time.

    python bench/load.py --rate 150 --duration 60 --sweep 100,200,300 --sweep-seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from supportops import Workspace

SHARED = Path(os.environ.get("SUPPORTOPS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BANKING = SHARED / "data" / "banking77" / "train.csv"


def _texts(rows: int, seed: int) -> tuple[Path, list[str], str]:
    """A training file of ``rows`` rows and the held-out texts to send; Banking77's train
    file when present (its test file is never read), else the generated demo set."""
    out = Path(tempfile.mkdtemp(prefix="load-data-"))
    if BANKING.exists():
        with open(BANKING, newline="", encoding="utf-8") as handle:
            data = list(csv.DictReader(handle))
        random.Random(seed).shuffle(data)
        train, rest = data[:rows], data[rows:]
        path = out / "train.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(train)
        return path, [r["text"] for r in rest], "banking77"
    from supportops.demo import generate

    path = generate(out / "demo.jsonl")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    texts = [e["payload"]["text"] for e in events  # the tickets' texts, not whole events
             if e["type"] == "ticket.created" and e["payload"].get("text")][:2000]
    return path, texts, "jsonl"


def _prepare(args: argparse.Namespace) -> tuple[Path, str, list[str]]:
    """A workspace with a trained model and an agent key; returns (workspace, key, texts)."""
    data, texts, fmt = _texts(args.rows, args.seed)
    root = Path(tempfile.mkdtemp(prefix="load-ws-"))
    ws = Workspace.init(root / "ws")
    ws.create_tenant("load")
    owner = ws.tenant("load")
    started = time.perf_counter()
    trained = owner.triage.train("triage", "category", data=data, format=fmt,
                                 encoder=args.encoder)
    print(f"trained 'triage' v{trained['version']} on {trained['metrics']['rows']} held-out "
          f"rows: accuracy {trained['metrics']['accuracy']:.3f} "
          f"({time.perf_counter() - started:.0f} s, encoder {args.encoder})", flush=True)
    _, key = owner.principals.create("load-agent", "agent")
    ws.close()
    assert key is not None
    return root / "ws", key, texts


def _serve(workspace: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh ``supportops serve`` (access log off, its default) on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    exe = str(Path(sys.executable).with_name("supportops"))
    proc = subprocess.Popen([exe, "serve", "--port", str(port), "--workspace", str(workspace)],
                            env={**os.environ}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                return proc, f"127.0.0.1:{port}"
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _requests(address: str, key: str, path: str, texts: Sequence[str]) -> list[bytes]:
    """Ready-made HTTP/1.1 keep-alive requests: a POST of each text, or one GET."""
    head = f"Host: {address}\r\nAuthorization: Bearer {key}\r\n"
    if not texts:
        return [f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()]
    out = []
    for text in texts:
        body = json.dumps({"text": text}).encode()
        out.append(f"POST {path} HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


class _Connection:
    """One keep-alive connection: send a request, read one response (status, body length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def _run(address: str, requests: Sequence[bytes], rate: float, seconds: float
               ) -> dict[str, Any]:
    """Open-loop load at ``rate`` for ``seconds``; latency from each request's due time.

    Request ``i`` is due at ``start + i / rate``: it goes out on an idle keep-alive
    connection (a new one when none is idle), whether or not earlier answers came back.
    Raw sockets keep the generator's own CPU small: it shares the cores with the server.
    """
    host, port = address.rsplit(":", 1)
    n = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    idle: list[_Connection] = []
    opened: list[_Connection] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, due: float) -> None:
        conn = idle.pop() if idle else None
        request = requests[i % len(requests)]
        try:
            if conn is not None:
                try:
                    status = await asyncio.wait_for(conn.exchange(request), 30)
                except (ConnectionError, asyncio.IncompleteReadError):
                    # the server closed an idle keep-alive connection: once more, anew
                    conn.writer.close()
                    conn = None
            if conn is None:
                conn = _Connection(*await asyncio.open_connection(host, int(port)))
                opened.append(conn)
                status = await asyncio.wait_for(conn.exchange(request), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as err:
            errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
            if conn is not None:
                conn.writer.close()
            return
        idle.append(conn)
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
            return
        latencies.append(time.perf_counter() - due)

    cpu = time.process_time()
    start = time.perf_counter() + 0.05
    for i in range(n):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        task = asyncio.ensure_future(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - start
    generator_cpu = time.process_time() - cpu
    for conn in opened:
        conn.writer.close()
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"rate": rate, "sent": n, "ok": len(latencies), "errors": errors,
            "throughput": len(latencies) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max()), "connections": len(opened),
            "generator_cpu": generator_cpu / elapsed}


def _loop_run(coro: Any) -> Any:
    """``asyncio.run`` on uvloop when installed (cheaper per request for the generator)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _line(r: dict[str, Any]) -> str:
    errs = sum(r["errors"].values())
    return (f"{r['rate']:>5.0f}/s: achieved {r['throughput']:6.1f}/s, p50 {r['p50_ms']:6.1f} "
            f"ms, p95 {r['p95_ms']:6.1f} ms, p99 {r['p99_ms']:6.1f} ms, max "
            f"{r['max_ms']:6.1f} ms, errors {errs} {r['errors'] or ''}"
            f"(generator {r['generator_cpu'] * 100:.0f}% of a core, {r['connections']} conns)")


def _load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu() -> str:
    """The CPU, and whether it has the int8 dot-product instructions (VNNI) that make the
    int8 encoder about four times cheaper per text: figures from two machines compare
    only with this line beside them."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith("flags")), []))
    vnni = "yes" if flags & {"avx512_vnni", "avx_vnni", "amx_int8"} else "no"
    return f"CPU {name}, int8 dot products (VNNI) {vnni}"


def _at_rate(workspace: Path, key: str, texts: Sequence[str], rate: float, seconds: float
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh server: warmed (model loaded), then ``GET /v1/health`` (the baseline: HTTP,
    routing and the event loop, no key check, no model) and ``POST /v1/triage``, each at
    ``rate`` for ``seconds``."""
    proc, address = _serve(workspace)
    try:
        first = httpx.post(f"http://{address}/v1/triage", json={"text": texts[-1]},
                           headers={"Authorization": f"Bearer {key}"}, timeout=300)
        first.raise_for_status()  # the model is loaded (minutes on a busy machine)
        warm = _requests(address, key, "/v1/triage", texts[-200:-1])
        _loop_run(_run(address, warm, 20, 3))
        health = _loop_run(_run(address, _requests(address, key, "/v1/health", []), rate,
                                seconds))
        triage = _loop_run(_run(address, _requests(address, key, "/v1/triage",
                                                   texts[:-200]), rate, seconds))
    finally:
        _stop(proc)
    return triage, health


def _report(label: str, triage: dict[str, Any], health: dict[str, Any]) -> None:
    ratio = triage["p99_ms"] / health["p99_ms"] if health["p99_ms"] > 0 else float("nan")
    print(f"{label} triage  {_line(triage)}", flush=True)
    print(f"{' ' * len(label)} health  {_line(health)}; p99 ratio triage/health {ratio:.1f}; "
          f"{_load_average()}", flush=True)


def _in_process(workspace: Path, key: str, texts: Sequence[str]) -> None:
    """The same model and path called in process: each stage of one request, then whole
    requests one at a time and in batches."""
    ws = Workspace.open(workspace)
    tenant = ws.authenticate(key)
    tenant.triage.predict([{"text": texts[0]}])  # load the model once
    server = tenant.triage.server("triage")
    model = server._current()
    # a fresh slice for each measurement: the encoder's cache would serve repeats for free
    sample, whole_sample = texts[:300], texts[300:600]

    def per_call(fn: Any, items: Sequence[Any]) -> float:
        started = time.perf_counter()
        for item in items:
            fn(item)
        return (time.perf_counter() - started) / len(items) * 1000

    auth = per_call(lambda _: ws.authenticate(key), sample[:100])
    pseudo = per_call(lambda t: server.service.pseudonymise_texts([t]), sample)
    rows = [{"text": t, "open_fields": {}} for t in server.service.pseudonymise_texts(sample)]
    scored = per_call(lambda r: model.predict_records([None], [r]), rows)
    whole = per_call(lambda t: tenant.triage.predict([{"text": t}]), whole_sample)
    print(f"in process, per request: key check {auth:.2f} ms, pseudonymisation {pseudo:.2f} "
          f"ms, model {scored:.2f} ms; whole triage call {whole:.2f} ms "
          f"(= {1000 / whole:.0f}/s on one thread)")
    for size, offset in ((8, 600), (32, 900)):
        batch_sample = texts[offset:offset + 288]
        batches = [batch_sample[i:i + size] for i in range(0, len(batch_sample), size)]
        started = time.perf_counter()
        for batch in batches:
            tenant.triage.predict([{"text": t} for t in batch])
        per = (time.perf_counter() - started) / (len(batches) * size) * 1000
        print(f"in process, batches of {size}: {per:.2f} ms per text (= {1000 / per:.0f}/s)")
    stages = {"key check": auth, "pseudonymisation": pseudo, "model": scored}
    print(f"limiting stage in process: {max(stages, key=lambda k: stages[k])}")
    ws.close()


def main() -> int:
    args = _args()
    if args.workspace:
        _, texts, _ = _texts(args.rows, args.seed)
        workspace, key = Path(args.workspace), args.key
    else:
        workspace, key, texts = _prepare(args)
    print(f"server and load generator on this {os.cpu_count()}-core machine; a fresh server "
          f"per rate; {_load_average()}; {_cpu()}", flush=True)
    for rate in args.sweep:
        _report(f"sweep {args.sweep_seconds:.0f} s", *_at_rate(workspace, key, texts, rate,
                                                             args.sweep_seconds))
    if args.duration > 0:
        _report(f"held {args.duration:.0f} s", *_at_rate(workspace, key, texts, args.rate,
                                                       args.duration))
    if not args.no_in_process:
        _in_process(workspace, key, texts)
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=150.0, help="Fixed rate held.")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds held.")
    parser.add_argument("--sweep", type=lambda s: [float(x) for x in s.split(",") if x],
                        default=[50.0, 100.0, 150.0, 200.0, 300.0, 400.0])
    parser.add_argument("--sweep-seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=3000, help="Training rows.")
    parser.add_argument("--encoder", default="minilm-onnx-int8")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workspace", help="Reuse a workspace prepared by an earlier run "
                        "(with --key) instead of training a fresh one.")
    parser.add_argument("--key", help="An agent key of --workspace's tenant.")
    parser.add_argument("--no-in-process", action="store_true",
                        help="Skip the in-process stage timings.")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())

"""Load on ``POST /v1/triage`` over loopback, next to the same model called in process.

The server runs in its own process (``supportops serve`` on a fresh workspace holding a triage
model trained through the product on part of the shared Banking77 train file, or on the
generated demo set without ``../shared``); this process is the load generator, so both share
the machine's cores as they would in production on one box. Requests carry texts the model
did not train on, and each is pseudonymised on the server before it is scored, as in
production. The generator is open-loop: request ``i`` is due at ``start + i / rate`` and its
latency counts from that moment, so a server that falls behind is charged for the wait
(no coordinated omission).

Printed: for each rate, the throughput achieved, p50/p99 latency and errors; then a fixed
rate held for ``--duration`` seconds; then the stages of one request timed in process
(key check, pseudonymisation, model) and the same model called in process, one text at a time
and in batches: the limiting stage is the one that takes the most of a request's time.

    python bench/load.py --rate 150 --duration 60 --sweep 50,100,150,200,300,400
"""

from __future__ import annotations

import argparse
import asyncio
import csv
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
    texts = [line for line in path.read_text().splitlines()][:2000]
    return path, texts, "jsonl"


def _prepare(args: argparse.Namespace) -> tuple[Path, str, list[str]]:
    """A workspace with a trained model and an agent key; returns (workspace, key, texts)."""
    data, texts, fmt = _texts(args.rows, args.seed)
    root = Path(tempfile.mkdtemp(prefix="load-ws-"))
    ws = Workspace.init(root / "ws")
    ws.create_tenant("load")
    owner = ws.tenant("load")
    started = time.perf_counter()
    trained = owner.train_triage(data, fmt, "category", "triage", encoder=args.encoder)
    print(f"trained 'triage' v{trained['version']} on {trained['metrics']['rows']} held-out "
          f"rows: accuracy {trained['metrics']['accuracy']:.3f} "
          f"({time.perf_counter() - started:.0f} s, encoder {args.encoder})", flush=True)
    _, key = owner.create_principal("load-agent", "agent")
    ws.close()
    assert key is not None
    return root / "ws", key, texts


def _serve(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).with_name("supportops"))
    proc = subprocess.Popen([exe, "serve", "--port", str(port), "--workspace", str(workspace)],
                            env={**os.environ}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def _run(url: str, key: str, texts: Sequence[str], rate: float, seconds: float
               ) -> dict[str, Any]:
    """Open-loop load at ``rate`` for ``seconds``; latency from each request's due time."""
    n = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                response = await client.post("/v1/triage", json={"text": texts[i % len(texts)]})
                if response.status_code != 200:
                    errors[str(response.status_code)] = errors.get(str(response.status_code),
                                                                   0) + 1
                    return
            except httpx.HTTPError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"rate": rate, "sent": n, "ok": len(latencies), "errors": errors,
            "throughput": len(latencies) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max())}


def _line(r: dict[str, Any]) -> str:
    errs = sum(r["errors"].values())
    return (f"rate {r['rate']:>5.0f}/s: throughput {r['throughput']:6.1f}/s, p50 "
            f"{r['p50_ms']:7.1f} ms, p99 {r['p99_ms']:7.1f} ms, max {r['max_ms']:7.1f} ms, "
            f"errors {errs} {r['errors'] or ''}")


def _in_process(workspace: Path, key: str, texts: Sequence[str]) -> None:
    """The same model and path called in process: each stage of one request, then whole
    requests one at a time and in batches."""
    ws = Workspace.open(workspace)
    tenant = ws.authenticate(key)
    tenant.triage_batch([{"text": texts[0]}])  # load the model once
    server = tenant._triage_server("triage")
    model = server._current()
    sample = list(texts[:300])

    def per_call(fn: Any, items: Sequence[Any]) -> float:
        started = time.perf_counter()
        for item in items:
            fn(item)
        return (time.perf_counter() - started) / len(items) * 1000

    auth = per_call(lambda _: ws.authenticate(key), sample[:100])
    pseudo = per_call(lambda t: server.service.pseudonymise_texts([t]), sample)
    rows = [{"text": t, "open_fields": {}} for t in server.service.pseudonymise_texts(sample)]
    scored = per_call(lambda r: model.predict_records([None], [r]), rows)
    whole = per_call(lambda t: tenant.triage_batch([{"text": t}]), sample)
    print(f"in process, per request: key check {auth:.2f} ms, pseudonymisation {pseudo:.2f} "
          f"ms, model {scored:.2f} ms; whole triage call {whole:.2f} ms "
          f"(= {1000 / whole:.0f}/s on one thread)")
    for size in (8, 32):
        batches = [sample[i:i + size] for i in range(0, len(sample) - size + 1, size)]
        started = time.perf_counter()
        for batch in batches:
            tenant.triage_batch([{"text": t} for t in batch])
        per = (time.perf_counter() - started) / (len(batches) * size) * 1000
        print(f"in process, batches of {size}: {per:.2f} ms per text (= {1000 / per:.0f}/s)")
    stages = {"key check": auth, "pseudonymisation": pseudo, "model": scored}
    print(f"limiting stage in process: {max(stages, key=lambda k: stages[k])}")
    ws.close()


def main() -> int:
    args = _args()
    workspace, key, texts = _prepare(args)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = _serve(workspace, port)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_run(url, key, texts, 20, 3))  # warm: model loaded, connections open
        print(f"sweep ({args.sweep_seconds:.0f} s per rate; server and load generator on "
              f"this {os.cpu_count()}-core machine):", flush=True)
        for rate in args.sweep:
            print("  " + _line(asyncio.run(_run(url, key, texts, rate, args.sweep_seconds))),
                  flush=True)
        held = asyncio.run(_run(url, key, texts, args.rate, args.duration))
        print(f"held {args.duration:.0f} s: " + _line(held), flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
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
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())

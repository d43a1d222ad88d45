"""A small OpenAI-compatible chat-completions server of ours, on loopback, for tests: it
records every request body it receives and can fail the first requests (503) to exercise
retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ChatServer:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_first: int = 0
    reply: str = "Per source [1]: follow the steps in the article."

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.bodies.append(body)
            server.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
            elif server.fail_first > 0:
                server.fail_first -= 1
                self._send(503, {"error": {"message": "warming up"}})
            else:
                request = json.loads(body)
                self._send(200, {"id": "chatcmpl-1", "object": "chat.completion",
                                 "model": request["model"], "choices": [{
                                     "index": 0, "finish_reason": "stop", "message": {
                                         "role": "assistant", "content": server.reply}}]})

        def _send(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    """Serve on 127.0.0.1 (a free port) until the block ends."""
    state = ChatServer("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()

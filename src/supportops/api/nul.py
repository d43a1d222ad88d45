"""Requests that carry a NUL character are refused before any handler runs.

No text field of ours may hold NUL (PostgreSQL's text cannot, so both back-ends refuse it
alike, as ingestion does), and a name with NUL cannot become a file path. Checking once at
the door, for the path, the query and JSON bodies, gives one clear 422 naming the field instead
of a database error deep in a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from supportops.api.errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "") or "query"
        return "query"
    return None


def _in_json(body: bytes) -> str | None:
    if b"\\u0000" not in body and b"\x00" not in body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # not JSON: the route's own validation names the problem
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str) and "\x00" in node:
            return where or "body"
        if isinstance(node, dict):
            for key, value in node.items():
                if "\x00" in key:
                    return where or "body"
                stack.append((f"{where}.{key}" if where else key, value))
        elif isinstance(node, list):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(node))
    return None


class RefuseNul:
    """ASGI middleware (pure ASGI: no per-request task, so serving speed is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _in_url(scope)
        headers = dict(scope.get("headers") or [])
        if field is None and b"json" in headers.get(b"content-type", b""):
            messages: list[Message] = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            field = _in_json(b"".join(m.get("body", b"") for m in messages))
            replay = iter(messages)

            async def receive_again() -> Message:
                return next(replay, None) or await receive()

            receive = receive_again
        if field is None:
            await self.app(scope, receive, send)
            return
        response = error_response(422, "validation_failed",
                                  f"{field}: contains a NUL character (\\x00), which no text "
                                  "field may hold", field)
        await response(scope, receive, send)

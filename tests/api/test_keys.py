"""The API's key check is remembered for one second per key hash: over real HTTP, a key
disabled or rotated (through the library, as another process or the CLI would) stops
working within that second, and a burst of requests does not ask the database each time."""

from __future__ import annotations

import time
from typing import Any, cast

import httpx
import pytest

from supportops.api.deps import KeyCache
from tests.api.conftest import World

TTL = 1.0
SLACK = 0.5  # scheduling on a shared 2-core machine


def _refused_after(client: httpx.Client, started: float, limit: float) -> float:
    """Seconds from ``started`` until ``GET /v1/tickets`` answers 401 (polling)."""
    while time.monotonic() - started < limit:
        response = client.get("/v1/tickets", params={"limit": 1})
        if response.status_code == 401:
            assert response.json()["error"]["code"] == "unauthenticated"
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        time.sleep(0.05)
    pytest.fail(f"the key still worked {limit:.1f} s after the change")


def test_disabled_key_stops_within_a_second(world: World) -> None:
    owner = world.workspace.tenant("acme")
    _, key = owner.principals.create("keys-disable", "agent")
    with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"}) as bot:
        assert bot.get("/v1/tickets", params={"limit": 1}).status_code == 200  # now cached
        started = time.monotonic()
        owner.principals.disable("keys-disable")
        assert _refused_after(bot, started, 5.0) <= TTL + SLACK


def test_rotated_key_stops_within_a_second_and_the_new_one_works_at_once(world: World
                                                                         ) -> None:
    owner = world.workspace.tenant("acme")
    _, old = owner.principals.create("keys-rotate", "agent")
    with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {old}"}) as bot:
        assert bot.post("/v1/triage", json={"text": "I lost my card"}).status_code == 200
        started = time.monotonic()
        new = owner.principals.rotate_key("keys-rotate")
        fresh = bot.get("/v1/tickets", params={"limit": 1},
                        headers={"Authorization": f"Bearer {new}"})
        assert fresh.status_code == 200
        assert _refused_after(bot, started, 5.0) <= TTL + SLACK


def test_a_burst_with_one_key_asks_the_database_once_per_second(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = world.workspace.tenant("acme")
    _, key = owner.principals.create("keys-burst", "agent")
    assert key is not None
    calls: list[str] = []
    real = world.workspace.authenticate

    def counted(api_key: str) -> Any:
        calls.append(api_key)
        return real(api_key)

    monkeypatch.setattr(world.workspace, "authenticate", counted)
    with httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"}) as bot:
        started = time.monotonic()
        answered = 0
        while time.monotonic() - started < 0.5:
            assert bot.get("/v1/tickets", params={"limit": 1}).status_code == 200
            answered += 1
        wrong = bot.get("/v1/tickets", headers={"Authorization": "Bearer so_acme_wrong"})
        assert wrong.status_code == 401
    assert answered >= 5
    assert calls.count(key) == 1  # half a second: one check, the rest from the cache
    assert calls.count("so_acme_wrong") == 1


def test_cache_forgets_after_its_ttl_and_stays_bounded() -> None:
    cache = KeyCache(ttl=0.05, size=3)
    sentinel: Any = object()
    cache.put("a", sentinel)
    assert cache.get("a") is sentinel
    time.sleep(0.06)
    assert cache.get("a") is None
    for name in "bcdef":
        cache.put(name, cast(Any, sentinel))
    assert len(cache._seen) <= 3 and cache.get("f") is sentinel


def test_cache_answers_only_for_the_generation_it_was_given_under() -> None:
    """A role change, disable or rotation through this process's workspace bumps its
    generation: what was remembered before no longer answers, well inside the ttl."""
    cache = KeyCache(ttl=60.0)
    sentinel: Any = object()
    cache.put("a", sentinel, generation=4)
    assert cache.get("a", 4) is sentinel
    assert cache.get("a", 5) is None

"""The API's key check is remembered for one second per key hash (``KeyCache``, on the clock
``create_app`` was given): over real HTTP, a key disabled or rotated elsewhere (another handle
on the workspace, as another process or the CLI would) keeps working until that second has
passed on the clock and stops then; a change through the server's own workspace counts at
once; a burst of requests asks the database once per second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

import httpx
import pytest

from supportops import Workspace
from supportops.api.deps import KeyCache
from tests.api.conftest import World
from tests.clock import ManualClock

TTL = 1.0  # the key cache's default


@pytest.fixture
def elsewhere(world: World) -> Iterator[Workspace]:
    """A second handle on the server's workspace: its changes reach the server only through
    the database, as another process's would."""
    other = Workspace.open(world.workspace.path)
    try:
        yield other
    finally:
        other.close()


def _status(client: httpx.Client) -> int:
    response = client.get("/v1/tickets", params={"limit": 1})
    if response.status_code == 401:
        assert response.json()["error"]["code"] == "unauthenticated"
    return response.status_code


def _bot(world: World, key: str | None) -> httpx.Client:
    return httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {key}"})


def test_a_key_disabled_elsewhere_works_until_the_ttl_has_passed(
        world: World, elsewhere: Workspace) -> None:
    owner = elsewhere.tenant("acme")
    _, key = owner.principals.create("keys-disable", "agent")
    with _bot(world, key) as bot:
        assert _status(bot) == 200  # checked, and remembered
        owner.principals.disable("keys-disable")
        assert _status(bot) == 200
        world.clock.advance(0.9 * TTL)
        assert _status(bot) == 200
        world.clock.advance(0.2 * TTL)
        assert _status(bot) == 401


def test_a_key_rotated_elsewhere_stops_after_the_ttl_and_the_new_one_works_at_once(
        world: World, elsewhere: Workspace) -> None:
    owner = elsewhere.tenant("acme")
    _, old = owner.principals.create("keys-rotate", "agent")
    with _bot(world, old) as bot:
        assert bot.post("/v1/triage", json={"text": "I lost my card"}).status_code == 200
        new = owner.principals.rotate_key("keys-rotate")
        with _bot(world, new) as fresh:
            assert _status(fresh) == 200
        world.clock.advance(0.9 * TTL)
        assert _status(bot) == 200
        world.clock.advance(0.2 * TTL)
        assert _status(bot) == 401


def test_a_key_disabled_through_the_servers_workspace_stops_at_once(world: World) -> None:
    owner = world.workspace.tenant("acme")
    _, key = owner.principals.create("keys-here", "agent")
    with _bot(world, key) as bot:
        assert _status(bot) == 200
        owner.principals.disable("keys-here")
        assert _status(bot) == 401  # the clock has not moved


def test_a_burst_with_one_key_asks_the_database_once_per_ttl(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = world.workspace.tenant("acme")
    _, key = owner.principals.create("keys-burst", "agent")
    assert key is not None
    calls: list[str] = []
    real = world.workspace.authenticate

    def counted(api_key: str, now: datetime | None = None) -> Any:
        calls.append(api_key)
        return real(api_key, now)

    monkeypatch.setattr(world.workspace, "authenticate", counted)  # a spy on the database
    with _bot(world, key) as bot:
        assert [_status(bot) for _ in range(10)] == [200] * 10
        assert _status(_bot(world, "so_acme_wrong")) == 401
        assert calls.count(key) == 1 and calls.count("so_acme_wrong") == 1
        world.clock.advance(TTL)
        assert [_status(bot) for _ in range(5)] == [200] * 5
    assert calls.count(key) == 2


def test_cache_forgets_after_its_ttl_and_stays_bounded() -> None:
    clock = ManualClock()
    cache = KeyCache(ttl=0.05, size=3, clock=clock)
    sentinel: Any = object()
    cache.put("a", sentinel)
    clock.advance(0.04)
    assert cache.get("a") is sentinel
    clock.advance(0.02)
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

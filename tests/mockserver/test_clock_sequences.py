"""Random sequences of clock settings through the admin API (freeze, pin, advance, resume,
reset, reload) against a model of the time passed: real time counts unless the clock is
frozen, ``advance`` always does, the date never does. The rate limit's bucket never stalls
and a frozen one never refills; a change shows once ``propagation_delay`` has passed."""

from __future__ import annotations

import random

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.reload import enable_reload
from profilemock.mockserver.state import ServerSettings
from tests.conftest import NOW, ClientFactory, WriteFixture, basic

FIXTURE = """
spaces:
  tiny:
    tokens: [tiny-token]
    rate_limit: {per_second: 2, burst: 3}
    users: [{ids: {user_id: u1}}]
"""
TRAITS = "/v1/spaces/tiny/collections/users/profiles/user_id:u1/traits"
SECOND = 10**9


@pytest.mark.parametrize("seed", range(20))
async def test_the_bucket_and_the_delay_follow_the_time_passed(
    aiohttp_client: ClientFactory, write_fixture: WriteFixture, seed: int
) -> None:
    rng = random.Random(seed)
    real = [10**18]
    clock = Clock.pinned_at(NOW, source=lambda: real[0])
    path = write_fixture(FIXTURE)
    settings = ServerSettings(realism={"propagation_delay": "1s"})
    app = create_app(load_fixtures([path], clock), clock, settings)
    enable_reload(app, [path])
    client = await aiohttp_client(app)
    ticks, mode, written = 0, "pinned", None
    tokens, last = 3.0, 0
    changes: list[tuple[int, int]] = []  # (when it shows, the trait's value)
    shown: int | None = None
    log = []
    for _ in range(60):
        op = rng.choice(
            [
                "real",
                "advance",
                "freeze",
                "pin",
                "resume",
                "reset",
                "reload",
                "change",
                "get",
                "get",
            ]
        )
        log.append(op)
        if op == "real":
            d = rng.choice([0, SECOND // 4, SECOND // 2, SECOND, 10 * SECOND])
            real[0] += d
            if mode != "frozen":
                ticks += d
        elif op == "advance":
            d = rng.choice([0, SECOND // 4, SECOND // 2, SECOND])
            r = await client.post("/__admin/clock/advance", json={"by": f"{d // 1_000_000}ms"})
            assert r.status == 200, await r.text()
            ticks += d
        elif op in ("freeze", "pin"):
            at = rng.choice([None, "-1d", "+1d", "1000-01-01T00:00:00Z", "2026-01-01T00:00:00Z"])
            r = await client.post(f"/__admin/clock/{op}", json={} if at is None else {"at": at})
            if r.status == 422:  # a date outside the years 1000 to 9999
                continue
            assert r.status == 200, await r.text()
            mode = "frozen" if op == "freeze" else "pinned"
        elif op == "resume":
            await client.post("/__admin/clock/resume")
            mode = "running"
        elif op == "reset":
            await client.post("/__admin/reset")
            mode, tokens, last = "pinned", 3.0, ticks
            changes, shown = [], None
            body = await (await client.get("/__admin/clock")).json()
            assert body["now"] == "2026-06-15T12:00:00Z", body
        elif op == "reload":
            now = rng.choice([None, "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z"])
            path.write_text(FIXTURE if now is None else f"now: {now}\n{FIXTURE}")
            assert (await client.post("/__admin/reload")).status == 200
            if now != written and now is not None and mode == "running":
                mode = "pinned"
            written = now
            changes, shown = [], None
        elif op == "change":
            value = len(log)
            r = await client.put(
                "/__admin/spaces/tiny/collections/users/profiles",
                json={"ids": {"user_id": "u1"}, "traits": {"n": value}},
            )
            assert r.status in (200, 201), await r.text()
            changes.append((ticks + SECOND, value))
        else:
            response = await client.get(TRAITS, headers=basic("tiny-token"))
            status = response.status
            tokens = min(3.0, tokens + (ticks - last) * 2 / SECOND)
            last = ticks
            expected = 200 if tokens >= 1.0 else 429
            if expected == 200:
                tokens -= 1.0
            assert status == expected, (seed, " ".join(log), tokens, mode, ticks - last)
            while changes and changes[0][0] <= ticks:
                shown = changes.pop(0)[1]
            if status == 200:
                traits = (await response.json())["traits"]
                assert traits == ({} if shown is None else {"n": shown}), (seed, log)

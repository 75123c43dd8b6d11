# An asyncio service's tests (aiohttp, pytest-asyncio): what it does when the Profile API
# asks it to wait (429 with Retry-After), fails (5xx), drops the connection or never
# answers, and when what it reads spans pages (cursors).
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

pytestmark = pytest.mark.asyncio


class ProfileClient:
    """The service under test: reads traits and events, retrying what may pass."""

    def __init__(
        self,
        base_url: str,
        space_id: str,
        token: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base = f"{base_url}/v1/spaces/{space_id}/collections/users/profiles"
        self.headers = {"Authorization": aiohttp.encode_basic_auth(token)}
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.attempts = attempts
        self.sleep = sleep  # the tests pass their own: a Retry-After costs them no time

    async def _get(
        self, session: aiohttp.ClientSession, url: str, params: dict[str, int] | None = None
    ) -> Any:
        for attempt in range(self.attempts):
            try:
                async with session.get(
                    url, params=params, headers=self.headers, timeout=self.timeout
                ) as response:
                    if response.status == 429:
                        await self.sleep(float(response.headers.get("Retry-After", 2**attempt)))
                        continue
                    if response.status >= 500:
                        continue
                    if response.status == 404:
                        return None
                    response.raise_for_status()
                    return await response.json()
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                continue
        raise RuntimeError("the Profile API kept failing")

    async def traits(self, user_id: str) -> dict[str, Any] | None:
        async with aiohttp.ClientSession() as session:
            body = await self._get(session, f"{self.base}/user_id:{user_id}/traits")
        return None if body is None else dict(body["traits"])

    async def events(self, user_id: str) -> list[dict[str, Any]]:
        """Every event of the last 14 days: cursor.url leads to the next page."""
        found: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/user_id:{user_id}/events"
        params: dict[str, int] | None = {"limit": 10}
        async with aiohttp.ClientSession() as session:
            while url:
                body = await self._get(session, url, params)
                found += body["data"] or []  # an empty page's data is null
                cursor = body["cursor"]  # its url may be relative, as the real API's can be
                url, params = urljoin(url, cursor["url"]) if cursor["has_more"] else None, None
        return found


def service(profile_api: Any, **options: Any) -> tuple[ProfileClient, list[float]]:
    """The service pointed at the fake, and the waits it asked for."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = ProfileClient(
        profile_api.url, profile_api.space_id, profile_api.token, sleep=sleep, **options
    )
    return client, waits


async def test_waits_as_long_as_retry_after_says(profile_api):
    profile_api.add_user(external_ids={"user_id": "u1"}, traits={"plan": "pro"})
    profile_api.fault("traits:429:times=1", headers={"Retry-After": "3"})
    client, waits = service(profile_api)
    assert await client.traits("u1") == {"plan": "pro"}
    assert waits == [3.0]
    assert [r.status for r in profile_api.requests] == [429, 200]


async def test_gives_up_after_three_server_errors(profile_api):
    profile_api.fault("traits:503")
    client, _ = service(profile_api)
    with pytest.raises(RuntimeError):
        await client.traits("u1")
    profile_api.assert_called("traits", identifier="user_id:u1", times=3, status=503)


async def test_retries_a_dropped_connection(profile_api):
    profile_api.add_user(external_ids={"user_id": "u1"}, traits={"plan": "pro"})
    profile_api.fault("traits:reset:times=1")
    client, _ = service(profile_api)
    assert await client.traits("u1") == {"plan": "pro"}
    assert [r.outcome for r in profile_api.requests] == ["broken", "answered"]


async def test_stops_waiting_for_an_answer_that_never_comes(profile_api):
    profile_api.fault("traits:hang")  # held until the client gives up (or 30 s)
    client, _ = service(profile_api, timeout=0.2, attempts=1)
    with pytest.raises(RuntimeError):
        await client.traits("u1")
    profile_api.assert_called("traits", outcome="client went away")


async def test_reads_every_page_of_events(profile_api):
    viewed = {
        "event": "Product Viewed",
        "timestamp": "-1h",
        "repeat": {"count": 25, "every": "10m"},
    }
    profile_api.add_user(external_ids={"user_id": "u1"}, events=[viewed])
    client, _ = service(profile_api)
    assert len(await client.events("u1")) == 25
    profile_api.assert_called("events", identifier="user_id:u1", times=3)

"""Property: for any profile hypothesis can write, every endpoint's answer validates strictly."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from profilemock.clock import Clock
from profilemock.fixtures.loader import load_data
from profilemock.mockserver.app import create_app
from profilemock.schemas import validate_response
from tests.conftest import NOW, basic

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
keys = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6)
relative = st.integers(-20 * 24, 0).map(lambda h: f"{h:+d}h")
profiles = st.fixed_dictionaries(
    {
        "ids": st.dictionaries(
            st.sampled_from(["user_id", "email", "anonymous_id", "ios.idfa"]),
            st.text(min_size=1, max_size=6),
            min_size=1,
        )
    },
    optional={
        "traits": st.dictionaries(keys, json_values, max_size=5),
        "computed_traits": st.dictionaries(keys.map(lambda k: "c_" + k), json_values, max_size=3),
        "audiences": st.dictionaries(keys.map(lambda k: "a_" + k), st.booleans(), max_size=3),
        "events": st.lists(
            st.sampled_from(
                [
                    ("track", "event", "properties"),
                    ("page", "name", "properties"),
                    ("identify", None, "traits"),
                ]
            ).flatmap(
                lambda call: st.fixed_dictionaries(
                    {"type": st.just(call[0]), "timestamp": relative}
                    | ({} if call[1] is None else {call[1]: st.text(min_size=1, max_size=5)}),
                    optional={
                        call[2]: st.dictionaries(st.text(max_size=4), json_values, max_size=3),
                        "context": st.dictionaries(st.text(max_size=4), json_values, max_size=2),
                    },
                )
            ),
            max_size=4,
        ),
        "metadata": st.fixed_dictionaries(
            {},
            optional={
                "expires_at": st.none() | relative,
                "first_source_id": st.none() | st.text(max_size=4),
            },
        ),
    },
)
RESOURCES = ["traits", "traits?verbose=true", "external_ids", "events", "metadata", "links"]


@settings(max_examples=40, deadline=None)
@given(user=profiles)
def test_every_endpoint_answers_within_the_contract(user: dict[str, Any]) -> None:
    # Trait keys must not repeat across classes; prefixes above keep them apart.
    data = {
        "spaces": {
            "sp": {
                "tokens": ["tok"],
                "users": [user],
                "accounts": [
                    {
                        "ids": {"group_id": "g"},
                        "links": [f"{t}:{v}" for t, v in list(user["ids"].items())[:1]],
                    }
                ],
            }
        }
    }

    async def run() -> None:
        clock = Clock(NOW)
        app = create_app(load_data(data, clock), clock, check_contract=False)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        try:
            async with aiohttp.ClientSession(headers=basic("tok")) as session:

                async def check(path: str) -> Any:
                    url = str(server.make_url(path))
                    async with session.get(url) as response:
                        body = await response.json()
                        assert response.status == 200, body
                        assert validate_response(url, response.status, body, strict=True) == []
                        return body

                listing = await check("/v1/spaces/sp/collections/users/profiles")
                segment_id = listing["data"][0]["segment_id"]
                for resource in RESOURCES:
                    await check(f"/v1/spaces/sp/collections/users/profiles/{segment_id}/{resource}")
                await check("/v1/spaces/sp/collections/accounts/profiles/group_id:g/links")
        finally:
            await server.close()

    asyncio.run(run())

"""schemathesis over the admin API with every check: whatever it sends, no 500 and no answer
outside the envelope; every request its schemas allow is accepted, every one they refuse is
a 400 (the admin API reconfigures the server, so this fake is its own).

One setting: a schema-valid request may also answer 422 where the operation declares it,
for what no schema can say (a latency beyond 300s, a clock leaving the years 1000 to 9999,
a day not in the calendar): positive_data_acceptance expects 422 besides its defaults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from profilemock import build_openapi
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_SPACE, NOW

_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
ADMIN = schemathesis.openapi.from_dict(
    build_openapi(),
    config=SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED}}}
    ),
).include(path_regex="^/__admin/")


@pytest.fixture(scope="module")
def admin_fake() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(rate_limit=None)
    )
    with ServerThread(app) as server:
        yield server
    assert app[STATE].errors == []


def fewer_copies(body: Any) -> None:
    """At most 100 copies of a repeated event (still valid): schemathesis tries the maximum,
    100,000, and building that many events takes seconds each time (the fixture tests load
    such profiles; here the time is better spent on more cases)."""
    if isinstance(body, list):
        for item in body:
            fewer_copies(item)
    elif isinstance(body, dict):
        repeat = body.get("repeat")
        if isinstance(repeat, dict) and isinstance(repeat.get("count"), int):
            repeat["count"] = min(repeat["count"], 100)
        for value in body.values():
            fewer_copies(value)


@ADMIN.parametrize()
@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_nothing_in_the_admin_api(
    case: schemathesis.Case[Any], admin_fake: ServerThread
) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and case.path_parameters and "space" in case.path_parameters:
        # A space that exists, so that valid bodies reach the handlers (not only a 404).
        case.path_parameters["space"] = DEMO_SPACE
    if positive:
        fewer_copies(case.body)
    response = case.call(base_url=admin_fake.url, timeout=60)
    case.validate_response(response, transport_kwargs={"base_url": admin_fake.url, "timeout": 60})
    headers = {name.lower(): value for name, value in response.headers.items()}
    where = (case.method, case.path, response.status_code, response.text)
    # Every answer is JSON, except what the document declares otherwise (the explorer page).
    declared = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    media_types = set(declared.get("content", {"application/json": {}}))
    (content_type,) = headers["content-type"]
    assert content_type.partition(";")[0] in media_types, where
    if case.method.upper() == case.operation.method.upper():  # not a probe of another method
        # Only what the document declares: a 422 (or 409) is never an undeclared refusal.
        assert str(response.status_code) in case.operation.definition.raw["responses"], where
    assert "request-id" in headers, where
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message"}, where

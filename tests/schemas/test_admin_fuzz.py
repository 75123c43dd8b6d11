"""schemathesis over the admin API: whatever it sends, no 500 and no answer outside the
envelope (the admin API reconfigures the server, so this fake is its own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from profilemock import build_openapi
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import NOW

ADMIN = schemathesis.openapi.from_dict(build_openapi()).include(path_regex="^/__admin/")


@pytest.fixture(scope="module")
def admin_fake() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(rate_limit=None)
    )
    with ServerThread(app) as server:
        yield server
    assert app[STATE].errors == []


@ADMIN.parametrize()
@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error_in_the_admin_api(
    case: schemathesis.Case[Any], admin_fake: ServerThread
) -> None:
    response = case.call(base_url=admin_fake.url)
    case.validate_response(response, checks=[not_a_server_error])
    headers = {name.lower(): value for name, value in response.headers.items()}
    where = (case.method, case.path, response.status_code, response.text)
    # Every answer is JSON, except what the document declares otherwise (the explorer page).
    declared = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    media_types = set(declared.get("content", {"application/json": {}}))
    (content_type,) = headers["content-type"]
    assert content_type.partition(";")[0] in media_types, where
    assert "request-id" in headers, where
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message"}, where

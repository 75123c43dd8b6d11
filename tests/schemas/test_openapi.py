"""The OpenAPI document is valid, tools can work from it, and the fake honours it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from aiohttp import web
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from profilemock import build_openapi
from profilemock.api import ENDPOINTS
from profilemock.cli import main
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, basic

DOCUMENT = build_openapi()
# schemathesis exercises the Profile API; the admin API would let it reconfigure the server.
API = schemathesis.openapi.from_dict(build_openapi(admin=False))


def test_document_passes_openapi_spec_validator() -> None:
    validate_openapi(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"


def test_every_route_and_limit_comes_from_the_endpoint_table() -> None:
    paths = DOCUMENT["paths"]
    assert len([p for p in paths if p.startswith("/v1/")]) == 6
    assert "/__admin/faults" in paths
    traits = paths["/v1/spaces/{space_id}/collections/{collection}/profiles/{identifier}/traits"]
    limit = next(p for p in traits["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": ENDPOINTS["traits"].default_limit,
    }
    external = paths[
        "/v1/spaces/{space_id}/collections/{collection}/profiles/{identifier}/external_ids"
    ]
    limit = next(p for p in external["get"]["parameters"] if p["name"] == "limit")
    assert "clamped" in limit["description"]


def test_cli_prints_the_document_as_yaml_or_json() -> None:
    out = io.StringIO()
    assert main(["openapi", "--server-url", "http://127.0.0.1:4010"], stdout=out) == 0
    from_yaml = yaml.safe_load(out.getvalue())
    assert from_yaml["servers"][0] == {"url": "http://127.0.0.1:4010", "description": "profilemock"}
    out = io.StringIO()
    assert main(["openapi", "--format", "json"], stdout=out) == 0
    assert json.loads(out.getvalue()) == build_openapi()


def test_a_server_url_is_a_url_with_a_host_or_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert main(["openapi", "--format", "json", "--server-url", "/profile-api"], stdout=out) == 0
    assert json.loads(out.getvalue())["servers"][0]["url"] == "/profile-api"
    with pytest.raises(SystemExit) as exited:
        main(["openapi", "--server-url", "notaurl"], stdout=io.StringIO())
    assert exited.value.code == 2
    assert (
        "argument --server-url: `notaurl` is not an http(s) URL with a host, such as"
        " https://profiles.segment.com, or a path such as /api" in capsys.readouterr().err
    )


@pytest.mark.parametrize(("given", "without"), [("/api/v1", "/api"), ("/v1/", "/")])
def test_a_server_path_ending_in_the_apis_version_is_refused(
    given: str, without: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The document's paths begin with /v1: a client reading it called /api/v1/v1/spaces/….
    with pytest.raises(SystemExit) as exited:
        main(["openapi", "--server-url", given], stdout=io.StringIO())
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"argument --server-url: `{given}`: the API's paths begin with /v1 (/v1/spaces/…),"
        f" which this URL's path would double: give it without, {without}\n"
    )


@pytest.fixture(scope="module")
def live_fake() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    # The clock is frozen, so a rate limit would never refill: schemathesis sends hundreds.
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(rate_limit=None)
    )
    answered: list[tuple[str, int]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        answered.append((request.path.rsplit("/", 1)[-1], response.status))
        return response

    app.middlewares.append(record)
    with ServerThread(app) as server:
        yield server
    assert app[STATE].errors == []
    # The generated requests reached real data, not only 401s and 404s: every route fuzzed
    # here answered a 200 at least once (under xdist, another worker may fuzz some routes).
    routes = {"traits", "external_ids", "events", "metadata", "links", "profiles"}
    fuzzed = routes.intersection(resource for resource, _ in answered)
    succeeded = {resource for resource, status in answered if status == 200}
    assert fuzzed
    assert succeeded >= fuzzed


@API.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_schemathesis_finds_no_server_error_or_schema_violation(
    case: schemathesis.Case[Any], live_fake: ServerThread
) -> None:
    # The two checks the README's command leaves out, for the reasons it gives: a cursor the
    # list never issued answers 400 (documented), and unknown query parameters are ignored.
    case.call_and_validate(
        base_url=live_fake.url,
        headers=basic(DEMO_TOKEN),
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
    )


@pytest.mark.parametrize("flag", ["--no-admin", "--api-only"])
def test_cli_leaves_the_admin_api_out_on_request(flag: str) -> None:
    out = io.StringIO()
    assert main(["openapi", "--format", "json", flag], stdout=out) == 0
    document = json.loads(out.getvalue())
    assert document == build_openapi(admin=False)
    assert sorted(document["paths"]) == sorted(p for p in DOCUMENT["paths"] if p.startswith("/v1/"))
    assert not any(name.startswith("Fixture") for name in document["components"]["schemas"])
    validate_openapi(document)


def test_every_operation_declares_the_400_its_parameters_can_answer() -> None:
    # A schema-driven fuzzer must find a 400 documented wherever it can get one.
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            assert "400" in operation["responses"], f"{method} {path}"
    events = DOCUMENT["paths"][
        "/v1/spaces/{space_id}/collections/{collection}/profiles/{identifier}/events"
    ]["get"]
    described = {p["name"]: p.get("description", "") for p in events["parameters"]}
    assert "opaque cursor" in described["next"]
    assert "400" in described["next"]
    # Source: the API reference, events: "Returns all the events that start after `start`".
    assert "exclusive" in described["start"]
    assert "400" in described["start"]
    assert "exclusive" in described["end"]
    assert "400" in described["end"]

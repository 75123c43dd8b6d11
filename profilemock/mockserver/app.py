"""The aiohttp application: one request pipeline, in the API's order of checks.

    Request-Id -> route -> auth -> (rate limit) -> path validation -> query validation
    -> lookup -> resource -> render

``create_app(store, ...)`` holds no global state, so several servers can share a process.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from profilemock import schemas
from profilemock.clock import Clock
from profilemock.fixtures.store import LiveStore, Store
from profilemock.mockserver import lookup, resources, routing
from profilemock.mockserver.auth import authenticate
from profilemock.mockserver.endpoints import ENDPOINTS
from profilemock.mockserver.errors import ApiError, envelope
from profilemock.mockserver.params import Query, parse_query, parse_verbose
from profilemock.mockserver.render import json_response

log = logging.getLogger("profilemock")
REQUEST_ID = "Request-Id"


@dataclass
class ServerState:
    """What one server reads and changes while it runs."""

    store: LiveStore
    clock: Clock
    errors: list[BaseException] = field(default_factory=list)
    """Unexpected exceptions raised while answering (the pytest plugin re-raises them)."""


STATE = web.AppKey("profilemock_state", ServerState)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def contract_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check every answer against the response schemas, strictly (PROFILEMOCK_STRICT_CONTRACT=1).

    A violation is a bug in profilemock: it is answered as a 500 and recorded, so the test
    that provoked it fails.
    """
    response = await handler(request)
    if request.method == "HEAD" or not isinstance(response, web.Response) or response.body is None:
        return response
    body = json.loads(bytes(response.body))  # type: ignore[arg-type]
    try:
        violations = schemas.validate_response(request.path_qs, response.status, body, strict=True)
    except schemas.UnknownEndpoint:
        violations = schemas.validate(body, "error", strict=True) if response.status >= 400 else []
    if not violations:
        return response
    error = AssertionError(
        f"profilemock broke its own contract answering {request.method} {request.path_qs}: "
        + "; ".join(str(v) for v in violations)
    )
    request.app[STATE].errors.append(error)
    failed = json_response(envelope("internal_error", str(error)), 500)
    failed.headers[REQUEST_ID] = response.headers.get(REQUEST_ID, "")
    return failed


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every answer a Request-Id, and render every error in the API's envelope."""
    request_id = str(uuid.uuid4())
    try:
        response = await handler(request)
    except ApiError as error:
        response = json_response(error.body(), error.status, error.response_headers())
    except web.HTTPException as exc:
        # aiohttp's own answers (unknown admin route, bad method on it): same envelope.
        code = "not_found" if exc.status == 404 else "invalid_request_error"
        response = json_response(envelope(code, exc.reason), exc.status)
    except Exception as exc:
        log.exception("profilemock failed answering %s %s", request.method, request.path)
        request.app[STATE].errors.append(exc)
        response = json_response(
            envelope("internal_error", f"profilemock failed: {type(exc).__name__}: {exc}"), 500
        )
    response.headers[REQUEST_ID] = request_id
    return response


async def api(request: web.Request) -> web.StreamResponse:
    """Every Profile API route."""
    state = request.app[STATE]
    route = routing.match(request.method, request.raw_path)
    space = authenticate(state.store, route.space_id, request.headers.get("Authorization"))
    lookup.validate_path(route)
    raw_query = request.query
    if route.resource == "metadata":
        query = Query(limit=1, page_size=1, verbose=parse_verbose(raw_query))
    else:
        query = parse_query(ENDPOINTS[route.resource], raw_query)
    collection = lookup.collection_of(route)
    profile = None
    if route.identifier is not None:
        profile = lookup.find_profile(space, collection, route)
    req = resources.Request(
        space=space,
        collection=collection,
        query=query,
        raw_query=raw_query,
        base_url=f"{request.scheme}://{request.host}{request.raw_path.split('?', 1)[0]}",
        now=state.clock.now_ns(),
        profile=profile,
    )
    handler = resources.profiles if profile is None else resources.RESOURCE_HANDLERS[route.resource]
    return json_response(handler(req))


def create_app(
    store: Store, clock: Clock | None = None, *, check_contract: bool | None = None
) -> web.Application:
    """The fake Profile API serving ``store``, reading time from ``clock``.

    ``check_contract`` validates every answer against the response schemas (strict); by
    default it is on when the environment sets ``PROFILEMOCK_STRICT_CONTRACT=1``.
    """
    if check_contract is None:
        check_contract = os.environ.get("PROFILEMOCK_STRICT_CONTRACT") == "1"
    middlewares = [envelope_middleware]
    if check_contract:
        middlewares.insert(0, contract_middleware)
    app = web.Application(middlewares=middlewares)
    app[STATE] = ServerState(store=LiveStore(store), clock=clock or Clock())
    # [\s\S] rather than ".": a decoded path may hold a newline (%0A), which "." skips.
    app.router.add_route("*", r"/{path:[\s\S]*}", api)
    return app

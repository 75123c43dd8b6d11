"""The admin API under ``/__admin/``: health, reset, faults, journal, profiles, events,
clock and spaces. JSON in and out; errors in the Profile API's own envelope.

Every route is one row of ``ROUTES``: the server mounts them from it and the OpenAPI
document describes them from it. Handlers read the server's state from the application
(``request.config_dict[STATE]``), as aiohttp intends.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from profilemock.api import Collection, collection_named
from profilemock.faults import FaultRuleError, parse_spec
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.explorer import explorer_page
from profilemock.mockserver.journal import NUMBER_FILTERS, TEXT_FILTERS
from profilemock.mockserver.mutations import (
    ChangeError,
    append_events,
    delete_profile,
    upsert_profile,
)
from profilemock.mockserver.reload import RELOADER
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE, ServerState
from profilemock.realism import RealismError
from profilemock.store.overlay import LiveSpace
from profilemock.store.space import Limit
from profilemock.timeutil import TimestampError, format_ns, parse_duration, parse_timestamp

ADMIN_TOKEN_HEADER = "Profilemock-Admin-Token"
OPEN_PATHS = frozenset({"/__admin/explorer"})
"""Served without the admin token: the explorer page holds no data, and asks for the
token itself before it calls the admin API."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSONSchema = dict[str, Any]


def _bad(message: str, status: int = 400) -> ApiError:
    codes = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found",
        409: "conflict",
    }
    return ApiError(status, codes.get(status, "invalid_request_error"), message)


async def _json(request: web.Request, default: Any = None) -> Any:
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the request body is not UTF-8 (byte {exc.start + 1})") from None
    if not text.strip():
        if default is None:
            raise _bad("the request needs a JSON body")
        return default
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise _bad(
            f"the request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _no_constant(name: str) -> Any:
    raise _bad(f"the request body is not JSON: `{name}` is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _bad(f"the request body holds `{text}`, a number too large for a double")
    return number


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _bad(f"{what} must be a JSON object")
    return data


def _state(request: web.Request) -> ServerState:
    return request.config_dict[STATE]


def _clock_body(state: ServerState) -> dict[str, Any]:
    now = state.clock.now_ns()
    return {"now": format_ns(now), "now_ns": now, "frozen": state.clock.frozen}


def _space_body(state: ServerState, space: LiveSpace) -> dict[str, Any]:
    limit = state.limiter.limit_of(space.id)
    return {
        "id": space.id,
        "tokens": list(space.tokens),
        "users": space.count("users"),
        "accounts": space.count("accounts"),
        "rate_limit": None if limit is None else limit.as_dict(),
    }


def _space(request: web.Request) -> LiveSpace:
    space_id = request.match_info["space"]
    spaces = _state(request).store.spaces
    space = spaces.get(space_id)
    if space is None:
        known = ", ".join(sorted(spaces)) or "none"
        raise _bad(f"no space `{space_id}`; spaces are {known}", 404)
    return space


def _collection(request: web.Request) -> Collection:
    name = request.match_info["collection"]
    collection = collection_named(name)
    if collection is None:
        raise _bad(f"no collection `{name}`; collections are users and accounts", 404)
    return collection


def _changing(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ChangeError as exc:
        raise _bad(str(exc), exc.status) from None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``--admin-token``, every admin call must carry the token."""
    token = _state(request).settings.admin_token
    if token is not None and request.path not in OPEN_PATHS:
        given = request.headers.get(ADMIN_TOKEN_HEADER, "")
        bearer = request.headers.get("Authorization", "")
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(
                401,
                "authentication_error",
                f"the admin API needs the admin token (header {ADMIN_TOKEN_HEADER}, or"
                " Authorization: Bearer TOKEN)",
            )
    return await handler(request)


# -- handlers ----------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response(
        {
            "status": "ok",
            "spaces": sorted(state.store.spaces),
            "requests": len(state.journal),
            "faults": len(state.faults),
            "clock": _clock_body(state),
        }
    )


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return json_response({"status": "reset"})


async def reload(request: web.Request) -> web.Response:
    reloader = request.config_dict.get(RELOADER)
    if reloader is None:
        raise _bad(
            "this server was not started from fixture files, so there is nothing to"
            " reload (`profilemock serve` reloads its --fixtures)",
            409,
        )
    result = await reloader.reload()
    if not result.ok:
        # The problems, one a line, in the message: the envelope is the API's own.
        raise ApiError(422, "invalid_request_error", result.line())
    return json_response(result.as_dict())


async def explorer(request: web.Request) -> web.Response:
    return web.Response(
        body=explorer_page(),
        content_type="text/html",
        charset="utf-8",
        headers={
            # Everything is inline and it calls only this server: say so to the browser.
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                " connect-src 'self'; img-src 'self' data:; base-uri 'none';"
                " form-action 'none'; frame-ancestors 'none'"
            ),
            "Cache-Control": "no-store",
        },
    )


async def get_realism(request: web.Request) -> web.Response:
    return json_response({"realism": _state(request).realism.as_dict()})


async def patch_realism(request: web.Request) -> web.Response:
    state = _state(request)
    data = _object(await _json(request), "the realism switches")
    try:
        state.set_realism(data)
    except RealismError as exc:
        raise _bad(str(exc)) from None
    return json_response({"realism": state.realism.as_dict()})


async def list_faults(request: web.Request) -> web.Response:
    return json_response({"faults": [rule.as_dict() for rule in _state(request).faults]})


async def add_fault(request: web.Request) -> web.Response:
    data = _object(await _json(request), "a fault rule")
    try:
        if set(data) == {"spec"}:
            if not isinstance(data["spec"], str):
                raise FaultRuleError(
                    '`spec` must be a --fault spec string such as "traits:429:times=2"'
                )
            data = parse_spec(data["spec"])
        rule = _state(request).faults.add(data)
    except FaultRuleError as exc:
        raise _bad(str(exc)) from None
    return json_response({"fault": rule.as_dict()}, 201)


async def delete_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["id"]
    if not _state(request).faults.remove(rule_id):
        raise _bad(f"no fault rule `{rule_id}`", 404)
    return json_response({"deleted": rule_id})


async def clear_faults(request: web.Request) -> web.Response:
    faults = _state(request).faults
    count = len(faults)
    faults.clear()
    return json_response({"deleted": count})


_FILTER_NAMES = ", ".join(sorted((*TEXT_FILTERS, *NUMBER_FILTERS, "limit")))


async def list_requests(request: web.Request) -> web.Response:
    filters: dict[str, Any] = {}
    for name in TEXT_FILTERS:
        if name in request.query:
            filters[name] = request.query[name]
    for name in NUMBER_FILTERS:
        if name in request.query:
            value = request.query[name]
            if not (value.isascii() and value.isdigit()):
                raise _bad(f"`{name}` must be an HTTP status such as 200, got `{value}`")
            filters[name] = int(value)
    unknown = set(request.query) - set(filters) - {"limit"}
    if unknown:
        raise _bad(f"unknown filter `{sorted(unknown)[0]}`; filters are {_FILTER_NAMES}")
    entries = _state(request).journal.select(**filters)
    limit_text = request.query.get("limit")
    if limit_text is not None:
        if not (limit_text.isascii() and limit_text.isdigit()) or int(limit_text) < 1:
            raise _bad(f"`limit` must be a whole number from 1, got `{limit_text}`")
        entries = entries[-int(limit_text) :]
    return json_response({"requests": [e.as_dict() for e in entries], "total": len(entries)})


async def clear_requests(request: web.Request) -> web.Response:
    journal = _state(request).journal
    count = len(journal)
    journal.clear()
    return json_response({"deleted": count})


async def spaces(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response({"spaces": [_space_body(state, s) for s in state.store.spaces.values()]})


async def patch_space(request: web.Request) -> web.Response:
    state, space = _state(request), _space(request)
    data = _object(await _json(request), "the change")
    unknown = set(data) - {"rate_limit"}
    if unknown:
        raise _bad(f"unknown field `{sorted(unknown)[0]}`; a space can change `rate_limit`")
    if "rate_limit" in data:
        try:
            limit = Limit.parse(data["rate_limit"])
        except ValueError as exc:
            raise _bad(str(exc)) from None
        state.limiter.set_limit(space.id, limit)
    return json_response(_space_body(state, space))


async def upsert(request: web.Request) -> web.Response:
    state, space, collection = _state(request), _space(request), _collection(request)
    data = await _json(request)
    profile, created = _changing(
        lambda: upsert_profile(space, collection, data, state.clock.now_ns())
    )
    return json_response(
        {"segment_id": profile.segment_id, "created": created}, 201 if created else 200
    )


async def delete(request: web.Request) -> web.Response:
    space, collection = _space(request), _collection(request)
    identifier = request.match_info["identifier"]
    profile = _changing(lambda: delete_profile(space, collection, identifier))
    return json_response({"deleted": profile.segment_id})


async def add_events(request: web.Request) -> web.Response:
    state, space, collection = _state(request), _space(request), _collection(request)
    data = await _json(request)
    events = data.get("events") if isinstance(data, dict) else data
    identifier = request.match_info["identifier"]
    added = _changing(
        lambda: append_events(space, collection, identifier, events, state.clock.now_ns())
    )
    return json_response({"appended": [e.message_id for e in added]}, 201)


async def clock(request: web.Request) -> web.Response:
    return json_response(_clock_body(_state(request)))


async def freeze(request: web.Request) -> web.Response:
    state = _state(request)
    data = _object(await _json(request, default={}), "the clock change")
    at = data.get("at")
    if at is None:
        state.clock.freeze()
    else:
        try:
            state.clock.freeze(parse_timestamp(str(at), state.clock.now_ns()))
        except TimestampError as exc:
            raise _bad(f"`at`: {exc}") from None
    return json_response(_clock_body(state))


async def advance(request: web.Request) -> web.Response:
    state = _state(request)
    data = _object(await _json(request), "the clock change")
    by = data.get("by")
    try:
        duration = parse_duration(str(by))
    except TimestampError:
        raise _bad(f"`by` must be a duration such as 1s, 250ms or 2d, got `{by}`") from None
    try:
        state.clock.advance(duration)
    except TimestampError as exc:
        raise _bad(f"`by`: {exc}") from None
    return json_response(_clock_body(state))


async def resume(request: web.Request) -> web.Response:
    state = _state(request)
    state.clock.unfreeze()
    return json_response(_clock_body(state))


# -- the route table ---------------------------------------------------------------------


@dataclass(frozen=True)
class AdminRoute:
    """One admin route: what serves it, and what the OpenAPI document says of it."""

    method: str
    path: str
    """Below ``/__admin``; ``{name}`` segments are path parameters."""
    handler: Handler
    summary: str
    ok: str
    """What a success answers."""
    status: int = 200
    body: JSONSchema | None = None
    """The JSON request body (``$ref``s may point into ``fixture.schema.json``)."""
    query: tuple[tuple[str, JSONSchema], ...] = ()
    """Query parameters and their schemas."""
    content_type: str = "application/json"
    """What a success answers with (the explorer page is HTML)."""


_FIXTURE = "fixture.schema.json#/$defs/"
_JOURNAL_QUERY: tuple[tuple[str, JSONSchema], ...] = (
    *((name, {"type": "string"}) for name in TEXT_FILTERS),
    *((name, {"type": "integer"}) for name in NUMBER_FILTERS),
    ("limit", {"type": "integer", "minimum": 1}),
)
_PROFILES = "/spaces/{space}/collections/{collection}/profiles"

ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute(
        "GET", "/health", health, "Is the server up; spaces, journal size, faults, clock", "Health."
    ),
    AdminRoute(
        "POST",
        "/reset",
        reset,
        "Back to the start: loaded data, configured faults, empty journal, full buckets, the clock",
        "Reset.",
    ),
    AdminRoute(
        "POST",
        "/reload",
        reload,
        "Read the fixture files again and serve them (faults, rate limits, journal and clock"
        " stay; runtime changes to the data go); 422 listing every problem (file:line:column)"
        " if they do not load, the previous data still served; 409 if not served from files",
        "What was loaded: spaces, users, accounts, seconds.",
    ),
    AdminRoute(
        "GET",
        "/explorer",
        explorer,
        "The explorer page (HTML): profiles, faults and the journal in a browser; opens"
        " without the admin token and asks for it",
        "The page.",
        content_type="text/html",
    ),
    AdminRoute("GET", "/realism", get_realism, "The realism switches in force", "The switches."),
    AdminRoute(
        "PATCH",
        "/realism",
        patch_realism,
        "Change realism switches (a reset restores those of the fixtures and flags)",
        "The switches.",
        body={"$ref": _FIXTURE + "realism"},
    ),
    AdminRoute("GET", "/faults", list_faults, "List fault rules with their counters", "The rules."),
    AdminRoute(
        "POST",
        "/faults",
        add_fault,
        "Add a fault rule",
        "The rule, with its id.",
        status=201,
        body={
            "oneOf": [
                {"$ref": _FIXTURE + "fault_rule"},
                {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "string",
                            "description": "a --fault spec such as traits:429:times=2",
                        }
                    },
                },
            ]
        },
    ),
    AdminRoute(
        "DELETE", "/faults", clear_faults, "Remove every fault rule", "How many were removed."
    ),
    AdminRoute("DELETE", "/faults/{id}", delete_fault, "Remove one fault rule", "Removed."),
    AdminRoute(
        "GET",
        "/requests",
        list_requests,
        "The request journal, oldest first, filtered",
        "Journal entries.",
        query=_JOURNAL_QUERY,
    ),
    AdminRoute(
        "DELETE", "/requests", clear_requests, "Empty the journal", "How many were removed."
    ),
    AdminRoute(
        "GET", "/spaces", spaces, "Spaces with their profile counts and rate limits", "The spaces."
    ),
    AdminRoute(
        "PATCH",
        "/spaces/{space}",
        patch_space,
        "Change a space's rate limit",
        "The space.",
        body={
            "type": "object",
            "properties": {
                "rate_limit": {"description": "requests/s, {per_second, burst}, or null"}
            },
        },
    ),
    AdminRoute(
        "PUT",
        _PROFILES,
        upsert,
        "Add or replace a profile (fixture format)",
        "Replaced (201: added).",
        body={"$ref": _FIXTURE + "profile"},
    ),
    AdminRoute("DELETE", _PROFILES + "/{identifier}", delete, "Delete a profile", "Deleted."),
    AdminRoute(
        "POST",
        _PROFILES + "/{identifier}/events",
        add_events,
        "Append events to a profile (fixture format)",
        "The new message ids.",
        status=201,
        body={
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": {"$ref": _FIXTURE + "event"}}},
        },
    ),
    AdminRoute("GET", "/clock", clock, "The server clock", "The clock."),
    AdminRoute(
        "POST",
        "/clock/freeze",
        freeze,
        "Stop the clock (at an instant, or where it is)",
        "The clock.",
        body={"type": "object", "properties": {"at": {"type": "string"}}},
    ),
    AdminRoute(
        "POST",
        "/clock/advance",
        advance,
        "Move the clock forward",
        "The clock.",
        body={
            "type": "object",
            "required": ["by"],
            "properties": {"by": {"type": "string", "description": "such as 1s, 250ms, 2d"}},
        },
    ),
    AdminRoute("POST", "/clock/resume", resume, "Let the clock run again", "The clock."),
)


def admin_app(pipeline: Middleware) -> web.Application:
    """The ``/__admin`` sub-application of a server, inside the server's ``pipeline``; it
    reads the parent application's ``STATE``."""
    app = web.Application(middlewares=[pipeline, guard])
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    return app

"""The admin API under ``/__admin/``: health, reset, faults, journal, profiles, events,
clock and spaces. JSON in and out; errors in the Profile API's own envelope.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from profilemock.api import Collection, collection_named
from profilemock.faults import FaultRuleError, parse_spec
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.mutations import (
    ChangeError,
    append_events,
    delete_profile,
    upsert_profile,
)
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import ServerState
from profilemock.realism import RealismError
from profilemock.store.overlay import LiveSpace
from profilemock.store.space import Limit
from profilemock.timeutil import TimestampError, format_ns, parse_duration, parse_timestamp

ADMIN_TOKEN_HEADER = "Profilemock-Admin-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad(message: str, status: int = 400) -> ApiError:
    codes = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found",
        409: "conflict",
    }
    return ApiError(status, codes.get(status, "invalid_request_error"), message)


async def _json(request: web.Request, default: Any = None) -> Any:
    text = await request.text()
    if not text.strip():
        if default is None:
            raise _bad("the request needs a JSON body")
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(
            f"the request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _bad(f"{what} must be a JSON object")
    return data


def _clock_body(state: ServerState) -> dict[str, Any]:
    now = state.clock.now_ns()
    return {"now": format_ns(now), "now_ns": now, "frozen": state.clock.frozen}


def _limit_body(limit: Limit | None) -> dict[str, Any] | None:
    return None if limit is None else limit.as_dict()


def admin_app(state: ServerState, pipeline: Middleware) -> web.Application:
    """The ``/__admin`` sub-application of a server, inside the server's ``pipeline``."""
    token = state.settings.admin_token

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is not None:
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

    def space_of(request: web.Request) -> LiveSpace:
        space_id = request.match_info["space"]
        space = state.store.spaces.get(space_id)
        if space is None:
            known = ", ".join(sorted(state.store.spaces)) or "none"
            raise _bad(f"no space `{space_id}`; spaces are {known}", 404)
        return space

    def collection_of(request: web.Request) -> Collection:
        name = request.match_info["collection"]
        collection = collection_named(name)
        if collection is None:
            raise _bad(f"no collection `{name}`; collections are users and accounts", 404)
        return collection

    def changing(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ChangeError as exc:
            raise _bad(str(exc), exc.status) from None

    async def health(request: web.Request) -> web.Response:
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
        state.reset()
        return json_response({"status": "reset"})

    async def get_realism(request: web.Request) -> web.Response:
        return json_response({"realism": state.realism.as_dict()})

    async def patch_realism(request: web.Request) -> web.Response:
        data = _object(await _json(request), "the realism switches")
        try:
            state.set_realism(data)
        except RealismError as exc:
            raise _bad(str(exc)) from None
        return json_response({"realism": state.realism.as_dict()})

    async def list_faults(request: web.Request) -> web.Response:
        return json_response({"faults": [rule.as_dict() for rule in state.faults]})

    async def add_fault(request: web.Request) -> web.Response:
        data = _object(await _json(request), "a fault rule")
        try:
            rule = state.faults.add(parse_spec(data["spec"]) if set(data) == {"spec"} else data)
        except FaultRuleError as exc:
            raise _bad(str(exc)) from None
        return json_response({"fault": rule.as_dict()}, 201)

    async def delete_fault(request: web.Request) -> web.Response:
        rule_id = request.match_info["id"]
        if not state.faults.remove(rule_id):
            raise _bad(f"no fault rule `{rule_id}`", 404)
        return json_response({"deleted": rule_id})

    async def clear_faults(request: web.Request) -> web.Response:
        count = len(state.faults)
        state.faults.clear()
        return json_response({"deleted": count})

    async def list_requests(request: web.Request) -> web.Response:
        filters: dict[str, Any] = {}
        for name in ("method", "route", "space", "collection", "identifier", "fault", "auth"):
            if name in request.query:
                filters[name] = request.query[name]
        for name in ("status",):
            if name in request.query:
                value = request.query[name]
                if not value.isdigit():
                    raise _bad(f"`status` must be an HTTP status such as 200, got `{value}`")
                filters[name] = int(value)
        unknown = set(request.query) - set(filters) - {"limit"}
        if unknown:
            raise _bad(
                f"unknown filter `{sorted(unknown)[0]}`; filters are auth, collection, fault,"
                " identifier, limit, method, route, space, status"
            )
        entries = state.journal.select(**filters)
        limit_text = request.query.get("limit")
        if limit_text is not None:
            if not limit_text.isdigit() or int(limit_text) < 1:
                raise _bad(f"`limit` must be a whole number from 1, got `{limit_text}`")
            entries = entries[-int(limit_text) :]
        return json_response({"requests": [e.as_dict() for e in entries], "total": len(entries)})

    async def clear_requests(request: web.Request) -> web.Response:
        count = len(state.journal)
        state.journal.clear()
        return json_response({"deleted": count})

    async def spaces(request: web.Request) -> web.Response:
        return json_response({"spaces": [_space_body(s) for s in state.store.spaces.values()]})

    def _space_body(space: LiveSpace) -> dict[str, Any]:
        return {
            "id": space.id,
            "users": space.count("users"),
            "accounts": space.count("accounts"),
            "rate_limit": _limit_body(state.limiter.limit_of(space.id)),
        }

    async def patch_space(request: web.Request) -> web.Response:
        space = space_of(request)
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
        return json_response(_space_body(space))

    async def upsert(request: web.Request) -> web.Response:
        space, collection = space_of(request), collection_of(request)
        data = await _json(request)
        profile, created = changing(
            lambda: upsert_profile(space, collection, data, state.clock.now_ns())
        )
        return json_response(
            {"segment_id": profile.segment_id, "created": created}, 201 if created else 200
        )

    async def delete(request: web.Request) -> web.Response:
        space, collection = space_of(request), collection_of(request)
        identifier = request.match_info["identifier"]
        profile = changing(lambda: delete_profile(space, collection, identifier))
        return json_response({"deleted": profile.segment_id})

    async def add_events(request: web.Request) -> web.Response:
        space, collection = space_of(request), collection_of(request)
        data = await _json(request)
        events = data.get("events") if isinstance(data, dict) else data
        identifier = request.match_info["identifier"]
        added = changing(
            lambda: append_events(space, collection, identifier, events, state.clock.now_ns())
        )
        return json_response({"appended": [e.message_id for e in added]}, 201)

    async def clock(request: web.Request) -> web.Response:
        return json_response(_clock_body(state))

    async def freeze(request: web.Request) -> web.Response:
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
        data = _object(await _json(request), "the clock change")
        by = data.get("by")
        try:
            state.clock.advance(parse_duration(str(by)))
        except TimestampError:
            raise _bad(f"`by` must be a duration such as 1s, 250ms or 2d, got `{by}`") from None
        return json_response(_clock_body(state))

    async def resume(request: web.Request) -> web.Response:
        state.clock.unfreeze()
        return json_response(_clock_body(state))

    app = web.Application(middlewares=[pipeline, guard])
    app.add_routes(
        [
            web.get("/health", health),
            web.post("/reset", reset),
            web.get("/realism", get_realism),
            web.patch("/realism", patch_realism),
            web.get("/faults", list_faults),
            web.post("/faults", add_fault),
            web.delete("/faults", clear_faults),
            web.delete("/faults/{id}", delete_fault),
            web.get("/requests", list_requests),
            web.delete("/requests", clear_requests),
            web.get("/spaces", spaces),
            web.patch("/spaces/{space}", patch_space),
            web.put("/spaces/{space}/collections/{collection}/profiles", upsert),
            web.delete("/spaces/{space}/collections/{collection}/profiles/{identifier}", delete),
            web.post(
                "/spaces/{space}/collections/{collection}/profiles/{identifier}/events",
                add_events,
            ),
            web.get("/clock", clock),
            web.post("/clock/freeze", freeze),
            web.post("/clock/advance", advance),
            web.post("/clock/resume", resume),
        ]
    )
    return app

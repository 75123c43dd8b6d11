"""The admin API under ``/__admin/``: health, reset, faults, journal, profiles, events,
clock and spaces. JSON in and out; errors in the Profile API's own envelope.

Every route is one row of ``ROUTES``: the server mounts them from it and the OpenAPI
document describes them from it. Handlers read the server's state from the application
(``request.config_dict[STATE]``), as aiohttp intends.
"""

from __future__ import annotations

import hmac
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from profilemock.api import COLLECTIONS, ENDPOINTS, Collection, collection_named
from profilemock.faults import SPEC_PATTERN, FaultRuleError, parse_spec, spec_given
from profilemock.jsontext import JsonInputError, read_json_repeats
from profilemock.mockserver import expect
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.explorer import explorer_page
from profilemock.mockserver.journal import AUTH_KINDS, NUMBER_FILTERS, TEXT_FILTERS
from profilemock.mockserver.mutations import (
    ChangeError,
    append_events,
    delete_profile,
    told,
    upsert_profile,
)
from profilemock.mockserver.reload import RELOADER
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE, ServerState
from profilemock.problems import FieldError, Problem, json_pointer
from profilemock.realism import RealismError
from profilemock.schemas.explain import explain
from profilemock.schemas.registry import BASE_URI, ecma_validator, input_validator, registry
from profilemock.store.overlay import LiveSpace
from profilemock.store.space import Limit
from profilemock.timeutil import TimestampError, format_ns, parse_duration, parse_timestamp
from profilemock.words import named, not_one_of, show, unreadable_body

if TYPE_CHECKING:  # compiled on the first admin request that carries input
    from jsonschema import Draft202012Validator

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
        422: "invalid_request_error",
    }
    return ApiError(status, codes.get(status, "invalid_request_error"), message)


async def _json(request: web.Request, default: Any = None) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise expect.too_large(request) from None
    except web.RequestPayloadError as exc:  # a Content-Encoding that does not decode...
        raise _bad(unreadable_body(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the request body is not UTF-8 (byte {exc.start + 1})") from None
    if not text.strip():
        if default is None:
            raise _bad("the request needs a JSON body")
        return default
    try:
        data, repeats = read_json_repeats(text)
    except JsonInputError as exc:
        raise _bad(exc.about("the request body")) from None
    if repeats:  # the last value would count, the first dropped without a word
        key, times = repeats[0].key, repeats[0].times
        raise _bad(
            f"the request body cannot be used: the key {named(key)} is given {times} times in"
            f" one object (at {json_pointer((*repeats[0].path, key))}); each key may appear once"
        )
    return data


_BODY = web.RequestKey("profilemock_admin_body", object)


def _body(request: web.Request) -> Any:
    """The request's JSON body, read and held to the route's declared schema by
    ``check_input`` before the handler runs."""
    return request[_BODY]


def _refused(message: str) -> ApiError:
    """A 422: input the route's schema accepts, refused for what no schema can say (the
    route's ``refusals`` list what)."""
    return _bad(message, 422)


def _about(pointer: str) -> str:
    """What a message about the body's part at JSON ``pointer`` starts with: one form for
    the schema's refusals and the handlers' own."""
    return f"body field {named(pointer)}" if pointer else "the body"


def _field_refused(exc: FieldError) -> ApiError:
    """A 422 for a body the shared reader of a fault rule or realism switches refused at a
    field, named as the schema's refusals name it (its words name it as a fixture file's)."""
    if not exc.path:
        return _refused(str(exc))
    return _refused(f"{_about(json_pointer(exc.path))}: {exc.reason}")


def _state(request: web.Request) -> ServerState:
    return request.config_dict[STATE]


def _clock_body(state: ServerState) -> dict[str, Any]:
    clock = state.clock
    now = clock.now_ns()
    return {"now": format_ns(now), "now_ns": now, "frozen": clock.frozen, "pinned": clock.pinned}


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
        raise _bad(not_one_of("collection", name, COLLECTIONS), 404)
    return collection


def _changing(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ChangeError as exc:
        # The schema passed: what is left to refuse is what it cannot say (422).
        raise _bad(str(exc), 422 if exc.status == 400 else exc.status) from None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``--admin-token``, every admin call must carry the token."""
    refused = token_refusal(request)
    if refused is not None:
        raise refused
    return await handler(request)


def token_refusal(request: web.Request) -> ApiError | None:
    """The 401 of an admin call without the ``--admin-token`` it must carry, if it is one
    (``guard``'s check; the pipeline asks it first of a body it refuses before reading)."""
    token = _state(request).settings.admin_token
    if token is None or request.path in OPEN_PATHS:
        return None
    given, carrier = _given_token(request)
    if not given:
        return ApiError(
            401,
            "authentication_error",
            f"the admin API needs the admin token (header {ADMIN_TOKEN_HEADER}, or"
            " Authorization: Bearer TOKEN)",
        )
    # Encoded with surrogateescape: a header with bytes that are not UTF-8 is a wrong
    # token, not a 500.
    if not hmac.compare_digest(given.encode(errors="surrogateescape"), token.encode()):
        # The token given is never echoed: it may be a real secret sent to the wrong place.
        return ApiError(
            401,
            "authentication_error",
            f"the token in {carrier} is not this server's admin token (the one"
            " `--admin-token` set)",
        )
    return None


def _given_token(request: web.Request) -> tuple[str, str]:
    """The admin token a request carries, and where: its own header first, then a bearer."""
    given = request.headers.get(ADMIN_TOKEN_HEADER, "").strip()
    if given:
        return given, f"header {ADMIN_TOKEN_HEADER}"
    bearer = request.headers.get("Authorization", "")
    if bearer[:7].lower() == "bearer ":
        return bearer[7:].strip(), "Authorization: Bearer"
    return "", ""


# -- handlers ----------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    state = _state(request)
    reloader = request.config_dict.get(RELOADER)
    last = None if reloader is None or reloader.last is None else reloader.last.as_dict()
    stopped = None if reloader is None else reloader.unwatched
    return json_response(
        {
            "status": "ok",
            "spaces": sorted(state.store.spaces),
            "requests": len(state.journal),
            "faults": len(state.faults),
            "clock": _clock_body(state),
            "last_reload": last,
            "watch_stopped": stopped,
        }
    )


async def reset(request: web.Request) -> web.Response:
    reloader = request.config_dict.get(RELOADER)
    if reloader is None:
        _state(request).reset()
    else:  # the data served may have been read at another clock (a reload)
        read = await reloader.reset(_state(request))
        if read is not None and not read.ok:
            raise ApiError(422, "invalid_request_error", read.line())
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
    try:
        state.set_realism(_body(request))
    except RealismError as exc:
        raise _field_refused(exc) from None
    return json_response({"realism": state.realism.as_dict()})


async def list_faults(request: web.Request) -> web.Response:
    return json_response({"faults": [rule.as_dict() for rule in _state(request).faults]})


async def add_fault(request: web.Request) -> web.Response:
    data = _body(request)
    state = _state(request)
    faults = state.faults
    written = None
    try:
        if set(data) == {"spec"}:
            written = data["spec"]
            try:
                data = parse_spec(written)
            except FaultRuleError as exc:  # of a spec the pattern takes (`traits:hang=5s`)
                raise _refused(f"{_about('/spec')}: {_not_a_spec(written, exc)}") from None
        rule_id = data.get("id")
        if rule_id is not None and any(rule.id == rule_id for rule in faults):
            raise _bad(f"a fault rule with id `{rule_id}` exists already; ids are unique", 409)
        rule = state.add_fault(data, written)
    except FaultRuleError as exc:
        if written is not None:  # the fields are the spec's rule's, not the body's
            raise _refused(str(exc)) from None
        raise _field_refused(exc) from None
    return json_response({"fault": rule.as_dict()}, 201)


async def delete_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["id"]
    if not _state(request).remove_fault(rule_id):
        raise _bad(f"no fault rule `{rule_id}`", 404)
    return json_response({"deleted": rule_id})


async def clear_faults(request: web.Request) -> web.Response:
    return json_response({"deleted": _state(request).clear_faults()})


async def list_requests(request: web.Request) -> web.Response:
    query: dict[str, Any] = request[_QUERY]
    limit = query.pop("limit", None)
    preflights = query.pop("preflights", "false") == "true"
    # `total` counts every match, as WireMock's `meta.total` does; `limit` keeps the latest.
    total, entries = _state(request).journal.latest(limit, preflights, **query)
    return json_response({"requests": [e.as_dict() for e in entries], "total": total})


async def clear_requests(request: web.Request) -> web.Response:
    state = _state(request)
    count = len(state.journal)
    state.clear_journal()
    return json_response({"deleted": count})


async def spaces(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response({"spaces": [_space_body(state, s) for s in state.store.spaces.values()]})


async def patch_space(request: web.Request) -> web.Response:
    state, space = _state(request), _space(request)
    data = _body(request)
    if "rate_limit" in data:
        try:
            limit = Limit.parse(data["rate_limit"])
        except ValueError as exc:
            raise _refused(str(exc)) from None
        state.limiter.set_limit(space.id, limit)
    return json_response(_space_body(state, space))


async def upsert(request: web.Request) -> web.Response:
    state, space, collection = _state(request), _space(request), _collection(request)
    data = _body(request)
    warned: list[Problem] = []
    profile, created = _changing(
        lambda: upsert_profile(space, collection, data, state.clock.now_ns(), warned)
    )
    return json_response(
        {"segment_id": profile.segment_id, "created": created, "warnings": told(warned)},
        201 if created else 200,
    )


async def delete(request: web.Request) -> web.Response:
    space, collection = _space(request), _collection(request)
    identifier = request.match_info["identifier"]
    profile = _changing(lambda: delete_profile(space, collection, identifier))
    return json_response({"deleted": profile.segment_id})


async def add_events(request: web.Request) -> web.Response:
    state, space, collection = _state(request), _space(request), _collection(request)
    data = _body(request)
    events = data["events"] if isinstance(data, dict) else data
    identifier = request.match_info["identifier"]
    warned: list[Problem] = []
    added = _changing(
        lambda: append_events(space, collection, identifier, events, state.clock.now_ns(), warned)
    )
    return json_response({"appended": added, "warnings": told(warned)}, 201)


async def clock(request: web.Request) -> web.Response:
    return json_response(_clock_body(_state(request)))


async def freeze(request: web.Request) -> web.Response:
    return _stand(request, _state(request).clock.freeze)


async def pin(request: web.Request) -> web.Response:
    return _stand(request, _state(request).clock.pin)


def _stand(request: web.Request, how: Callable[[int | None], None]) -> web.Response:
    """The clock frozen or pinned (``how``) at the body's ``at``, or where it stands."""
    state = _state(request)
    at = _body(request).get("at")
    try:
        how(None if at is None else parse_timestamp(at, state.clock.now_ns()))
    except TimestampError as exc:
        raise _refused(f"{_about('/at')}: {exc}") from None
    return json_response(_clock_body(state))


async def advance(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        state.clock.advance(parse_duration(_body(request)["by"]))
    except TimestampError as exc:
        raise _refused(f"{_about('/by')}: {exc}") from None
    return json_response(_clock_body(state))


async def resume(request: web.Request) -> web.Response:
    state = _state(request)
    state.clock.unfreeze()
    return json_response(_clock_body(state))


# -- the route table ---------------------------------------------------------------------


@dataclass(frozen=True)
class AdminRoute:
    """One admin route: what serves it, and what the OpenAPI document says of it. Its
    ``body`` and ``query`` are what ``check_input`` holds every request to."""

    method: str
    path: str
    """Below ``/__admin``; ``{name}`` segments are path parameters."""
    handler: Handler
    summary: str
    ok: str
    """What a success answers."""
    status: int = 200
    added: str | None = None
    """What a 201 answers, when the route may add what it was asked to change (upsert)."""
    body: JSONSchema | None = None
    """The JSON request body (``$ref``s may point into ``fixture.schema.json``)."""
    body_required: bool = True
    """Whether a request must have a body (else no body reads as ``{}``)."""
    query: tuple[tuple[str, JSONSchema], ...] = ()
    """Query parameters and their schemas (each given at most once; no others)."""
    errors: tuple[tuple[int, str], ...] = ()
    """Answers besides 400/401/404: a 409 conflict with the server's state, a 422 for input
    the schema accepts but the server refuses (what no schema can say)."""
    content_type: str = "application/json"
    """What a success answers with (the explorer page is HTML)."""


_FIXTURE = "fixture.schema.json#/$defs/"
PATH_PARAMETERS: dict[str, JSONSchema] = {
    "collection": {"type": "string", "enum": list(COLLECTIONS)},
    "identifier": {"type": "string", "minLength": 1},
}
"""Path parameters with a schema narrower than any string."""
_TEXT_FILTERS: dict[str, JSONSchema] = {
    **{
        name: {"type": "string", "enum": list(values)}
        for name, values in (
            ("route", ENDPOINTS),
            ("collection", COLLECTIONS),
            ("auth", AUTH_KINDS),
        )
    },
    "method": {
        "type": "string",
        "pattern": "^[A-Z]+$",
        "description": "a method in capitals, as requests send it, such as GET",
    },
}
"""The text filters a request can only match in one form: a fixed set of values, a method
in capitals. Any other matches no request, so it is refused (as ``assert_called`` refuses
it) rather than answered with an empty list; so is an empty one (`space=` from a variable
that is not set) and a status no answer can have."""
_JOURNAL_QUERY: tuple[tuple[str, JSONSchema], ...] = (
    *((name, _TEXT_FILTERS.get(name, {"type": "string", "minLength": 1})) for name in TEXT_FILTERS),
    *(
        (name, {"type": "integer", "minimum": 100, "maximum": 599, "description": "an HTTP status"})
        for name in NUMBER_FILTERS
    ),
    ("limit", {"type": "integer", "minimum": 1, "description": "the latest this many"}),
    (
        "preflights",
        {
            "type": "string",
            "enum": ["true", "false"],
            "description": "true: the browsers' CORS preflights too (left out by default)",
        },
    ),
)
_PROFILES = "/spaces/{space}/collections/{collection}/profiles"
_EVENTS: JSONSchema = {"type": "array", "minItems": 1, "items": {"$ref": _FIXTURE + "event"}}
_FAULT_EXISTS = (409, "A rule with this `id` exists already.")

_AT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"at": {"oneOf": [{"$ref": _FIXTURE + "timestamp"}, {"type": "null"}]}},
}
"""The body of a freeze or a pin: the instant, if not where the clock stands."""
_AT_ERRORS = (
    (
        422,
        "`at` is not a day of the calendar, or is outside the years 1000 to 9999 (the clock"
        " stays where it was).",
    ),
)


ROUTES: tuple[AdminRoute, ...] = (
    AdminRoute(
        "GET",
        "/health",
        health,
        "Is the server up; spaces, journal size, faults, clock, and the last reload's result"
        " (a save --watch could not use is told here besides stderr)",
        "Health: `status` ok, `spaces`, `requests` (how many the journal holds), `faults`,"
        " `clock`, and `last_reload`, null before a reload (or if not served from files),"
        " else the last one as POST /reload answers it: `reloaded` (false: the previous"
        " data is still served), `at` (when, by the wall clock, UTC), `changed` (the files"
        " whose change caused it, none if asked for), `problems` (each"
        " `file:line:column: message`), `warnings`, and what it loaded (`spaces`, `users`,"
        " `accounts`: null if it failed); `watch_stopped`, null unless --watch stopped"
        " (the system refused a watch): why, and what to do.",
    ),
    AdminRoute(
        "POST",
        "/reset",
        reset,
        "Back to the start: loaded data, configured faults, empty journal, full buckets, the"
        " clock; 422 listing every problem (file:line:column) if data a reload read at"
        " another clock does not load at the clock as started, nothing reset",
        "Reset.",
        errors=(
            (
                422,
                "Data a reload read at another clock does not load at the clock as started:"
                " every problem, one a line (file:line:column); nothing was reset.",
            ),
        ),
    ),
    AdminRoute(
        "POST",
        "/reload",
        reload,
        "Read the fixture files again and serve them (faults, rate limits, journal and clock"
        " stay; runtime changes to the data go); 422 listing every problem (file:line:column)"
        " if they do not load, the previous data still served; 409 if not served from files",
        "What was loaded: spaces, users, accounts, seconds, `at` (when, by the wall clock,"
        " UTC), warnings (as GET /health's `last_reload` tells it after).",
        errors=(
            (409, "The server was not started from fixture files: nothing to reload."),
            (422, "The files do not load: every problem, one a line (file:line:column)."),
        ),
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
        errors=((422, "`propagation_delay` is longer than 1h."),),
    ),
    AdminRoute(
        "GET",
        "/faults",
        list_faults,
        "List fault rules with their counters",
        "The rules in order, each with its fields as given, `optional` (given or not) and"
        " its counters `matched` and `fired`.",
    ),
    AdminRoute(
        "POST",
        "/faults",
        add_fault,
        "Add a fault rule",
        "The rule, with its id.",
        status=201,
        # A body with `spec` is a spec, and only that (not oneOf: its error would be the
        # rule's, "unknown field `spec`", for a spec given beside a rule's fields).
        body={
            "if": {"type": "object", "required": ["spec"]},
            "else": {"$ref": _FIXTURE + "fault_rule"},
            "then": {
                "type": "object",
                "additionalProperties": False,
                "x-message": "`spec` cannot be combined with other fields (the spec gives"
                " them all, as in events:503:times=1:optional=true:id=flaky); send"
                ' {"spec": ...} alone, or the rule as fields without `spec`',
                "required": ["spec"],
                "properties": {
                    "spec": {
                        "type": "string",
                        "pattern": SPEC_PATTERN,
                        "description": "a --fault spec such as traits:429:times=2:"
                        " ROUTE[:FIELD]..., a field being a status from 200 to 599, a"
                        " fault (reset, empty, truncate, malformed, hang), times=N or"
                        " every=N (from 1), after=N, probability=P (above 0, at most 1),"
                        " optional=true|false, latency=DURATION (or A..B, P50~P95),"
                        " hang=DURATION,"
                        " method=GET|HEAD, space=GLOB, collection=GLOB, id=NAME, and"
                        " last identifier=GLOB",
                    }
                },
            },
        },
        errors=(
            _FAULT_EXISTS,
            (
                422,
                "The rule is refused for what the schema cannot say: a `latency` or `hang`"
                " beyond 300s, `latency.min` above `latency.max`, p50 above p95; a `space`"
                " glob that matches no space served, a `collection` glob that matches"
                " neither collection (the rule could fire only on requests the fake refuses"
                " otherwise); of a `spec`, fields that"
                " do not combine into a rule (`status` with a fault, none of status, latency"
                " and fault).",
            ),
        ),
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
        "Journal entries (the latest `limit` of them) and `total`, how many matched. An"
        " entry's `fault` is the id of the fault rule that fired on it, `fault_origin` where"
        " the rule came from (`fixtures`, `settings` for --fault, `runtime`), and"
        " `fault_answered` whether the answer was the rule's own (its status, a connection or"
        " body it broke) rather than the API's, which it only delayed or added headers to."
        " A browser's CORS preflight (`--cors`), which the fake answers itself, is no call of"
        " the app: it is listed, `preflight` true, only with `preflights=true`.",
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
            "additionalProperties": False,
            "properties": {"rate_limit": {"$ref": _FIXTURE + "rate_limit"}},
        },
    ),
    AdminRoute(
        "PUT",
        _PROFILES,
        upsert,
        "Add or replace a profile (fixture format)",
        "Replaced.",
        added="Added.",
        body={"$ref": _FIXTURE + "profile"},
        errors=(
            (409, "An id or the segment id belongs to another profile."),
            (
                422,
                "The profile is refused for what the schema cannot say: a day that is not"
                " in the calendar, a time outside the years 1000 to 9999, a UTC offset"
                " beyond 23:59, ids sharing a `map_id`, a segment id of the other"
                " collection, links to profiles that do not exist.",
            ),
        ),
    ),
    AdminRoute("DELETE", _PROFILES + "/{identifier}", delete, "Delete a profile", "Deleted."),
    AdminRoute(
        "POST",
        _PROFILES + "/{identifier}/events",
        add_events,
        "Append events to a profile (fixture format): {events: [...]}, or the list",
        "The new message ids.",
        status=201,
        body={
            "description": '`{"events": [...]}`, or the list alone, each event in the fixture'
            ' format (such as `{"event": "Product Viewed", "timestamp": "-5m"}`)',
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["events"],
                    "properties": {"events": _EVENTS},
                },
                _EVENTS,
            ],
        },
        errors=(
            (409, "A `message_id` is already an event of this profile."),
            (
                422,
                "An event is refused for what the schema cannot say: a day that is not in"
                " the calendar, a time outside the years 1000 to 9999, a UTC offset beyond"
                " 23:59, external ids that are not the profile's; or the events make more"
                " than 100,000 (`repeat` copies included) in one call.",
            ),
        ),
    ),
    AdminRoute("GET", "/clock", clock, "The server clock", "The clock."),
    AdminRoute(
        "POST",
        "/clock/freeze",
        freeze,
        "Stop the clock, its date and its time (at an instant, or where it is: no body, or"
        " `at` null)",
        "The clock.",
        body=_AT,
        body_required=False,
        errors=_AT_ERRORS,
    ),
    AdminRoute(
        "POST",
        "/clock/pin",
        pin,
        "Pin the clock's date while its time passes for the rate limit and the propagation"
        " delay, as --now does (at an instant, or where it is: no body, or `at` null)",
        "The clock.",
        body=_AT,
        body_required=False,
        errors=_AT_ERRORS,
    ),
    AdminRoute(
        "POST",
        "/clock/advance",
        advance,
        "Move the clock forward",
        "The clock.",
        body={
            "type": "object",
            "additionalProperties": False,
            "required": ["by"],
            "properties": {"by": {"$ref": _FIXTURE + "duration"}},
        },
        errors=((422, "The clock would leave the years 1000 to 9999 (it stays where it was)."),),
    ),
    AdminRoute("POST", "/clock/resume", resume, "Let the clock run again", "The clock."),
)


# -- input, held to the route's schemas --------------------------------------------------

_QUERY = web.RequestKey("profilemock_admin_query", dict[str, Any])
_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class _Input:
    """A route's declared body and query, compiled."""

    body: tuple[Draft202012Validator, Draft202012Validator] | None
    query: Draft202012Validator | None
    parameters: frozenset[str]
    """The query parameters there are."""
    integers: frozenset[str]
    """Query parameters read as integers (a query holds only text)."""
    choices: dict[str, tuple[Any, ...]]
    """Query parameters with a declared ``enum``: the values they take."""


def _validator(schema: JSONSchema) -> tuple[Draft202012Validator, Draft202012Validator]:
    """The schema's validator, and one that counts only ints as integers (``_whole``)."""
    # Under the bundled schemas' base URI, `fixture.schema.json#/$defs/…` resolves.
    rooted = {"$id": BASE_URI + "admin-input", **schema}
    strict: Draft202012Validator = input_validator()(rooted, registry=registry())
    return ecma_validator()(rooted, registry=registry()), strict


def _has_float(data: Any) -> bool:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, float):
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _whole(data: Any, strict: Draft202012Validator) -> Any:
    """``data`` (valid) with every ``3.0`` where the schema wants an integer made ``3``:
    JSON Schema counts it as an integer, and so the handlers must (``range(3.0)`` fails)."""
    if not _has_float(data):
        return data  # most bodies: a second pass of the schema (as long as the first) spared
    pending = list(strict.iter_errors(data))
    while pending:
        error = pending.pop()
        pending.extend(error.context or ())
        value = error.instance
        if (
            error.validator == "type"
            and "integer"
            in (
                error.validator_value
                if isinstance(error.validator_value, list)
                else [error.validator_value]
            )
            and isinstance(value, float)
            and value.is_integer()
        ):
            path = list(error.absolute_path)
            if not path:
                return int(value)
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = int(value)
    return data


@cache
def _inputs() -> dict[Handler, tuple[AdminRoute, _Input]]:
    """Every route's validators, built once (by handler: each route has its own)."""
    found: dict[Handler, tuple[AdminRoute, _Input]] = {}
    for route in ROUTES:
        query = dict(route.query)
        checks = _Input(
            body=None if route.body is None else _validator(route.body),
            query=None
            if not query
            else _validator({"type": "object", "properties": query, "additionalProperties": False})[
                0
            ],
            parameters=frozenset(query),
            integers=frozenset(n for n, schema in query.items() if schema["type"] == "integer"),
            choices={n: tuple(schema["enum"]) for n, schema in query.items() if "enum" in schema},
        )
        found[route.handler] = (route, checks)
    assert len(found) == len(ROUTES), "each admin route has a handler of its own"
    return found


def _first_problem(validator: Draft202012Validator, value: Any) -> tuple[str, str] | None:
    """(JSON pointer, what is wrong and allowed) of the most relevant error, if any."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    path, _, message = explain(error, "field")[0]
    return json_pointer(path), message


def _spec_problem(data: Any) -> str | None:
    """Which part of a ``spec`` the schema's pattern refused, and why, as ``parse_spec``
    says it (the pattern's own words describe the whole grammar); None if it cannot tell."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, str):
        return None
    try:
        parse_spec(spec)
    except FaultRuleError as exc:
        return _not_a_spec(spec, exc)
    return None


def _not_a_spec(spec: str, exc: FaultRuleError) -> str:
    """Why ``parse_spec`` refused a body's ``spec``, as a body field's refusal says it (its
    own words start with ``--fault``, of the command line)."""
    why = str(exc).removeprefix(f"{spec_given(spec)}: ")
    return f"{show(spec)} is not a --fault spec: {why}"


def _backwards_problem(data: Any) -> str | None:
    """Of ``clock/advance`` given a negative duration (``"-1d"``): the clock only moves
    forward, and how to set it back; None for any other refused ``by``."""
    by = data.get("by") if isinstance(data, dict) else None
    if not isinstance(by, str) or not by.startswith("-"):
        return None
    try:
        parse_duration(by[1:])
    except TimestampError:
        return None
    return (
        f"{show(by)} would move the clock back; it only moves forward. To set it back, freeze"
        f' or pin it at an earlier time: POST /__admin/clock/freeze {{"at": {show(by)}}}'
    )


_FIELD_PROBLEMS: dict[str, Callable[[Any], str | None]] = {
    "/spec": _spec_problem,
    "/by": _backwards_problem,
}
"""Body fields whose schema's words do not name the mistake a person makes with them
(the whole grammar of a --fault spec; "a duration" of ``-1d``): each field's own reading of
the refused body, None to keep the schema's words."""


def _integer(name: str, text: str) -> int:
    """Query parameter ``name``'s whole number ``text`` (``-?[0-9]+``); a 400 for one of more
    digits than ``int`` reads (it raised, and the admin API answered 500)."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    significant = digits.lstrip("0") or "0"
    most = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    # (3.10.7 and later: a Python before has no limit)
    if most and len(significant) > most:
        raise _bad(
            f"query parameter `{name}`: a whole number of {len(significant)} digits is longer"
            f" than the {most} digits a number may have"
        )
    return int(sign + significant)


def _query(request: web.Request, checks: _Input) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in request.query:
        given = request.query.getall(name)
        if len(given) > 1:
            raise _bad(f"query parameter `{name}` is given {len(given)} times; give it once")
        text = given[0]
        values[name] = (
            _integer(name, text) if name in checks.integers and _INTEGER.fullmatch(text) else text
        )
    assert checks.query is not None
    unknown = sorted(set(values) - checks.parameters)
    if unknown:
        names = ", ".join(sorted(checks.parameters))
        raise _bad(f"unknown query parameter `{unknown[0]}`; parameters are {names}")
    for name, value in values.items():
        if name in checks.choices and value not in checks.choices[name]:
            if set(checks.choices[name]) == {"true", "false"}:  # a yes or no, not a noun
                raise _bad(f"query parameter `{name}` is true or false, not {named(value)}")
            called = "auth scheme" if name == "auth" else name
            raise _bad(
                f"query parameter `{name}`: {not_one_of(called, value, checks.choices[name])}"
            )
    problem = _first_problem(checks.query, values)
    if problem is not None:
        pointer, message = problem
        raise _bad(f"query parameter `{pointer.lstrip('/')}`: {message}")
    return values


@web.middleware
async def check_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold a request's body and query to its route's declared schemas before the handler
    runs: a 400 naming the parameter (JSON pointer, query name) and what is allowed."""
    declared = _inputs().get(request.match_info.route.handler)
    if declared is not None:
        route, checks = declared
        if checks.query is not None:
            request[_QUERY] = _query(request, checks)
        elif request.query and route.content_type == "application/json":
            # `DELETE /requests?route=traits` emptied the whole journal; a page may carry any.
            name = next(iter(request.query))
            raise _bad(
                f"{route.method} /__admin{route.path} takes no query parameters; got `{name}`"
            )
        if checks.body is not None:
            data = await _json(request, default=None if route.body_required else {})
            validator, strict = checks.body
            problem = _first_problem(validator, data)
            if problem is not None:
                pointer, message = problem
                if pointer in _FIELD_PROBLEMS:
                    message = _FIELD_PROBLEMS[pointer](data) or message
                raise _bad(f"{_about(pointer)}: {message}")
            request[_BODY] = _whole(data, strict)
    return await handler(request)


def admin_app(pipeline: Middleware) -> web.Application:
    """The ``/__admin`` sub-application of a server, inside the server's ``pipeline``; it
    reads the parent application's ``STATE``."""
    app = web.Application(middlewares=[pipeline, guard, check_input])
    for route in ROUTES:
        app.router.add_route(
            route.method, route.path, route.handler, expect_handler=expect.admin_in_pipeline
        )
    # Last, so every route above is tried first: a path none of them has comes here rather
    # than to aiohttp's own 404 and 405, which answer an `Expect` before the pipeline can.
    for anything in ("", "/{path:.*}"):  # `/__admin` itself, and any path under it
        app.router.add_route("*", anything, _no_route, expect_handler=expect.admin_in_pipeline)
    return app


async def _no_route(request: web.Request) -> web.StreamResponse:
    """A path or method the admin API does not have: aiohttp's 404 or 405 (naming the
    methods the path has), which the pipeline says in the envelope."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if all(route.handler is not _no_route for route in resource):
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()

"""The test-facing API: servers started once per process, and a handle per test.

The pytest plugin is a thin layer over this module; it can be used from any test runner.
Every change a handle makes runs on the server's own event loop (``ServerThread.call``),
so a test never races with a request being answered, and the test's own event loop, if
it has one, is never touched.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from profilemock.api import Collection
from profilemock.clock import Clock
from profilemock.faults import FaultRuleError, parse_spec
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.journal import JournalEntry
from profilemock.mockserver.lookup import resolve
from profilemock.mockserver.mutations import (
    ChangeError,
    append_events,
    delete_profile,
    upsert_profile,
)
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings, ServerState
from profilemock.realism import RealismError
from profilemock.store.space import Limit
from profilemock.timeutil import NS_PER_SECOND, parse_duration, parse_timestamp

_UNSET: Any = object()
"""Default of ``configure(rate_limit=...)``: leave the limit as loaded."""
FixturePaths = tuple[str, ...]


class ServerPool:
    """One running fake per set of fixture files, started on first use, stopped at the end."""

    def __init__(self, default_fixtures: Sequence[str | Path] = ()) -> None:
        self.default: FixturePaths = tuple(str(p) for p in default_fixtures) or (
            str(demo_fixture_path()),
        )
        self._servers: dict[FixturePaths, ServerThread] = {}

    def get(self, fixtures: Sequence[str | Path] | None = None) -> ServerThread:
        key = self.default if fixtures is None else tuple(str(p) for p in fixtures)
        server = self._servers.get(key)
        if server is None:
            clock = Clock()
            store = load_fixtures(key, clock)
            # The contract check is on: a body outside the schemas fails the test.
            app = create_app(store, clock, ServerSettings(check_contract=True))
            server = self._servers[key] = ServerThread(app).start()
        return server

    def close(self) -> None:
        """Stop every server, newest first; safe to call twice."""
        for server in reversed(list(self._servers.values())):
            server.stop()
        self._servers.clear()


class ProfileAPIError(AssertionError):
    """Something the fake recorded while answering: a bug in the fake, or a drift."""


class ClockHandle:
    """The fake's clock, as a test drives it."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server

    def now(self) -> dt.datetime:
        ns = self._server.call(lambda s: s.clock.now_ns())
        return dt.datetime.fromtimestamp(ns / NS_PER_SECOND, tz=dt.timezone.utc)

    def freeze(self, at: str | dt.datetime | None = None) -> None:
        """Stop the clock, at ``at`` (ISO 8601, relative like ``-1d``, or a datetime)."""

        def freeze(state: ServerState) -> None:
            state.clock.freeze(None if at is None else _instant(at, state.clock.now_ns()))

        self._server.call(freeze)

    def advance(self, by: str | float | dt.timedelta) -> None:
        """Move the clock forward: ``"1s"``, ``"2d"``, seconds as a number, or a timedelta."""
        ns = _duration(by)
        self._server.call(lambda s: s.clock.advance(ns))

    def resume(self) -> None:
        self._server.call(lambda s: s.clock.unfreeze())


def _instant(at: str | dt.datetime, now: int) -> int:
    if isinstance(at, dt.datetime):
        aware = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
        return int(aware.timestamp()) * NS_PER_SECOND + aware.microsecond * 1000
    return parse_timestamp(at, now)


def _duration(by: str | float | dt.timedelta) -> int:
    if isinstance(by, dt.timedelta):
        return round(by.total_seconds() * NS_PER_SECOND)
    if isinstance(by, (int, float)):
        return round(by * NS_PER_SECOND)
    return parse_duration(by)


class ProfileAPI:
    """One test's view of a running fake: where it is, how to change it, what it saw."""

    def __init__(self, server: ServerThread, space_id: str | None = None) -> None:
        self._server = server
        spaces = server.state.store.spaces
        self.space_id: str = space_id or next(iter(spaces))
        self.token: str = spaces[self.space_id].tokens[0]
        self.url: str = server.url
        self.clock = ClockHandle(server)

    # -- where it is ------------------------------------------------------------------------

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials for requests (``auth=``) and httpx (``auth=``)."""
        return (self.token, "")

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header, for clients configured with headers (aiohttp, urllib)."""
        raw = base64.b64encode(f"{self.token}:".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    def profile_url(self, identifier: str, resource: str, collection: str = "users") -> str:
        """The URL of a profile route; ``+`` and other specials in the id are encoded."""
        return (
            f"{self.url}/v1/spaces/{self.space_id}/collections/{collection}/profiles/"
            f"{quote(identifier, safe=':@')}/{resource}"
        )

    # -- data -------------------------------------------------------------------------------

    def _change(self, action: Any) -> Any:
        def run(state: ServerState) -> Any:
            return action(state, state.store.spaces[self.space_id])

        try:
            return self._server.call(run)
        except ChangeError as exc:
            raise ValueError(str(exc)) from None

    def _add(self, collection: Collection, ids: Mapping[str, Any] | None, **fields: Any) -> str:
        profile = {k: v for k, v in fields.items() if v is not None}
        if ids is not None:
            profile["ids"] = dict(ids)
        return str(
            self._change(
                lambda state, space: (
                    upsert_profile(space, collection, profile, state.clock.now_ns())[0].segment_id
                )
            )
        )

    def add_user(
        self,
        external_ids: Mapping[str, Any] | None = None,
        *,
        traits: Mapping[str, Any] | None = None,
        computed_traits: Mapping[str, Any] | None = None,
        audiences: Mapping[str, bool] | None = None,
        events: Sequence[Mapping[str, Any]] | None = None,
        links: Sequence[str] | None = None,
        **fields: Any,
    ) -> str:
        """Add (or replace) a user written as in a fixture file; returns its segment id."""
        return self._add(
            "users", external_ids, traits=traits, computed_traits=computed_traits,
            audiences=audiences, events=events, links=links, **fields,
        )  # fmt: skip

    def add_account(
        self,
        external_ids: Mapping[str, Any] | None = None,
        *,
        traits: Mapping[str, Any] | None = None,
        computed_traits: Mapping[str, Any] | None = None,
        audiences: Mapping[str, bool] | None = None,
        links: Sequence[str] | None = None,
        **fields: Any,
    ) -> str:
        """Add (or replace) an account; returns its segment id."""
        return self._add(
            "accounts", external_ids, traits=traits, computed_traits=computed_traits,
            audiences=audiences, links=links, **fields,
        )  # fmt: skip

    def link(self, user: str, account: str) -> None:
        """Link a user (``type:value`` or segment id) to an account."""

        def run(state: ServerState, space: Any) -> None:
            found_user = resolve(space, "users", user)
            found_account = resolve(space, "accounts", account)
            if found_user is None or found_account is None:
                missing = user if found_user is None else account
                raise ChangeError(404, f"no profile `{missing}` to link")
            current = space.links_of("users", found_user.segment_id)
            space.set_links("users", found_user.segment_id, (*current, found_account.segment_id))

        self._change(run)

    def add_events(
        self, identifier: str, events: Sequence[Mapping[str, Any]], collection: Collection = "users"
    ) -> list[str]:
        """Append events (fixture format) to a profile; returns their message ids."""
        added = self._change(
            lambda state, space: append_events(
                space, collection, identifier, list(events), state.clock.now_ns()
            )
        )
        return [e.message_id for e in added]

    def remove_profile(self, identifier: str, collection: Collection = "users") -> None:
        self._change(lambda state, space: delete_profile(space, collection, identifier))

    # -- behaviour --------------------------------------------------------------------------

    def fault(self, spec: str | None = None, /, **rule: Any) -> str:
        """Add a fault rule — a ``--fault`` spec or the rule's fields — and return its id."""
        data = parse_spec(spec) if spec is not None else rule
        try:
            added = self._server.call(lambda state: state.faults.add(data))
        except FaultRuleError as exc:
            raise ValueError(str(exc)) from None
        return added.id

    def realism(self, **switches: Any) -> dict[str, Any]:
        """Turn realism switches on or off for this test (``short_pages=True``,
        ``gateway_errors="html"``, ``null_lists=True``, ``propagation_delay="5s"``,
        ``unescaped_500=True``); returns every switch. The next test starts from the
        fixtures' own."""
        try:
            realism = self._server.call(lambda state: state.set_realism(switches))
        except RealismError as exc:
            raise ValueError(str(exc)) from None
        return realism.as_dict()

    def rate_limit(self, per_second: float | None, burst: int | None = None) -> None:
        """Limit this space to ``per_second`` (None: unlimited), bursts of ``burst``."""
        limit = None if per_second is None else Limit.per_second(per_second, burst)
        self._server.call(lambda state: state.limiter.set_limit(self.space_id, limit))

    # -- what it saw ------------------------------------------------------------------------

    @property
    def requests(self) -> list[JournalEntry]:
        """Every request this test made, oldest first."""
        return self._server.call(lambda state: list(state.journal))

    def assert_called(
        self,
        route: str | None = None,
        *,
        identifier: str | None = None,
        times: int | None = None,
        status: int | None = None,
        method: str | None = None,
        collection: str | None = None,
    ) -> list[JournalEntry]:
        """Assert this space got matching requests (``times`` exactly, else at least one).

        The failure lists near misses: the same route with an identifier differing in case
        or with a raw ``+``, another space, Bearer instead of Basic auth.
        """
        wanted = {
            "route": route,
            "identifier": identifier,
            "status": status,
            "method": method,
            "collection": collection,
            "space": self.space_id,
        }
        seen = self.requests
        matching = [e for e in seen if _matches(e, wanted) and e.auth == "basic"]
        if (times is None and matching) or (times is not None and len(matching) == times):
            return matching
        described = ", ".join(f"{k}={v}" for k, v in wanted.items() if v is not None)
        expected = f"{times} call{'s' if times != 1 else ''}" if times is not None else "a call"
        lines = [f"expected {expected} with {described}; got {len(matching)}"]
        misses = [(e, why) for e in seen if (why := _near_miss(e, wanted)) is not None]
        if misses:
            lines.append("near misses:")
            lines += [f"  {_describe(e)}  <- {why}" for e, why in misses]
        lines.append(f"all {len(seen)} requests:" if seen else "no requests reached the fake")
        lines += [f"  {_describe(e)}" for e in seen[-20:]]
        raise AssertionError("\n".join(lines))

    # -- lifecycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the loaded fixtures: data, faults, journal, rate limits, clock."""

        def run(state: ServerState) -> None:
            state.reset()
            state.errors.clear()

        self._server.call(run)

    def configure(
        self,
        *,
        now: str | dt.datetime | None = None,
        rate_limit: float | Any | None = _UNSET,
        faults: Iterable[str | Mapping[str, Any]] = (),
        realism: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply a test's configuration (what ``@pytest.mark.profile_api`` takes)."""
        if realism:
            self.realism(**realism)
        if now is not None:
            self.clock.freeze(now)
        if rate_limit is not _UNSET:
            self.rate_limit(rate_limit)
        for rule in faults:
            if isinstance(rule, str):
                self.fault(rule)
            else:
                self.fault(**rule)

    def check(self) -> None:
        """Raise what went wrong inside the server during this test, if anything."""
        # Copying a list is atomic under the GIL: no round trip to the server's loop needed.
        errors = list(self._server.state.errors)
        if errors:
            first = errors[0]
            raise ProfileAPIError(
                f"the fake failed {len(errors)} time(s) while answering; first: {first}"
            ) from first


def _matches(entry: JournalEntry, wanted: Mapping[str, Any]) -> bool:
    return all(v is None or getattr(entry, k) == v for k, v in wanted.items())


def _near_miss(entry: JournalEntry, wanted: Mapping[str, Any]) -> str | None:
    """Why ``entry`` almost matches, or None when it is not close."""
    if wanted["route"] is not None and entry.route != wanted["route"]:
        return None
    if _matches(entry, wanted) and entry.auth != "basic":
        return f"{entry.auth} auth instead of Basic (the token goes as the Basic username)"
    expected = wanted["identifier"]
    if entry.space != wanted["space"] and _matches(entry, {**wanted, "space": entry.space}):
        return f"space `{entry.space}` instead of `{wanted['space']}`"
    if expected is None or entry.identifier is None or entry.identifier == expected:
        return None
    if entry.identifier.lower() == expected.lower():
        return "identifier differs only in case (lookups are case-sensitive)"
    if "+" in (entry.raw_identifier or "") and entry.identifier == expected.replace("+", " "):
        return "a raw `+` in the path reads as a space; encode it as %2B"
    return f"identifier `{entry.identifier}` instead of `{expected}`"


def _describe(entry: JournalEntry) -> str:
    query = "&".join(f"{k}={v}" for k, v in entry.query)
    target = f"{entry.path}?{query}" if query else entry.path
    status = entry.status if entry.status is not None else "no answer"
    fault = f" [fault {entry.fault}]" if entry.fault else ""
    return f"{entry.method} {target} -> {status} ({entry.auth}){fault}"

"""The test-facing API: servers started once per process, and a handle per test.

The pytest plugin is a thin layer over this module; it can be used from any test runner.
Every change a handle makes runs on the server's own event loop (``ServerThread.call``),
so a test never races with a request being answered, and the test's own event loop, if
it has one, is never touched.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

from profilemock.api import (
    COLLECTIONS,
    ENDPOINTS,
    HTTP_STATUSES,
    NAME_LISTS,
    OTHER,
    RESOURCES,
    Collection,
    basic_authorization,
    is_http_status,
    names_in,
)
from profilemock.clock import Clock
from profilemock.faults import ORIGIN_WORDS, FaultRuleError, parse_spec, spec_given
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.fixtures.snapshot import Snapshots
from profilemock.mockserver.app import create_app
from profilemock.mockserver.journal import JournalEntry, Outcome, counts_as_error
from profilemock.mockserver.lookup import bare_value_hint, in_the_other_collection, resolve
from profilemock.mockserver.mutations import (
    ChangeError,
    append_events,
    delete_profile,
    told,
    upsert_profile,
)
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings, ServerState
from profilemock.problems import FixtureError, Problem
from profilemock.realism import RealismError
from profilemock.store.model import Profile
from profilemock.store.overlay import LiveSpace
from profilemock.store.space import Limit
from profilemock.timeutil import (
    NS_PER_SECOND,
    TimestampError,
    check_instant,
    parse_duration,
    parse_timestamp,
)
from profilemock.words import closest, counted, did_you_mean, named, not_one_of, show

_UNSET: Any = object()
"""Default of ``configure(rate_limit=...)``: leave the limit as loaded."""
FixturePaths = tuple[str, ...]
Instant = str | dt.datetime
ServerKey = tuple[FixturePaths, "str | int | None"]


class PortTakenError(Exception):
    """The fixed port the default fake was to listen on cannot be had."""

    def __init__(self, port: int, error: OSError, whose: str = "") -> None:
        """``whose``: the port's owner to be, as ``xdist worker gw1's port``."""
        owner = f" ({whose})" if whose else ""
        super().__init__(
            f"cannot listen on 127.0.0.1:{port}{owner}: {error.strerror or error}; another"
            " process (another pytest run, a `profilemock serve`) may hold it"
        )


class ServerPool:
    """One running fake per set of fixture files (and ``now``), started on first use,
    stopped at the end.

    ``now`` pins the clock's date before the fixtures load, so their relative times (``-1h``)
    are read against it, exactly as ``profilemock serve --now`` does: each distinct ``now``
    is its own fake, loaded once. ``port`` is where the default fake (no ``now``) listens;
    every other fake takes a free port.
    """

    def __init__(
        self,
        default_fixtures: Sequence[str | Path] = (),
        *,
        port: int | None = None,
        snapshots: Snapshots | None = None,
    ) -> None:
        check_list("fixtures", default_fixtures, "fixture paths")
        self.default: FixturePaths = tuple(str(p) for p in default_fixtures) or (
            str(demo_fixture_path()),
        )
        self.port = port
        self.snapshots = snapshots
        """Where large fixture sets' snapshots are kept (None: always read and check)."""
        self._servers: dict[ServerKey, ServerThread] = {}
        self._broken: dict[ServerKey, FixtureError] = {}
        """Fixtures that could not load: read once, their problems raised to every test."""

    def get(
        self, fixtures: Sequence[str | Path] | None = None, now: Instant | None = None
    ) -> ServerThread:
        """The fake serving ``fixtures`` (default: the pool's) with its clock at ``now``."""
        if fixtures is not None:
            check_list("fixtures", fixtures, "fixture paths")
            if not fixtures:  # a fake of no space: no handle can be made on it
                raise ValueError(
                    "fixtures is empty: the fake would serve no space; give at least one"
                    " fixture path, or leave fixtures out for the default ones"
                )
        paths = self.default if fixtures is None else tuple(str(p) for p in fixtures)
        key: ServerKey = (paths, _now_key(now))
        server = self._servers.get(key)
        if server is None:
            if (broken := self._broken.get(key)) is not None:
                raise broken.with_traceback(None)
            clock = Clock.pinned_at(None if now is None else _instant(now, time.time_ns(), "now"))
            try:
                store = load_fixtures(paths, clock, snapshots=self.snapshots)
            except FixtureError as exc:
                self._broken[key] = exc
                raise
            for warned in store.warnings:  # as `check` and `serve` tell them, once a fake
                # An answer the real API gives otherwise (an id type in capitals, an email
                # with capitals): a test passing here may not pass there.
                warnings.warn(f"profilemock fixtures: {warned}", UserWarning, stacklevel=2)
            # The contract check is on: a body outside the schemas fails the test.
            app = create_app(store, clock, ServerSettings(check_contract=True))
            port = self.port if self.port is not None and key == (self.default, None) else 0
            try:
                server = ServerThread(app, port=port).start()
            except OSError as exc:
                if not port:
                    raise
                raise PortTakenError(port, exc) from None
            self._servers[key] = server
        return server

    def running(self) -> ServerThread | None:
        """The default fake (the pool's fixtures, no ``now``) if it has started."""
        return self._servers.get((self.default, None))

    def close(self) -> None:
        """Stop every server, newest first; safe to call twice."""
        for server in reversed(list(self._servers.values())):
            server.stop()
        self._servers.clear()


def _now_key(now: Instant | None) -> str | int | None:
    """What tells fakes with different ``now`` apart: the text as given (a relative ``-1d``
    is read once, when its fake starts), or the instant of a datetime."""
    if now is None or isinstance(now, str):
        return now
    if isinstance(now, dt.datetime):
        return _instant(now, 0, "now")
    raise TypeError(
        f"now is an ISO 8601 time, a relative time like '-1d', or a datetime; got {now!r}"
    )


def check_list(
    name: str, value: Any, what: str, items: tuple[type, ...] = (object,), like: str = ""
) -> None:
    """One sentence for a string where a list belongs (it would be read letter by letter),
    or for an item of the list that is not of ``items`` (``like``: an example to say)."""
    __tracebackhide__ = True
    if isinstance(value, (str, bytes, Path)):
        kind = (
            "string" if isinstance(value, str) else "path" if isinstance(value, Path) else "bytes"
        )
        raise TypeError(
            f"{name} takes a list of {what}, got the {kind} {str(value)!r};"
            f" write {name}=[{str(value)!r}]"
        )
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"{name} takes a list of {what}, got {type(value).__name__} {value!r}")
    for item in value if isinstance(value, Sequence) else ():
        if not isinstance(item, items):
            raise TypeError(f"{name} takes a list of {what}{like}; got {item!r} in it")


FAULTS_MUST_FIRE_OPT_OUT = (
    "If a rule is there on purpose (a guard for a call the code may not make), arm it with"
    " optional=True (profile_api.fault('traits:429', optional=True), 'traits:429:optional=true'"
    " as a spec, or in the marker {'route': 'traits', 'status': 429, 'optional': True}); or"
    " let this test's rules go"
    " unfired with @pytest.mark.profile_api(faults_must_fire=False), or every test's with"
    " `profile_api_faults_must_fire = false` in the ini file."
)


class ProfileAPIError(AssertionError):
    """Something the fake recorded while answering: a bug in the fake, or a drift."""


class ExampleNotResetError(RuntimeError):
    """A Hypothesis example used the fake as an earlier example of its test left it."""


EXAMPLE_NOT_RESET = (
    "profile_api: this Hypothesis example uses the fake after an earlier example of the test"
    " did, with no profile_api.reset() between them, so it meets what the earlier examples"
    " left: their profiles (two drawn profiles' ids collide: 'these ids belong to 2 different"
    " profiles'), fault rules, realism, rate limit, clock and requests (a count of calls takes"
    " theirs in). It would fail or pass by what came before it, and the example Hypothesis"
    " reports would pass alone. Call profile_api.reset() first in the test: each example then"
    " starts from the fixtures and the marker."
)
_USED_IN: weakref.WeakKeyDictionary[ServerThread, tuple[weakref.ref[Any], int]] = (
    weakref.WeakKeyDictionary()
)
"""For each fake, the Hypothesis example that used it through a handle (a ``BuildContext``,
held weakly), and how many resets the fake had had then (``ServerState.resets``)."""


class SetUpLostError(RuntimeError):
    """A Hypothesis example's reset would take away what was set up before its examples."""


SET_UP_LOST = (
    "profile_api: this Hypothesis example's profile_api.reset() would take away what was set"
    " up on the fake before the examples began ({}, by a pytest fixture or the test's own"
    " set-up): no example would ever meet it, and the test would pass or fail without it."
    " Each example starts from the fixture files and the marker: make the change in the"
    " example, after reset() (or put it in the marker, or a fixture file)."
)
_SET_UP: weakref.WeakKeyDictionary[ServerThread, str] = weakref.WeakKeyDictionary()
"""For each fake, the first change a handle made outside a Hypothesis example since the
test began (its marker aside) or since a reset outside one: what a pytest fixture set up."""


def _one_example(server: ServerThread, change: str = "") -> None:
    """Refuse the use of ``server`` in a Hypothesis example when another example used it
    since its last reset (``EXAMPLE_NOT_RESET``), made through a handle or not (``POST
    /__admin/reset`` from the test's own harness). Outside an example, remember ``change``
    (what a handle's method changes, by its name) for ``_set_up_kept``. Outside
    Hypothesis: one lookup in ``sys.modules``, or one more call when Hypothesis is
    imported."""
    __tracebackhide__ = True
    control = sys.modules.get("hypothesis.control")
    if control is None:
        return
    if not control.currently_in_test_context():
        if change:
            _SET_UP.setdefault(server, change)
        return
    example = control.current_build_context()
    # Read off the server's loop: a reset through the admin API was made before its answer
    # came back, and an int is read whole.
    resets = server.state.resets
    used = _USED_IN.get(server)
    if used is None or used[1] != resets:
        _USED_IN[server] = (weakref.ref(example), resets)
    elif used[0]() is not example:
        raise ExampleNotResetError(EXAMPLE_NOT_RESET)


def _set_up_kept(server: ServerThread, resetting: bool) -> None:
    """Before a reset in a Hypothesis example (``resetting``), refuse it when it would take
    away what was set up before the examples (``SET_UP_LOST``); after one outside an
    example, or a test's start, forget what was set up before it."""
    __tracebackhide__ = True
    control = sys.modules.get("hypothesis.control")
    if control is None:
        return
    if not control.currently_in_test_context():
        if not resetting:
            _SET_UP.pop(server, None)
    elif resetting and (what := _SET_UP.get(server)) is not None:
        raise SetUpLostError(SET_UP_LOST.format(what))


class ClockHandle:
    """The fake's clock, as a test drives it."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server

    def now(self) -> dt.datetime:
        ns = self._server.call(lambda s: s.clock.now_ns())
        # Exact, to the microsecond below: a float of seconds rounds 9999-12-31T23:59:59.9999999
        # up into year 10000, which no datetime holds.
        return _EPOCH + dt.timedelta(microseconds=ns // 1000)

    def freeze(self, at: str | dt.datetime | None = None) -> None:
        """Stop the clock, its date and its time (the rate limiter's, the propagation
        delay's), at ``at`` (ISO 8601, relative like ``-1d``, or a datetime)."""
        __tracebackhide__ = True
        self._stand("freeze", at)

    def pin(self, at: str | dt.datetime | None = None) -> None:
        """Pin the clock's date at ``at`` (as ``freeze`` takes it) while its time passes,
        as the marker's ``now=`` does: the rate limiter refills in real time."""
        __tracebackhide__ = True
        self._stand("pin", at)

    def _stand(self, how: str, at: str | dt.datetime | None) -> None:
        __tracebackhide__ = True
        if at is not None and not isinstance(at, (str, dt.datetime)):
            raise TypeError(
                f"clock.{how} takes an ISO 8601 time such as '2026-01-01T00:00:00Z', a time"
                f" relative to the clock such as '-1d', or a datetime; got {at!r}"
            )

        def stand(state: ServerState) -> None:
            instant = None if at is None else _instant(at, state.clock.now_ns(), f"clock.{how}")
            getattr(state.clock, how)(instant)  # Clock.freeze or Clock.pin

        _one_example(self._server, f"clock.{how}")
        self._server.call(stand)

    def advance(self, by: str | float | dt.timedelta) -> None:
        """Move the clock forward: ``"1s"``, ``"2d"``, seconds as a number, or a timedelta."""
        __tracebackhide__ = True
        ns = _duration(by)
        if ns < 0:
            raise ValueError(
                f"clock.advance moves the clock forward; got {by!r}. To move it back, freeze it"
                " at an earlier time: clock.freeze('-1h')"
            )
        _one_example(self._server, "clock.advance")
        try:
            self._server.call(lambda s: s.clock.advance(ns))
        except TimestampError as exc:
            raise TimestampError(f"clock.advance({by!r}): {exc}") from None

    def resume(self) -> None:
        __tracebackhide__ = True
        _one_example(self._server, "clock.resume")
        self._server.call(lambda s: s.clock.unfreeze())


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def _instant(at: str | dt.datetime, now: int, name: str) -> int:
    """``at`` (ISO 8601, relative to ``now``, or a datetime, naive in UTC) in nanoseconds;
    a TimestampError that names ``name`` unless the clock can stand there (years 1000 to
    9999)."""
    try:
        if isinstance(at, dt.datetime):
            aware = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
            # Exact: a float timestamp() is a second late before 1970 (int() truncates
            # towards zero) and rounds the last microsecond of year 9999 up into 10000.
            return check_instant((aware - _EPOCH) // _MICROSECOND * 1000, aware.isoformat())
        return parse_timestamp(at, now)
    except TimestampError as exc:
        raise TimestampError(f"{name}: {exc}") from None


ADVANCE_TAKES = "a duration such as '1s', '150ms' or '2d', seconds as a number, or a timedelta"


def _duration(by: str | float | dt.timedelta) -> int:
    if isinstance(by, dt.timedelta):
        return by // _MICROSECOND * 1000
    if isinstance(by, (int, float)) and not isinstance(by, bool):
        if not math.isfinite(by):
            raise ValueError(f"clock.advance takes {ADVANCE_TAKES}; got {by!r}")
        # Whole seconds apart: `by * NS_PER_SECOND` overflows to inf past 1e299 seconds.
        whole = math.floor(by)
        return whole * NS_PER_SECOND + round((by - whole) * NS_PER_SECOND)
    if not isinstance(by, str):
        raise TypeError(f"clock.advance takes {ADVANCE_TAKES}; got {by!r}")
    text = by.strip()
    try:
        # A negative one is read, to be refused by the caller naming what was given.
        return -parse_duration(text[1:]) if text.startswith("-") else parse_duration(text)
    except TimestampError:
        raise ValueError(f"clock.advance takes {ADVANCE_TAKES}; got {by!r}") from None


MARKER_RATE_LIMIT = (
    "rate_limit takes requests per second as a number (5 or 0.5), with a burst as"
    " {'per_second': 5, 'burst': 10}, or None (unlimited)"
)


def _limit_arguments(given: Any) -> tuple[Any, Any]:
    """The marker's ``rate_limit`` (a number, ``{"per_second": N, "burst": M}`` as the
    fixtures write it, or None) as ``ProfileAPI.rate_limit``'s arguments."""
    __tracebackhide__ = True
    if isinstance(given, Mapping):
        # (No limit is None itself: {"per_second": None} read as unlimited, with a burst.)
        if set(given) <= {"per_second", "burst"} and given.get("per_second") is not None:
            return given["per_second"], given.get("burst")
        raise TypeError(f"{MARKER_RATE_LIMIT}; got {dict(given)!r}")
    if given is None or (isinstance(given, (int, float)) and not isinstance(given, bool)):
        return given, None
    raise TypeError(f"{MARKER_RATE_LIMIT}; got {given!r}")


_ADDERS = {"users": "add_user", "accounts": "add_account"}
"""The handle's method that adds a profile of each collection (named in its warnings)."""


class ProfileAPI:
    """One test's view of a running fake: where it is, how to change it, what it saw.

    ``space_id`` picks the space the handle reads and changes (default: the first of the
    fixtures); ``space(id)`` gives a handle on another space of the same fake.
    """

    reached = "the fake"
    """What this handle's requests reach, as its reports say it."""

    def __init__(self, server: ServerThread, space_id: str | None = None) -> None:
        self._server = server
        self._marker: dict[str, Any] = {}
        self._resets = 0
        """How many resets the fake had had when this handle last reset it (``_marker_lost``)."""
        spaces = server.state.store.spaces
        if space_id is not None and space_id not in spaces:
            raise ValueError(
                f"no space `{space_id}` in the loaded fixtures; spaces are"
                f" {', '.join(sorted(spaces))}" + did_you_mean(str(space_id), spaces, any_case=True)
            )
        self.space_id: str = space_id or next(iter(spaces))
        self.token: str = spaces[self.space_id].tokens[0]
        self.url: str = server.url
        self.clock = ClockHandle(server)

    def space(self, space_id: str) -> ProfileAPI:
        """A handle on another space of the same fake (same clock, faults and journal)."""
        __tracebackhide__ = True
        return ProfileAPI(self._server, space_id)

    @property
    def spaces(self) -> list[str]:
        """Every space of the loaded fixtures."""
        return list(self._server.state.store.spaces)

    # -- where it is ------------------------------------------------------------------------

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials for requests (``auth=``) and httpx (``auth=``)."""
        return (self.token, "")

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header, for clients configured with headers (aiohttp, urllib)."""
        return {"Authorization": basic_authorization(self.token)}

    def profile_url(self, identifier: str, resource: str, collection: str = "users") -> str:
        """The URL of a profile route; ``+`` and other specials in the id are encoded. A
        resource or collection the API has not (``"trait"``) is a ValueError naming those
        it has: a mistake in the test, not a URL that answers 404 or 400 (one that is no
        text, such as None, a TypeError saying the same)."""
        __tracebackhide__ = True
        _check_identifier(identifier, "profile_url")
        _one_of("resource", resource, RESOURCES, "profile_url")
        _one_of("collection", collection, COLLECTIONS, "profile_url")
        return (
            f"{self.url}/v1/spaces/{self.space_id}/collections/{collection}/profiles/"
            f"{quote(identifier, safe=':@')}/{resource}"
        )

    # -- data -------------------------------------------------------------------------------

    def _change(self, action: Any, name: str) -> Any:
        """``action`` made on the handle's space; ``name``: the method's, that made it."""
        __tracebackhide__ = True

        def run(state: ServerState) -> Any:
            return action(state, state.store.spaces[self.space_id])

        _one_example(self._server, name)
        try:
            return self._server.call(run)
        except ChangeError as exc:
            raise ValueError(str(exc)) from None

    def _add(
        self,
        collection: Collection,
        external_ids: Mapping[str, Any] | None,
        ids: Mapping[str, Any] | None,
        **fields: Any,
    ) -> str:
        __tracebackhide__ = True
        if external_ids is not None and ids is not None:
            raise TypeError(
                "give the ids once: `external_ids` or `ids` (the fixture format's name), not both"
            )
        given = ids if ids is not None else external_ids
        name = "ids" if ids is not None else "external_ids"
        if given is not None and not isinstance(given, Mapping):
            example = "{'user_id': 'x'}" if collection == "users" else "{'group_id': 'x'}"
            got = f"the string {given!r}" if isinstance(given, str) else repr(given)
            raise TypeError(f"{name} is a mapping of id type to value, like {example}; got {got}")
        if fields.get("events") is not None:
            _check_events(fields["events"])
        profile = {k: v for k, v in fields.items() if v is not None}
        if given is not None:
            profile["ids"] = dict(given)
        warned: list[Problem] = []

        def upsert(state: ServerState, space: LiveSpace, built: Profile | None) -> Profile:
            # The profile the first call built is stored (its ids checked again), not built
            # again.
            now = state.clock.now_ns()
            return upsert_profile(
                space, collection, profile, now, warned, unless_warned=built is None, built=built
            )[0]

        added: Profile = self._change_told(_ADDERS[collection], upsert, warned, stacklevel=3)
        return added.segment_id

    def _change_told(
        self,
        name: str,
        change: Callable[[ServerState, LiveSpace, Any], Any],
        warned: list[Problem],
        stacklevel: int,
    ) -> Any:
        """``change`` made — given None, it changes nothing if it warns of the data, served
        otherwise than written as a fixture file's check warns (into ``warned``) — and its
        warnings told first, as ``name``'s, so that one raised as an error (`-W error`,
        `filterwarnings = error`) leaves the fake as it was; then made again, given what
        the first call returned. ``stacklevel``: as the caller would give it."""
        __tracebackhide__ = True
        first = self._change(lambda state, space: change(state, space, None), name)
        if not warned:
            return first
        for line in told(warned):
            warnings.warn(f"{name}: {line}", UserWarning, stacklevel=stacklevel + 1)
        return self._change(lambda state, space: change(state, space, first), name)

    def add_user(
        self,
        external_ids: Mapping[str, Any] | None = None,
        *,
        ids: Mapping[str, Any] | None = None,
        traits: Mapping[str, Any] | None = None,
        computed_traits: Mapping[str, Any] | None = None,
        audiences: Mapping[str, bool] | None = None,
        events: Sequence[Mapping[str, Any]] | None = None,
        links: Sequence[str] | None = None,
        **fields: Any,
    ) -> str:
        """Add (or replace) a user written as in a fixture file; returns its segment id.

        ``add_user(**profile)`` takes a profile of a fixture file as it is (``ids``,
        ``segment_id``, ``created_at`` …)."""
        __tracebackhide__ = True
        return self._add(
            "users", external_ids, ids, traits=traits, computed_traits=computed_traits,
            audiences=audiences, events=events, links=links, **fields,
        )  # fmt: skip

    def add_account(
        self,
        external_ids: Mapping[str, Any] | None = None,
        *,
        ids: Mapping[str, Any] | None = None,
        traits: Mapping[str, Any] | None = None,
        computed_traits: Mapping[str, Any] | None = None,
        audiences: Mapping[str, bool] | None = None,
        links: Sequence[str] | None = None,
        **fields: Any,
    ) -> str:
        """Add (or replace) an account; returns its segment id."""
        __tracebackhide__ = True
        return self._add(
            "accounts", external_ids, ids, traits=traits, computed_traits=computed_traits,
            audiences=audiences, links=links, **fields,
        )  # fmt: skip

    def link(self, user: str, account: str) -> None:
        """Link a user (``type:value`` or segment id) to an account."""
        __tracebackhide__ = True
        _check_identifier(user, "link", "user")
        _check_identifier(account, "link", "account")

        def run(state: ServerState, space: Any) -> None:
            found_user = resolve(space, "users", user)
            found_account = resolve(space, "accounts", account)
            if found_user is None or found_account is None:
                missing = user if found_user is None else account
                collection: Collection = "users" if found_user is None else "accounts"
                message = f"no profile `{missing}` in `{collection}` to link"
                if resolve(space, OTHER[collection], missing) is not None:
                    message += (
                        f"; it is in `{OTHER[collection]}`: link(user, account) takes the user,"
                        " then the account"
                    )
                raise ChangeError(404, message)
            current = space.links_of("users", found_user.segment_id)
            space.set_links("users", found_user.segment_id, (*current, found_account.segment_id))

        self._change(run, "link")

    def add_events(
        self, identifier: str, events: Sequence[Mapping[str, Any]], collection: Collection = "users"
    ) -> list[str]:
        """Append events (fixture format) to a profile; returns their message ids."""
        __tracebackhide__ = True
        _check_identifier(identifier, "add_events")
        _check_collection(collection, "add_events")
        _check_events(events)
        warned: list[Problem] = []

        def append(state: ServerState, space: LiveSpace, first: list[str] | None) -> list[str]:
            return append_events(
                space, collection, identifier, list(events), state.clock.now_ns(),
                warned, unless_warned=first is None,
            )  # fmt: skip

        added: list[str] = self._change_told("add_events", append, warned, stacklevel=2)
        return added

    def remove_profile(self, identifier: str, collection: Collection = "users") -> None:
        """Delete a profile (``type:value`` or segment id)."""
        __tracebackhide__ = True
        _check_identifier(identifier, "remove_profile")
        _check_collection(collection, "remove_profile")
        self._change(
            lambda state, space: delete_profile(space, collection, identifier), "remove_profile"
        )

    # -- behaviour --------------------------------------------------------------------------

    def fault(
        self,
        spec: str | None = None,
        /,
        *mistaken: Any,
        optional: bool | None = None,
        **rule: Any,
    ) -> str:
        """Add a fault rule — a ``--fault`` spec, the rule's fields, or a spec and more
        fields — and return its id.

        ``optional=True`` (a field of the rule, as ``optional=true`` in a spec): the rule
        guards a call the code may not make, and need not fire (``assert_faults_fired``
        leaves it out)."""
        __tracebackhide__ = True
        if mistaken:  # fault("traits", 503): Python said "takes from 1 to 2 positional arguments"
            written = ":".join(map(str, (spec, *mistaken)))
            raise TypeError(
                f"fault takes one --fault spec by position, the rest by name; got"
                f" {', '.join(map(repr, (spec, *mistaken)))}: write fault({written!r})"
            )
        if spec is not None and not isinstance(spec, str):
            raise TypeError(
                f"fault takes a --fault spec like 'traits:429:times=2' or the rule's fields as"
                f" keywords (fault(route='traits', status=429)); got {spec!r}"
            )
        if optional is not None:
            rule["optional"] = flag(optional, "optional")
        return self._fault(spec, rule, "fault")

    def _fault(self, spec: str | None, rule: dict[str, Any], given_as: str) -> str:
        """Add the rule of ``spec`` and ``rule``'s fields; what is wrong with it is told as
        given (``given_as``: the handle's ``fault``, the marker's ``faults``), with the spec
        and the fields that joined it."""
        __tracebackhide__ = True
        said = _rule_given(spec, rule, given_as)
        try:
            data = parse_spec(spec, f"{given_as}: spec") if spec is not None else {}
            twice = [name for name in rule if name in data]
            if twice:
                given = "a keyword" if given_as == "fault" else "a field"
                raise FaultRuleError(
                    f"{given_as}: `{twice[0]}` is in the spec {named(str(spec))} and given as"
                    f" {given} too; give it once"
                )
            # The spec as written stands for the rule, unless fields other than `optional`
            # (which says nothing of what the rule does) joined it.
            written = spec if not set(rule) - {"optional"} else None
            data.update(rule)
        except FaultRuleError as exc:
            raise ValueError(str(exc)) from None
        _one_example(self._server, f"fault({written or show(data)})")
        try:
            return self._server.call(lambda state: state.add_fault(data, written)).id
        except FaultRuleError as exc:
            raise ValueError(f"{said}: {exc}" if said else str(exc)) from None

    def realism(self, **switches: Any) -> dict[str, Any]:
        """Turn realism switches on or off for this test (``short_pages=True``,
        ``gateway_errors="html"``, ``null_lists=True``, ``propagation_delay="5s"``,
        ``unescaped_500=True``); returns every switch. The next test starts from the
        fixtures' own."""
        __tracebackhide__ = True
        return self._set_realism(switches)

    def _set_realism(self, switches: Mapping[str, Any]) -> dict[str, Any]:
        """``realism``, of switches given as a mapping (``configure``'s and the marker's,
        whose names need not be text: a splat of them said only "keywords must be strings")."""
        __tracebackhide__ = True
        _one_example(self._server, "realism" if switches else "")  # none: a read
        try:
            realism = self._server.call(lambda state: state.set_realism(switches))
        except RealismError as exc:
            raise ValueError(str(exc)) from None
        return realism.as_dict()

    def rate_limit(self, per_second: float | None, burst: int | None = None) -> None:
        """Limit this space to ``per_second`` (None: unlimited), bursts of ``burst``."""
        __tracebackhide__ = True
        if per_second is not None and (
            isinstance(per_second, bool) or not isinstance(per_second, (int, float))
        ):
            raise TypeError(
                "rate_limit takes requests per second as a number (5 or 0.5) or None"
                f" (unlimited); got {per_second!r}"
            )
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int)):
            raise TypeError(f"burst is a whole number of requests, got {burst!r}")
        limit = None if per_second is None else Limit.per_second(per_second, burst)
        _one_example(self._server, "rate_limit")
        self._server.call(lambda state: state.limiter.set_limit(self.space_id, limit))

    # -- what it saw ------------------------------------------------------------------------

    @property
    def requests(self) -> list[JournalEntry]:
        """Every request that reached the fake during this test, oldest first (any space)."""
        __tracebackhide__ = True
        _one_example(self._server)
        return self._server.call(lambda state: list(state.journal))

    def _complete_journal(self) -> list[JournalEntry]:
        """Every request of this test; an error when the journal had to drop some (an
        assertion on what is left could pass on a request it never saw)."""
        __tracebackhide__ = True

        def read(state: ServerState) -> tuple[list[JournalEntry], int, int]:
            return list(state.journal), state.journal.dropped, state.journal.size

        _one_example(self._server)
        seen, dropped, size = self._server.call(read)
        if dropped:
            raise AssertionError(_dropped(size, dropped))
        return seen

    def assert_called(
        self,
        route: str | None = None,
        *mistaken: Any,
        identifier: str | None = None,
        times: int | None = None,
        status: int | None = None,
        method: str | None = None,
        collection: str | None = None,
        query: Mapping[str, str] | None = None,
        authorized: bool | None = None,
        outcome: Outcome | None = None,
        unknown_profile: bool = False,
    ) -> list[JournalEntry]:
        """Assert this space got matching requests (``times`` exactly, else at least one).

        A request the real API would refuse (bad credentials, 400, 405: ``entry.refused``)
        does not count unless ``status`` or ``authorized`` asks for it, or ``times=0``
        asserts that no such call was made at all (a refused one was made). Nor does a 404
        for a profile that is in the other collection (``accounts/…/user_id:u1`` when
        ``user_id:u1`` is a user), unless ``collection``, ``status`` or ``times=0`` asks
        for it: the call went to the wrong collection. ``query`` matches
        the given parameters (others may be there too). A failure lists near misses — a
        request that differs in one thing — and why each missed. ``times=0`` with an
        ``identifier`` that names no profile of the space (in either collection, as loaded
        or since) and that no request of the test asked for is a ValueError, as a typo
        would pass whatever the code did; ``unknown_profile=True`` says it is meant (and
        is a ValueError anywhere else, where it would be ignored). So is ``times=0`` with a
        ``query`` name the route does not take that no request sent.

        ``outcome`` matches the journal's (``"client went away"``: the client gave up — a
        timeout test's own assertion, as a ``latency`` rule shorter than the client's
        timeout fires without one); the requests still being answered are waited for first,
        up to ``PENDING_GRACE`` (a client that gave up is told a moment after).
        """
        __tracebackhide__ = True
        if mistaken:  # Python said "takes from 1 to 2 positional arguments", not which
            raise TypeError(_by_name(route, mistaken))
        _check_query(query)
        _check_filters(identifier, times, status, method, authorized)
        if flag(unknown_profile, "unknown_profile") and (times != 0 or identifier is None):
            # Only times=0 with an identifier judges whether a profile has it: anywhere else
            # the flag would be ignored, a test saying what it does not check.
            got = f"times={times!r}" if times != 0 else "no identifier"
            raise ValueError(
                "assert_called: unknown_profile=True goes with times=0 and an identifier (it"
                " says the identifier is meant to name no profile, which only times=0"
                f" checks); got {got}: leave unknown_profile out"
            )
        if route is not None:
            _one_of("route", route, tuple(ENDPOINTS), "assert_called")
        if collection is not None:
            _one_of("collection", collection, COLLECTIONS, "assert_called")
        if outcome is not None:
            _one_of("outcome", outcome, OUTCOMES, "assert_called")
        if route == "profiles" and identifier is not None:
            raise ValueError(
                "assert_called: the `profiles` route (the list) has no identifier, so no call"
                f" of it can match identifier={identifier!r}; give one of them"
            )
        wanted: dict[str, Any] = {
            "route": route,
            "identifier": identifier,
            "status": status,
            "method": method,
            "collection": collection,
            "authorized": authorized,
            "outcome": outcome,
            "space": self.space_id,
        }
        wanted_query = {k: str(v) for k, v in (query or {}).items()}
        counted_too = Unless(
            refused=status is not None or authorized is not None or times == 0,
            elsewhere=status is not None or collection is not None or times == 0,
        )
        if outcome not in (None, "pending"):
            # Of the requests a rule of the test holds, those that may match once answered
            # (one held on purpose elsewhere would cost every such assertion the grace).
            known = {
                k: v for k, v in wanted.items() if k not in ("status", "authorized", "outcome")
            }
            arrived = Unless(refused=True, elsewhere=True)
            seen = self._settled(held=lambda e: not _differences(e, known, wanted_query, arrived))
        else:
            seen = self._complete_journal()
        matching = [e for e in seen if not _differences(e, wanted, wanted_query, counted_too)]
        if times == 0 and not matching:
            _check_parameters(route, wanted_query, seen)
            if identifier is not None and not unknown_profile:
                self._check_known(identifier, seen)
        if (times is None and matching) or (times is not None and len(matching) == times):
            return matching
        described = ", ".join(f"{k}={v}" for k, v in wanted.items() if v is not None)
        if wanted_query:
            described += ", query=" + "&".join(f"{k}={v}" for k, v in wanted_query.items())
        expected = counted(times, "call") if times is not None else "a call"
        lines = [f"expected {expected} with {described}; got {len(matching)}"]
        misses = [
            (e, why)
            for e in seen
            if (why := _near_miss(e, wanted, wanted_query, counted_too)) is not None
        ]
        if misses:
            lines.append("near misses:")
            lines += [f"  {_describe(e)}  <- {why}" for e, why in misses]
        shown = seen[-20:]
        if not seen:
            lines.append(f"no requests reached {self.reached}")
        else:
            last = f", the last {len(shown)}" if len(shown) < len(seen) else ""
            lines.append(
                f"{counted(len(seen), 'request')} reached {self.reached} in this test{last}:"
            )
        lines += [f"  {_describe(e)}" for e in shown]
        raise AssertionError("\n".join(lines))

    def _check_known(self, identifier: str, seen: Sequence[JournalEntry]) -> None:
        """A ValueError when ``identifier`` names no profile of this space, now or as
        loaded, and no request of ``seen`` asked for it: ``times=0`` for it would pass
        whatever the code did (most likely a typo)."""
        __tracebackhide__ = True
        if any(e.identifier == identifier for e in seen):
            return

        def look(state: ServerState) -> tuple[str | None] | None:
            space = state.store.spaces.get(self.space_id)
            if space is None:  # live mode: the proxy knows no profiles, so it cannot judge
                return None
            loaded = LiveSpace(space.base)
            if any(resolve(s, c, identifier) for s in (space, loaded) for c in COLLECTIONS):
                return None
            return (_closest_identifier(space, identifier),)  # unknown, and the likely meant

        found = self._server.call(look)
        if found is None:
            return
        if ":" not in identifier:  # a bare value names a segment id only: the API's own hint
            guess = f"; {bare_value_hint(identifier)}."
        else:
            guess = f"; did you mean `{found[0]}`?" if found[0] else "."
        raise ValueError(
            f"assert_called: times=0 for identifier={identifier!r}, which names no profile of"
            f" space `{self.space_id}` (users or accounts, as loaded or since) and which no"
            f" request of this test asked for: it would pass whatever the code did{guess}"
            " If the profile is meant not to exist, say so: unknown_profile=True"
        )

    def assert_no_errors(self, *, allow: Iterable[int] = ()) -> None:
        """Assert no request of this test was refused or failed: every answer below 400
        (or in ``allow``) and none left unanswered. What a fault rule the test added made
        (its status, a broken connection) is expected and not an error; an answer of a rule
        that only delays or adds headers is the API's own and is judged as any other, as
        are the answers of the fixture files' rules, which the test did not ask for. Judged
        from the journal alone (``entry.fault_origin``, ``entry.fault_answered``), so a rule
        the test removed since is judged as it was when it fired. The requests a ``reset()``
        took from the journal in the middle of the test (a Hypothesis example's) are judged
        too, named as before a reset — except those an ``assert_no_errors`` had judged
        before that reset (an example that asserts its own, with its own ``allow=``)."""
        __tracebackhide__ = True
        allowed = set(statuses(allow))

        seen = self._settled()

        # A reset keeps no error judged here (with this allow=): every request up to the
        # first still pending.
        pending = [e.seq for e in seen if e.outcome == "pending"]
        through = min(pending) - 1 if pending else seen[-1].seq if seen else 0

        def judged(state: ServerState) -> tuple[list[JournalEntry], dict[int | None, int], int]:
            state.judged_through = max(state.judged_through, through)
            return (
                list(state.errors_before_reset),
                dict(state.errors_not_kept),
                state.dropped_before_reset,
            )

        earlier, not_kept, dropped = self._server.call(judged)
        if dropped:
            raise AssertionError(
                _dropped(self._server.state.journal.size, dropped, " before a reset()")
            )
        failed = [
            e
            for e in seen
            if e.outcome != "pending"
            and counts_as_error(e.status, e.fault_origin, bool(e.fault_answered))
            and e.status not in allowed
        ]
        earlier = [e for e in earlier if e.status not in allowed]
        more = {status: n for status, n in not_kept.items() if status not in allowed}
        unjudged = [e for e in seen if _awaited(e)]
        count = len(earlier) + sum(more.values()) + len(failed) + len(unjudged)
        if count:
            lines = [f"{counted(count, 'request')} failed:"]
            lines += [_described_with_hint(e, " (before a reset)") for e in earlier]
            lines += [
                f"  {counted(n, 'more request')} before a reset ->"
                f" {'no answer' if status is None else status}"
                for status, n in more.items()
            ]
            lines += [_described_with_hint(e) for e in failed]
            lines += [
                f"  {_describe(e)}: still unanswered after {PENDING_GRACE:g} s, so not judged"
                " (did the code wait for its answer?)"
                for e in unjudged
            ]
            raise AssertionError("\n".join(lines))

    def _settled(
        self, held: Callable[[JournalEntry], bool] = lambda entry: False
    ) -> list[JournalEntry]:
        """The journal once the requests being answered when asked are answered, waiting
        ``PENDING_GRACE`` at most: a request the code did not wait for (a call in a thread
        or a task nobody awaited) is judged too, not left out as pending. Those a rule of
        the test holds (its latency, a hang) are not waited for, unless ``held`` says so of
        one: for its outcome (a client that gave up on one is told a moment after it did)."""
        __tracebackhide__ = True
        seen = self._complete_journal()
        waited = {e.seq for e in seen if _awaited(e, held(e))}
        deadline = time.monotonic() + PENDING_GRACE
        while waited and time.monotonic() < deadline:
            time.sleep(0.005)  # the server's own thread answers meanwhile
            seen = self._complete_journal()
            waited = {e.seq for e in seen if e.seq in waited and _awaited(e, held(e))}
        return seen

    def assert_faults_fired(self) -> None:
        """Assert every fault rule armed in this test — by the test, through the handle,
        the marker or the admin API — fired at least once (a rule that fires by chance,
        ``probability`` below 1, at least matched a request). A rule that never fired
        tested nothing: the retry path it was armed for never ran, and the test passed
        anyway. That holds for a rule a ``reset()`` took away too (a Hypothesis example's):
        each is named once, here, and then forgotten. Rules of the fixture files are not the
        test's and are not checked, nor are rules armed with ``optional=True``.
        The pytest plugin asserts this after each test unless told not to."""
        __tracebackhide__ = True

        def take(state: ServerState) -> list[str]:
            # Each rule as written and why, with how many resets took it away unfired and
            # whether it is armed still: the same rule of every example is one line.
            times: dict[tuple[str, str, str], list[int]] = {
                key: [resets, 0] for key, resets in state.unfired.items()
            }
            state.unfired.clear()
            for rule in state.armed_since_reset():
                fired_before = rule.id in state.marker_fired  # by an earlier example's copy
                why = None if rule.optional or fired_before else rule.unused()
                if why is not None:
                    times.setdefault((rule.id, rule.written, why), [0, 0])[1] = 1
                    state.reported.add(rule.id)
            return [
                f"  {rule_id} {written}: {why}{_before_resets(resets, armed)}"
                for (rule_id, written, why), (resets, armed) in times.items()
            ]

        _one_example(self._server)
        unused = self._server.call(take)
        if unused:
            lines = [
                f"{counted(len(unused), 'fault rule')} armed in this test never fired, so the"
                " code path each was armed for never ran:",
                *unused,
                FAULTS_MUST_FIRE_OPT_OUT,
            ]
            raise AssertionError("\n".join(lines))

    def summary(self) -> str:
        """The requests of this test, one a line with the hint of each failed one (what the
        pytest plugin adds to a failed test's report)."""
        seen = self.requests
        if not seen:
            return f"no request reached {self.reached} in this test"
        lines = [f"{counted(len(seen), 'request')} reached {self.reached} in this test:"]
        lines += [_described_with_hint(e) for e in seen]
        return "\n".join(lines)

    # -- lifecycle --------------------------------------------------------------------------

    def reset(self, *, new_test: bool = False) -> None:
        """Back to the loaded fixtures: data, faults, journal, rate limits, clock. What broke
        inside the fake since the last check is raised after the reset, not thrown away (a
        test that resets between Hypothesis examples fails on the example that broke it).
        Nor are the fault rules armed since the last reset that never fired: the next
        ``assert_faults_fired`` names them (the plugin's, at the test's end).

        ``new_test=True``: a new test begins, and does not answer for the unfired rules of
        the one before (the plugin begins each test so; another runner may too).

        A ``@given`` test calls it first in each example: a handle used in an example after
        another example used it, with no reset between, raises ``ExampleNotResetError``."""
        __tracebackhide__ = True
        flag(new_test, "new_test")
        _set_up_kept(self._server, resetting=True)
        failures = self._server.call(lambda state: _reset(state, new_test))
        self._resets = self._server.state.resets
        if self._marker and not new_test:
            self.configure(**self._marker)
        _set_up_kept(self._server, resetting=False)
        _raise_failures(failures)

    def _start_test(self, options: Mapping[str, Any]) -> None:
        """Begin a test configured by its marker (``configure``'s arguments): from the
        fixtures and the marker, to which every ``reset()`` of the test goes back (a
        Hypothesis example each: its pagination test meets the marker's short pages in
        every example, its marker's rules are armed in each, judged as one across them)."""
        __tracebackhide__ = True
        self._restart()
        self._resets = self._server.state.resets
        self.configure(**options)
        self._marker = dict(options)
        _set_up_kept(self._server, resetting=False)

        def marked(state: ServerState) -> None:
            state.marker_rules.update(rule.id for rule in state.armed_since_reset())

        self._server.call(marked)

    def _marker_lost(self) -> str | None:
        """Why the test ran without its marker's rules, realism or rate limit, when the
        fake's last reset was not this handle's (``POST /__admin/reset``, a ``reset()`` of
        a handle of ``space()``): that goes back to the fixtures alone, and a rule of the
        marker's was never armed again, so not judged either; None when the marker holds."""
        given = {k: v for k, v in self._marker.items() if k == "rate_limit" or v}
        if not given or self._server.state.resets == self._resets:
            return None
        written = ", ".join(f"{name}={value!r}" for name, value in given.items())
        return (
            "this test reset the fake otherwise than with profile_api.reset() (POST"
            " /__admin/reset, or the reset() of a handle of profile_api.space()), which goes"
            f" back to the fixtures alone: the marker's {written} did not hold after it, and"
            " its rules were neither met nor judged. Reset with profile_api.reset(), which"
            " goes back to the fixtures and the marker."
        )

    def _restart(self) -> list[BaseException]:
        """Reset for a new test, and return what broke inside the fake since the last
        check (the plugin discards it before a test: it belongs to no test that used the
        fake), and forget the unfired rules of what came before."""
        return self._server.call(lambda state: _reset(state, new_test=True))

    def configure(
        self,
        *,
        rate_limit: float | Any | None = _UNSET,
        faults: Iterable[str | Mapping[str, Any]] = (),
        realism: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply a test's configuration (what ``@pytest.mark.profile_api`` takes besides
        ``fixtures``, ``now`` and ``space``, which choose the fake and the space)."""
        __tracebackhide__ = True
        check_list("faults", faults, "fault rules (--fault specs or dicts)")
        if realism is not None and not isinstance(realism, Mapping):
            raise TypeError(
                f"realism takes the switches by name, like {{'short_pages': True}}; got {realism!r}"
            )
        if realism:
            self._set_realism(realism)
        if rate_limit is not _UNSET:
            self.rate_limit(*_limit_arguments(rate_limit))
        for rule in faults:
            if isinstance(rule, str):
                self._fault(rule, {}, "faults")
            elif isinstance(rule, Mapping):
                # The rule's fields, or a spec and more fields, as the handle's fault()
                # takes them ({"spec": …} as the admin API takes one).
                fields = dict(rule)
                spec = fields.pop("spec", None)
                if spec is not None and not isinstance(spec, str):
                    raise TypeError(
                        f"faults: a rule's `spec` is a --fault spec like 'traits:429:times=2';"
                        f" got {spec!r}"
                    )
                if "optional" in fields:
                    fields["optional"] = flag(fields["optional"], "optional")
                self._fault(spec, fields, "faults")
            else:
                raise TypeError(
                    f"a fault rule is a --fault spec like 'traits:429' or a dict; got {rule!r}"
                )

    def check(self) -> None:
        """Raise what went wrong inside the server since the last check (or reset), if
        anything. Each failure is raised once: the plugin checks after the test and again
        after its fixtures are torn down, and the second check sees only what is new."""
        __tracebackhide__ = True
        _raise_failures(self._take_failures())

    def _take_failures(self) -> list[BaseException]:
        """What broke inside the fake since the last check, taken (not raised again)."""
        if not self._server.state.errors:
            # Nearly always: reading a list's length is atomic under the GIL, so the round
            # trip to the server's loop (~80 µs) is paid only when there is something to take.
            return []
        return self._server.call(_take_errors)


PENDING_GRACE = 2.0
"""Seconds ``assert_no_errors`` waits for the requests still being answered when it is
asked (none a rule of the test holds) before it judges them."""


OUTCOMES: tuple[str, ...] = get_args(Outcome)
"""What became of a request, as the journal says (``assert_called``'s ``outcome``)."""


def _rule_given(spec: str | None, fields: Mapping[str, Any], given_as: str) -> str:
    """How a message names a fault rule as the test gave it: its spec and the fields that
    joined it (``fault: spec `traits:302` with times=2``), a rule of fields from the marker
    (``faults: {"route": "traits", "status": 302}``), or "" for the handle's fields, which
    the call shows itself."""
    if spec is None:
        return f"{given_as}: {show(dict(fields))}" if given_as == "faults" else ""
    joined = ", ".join(f"{name}={value!r}" for name, value in fields.items())
    return spec_given(spec, f"{given_as}: spec") + (f" with {joined}" if joined else "")


def _awaited(entry: JournalEntry, held: bool = False) -> bool:
    """Still being answered, and by none of the test's own rules (a latency or a hang the
    test armed holds a request as long as it says), or by one of them too when ``held``."""
    return entry.outcome == "pending" and (held or entry.fault_origin != "runtime")


def _before_resets(resets: int, armed: int) -> str:
    """How often a rule that never fired was armed, when a reset took it away unfired."""
    if not resets:
        return ""
    if not armed:
        return (
            " (armed before a reset)" if resets == 1 else f" (armed before a reset, {resets} times)"
        )
    return f" (armed {resets + 1} times, {resets} of them before a reset)"


def _reset(state: ServerState, new_test: bool) -> list[BaseException]:
    """Reset (run on the server's loop) and take what broke inside the fake before; a new
    test forgets the unfired rules and the errors of what came before it."""
    state.reset()
    if new_test:
        state.forget_before_reset()
    return _take_errors(state)


def _take_errors(state: ServerState) -> list[BaseException]:
    """The server's recorded failures, removed from it (run on its loop)."""
    taken = list(state.errors)
    state.errors.clear()
    return taken


def _raise_failures(errors: Sequence[BaseException]) -> None:
    __tracebackhide__ = True
    if errors:
        first = errors[0]
        raise ProfileAPIError(
            f"the fake failed {len(errors)} time(s) while answering; first: {first}"
        ) from first


def flag(value: Any, name: str) -> bool:
    """``optional=True``: a Python keyword that takes True or False, checked (``"yes"``
    or ``1`` would pass as true, ``"no"`` too)."""
    __tracebackhide__ = True
    if not isinstance(value, bool):
        raise TypeError(f"{name} takes True or False, got {value!r}")
    return value


def statuses(allow: Any, name: str = "allow", also: str = "") -> tuple[int, ...]:
    """``allow=[404, 429]``: HTTP statuses, checked (a mistake would let errors through);
    ``also`` names what else ``name`` takes, in the message."""
    __tracebackhide__ = True
    if isinstance(allow, (str, bytes, int, Mapping)) or not isinstance(allow, Iterable):
        # One status in parentheses, (404), is that status, not a tuple of it.
        written = f": write {name}=[{allow!r}]" if is_http_status(allow) else ""
        raise TypeError(
            f"{name} takes a list of HTTP statuses like [404, 429]{also}; got {allow!r}{written}"
        )
    given = tuple(allow)
    for status in given:
        if not is_http_status(status):
            raise TypeError(
                f"{name} takes HTTP statuses like [404, 429]{also}; got {status!r}, not"
                f" {HTTP_STATUSES}"
            )
    return given


def _check_collection(collection: Any, where: str) -> None:
    """``collection="user"`` would fail deep inside the fake (a KeyError): one sentence."""
    __tracebackhide__ = True
    _one_of("collection", collection, COLLECTIONS, where)


def _check_identifier(identifier: Any, where: str, name: str = "identifier") -> None:
    """An id that is no text (``None``) failed deep inside the fake or ``quote`` (an
    AttributeError, a TypeError of ``quote_from_bytes``): say what it takes."""
    __tracebackhide__ = True
    if not isinstance(identifier, str):
        raise TypeError(
            f"{where}: {name} is `type:value` text like 'user_id:u1' (or a segment id);"
            f" got {identifier!r}"
        )


def _check_events(events: Any) -> None:
    __tracebackhide__ = True
    if isinstance(events, Mapping):
        raise TypeError("events is a list of events (dicts in the fixture format); got a dict")
    check_list("events", events, "events (dicts in the fixture format)")


@dataclass(frozen=True)
class Unless:
    """Which calls that missed their purpose ``assert_called`` counts all the same (because
    the assertion asked for them, or asserts that no call was made at all)."""

    refused: bool
    """Calls the real API refuses as sent (``entry.refused``)."""
    elsewhere: bool
    """404s for a profile that is in the other collection."""


def _differences(
    entry: JournalEntry, wanted: Mapping[str, Any], query: Mapping[str, str], counted_too: Unless
) -> list[str]:
    """What about ``entry`` differs from the wanted call, in words (empty: it matches)."""
    found = []
    for name, value in wanted.items():
        if value is None or getattr(entry, name) == value:
            continue
        found.append(_difference(entry, name, value))
    for name, value in query.items():
        # A parameter may be repeated (include=a&include=b): any of its values matches.
        got = [v for k, v in entry.query if k == name]
        if not got:
            found.append(f"no `{name}` parameter (wanted {name}={value})")
        elif value not in got and not _names_among(name, value, got):
            sent = "&".join(f"{name}={v}" for v in got)
            found.append(f"query {sent} instead of {name}={value}")
    if found:
        return found
    if not counted_too.refused and entry.refused:
        found.append(_refusal(entry))
    elif not counted_too.elsewhere and entry.status == 404:
        home = in_the_other_collection(entry.hint)
        if home is not None:
            found.append(
                f"404: the profile is in `{home}`, not `{entry.collection}`; a call to the wrong"
                f" collection does not count unless asked for: collection={entry.collection!r}"
                " counts the calls to it (assert each collection's calls on their own)"
            )
    return found


def _names_among(name: str, value: str, got: Sequence[str]) -> bool:
    """Whether the names of ``value`` are all among those sent as ``name`` (``got``, its
    values), when it is one of the ``api.NAME_LISTS``, read as the API reads them
    (``api.names_in``): ``times=0`` for ``include=email`` passed when the code asked
    ``include=first_name,email``."""
    if name not in NAME_LISTS:
        return False
    wanted = set(names_in([value]))
    return bool(wanted) and wanted <= set(names_in(got))


def _difference(entry: JournalEntry, name: str, value: Any) -> str:
    if name == "identifier" and entry.identifier is not None:
        if entry.identifier.lower() == value.lower():
            return "identifier differs only in case (lookups are case-sensitive)"
        if "+" in (entry.raw_identifier or "") and entry.identifier == value.replace("+", " "):
            return "a raw `+` in the path reads as a space; encode it as %2B"
    if name == "space":
        if entry.route is None:  # no route, so no space (it read "space `None` instead of …")
            return "its path is no route of the API (so it reached no space)"
        return f"space `{entry.space}` instead of `{value}`"
    if name == "identifier" and entry.identifier is None:
        return f"no identifier (the `profiles` list) instead of `{value}`"
    if name == "status" and entry.status is None:
        return f"{_answer(entry)} instead of status `{value}`"
    if (
        name == "outcome"
        and entry.outcome == "answered"
        and entry.fault
        and not entry.fault_answered
    ):
        # A latency rule fires on every request it delays, the timeout path it was armed
        # for run or not.
        return (
            f"answered ({entry.status}, the API's own answer; {entry.fault} fired on it)"
            f" instead of `{value}`: the client waited for it (a `latency` shorter than the"
            " client's timeout never runs the timeout path; a `hang` holds the answer until"
            " the client gives up)"
        )
    return f"{name} `{getattr(entry, name)}` instead of `{value}`"


def _refusal(entry: JournalEntry) -> str:
    if entry.auth == "bearer":
        return "bearer auth instead of Basic (the token goes as the Basic username)"
    because = f": {entry.hint}" if entry.hint else ""
    return f"refused ({entry.status}){because}"


def _near_miss(
    entry: JournalEntry, wanted: Mapping[str, Any], query: Mapping[str, str], counted_too: Unless
) -> str | None:
    """Why ``entry`` almost matches (it differs in one thing), or None when it is not close."""
    route = wanted["route"]
    if route is not None and entry.route is None:
        return _typo(entry, route, wanted)
    differences = _differences(entry, wanted, query, counted_too)
    return differences[0] if len(differences) == 1 else None


def _check_filters(identifier: Any, times: Any, status: Any, method: Any, authorized: Any) -> None:
    """``assert_called``'s filters, checked: one no request can ever match (``method="get"``,
    ``status="404"``) would make ``times=0`` pass whatever the code did."""
    __tracebackhide__ = True
    if identifier is not None:
        _check_identifier(identifier, "assert_called")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise TypeError(f"assert_called: times is a number of calls, 0 or more; got {times!r}")
    if status is not None and not is_http_status(status):
        raise TypeError(f"assert_called: status is {HTTP_STATUSES}, such as 404; got {status!r}")
    if method is not None:
        if not isinstance(method, str):
            raise TypeError(f"assert_called: method is text like 'GET'; got {method!r}")
        if method != method.upper():
            raise ValueError(
                f"assert_called: no request has the method `{method}`: methods are recorded as"
                f" sent, in capitals; did you mean `{method.upper()}`?"
            )
    if authorized is not None:
        flag(authorized, "authorized")


def _by_name(route: Any, mistaken: tuple[Any, ...]) -> str:
    """Why ``assert_called`` refuses the positional arguments after the route, and the
    keyword each most likely meant (``'user_id:u1'``: ``identifier=``)."""
    meant = []
    for value in mistaken:
        if isinstance(value, str) and value.upper() in _HTTP_METHODS:
            meant.append(f"method={value.upper()!r}")
        elif isinstance(value, str):
            meant.append(f"identifier={value!r}")
        elif is_http_status(value):
            meant.append(f"status={value!r}")
        elif isinstance(value, int) and not isinstance(value, bool):
            meant.append(f"times={value!r}")
        else:
            meant = []
            break
    said = (
        "assert_called takes the route by position and the rest by name; got"
        f" {', '.join(map(repr, mistaken))} after it"
    )
    return f"{said}: write assert_called({route!r}, {', '.join(meant)})" if meant else said


_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _check_query(query: Any) -> None:
    """``assert_called``'s ``query``: names and values as text (a number is read as its
    text). A list, None or True matched no request, so ``times=0`` passed whatever was sent."""
    __tracebackhide__ = True
    if query is None:
        return
    if not isinstance(query, Mapping):
        raise TypeError(f"query is a mapping like {{'include': 'email'}}; got {query!r}")
    for name, value in query.items():
        text = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if not isinstance(name, str) or not text:
            wrong = value if isinstance(name, str) else name
            raise TypeError(
                "assert_called: query takes parameter names and values as text, like"
                " {'include': 'email'} (one value a name: a repeated parameter matches when"
                f" any of its values is the one given); got {wrong!r}"
            )


def _check_parameters(
    route: str | None, query: Mapping[str, str], seen: Sequence[JournalEntry]
) -> None:
    """A ValueError for a ``query`` name no route of the API takes (``route``'s, when given)
    and no request of ``seen`` sent: ``times=0`` for it would pass whatever the code did."""
    __tracebackhide__ = True
    endpoints = [ENDPOINTS[route]] if route is not None else list(ENDPOINTS.values())
    taken = list(dict.fromkeys(p for e in endpoints for p in e.params))
    sent = {name for e in seen for name, _ in e.query}
    for name in query:
        if name in taken or name in sent:
            continue
        listed = ", ".join(taken)
        which = (
            f"`{route}` does not take (it takes {listed})"
            if route is not None
            else f"no route of the API takes (they take {listed})"
        )
        raise ValueError(
            f"assert_called: times=0 for query parameter `{name}`, which {which} and no request"
            " of this test sent: it would pass whatever the code did"
            + did_you_mean(name, taken)
            + " (to assert that the code never sends it, read profile_api.requests:"
            f" `{name}` in dict(entry.query) of none)"
        )


def _one_of(name: str, value: Any, allowed: Sequence[str], where: str) -> None:
    """A name that is none of ``allowed`` — a filter no request could ever match
    (``assert_called("trait")``), a URL that answers only 404 — is a mistake in the test,
    not a call that was not made: a ValueError naming the closest, a TypeError saying what
    is allowed when it is no name at all (``None`` read "no resource is called `None`")."""
    __tracebackhide__ = True
    if isinstance(value, str) and value in allowed:
        return
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} is one of {', '.join(allowed)}; got {value!r}")
    raise ValueError(f"{where}: {not_one_of(name, value, allowed)}")


_MOST_GUESSED = 10_000
"""Ids of a space at most searched for the one a mistyped identifier meant."""


def _closest_identifier(space: LiveSpace, identifier: str) -> str | None:
    """The stored ``type:value`` a mistyped ``identifier`` most likely meant, or None
    (none of the space's first ``_MOST_GUESSED`` loaded ids is close)."""
    id_type, sep, value = identifier.partition(":")
    for collection in COLLECTIONS:
        near = space.near_misses(collection, id_type, value) if sep else ()
        if near:
            return near[0]
    names = (
        f"{t}:{v}"
        for collection in COLLECTIONS
        for t, v in space.base.by_external_id[collection]
        if space.find(collection, t, v) is not None
    )
    return closest(identifier, itertools.islice(names, _MOST_GUESSED))


def _typo(entry: JournalEntry, route: str, wanted: Mapping[str, Any]) -> str | None:
    """A path that is no route of the API but names one closely (``/trait``)."""
    segments = entry.path.rstrip("/").split("/")
    if len(segments) < 2 or f"/spaces/{wanted['space']}/" not in entry.path + "/":
        return None
    last = segments[-1]
    if last in RESOURCES or closest(route, [last]) is None:
        return None
    return f"`{last}` is no resource of the API; did you mean `{route}`?"


def _describe(entry: JournalEntry) -> str:
    query = "&".join(f"{k}={v}" for k, v in entry.query)
    target = f"{entry.path}?{query}" if query else entry.path
    return f"{entry.method} {target} -> {_answer(entry)} ({entry.auth}){_fault_note(entry)}"


def _answer(entry: JournalEntry) -> str:
    """Its status, or why it has none (``pending``, ``no answer (broken)``)."""
    if entry.status is not None:
        return str(entry.status)
    return "pending" if entry.outcome == "pending" else f"no answer ({entry.outcome})"


def _fault_note(entry: JournalEntry) -> str:
    """`` [fault fault-1]``: the rule that fired, where it came from when a test did not arm
    it, and whether the answer is the API's own (the rule only delayed it or added
    headers)."""
    if entry.fault is None:
        return ""
    own = ", the API's own answer" if entry.fault_answered is False else ""
    return f" [fault {entry.fault}{ORIGIN_WORDS.get(entry.fault_origin or '', '')}{own}]"


def _dropped(size: int, dropped: int, when: str = "") -> str:
    """Why an assertion on a journal that dropped requests of the test refuses to judge."""
    return (
        f"the fake's journal keeps the last {size:,} requests and dropped {dropped:,} of this"
        f" test's{when}: an assertion on what is left cannot be trusted; make fewer requests"
        " in one test, or reset() between batches of them"
    )


def _described_with_hint(entry: JournalEntry, note: str = "") -> str:
    line = f"  {_describe(entry)}{note}"
    if entry.hint:
        line += f"\n      hint: {entry.hint}"
    return line

"""The request journal: what reached the server, bounded in memory (a ring buffer).

A request is journaled when it arrives, as ``pending``, and gets its outcome (status,
``answered``, ``broken``, ``client went away``) when that is known. A reset fences the
journal: a request belongs to the period in which it arrived, so one still held when the
journal is cleared (a ``hang`` or ``latency`` fault, a client that timed out) is never seen
after the clear, whenever it ends.

A browser's CORS preflight (an ``OPTIONS`` the fake answers itself, with ``--cors``) is
journaled marked ``preflight``, and left out of what is read unless asked for: it is the
browser's question, not a call of the app, and would count as one in ``assert_called`` and
sit among the app's requests in the explorer (as Pact's mock server answers preflights
without counting them as interactions). ``GET /__admin/requests?preflights=true`` and the
explorer's "preflights" box show them.

Tokens are never kept: only the auth scheme and whether the credentials were accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from yarl import URL

from profilemock.mockserver.routing import match_path
from profilemock.schemas import Violation
from profilemock.timeutil import format_ns

DEFAULT_SIZE = 10_000
TEXT_FILTERS = ("method", "route", "space", "collection", "identifier", "fault", "auth")
"""Fields of an entry that ``select`` (and the admin API's ``/requests``) filter on, as text."""
AUTH_KINDS = ("basic", "bearer", "none", "other")
"""What ``auth`` of an entry is: the scheme of its Authorization header, or none."""
_SCHEMES = {kind: kind for kind in AUTH_KINDS if kind != "other"}
"""The schemes the journal names (one string each, shared by every entry); else "other"."""
NUMBER_FILTERS = ("status",)
"""Fields filtered on as whole numbers."""

Outcome = Literal["pending", "answered", "broken", "client went away", "not answered"]
PENDING: Outcome = "pending"
ANSWERED: Outcome = "answered"
BROKEN: Outcome = "broken"
"""A fault broke the connection on purpose (reset, empty, hang, truncate)."""
CLIENT_GONE: Outcome = "client went away"
NOT_ANSWERED: Outcome = "not answered"
"""The server stopped answering it (shut down while the request was held)."""

REFUSED_STATUSES = frozenset({400, 401, 403, 405})
"""What the API answers to a request it refuses as sent (not a fault's answer)."""


def auth_kind(authorization: str | None) -> str:
    """An entry's ``auth``: the scheme of the Authorization header ``authorization``."""
    scheme = authorization.partition(" ")[0].lower() if authorization else "none"
    return _SCHEMES.get(scheme, "other")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the server saw it."""

    seq: int
    """Arrival order, from 1; not reset by a reset."""
    time: int
    """Server clock at arrival, nanoseconds."""
    method: str
    path: str
    """The path as sent (percent-encoding kept), without the query."""
    query: list[tuple[str, str]]
    """Query parameters, decoded, in the order sent."""
    route: str | None
    """traits, external_ids, events, metadata, links, profiles; None for a path that is no
    route of the API."""
    space: str | None
    collection: str | None
    identifier: str | None
    """Decoded identifier (a raw ``+`` already read as a space)."""
    raw_identifier: str | None
    """The identifier segment as sent."""
    auth: str
    """Scheme of the Authorization header: basic, bearer, other, none."""
    authorized: bool | None
    """Whether the credentials open the space; None when that was never decided (no route
    of the API, or still pending)."""
    status: int | None
    """The status answered; None while pending and when nothing was answered (a fault broke
    the connection, or the client went away first)."""
    outcome: Outcome
    """pending, answered, broken (by a fault), client went away, not answered."""
    fault: str | None
    """The id of the fault rule that fired on it, if one did."""
    fault_origin: str | None
    """Where that rule came from: ``fixtures`` (a fixture file's), ``settings``
    (``--fault``), or ``runtime`` (armed by a test, the Python API or the admin API); None
    when no rule fired."""
    fault_answered: bool | None
    """The answer was the rule's own: its status, a connection or body it broke, or none at
    all because the client gave up while the rule delayed it. False when the rule only
    delayed the API's own answer or added headers to it (that answer is the API's, and is
    judged as any other), and when no rule fired; None while pending."""
    hint: str | None
    """The ``Profilemock-Hint`` of an error answer: why the fake answered so."""
    duration_ms: float | None
    """Arrival to outcome; None while pending."""
    request_id: str | None
    """The answer's ``Request-Id``; None when nothing was answered."""
    violations: tuple[Violation, ...] = ()
    """Where the answer broke the contract (the validating proxy checks upstream answers)."""
    preflight: bool = False
    """A browser's CORS preflight the fake answered itself (``--cors``), not a call of the
    app: read only when asked for (``Journal.entries(preflights=True)``)."""

    @property
    def refused(self) -> bool:
        """The real API would refuse this request as sent: its credentials do not open the
        space, or the API rejected it as malformed (400, 405). Answers a fault injected and
        rate-limit 429s are not refusals: the request itself was fine."""
        if self.authorized is False:
            return True
        return not self.fault_answered and self.status in REFUSED_STATUSES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = format_ns(self.time)
        data["query"] = [list(pair) for pair in self.query]
        data["refused"] = self.refused
        return data


class Journal:
    """The last ``size`` finished requests and every pending one, in arrival order.

    Requests are kept as tuples of plain values (strings, numbers) and turned into entries
    only when read: recording is on every request's path, reading is rare. Plain values
    matter: the garbage collector stops tracking such tuples, where a request's route and
    URL objects, kept alive by the thousand, cost every request a share of its passes.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"the journal must hold at least 1 request, got {size}")
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._pending: dict[int, tuple[Any, ...]] = {}
        self._seq = 0
        self._preflights: set[int] = set()
        """The ``seq`` of each CORS preflight still kept."""
        self.dropped = 0
        """Finished requests pushed out by newer ones since the last clear: what is read
        of the journal then misses requests (an assertion on it cannot be trusted). A
        preflight pushed out is not counted: it is no request of the app."""

    def arrived(self, time: int, method: str, raw_path: str, auth: str) -> int:
        """Journal a request as it arrives (``raw_path`` as sent, query included); returns
        the ticket its outcome is recorded under."""
        self._seq += 1
        seq = self._seq
        self._pending[seq] = (seq, time, method, raw_path, auth, None, None)
        return seq

    def preflight(self, ticket: int) -> None:
        """The request journaled under ``ticket`` is a CORS preflight the fake answered."""
        if ticket in self._pending:
            self._preflights.add(ticket)

    def fault_fired(self, ticket: int, fault: str, origin: str) -> None:
        """A fault rule (from ``origin``) fired on a pending request (shown while it is
        held)."""
        kept = self._pending.get(ticket)
        if kept is not None:
            self._pending[ticket] = (*kept[:5], fault, origin)

    def finished(
        self,
        ticket: int,
        status: int | None,
        fault: str | None,
        duration_ms: float,
        outcome: Outcome,
        authorized: bool | None,
        hint: str | None,
        request_id: str | None = None,
        violations: tuple[Violation, ...] = (),
        fault_answered: bool = False,
    ) -> None:
        """The outcome of the request journaled under ``ticket`` (``fault_answered``: the
        answer was the fired rule's own); dropped when the journal was cleared since it
        arrived (the request belongs to the period before)."""
        kept = self._pending.pop(ticket, None)
        if kept is not None:
            # A rule that fired and then stood back (a body fault the API's error answered
            # first) is not the request's: its origin goes with it.
            origin = kept[6] if fault is not None else None
            entries = self._entries
            if len(entries) == entries.maxlen:
                if self._preflights and entries[0][0] in self._preflights:
                    self._preflights.discard(entries[0][0])
                else:
                    self.dropped += 1
            self._entries.append(
                (
                    *kept[:5],
                    status,
                    fault,
                    duration_ms,
                    request_id,
                    outcome,
                    authorized,
                    hint,
                    violations,
                    origin,
                    fault is not None and fault_answered,
                )
            )

    def record(
        self,
        time: int,
        method: str,
        raw_path: str,
        auth: str,
        status: int | None,
        fault: str | None,
        duration_ms: float,
        request_id: str | None,
        violations: tuple[Violation, ...] = (),
        hint: str | None = None,
    ) -> None:
        """Journal a request already answered (arrival and outcome at once)."""
        ticket = self.arrived(time, method, raw_path, auth)
        outcome: Outcome = ANSWERED if status is not None else BROKEN
        self.finished(
            ticket, status, fault, duration_ms, outcome, None, hint, request_id, violations
        )

    @property
    def size(self) -> int:
        """How many finished requests it keeps."""
        return self._entries.maxlen or 0

    def clear(self) -> None:
        """Forget every request, pending ones included: their outcomes will be dropped."""
        self._entries.clear()
        self._pending.clear()
        self._preflights.clear()
        self.dropped = 0

    def errors(self, after: int = 0) -> list[JournalEntry]:
        """The finished requests that count as errors whatever a test allows
        (``counts_as_error``), in arrival order; those that arrived ``after`` that ``seq``."""
        found = [
            kept
            for kept in self._entries
            if kept[0] > after
            and counts_as_error(kept[5], kept[13], kept[14])
            and kept[0] not in self._preflights
        ]
        return [_entry(kept) for kept in sorted(found, key=_arrival)]

    def __iter__(self) -> Iterator[JournalEntry]:
        """The app's requests (no preflight), in arrival order."""
        return iter(self.entries())

    def entries(self, preflights: bool = False) -> list[JournalEntry]:
        """Every request kept, pending ones included, in arrival order; the CORS preflights
        among them only when ``preflights``."""
        return [_entry(kept, preflight) for kept, preflight in self._kept(preflights)]

    def _kept(self, preflights: bool) -> list[tuple[tuple[Any, ...], bool]]:
        """What ``entries`` makes its entries of: each request as kept, pending ones as
        finished ones are, with whether it is a preflight."""
        pending = [
            (*p[:5], None, p[5], None, None, PENDING, None, None, (), p[6], None)
            for p in self._pending.values()
        ]
        # Finished requests are kept in the order they finished: nearly arrival order, which
        # sorts in one pass.
        kept = sorted([*self._entries, *pending], key=_arrival)
        marked = self._preflights
        if not marked:
            return [(e, False) for e in kept]
        return [(e, e[0] in marked) for e in kept if preflights or e[0] not in marked]

    def __len__(self) -> int:
        """How many requests of the app it keeps (no preflight)."""
        return len(self._entries) + len(self._pending) - len(self._preflights)

    def select(self, preflights: bool = False, **where: Any) -> list[JournalEntry]:
        """Entries whose fields equal every given value (None values are ignored); CORS
        preflights only when ``preflights``."""
        return self.latest(None, preflights, **where)[1]

    def latest(
        self, limit: int | None, preflights: bool = False, **where: Any
    ) -> tuple[int, list[JournalEntry]]:
        """How many entries ``select`` finds, and the latest ``limit`` (1 or more; None:
        all) of them. Only those are made entries (~9 µs each, their path and query
        parsed): the explorer asks for the latest 100 every second, and making every one
        of a full journal's 10,000 held the server ~0.1 s each time."""
        wanted = {k: v for k, v in where.items() if v is not None}
        found = [kept for kept in self._kept(preflights) if _matches(kept, wanted)]
        chosen = found if limit is None else found[-limit:]
        return len(found), [_entry(kept, preflight) for kept, preflight in chosen]


_KEPT_AT = {"method": 2, "auth": 4, "status": 5, "fault": 6}
"""Where a field ``select`` filters on is in a request as kept."""
_OF_ROUTE = {"route": "resource", "space": "space_id", "collection": "collection"}
"""Fields read off the request's route (``identifier`` too, by its own name)."""


def _matches(kept: tuple[tuple[Any, ...], bool], wanted: dict[str, Any]) -> bool:
    """Whether the request ``kept`` (with whether it is a preflight) has every ``wanted``
    field, read without making its entry where the request as kept says it."""
    request, preflight = kept
    route: Any = False
    for name, value in wanted.items():
        if name in _KEPT_AT:
            found = request[_KEPT_AT[name]]
        elif name in _OF_ROUTE or name == "identifier":
            if route is False:
                route = match_path(request[3])
            found = getattr(route, _OF_ROUTE.get(name, name)) if route else None
        else:
            found = getattr(_entry(request, preflight), name)
        if found != value:
            return False
    return True


def counts_as_error(status: int | None, fault_origin: str | None, fault_answered: bool) -> bool:
    """Whether a finished request is an error to ``assert_no_errors`` (before its
    ``allow=``): answered 400 or above, or not at all — unless the answer was a fault
    rule's own and a test armed that rule (``fault_origin`` runtime): that was expected."""
    failed = status is None or status >= 400
    return failed and not (fault_answered and fault_origin == "runtime")


def _arrival(kept: tuple[Any, ...]) -> int:
    seq: int = kept[0]
    return seq


def _entry(kept: tuple[Any, ...], preflight: bool = False) -> JournalEntry:
    (seq, time, method, raw_path, auth, status, fault, duration_ms, request_id, outcome,
     authorized, hint, violations, fault_origin, fault_answered) = kept  # fmt: skip
    route = match_path(raw_path)
    return JournalEntry(
        seq=seq,
        time=time,
        method=method,
        path=raw_path.partition("?")[0],
        query=list(URL(raw_path, encoded=True).query.items()),
        route=route.resource if route else None,
        space=route.space_id if route else None,
        collection=route.collection if route else None,
        identifier=route.identifier if route else None,
        raw_identifier=route.raw_identifier if route else None,
        auth=auth,
        authorized=authorized,
        status=status,
        outcome=outcome,
        fault=fault,
        fault_origin=fault_origin,
        fault_answered=fault_answered,
        hint=hint,
        duration_ms=duration_ms,
        request_id=request_id,
        violations=violations,
        preflight=preflight,
    )

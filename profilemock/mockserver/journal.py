"""The request journal: what reached the server, bounded in memory (a ring buffer).

Tokens are never kept: only the auth scheme and whether the credentials were accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from yarl import URL

from profilemock.mockserver.routing import match_path
from profilemock.schemas import Violation
from profilemock.timeutil import format_ns

DEFAULT_SIZE = 10_000
TEXT_FILTERS = ("method", "route", "space", "collection", "identifier", "fault", "auth")
"""Fields of an entry that ``select`` (and the admin API's ``/requests``) filter on, as text."""
NUMBER_FILTERS = ("status",)
"""Fields filtered on as whole numbers."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the server saw it."""

    seq: int
    time: int
    """Server clock at arrival, nanoseconds."""
    method: str
    path: str
    query: list[tuple[str, str]]
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
    status: int | None
    """None when the connection was broken on purpose (a fault) or by the client."""
    fault: str | None
    duration_ms: float
    request_id: str | None
    violations: tuple[Violation, ...] = ()
    """Where the answer broke the contract (the validating proxy checks upstream answers)."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = format_ns(self.time)
        data["query"] = [list(pair) for pair in self.query]
        return data


class Journal:
    """The last ``size`` requests, oldest first.

    Requests are kept as tuples of plain values (strings, numbers) and turned into entries
    only when read: recording is on every request's path, reading is rare. Plain values
    matter: the garbage collector stops tracking such tuples, where a request's route and
    URL objects, kept alive by the thousand, cost every request a share of its passes.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"the journal must hold at least 1 request, got {size}")
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._seq = 0

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
    ) -> None:
        """Keep one request: ``raw_path`` as sent, query included (route and query are
        worked out from it when the entry is read)."""
        self._seq += 1
        self._entries.append(
            (
                self._seq, time, method, raw_path, auth, status, fault, duration_ms, request_id,
                violations,
            )
        )  # fmt: skip

    def clear(self) -> None:
        self._entries.clear()

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter([_entry(e) for e in list(self._entries)])

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, **where: Any) -> list[JournalEntry]:
        """Entries whose fields equal every given value (None values are ignored)."""
        wanted = {k: v for k, v in where.items() if v is not None}
        return [e for e in self if all(getattr(e, k) == v for k, v in wanted.items())]


def _entry(kept: tuple[Any, ...]) -> JournalEntry:
    seq, time, method, raw_path, auth, status, fault, duration_ms, request_id, violations = kept
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
        status=status,
        fault=fault,
        duration_ms=duration_ms,
        request_id=request_id,
        violations=violations,
    )

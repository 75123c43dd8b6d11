"""The request journal: what reached the server, bounded in memory (a ring buffer).

Tokens are never kept: only the auth scheme and whether the credentials were accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from profilemock.timeutil import format_ns

DEFAULT_SIZE = 10_000


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
    """traits, external_ids, events, metadata, links, profiles; None for an unknown route."""
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

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = format_ns(self.time)
        data["query"] = [list(pair) for pair in self.query]
        return data


class Journal:
    """The last ``size`` requests, oldest first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"the journal must hold at least 1 request, got {size}")
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, entry: JournalEntry) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, **where: Any) -> list[JournalEntry]:
        """Entries whose fields equal every given value (None values are ignored)."""
        wanted = {k: v for k, v in where.items() if v is not None}
        return [e for e in self if all(getattr(e, k) == v for k, v in wanted.items())]

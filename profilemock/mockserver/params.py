"""Query parameters: parsed and checked against the endpoint table, or a clear 400.

Unknown parameters are ignored, as the real API ignores them (its own cursor URLs carry
internal ones). A documented single-valued parameter given twice is a 400: the real API
would silently pick one, and a test tool should say so instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import MultiMapping
from yarl import URL

from profilemock.api import (
    BOOLEAN_WORDS,
    ENDPOINTS,
    SORT_ORDERS,
    TRAIT_CLASSES,
    Endpoint,
    names_in,
    whole_number,
)
from profilemock.memo import Memo
from profilemock.mockserver.errors import invalid_request
from profilemock.timeutil import ISO_HINT, TimestampError, format_ns, parse_iso


@dataclass(frozen=True, slots=True)
class Query:
    """Everything a list endpoint was asked for, validated (shared by every request with the
    same query string)."""

    limit: int
    """As asked (echoed in the traits cursor)."""
    page_size: int
    """``limit`` clamped to the endpoint's largest page."""
    next: str | None = None
    verbose: bool = False
    klass: str | None = None
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    descending: bool = True
    repeat: tuple[tuple[str, str], ...] = ()
    """Every parameter as given but ``next``, in order: what a cursor URL repeats."""


def single(query: MultiMapping[str], name: str) -> str | None:
    """The one value of ``name``, or None; a 400 when it is given more than once."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise invalid_request(
            f"The parameter `{name}` was given {len(values)} times; give it once."
        )
    return values[0] if values else None


def comma_list(query: MultiMapping[str], name: str) -> tuple[str, ...] | None:
    """A parameter of ``api.NAME_LISTS`` (comma-separated, maybe repeated), or None when
    it was not sent."""
    values = query.getall(name, [])
    return names_in(values) if values else None


_OTHER_SPELLINGS = ", ".join(f"`{w}`" for w in BOOLEAN_WORDS if w not in ("true", "false"))


def parse_verbose(query: MultiMapping[str]) -> bool:
    """``verbose`` in any of the spellings the real (Go) service reads as a boolean, which
    the 400 names (it named only `true` and `false`, and `TRUE` and `1` were taken)."""
    text = single(query, "verbose")
    if text is None:
        return False
    if text not in BOOLEAN_WORDS:
        raise invalid_request(
            f"The parameter `verbose` must be `true` or `false` (also read as a boolean, as"
            f" the real API reads them: {_OTHER_SPELLINGS}), got `{text}`."
        )
    return BOOLEAN_WORDS[text]


class Queries:
    """Parsed queries by route and raw query string (bounded).

    A query string parses the same every time, and clients repeat a handful of them (the
    same ``limit`` for every user), so most requests skip parsing. Problems are not kept:
    a bad query is parsed, and answered with its 400, every time."""

    def __init__(self, size: int = 1024) -> None:
        self._known: Memo[tuple[str, str], Query] = Memo(size)

    def __len__(self) -> int:
        return len(self._known)

    def parse(self, resource: str, url: URL) -> Query:
        """The query of ``url`` for ``resource`` (a route of ``ENDPOINTS``)."""
        key = (resource, url.raw_query_string)
        query = self._known.get(key)
        if query is None:
            query = self._known.keep(key, parse_query(ENDPOINTS[resource], url.query))
        return query


def parse_query(endpoint: Endpoint, query: MultiMapping[str]) -> Query:
    """Check every documented parameter of ``endpoint``; the first problem is the 400."""
    if not query:
        return Query(
            limit=endpoint.default_limit, page_size=min(endpoint.default_limit, endpoint.page_max)
        )
    limit_text = single(query, "limit") if "limit" in query and "limit" in endpoint.params else None
    limit = endpoint.default_limit
    if limit_text is not None:
        asked = whole_number(limit_text, endpoint.limit_max)
        if asked is None or asked < 1:
            raise invalid_request(
                f"The parameter `limit` must be an integer between 1 and {endpoint.limit_max},"
                f" got `{limit_text}`."
            )
        limit = asked
    # Only the parameters that are there are parsed: most requests give one or two.
    present = set(query).intersection(endpoint.params)
    accepts = present.__contains__
    next_token = (single(query, "next") if accepts("next") else None) or None
    start = _instant(query, "start") if accepts("start") else None
    end = _instant(query, "end") if accepts("end") else None
    if start is not None and end is not None and start > end:
        raise invalid_request(
            f"The parameter `start` ({format_ns(start)}) is after `end` ({format_ns(end)})."
        )
    return Query(
        limit=limit,
        page_size=min(limit, endpoint.page_max),
        next=next_token,
        verbose=parse_verbose(query) if accepts("verbose") else False,
        klass=_trait_class(query) if accepts("class") else None,
        include=comma_list(query, "include") if accepts("include") else None,
        exclude=(comma_list(query, "exclude") or ()) if accepts("exclude") else (),
        start=start,
        end=end,
        descending=_descending(query) if accepts("sort") else True,
        repeat=tuple((k, v) for k, v in query.items() if k != "next"),
    )


def _trait_class(query: MultiMapping[str]) -> str | None:
    klass = single(query, "class")
    if klass is not None and klass not in TRAIT_CLASSES:
        allowed = " or ".join(f"`{c}`" for c in TRAIT_CLASSES)
        raise invalid_request(f"The parameter `class` must be {allowed}, got `{klass}`.")
    return klass


def _descending(query: MultiMapping[str]) -> bool:
    sort = single(query, "sort")
    if sort is not None and sort not in SORT_ORDERS:
        allowed = " or ".join(f"`{order}`" for order in SORT_ORDERS)
        raise invalid_request(f"The parameter `sort` must be {allowed}, got `{sort}`.")
    return sort != "asc"


def _instant(query: MultiMapping[str], name: str) -> int | None:
    text = single(query, name)
    if text is None:
        return None
    try:
        return parse_iso(text)
    except TimestampError as exc:
        raise invalid_request(
            f"The parameter `{name}` must be {ISO_HINT}, got `{text}`{_why(text, exc)}."
        ) from None


def _why(text: str, problem: TimestampError) -> str:
    """What is wrong with a ``start``/``end`` that reads as ISO 8601 but is no instant (a
    day not in the calendar, a year before 1000, an offset beyond 23:59), or that a raw
    ``+`` (read as a space in a query string) broke; nothing for any other text."""
    if " " in text.strip():
        try:
            parse_iso(text.replace(" ", "+"))
        except TimestampError:
            pass
        else:
            return "; a `+` in a query string reads as a space: send it as `%2B`"
    reason = str(problem).removeprefix(f"`{text}` ")
    return "" if reason == f"is not {ISO_HINT}" else f"; it {reason}"

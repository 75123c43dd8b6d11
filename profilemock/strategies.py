"""Hypothesis strategies for property tests of code that consumes the Profile API.

- ``profiles()``: profiles in the fixture format that load (``profile_api.add_user(**p)``).
- ``responses(endpoint)``: bodies the API sends, each valid against the schemas, made by the
  fake itself from drawn profiles and queries (pages with and without more, ``data: null``,
  verbose traits, every error envelope).
- ``drifted_responses(endpoint)``: bodies that break the contract in exactly one place,
  labelled with what broke and where, for testing that a consumer fails safely.

Needs Hypothesis (the ``hypothesis`` extra, or ``pip install Hypothesis``); ``import
profilemock`` never imports it.
"""

from __future__ import annotations

import copy
import enum
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from yarl import URL

from profilemock.extras import missing

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - depends on the environment
    raise missing("profilemock.strategies", "Hypothesis", "hypothesis") from None

from profilemock.api import (
    COLLECTIONS,
    ENDPOINTS,
    ID_TYPE_CHARS,
    OTHER,
    SORT_ORDERS,
    TRAIT_CLASSES,
    Collection,
    basic_authorization,
    default_body,
)
from profilemock.clock import Clock
from profilemock.fixtures.loader import load_documents
from profilemock.fixtures.source import from_data
from profilemock.mockserver.errors import ApiError
from profilemock.schemas import validate_response
from profilemock.store.ids import SEGMENT_ID_PREFIX
from profilemock.timeutil import parse_iso
from profilemock.words import not_one_of, show

__all__ = [
    "Drift",
    "Response",
    "drifted_responses",
    "profiles",
    "responses",
]

NOW = parse_iso("2026-01-15T12:00:00Z")
"""The clock the bodies are made at (relative fixture times are read against it)."""
SPACE = "sp_hypothesis"
TOKEN = "hypothesis-token"
HOST = "profiles.segment.com"
ENDPOINT_NAMES = (*ENDPOINTS, "error")
"""What ``responses`` and ``drifted_responses`` take: a route's name, or ``error``."""
ERROR_STATUSES = (400, 401, 404, 429, 500, 503)

# Readable values that shrink to "a", 0, False: what a failing example should look like.
# Names as real traits write them: `emails_opened_last_30_days` (the reference), `Lastname`
# (a real capture), `crossDomainId` (the reference's events).
_NAME = st.text(
    "abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12
)
_KEY = st.one_of(
    _NAME,
    # Now and then as people name them too ("First Name", `address.city`, `$browser`),
    # which a consumer's own parsing and a cursor's `next=` must carry: spaces, dots,
    # `&`, `=`, `%`, `#`, `/`, `?`, `+`, non-ASCII, an emoji (no comma: `include=` splits
    # at one).
    st.text("abcXYZ019_ .-$&=%#/?+éß日本😀", min_size=1, max_size=12),
)
"""A plain trait's name."""
_ID_VALUE = st.one_of(
    # Lowercase, as the API asks of external ids; now and then with what a consumer must
    # percent-encode in a path (` `, `/`, `?`, `#`, `%`, `&`) and non-ASCII.
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-.@+ /?#%&é", min_size=1, max_size=16),
    st.integers(min_value=0, max_value=10**12),
)
# Custom types too, as real captures hold them: `cross_domain_id`, `ios.idfa` (a dot).
_USER_ID_TYPES = (
    "user_id",
    "email",
    "anonymous_id",
    "phone",
    "ga_client_id",
    "cross_domain_id",
    "ios.idfa",
)
_ACCOUNT_ID_TYPES = ("group_id", "domain")
_LINK_EXAMPLE = {"users": "user_id:u1234", "accounts": "group_id:12345"}
# Explicit characters: ASCII first (shrinks to ""), then what breaks naive code — quotes,
# backslashes, control characters, non-ASCII, an emoji.
_CHARS = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,'\"\\\n\téüñß日本語😀"
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    # Now and then beyond what a double holds exactly (a JavaScript consumer's number, a
    # parser that reads every number as a float), to the int64 a real service may send.
    st.builds(operator.mul, st.sampled_from((1, -1)), st.integers(2**53 + 1, 2**63 - 1)),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(_CHARS, max_size=20),
    # Now and then a long one (a description, an encoded blob): a short piece repeated
    # 100 to 1,000 times, which costs no more to draw than the piece.
    st.builds(operator.mul, st.text(_CHARS, min_size=1, max_size=4), st.integers(100, 1000)),
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_NAME, inner, max_size=3)),
    max_leaves=6,
)
_SUBSECOND = st.one_of(
    st.just(""),
    st.sampled_from((2, 3, 5, 6, 9)).flatmap(
        lambda digits: st.integers(1, 10**digits - 1).map(lambda n: f"0.{n:0{digits}d}s")
    ),
)
"""A fraction of a second to add to a relative time: real times carry two to nine digits
of one (`.78Z`, `.40468Z`, `.172597879Z`)."""


def _ago(amount: st.SearchStrategy[int], unit: str) -> st.SearchStrategy[str]:
    """A relative time so many units ago, now and then with a fraction of a second more."""
    return st.tuples(amount, _SUBSECOND).map(lambda drawn: f"-{drawn[0]}{unit}{drawn[1]}")


_IN_WINDOW = _ago(st.integers(min_value=0, max_value=13 * 24), "h")
"""Inside the API's 14-day events window."""
_OUT_OF_WINDOW = _ago(st.integers(min_value=15, max_value=90), "d")


@dataclass(frozen=True)
class Response:
    """One answer of the API: the URL asked (path and query), the status, the JSON body."""

    url: str
    status: int
    body: Any

    @property
    def endpoint(self) -> str:
        """traits, external_ids, events, metadata, links, profiles, or error (4xx, 5xx)."""
        if self.status >= 400:
            return "error"
        path = urlsplit(self.url).path.rstrip("/")
        last = path.rsplit("/", 1)[-1]
        return "profiles" if last == "profiles" else last


@dataclass(frozen=True)
class Drift(Response):
    """A body that breaks the contract in one place: ``what`` broke, at ``pointer``."""

    what: str = ""
    """missing field, wrong type, unknown enum value, truncated page."""
    pointer: str = ""
    """The JSON pointer where validation reports it ("" for the whole body)."""
    detail: str = ""
    """What was changed, in words."""


class _Default(enum.Enum):
    """Defaults that depend on another argument."""

    STATUS = "200, or any error status for `error`"
    EVENTS = "True for users"


# -- profiles ---------------------------------------------------------------------------


@st.composite
def _ids(draw: st.DrawFn, collection: Collection) -> dict[str, Any]:
    types = _USER_ID_TYPES if collection == "users" else _ACCOUNT_ID_TYPES
    chosen = draw(st.lists(st.sampled_from(types), min_size=1, max_size=3, unique=True))
    ids: dict[str, Any] = {}
    for id_type in chosen:
        values = draw(st.lists(_ID_VALUE, min_size=1, max_size=2, unique_by=str))
        ids[id_type] = values[0] if len(values) == 1 else values
    return ids


_CONTEXT = st.fixed_dictionaries(
    {},
    optional={
        "ip": st.just("73.92.233.78"),
        "library": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["analytics.js", "analytics-ios"]),
                "version": st.just("3.2.5"),
            }
        ),
        "page": st.fixed_dictionaries(
            {"path": st.just("/pricing"), "url": st.just("https://example.com/pricing")}
        ),
        "userAgent": st.just("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_2)"),
        "traits": st.dictionaries(_NAME, _SCALAR, max_size=2),
    },
)
"""An event's context as the reference's event has one: text and nested objects."""


def _events_at(timestamp: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Every call a profile's events hold, each with its own call's fields (a track's
    `event`, a page's or screen's `name`, an identify's `traits`, a group's `group_id`, an
    alias's `previous_id`: the fixture schema refuses another call's), and now and then a
    context."""
    carried = st.dictionaries(_NAME, _SCALAR, max_size=3)
    return st.one_of(
        st.fixed_dictionaries(
            {
                "event": st.sampled_from(["Product Viewed", "Order Completed", "Signed Up"]),
                "timestamp": timestamp,
            },
            optional={"type": st.just("track"), "properties": carried, "context": _CONTEXT},
        ),
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["page", "screen"]),
                "name": st.sampled_from(["Home", "Pricing", "Checkout"]),
                "timestamp": timestamp,
            },
            optional={"properties": carried, "context": _CONTEXT},
        ),
        st.fixed_dictionaries(
            {"type": st.just("identify"), "timestamp": timestamp},
            optional={"traits": carried, "context": _CONTEXT},
        ),
        st.fixed_dictionaries(
            {"type": st.just("group"), "group_id": _ID_VALUE, "timestamp": timestamp},
            optional={"traits": carried, "context": _CONTEXT},
        ),
        st.fixed_dictionaries(
            {"type": st.just("alias"), "previous_id": _ID_VALUE, "timestamp": timestamp},
            optional={"context": _CONTEXT},
        ),
    )


_EVENT = _events_at(st.one_of(_IN_WINDOW, _OUT_OF_WINDOW))
_MORE_THAN_A_PAGE = {
    # More than the default page (10 traits, 10 events of the window): a client that reads
    # one page and takes it for all of them misses some. (Plain values, and events of one
    # kind: a profile this large costs more to draw, load and shrink.)
    "traits": st.dictionaries(_NAME, _SCALAR, min_size=11, max_size=12),
    "events": st.lists(
        st.fixed_dictionaries({"event": st.just("Product Viewed"), "timestamp": _IN_WINDOW}),
        min_size=11,
        max_size=12,
    ),
}


def _now_and_then_more(
    field: str, usual: st.SearchStrategy[Any], pages: bool
) -> st.SearchStrategy[Any]:
    """``usual``, and with ``pages`` about one draw in four more ``field`` than a page
    holds (``_now_and_then``: a failing example shrinks to the usual)."""
    if not pages:
        return usual

    @st.composite
    def drawn(draw: st.DrawFn) -> Any:
        return draw(_MORE_THAN_A_PAGE[field] if _now_and_then(draw) else usual)

    return drawn()


@lru_cache(maxsize=64)
def _profiles(
    collection: Collection,
    links: tuple[str, ...],
    events: bool,
    most: int = 4,
    asked: str | None = None,
    pages: bool = False,
) -> st.SearchStrategy[dict[str, Any]]:
    """``most``: traits and events at most; ``asked``: the field a response shows (traits,
    events), present in every example; ``pages``: now and then more traits and events than
    a page holds, whatever ``most``."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "traits": _now_and_then_more("traits", st.dictionaries(_KEY, _JSON, max_size=most), pages),
        "computed_traits": st.dictionaries(_NAME.map(lambda k: f"c_{k}"), _JSON, max_size=2),
        "audiences": st.dictionaries(_NAME.map(lambda k: f"a_{k}"), st.booleans(), max_size=2),
        "created_at": _ago(st.integers(min_value=1, max_value=400), "d"),
    }
    if events:
        optional["events"] = _now_and_then_more("events", st.lists(_EVENT, max_size=most), pages)
    if links:
        optional["links"] = st.lists(st.sampled_from(links), min_size=1, unique=True)
    required: dict[str, st.SearchStrategy[Any]] = {"ids": _ids(collection)}
    if asked in optional:
        required[asked] = optional[asked]
    return st.fixed_dictionaries(
        required, optional={k: v for k, v in optional.items() if k not in required}
    )


def profiles(
    collection: Collection = "users",
    *,
    links: Sequence[str] = (),
    events: bool | Literal[_Default.EVENTS] = _Default.EVENTS,
) -> st.SearchStrategy[dict[str, Any]]:
    """Profiles in the fixture format that load: ids of several types, custom ones too
    (strings and integers, one or several values, now and then with characters a path
    must percent-encode), traits of every JSON type (integers now and then beyond ±2**53,
    to int64; strings now and then long, names now and then with spaces, dots,
    URL-significant characters or non-ASCII), computed traits, audiences, events inside and
    outside the 14-day window (users: ``events=False`` for none; accounts have none), now
    and then more traits and events than a page holds (a client that reads one page misses
    some),
    ``created_at``, and
    links to some of ``links`` (``type:value`` identifiers, or segment ids, of existing
    profiles of the other collection; anything else is refused here, not in the test).
    Examples shrink to one id and nothing else.

    ``profile_api.add_user(**profile)`` (or ``add_account``) takes one as it is.
    """
    if collection not in COLLECTIONS:
        raise ValueError(not_one_of("collection", collection, COLLECTIONS))
    from profilemock.testing import flag

    if events is _Default.EVENTS:
        events = collection == "users"
    elif flag(events, "events") and collection == "accounts":
        # It drew none without a word: a test of an account's events tested nothing.
        raise ValueError(
            "events=True is for users: accounts have no events (the fixture format and"
            " add_account take none); leave events out for accounts"
        )
    return _profiles(collection, _links(collection, links), events, pages=True)


def _links(collection: Collection, links: Iterable[str]) -> tuple[str, ...]:
    """``links`` checked when the strategy is made: a bad one would fail only in the test,
    at ``add_user``, far from the mistake."""
    other = OTHER[collection]
    prefix = SEGMENT_ID_PREFIX[other]
    allowed = (
        f"links of {collection} name profiles of {other}, each by `type:value` (such as"
        f" {_LINK_EXAMPLE[other]}) or by segment id ({prefix}…)"
    )
    if isinstance(links, (str, bytes, Mapping)) or not isinstance(links, Iterable):
        what = f"the string {links!r}" if isinstance(links, str) else type(links).__name__
        raise TypeError(f"links is a list of identifiers, got {what}; {allowed}")
    given = tuple(links)
    for index, link in enumerate(given):
        if not isinstance(link, str):
            raise TypeError(f"links[{index}] is {type(link).__name__} {link!r}; {allowed}")
        id_type, colon, value = link.partition(":")
        if colon and value and re.fullmatch(f"{ID_TYPE_CHARS}+", id_type):
            continue
        if not colon and link.startswith(prefix) and len(link) > len(prefix):
            continue
        if link.startswith(SEGMENT_ID_PREFIX[collection]):
            what = f"a segment id of {collection}"
        elif colon and value and id_type:
            # A type no profile can hold: the test failed at add_user, far from the mistake.
            what = f"id type {id_type!r} is not letters, digits, `_`, `.` and `-`"
        else:
            what = f"neither `type:value` nor a segment id of {other}"
        raise ValueError(f"links[{index}] is {link!r}: {what}; {allowed}")
    return given


# -- responses --------------------------------------------------------------------------


@dataclass
class _Asked:
    """What the fake's ``answer`` reads of a request (an aiohttp request costs more to
    make than the answer)."""

    raw_path: str
    headers: dict[str, str]
    method: str = "GET"
    scheme: str = "https"
    host: str = HOST

    @property
    def rel_url(self) -> URL:
        return URL(self.raw_path, encoded=True)

    @property
    def path(self) -> str:
        return self.raw_path.partition("?")[0]


def _ask(
    document: dict[str, Any],
    path: str,
    query: dict[str, str],
    auth: bool = True,
    realism: Mapping[str, Any] | None = None,
) -> Response:
    """What the fake answers to ``GET path?query`` serving ``document`` (with these realism
    switches on)."""
    from profilemock.mockserver import routing
    from profilemock.mockserver.app import Exchange, answer, error_response
    from profilemock.mockserver.state import ServerSettings, ServerState

    clock = Clock(NOW)
    # The documents are valid by construction (the suite loads every profiles() example
    # through the schema check): build them without checking again.
    store = load_documents([from_data(document, "<profilemock.strategies>")], clock)
    state = ServerState.create(store, clock, ServerSettings(rate_limit=None, realism=realism or {}))
    url = f"{path}?{urlencode(query)}" if query else path
    request = _Asked(url, {"Authorization": basic_authorization(TOKEN)} if auth else {})
    try:
        route = routing.match("GET", url)
        exchange = Exchange(NOW, 0.0, "r", 0)
        response = answer(request, state, state.store, route, exchange)  # type: ignore[arg-type]
    except ApiError as exc:
        response = error_response(request, state, exc)  # type: ignore[arg-type]
    return Response(url, response.status, json.loads(bytes(response.body)))  # type: ignore[arg-type]


def _query(draw: st.DrawFn, endpoint: str, keys: list[str]) -> dict[str, str]:
    query: dict[str, str] = {}
    if endpoint != "metadata" and draw(st.booleans()):
        query["limit"] = str(draw(st.integers(min_value=1, max_value=5)))
    if endpoint == "traits":
        if draw(st.booleans()):
            query["verbose"] = "true"
        # Half the time a class: asked with none, a page holds every class of trait.
        klass = draw(st.none() | st.sampled_from(TRAIT_CLASSES))
        some_keys: bool = draw(st.booleans())
        if klass is not None:
            query["class"] = klass
        elif keys and some_keys:
            query["include"] = ",".join(
                draw(st.lists(st.sampled_from(keys), min_size=1, unique=True))
            )
    if endpoint == "events" and draw(st.booleans()):
        query["sort"] = draw(st.sampled_from(SORT_ORDERS))
    return query


@st.composite
def _ok(draw: st.DrawFn, endpoint: str) -> Response:
    collection: Collection = "users" if endpoint == "events" else draw(st.sampled_from(COLLECTIONS))
    other = OTHER[collection]
    # For links, more of them, and half the time the profile linked to each, so that pages
    # follow one another: four examples in five had no link, one in forty a next page.
    # (The listing shows one collection: none of the other.)
    least, most = (1, 8) if endpoint == "links" else (0, 0) if endpoint == "profiles" else (0, 3)
    others = _distinct(draw(st.lists(profiles(other, events=False), min_size=least, max_size=most)))
    base = f"/v1/spaces/{SPACE}/collections/{collection}/profiles"
    keys: list[str] = []
    if endpoint == "profiles":
        # The listing: now and then empty, now and then more than a page (10 by default).
        chosen = _distinct(draw(st.lists(profiles(collection), max_size=15)))
        path = base
    else:
        # Longer lists than profiles() draws: one list each, so that a failing page
        # shrinks to the item that fails (a longer list joined to the profile's own,
        # a local minimum for the shrinker, kept an event or two more in one seed in two).
        links = _links(collection, map(_identifier, others))
        main = draw(_profiles(collection, links, collection == "users", 12, endpoint))
        if endpoint in _COPIED:
            # Now and then more than a page holds (10 by default): copies of one more item,
            # which shrink away (to none) when the page's length is not what fails.
            item = draw(_COPIED[endpoint])
            copies = draw(st.integers(0, 20))
            main = {**main, endpoint: _with_copies(main[endpoint], item, copies)}
        if endpoint == "links" and draw(st.booleans()):
            main = {**main, "links": [_identifier(p) for p in others]}
        identifier = _quoted(_identifier(main))
        if _now_and_then(draw):
            # Asked by segment id, as the reference's cursor.url is written.
            main = {**main, "segment_id": _SEGMENT_IDS[collection]}
            identifier = _SEGMENT_IDS[collection]
        chosen = [main]
        path = f"{base}/{identifier}/{endpoint}"
        keys = list(main.get("traits", {})) + list(main.get("computed_traits", {}))
    space = {
        "tokens": [TOKEN],
        # The sources that set traits, ids and events, now and then as real ids look
        # (10 letters and digits) rather than the fake's own names.
        "default_source_id": draw(st.sampled_from(("profilemock", "GFu4AJc2bE", "CRx5M9uk2p"))),
        "computed_source_id": draw(st.sampled_from(("personas", "PersonasSp"))),
        collection: chosen,
        other: others,
    }
    document = {"now": "2026-01-15T12:00:00Z", "spaces": {SPACE: space}}
    query = _query(draw, endpoint, keys)
    # Now and then pages as a real capture shows them: fewer items than `limit` while
    # `has_more` is true.
    ask = partial(_ask, realism={"short_pages": _now_and_then(draw)})
    response = ask(document, path, query)
    # Half the time, a whole list asked again in smaller pages, so that a cursor follows:
    # the drawn lists are short, and few are longer than the limit asked.
    whole = _page_size(response.body)
    cursor = response.body.get("cursor") if isinstance(response.body, dict) else None
    if (
        whole > 1
        and isinstance(cursor, dict)
        and not cursor.get("has_more")
        and draw(st.booleans())
    ):
        query["limit"] = str(draw(st.integers(min_value=1, max_value=whole - 1)))
        response = ask(document, path, query)
    # Half the time, the next page when there is one.
    cursor = response.body.get("cursor") if isinstance(response.body, dict) else None
    if (
        isinstance(cursor, dict)
        and cursor.get("has_more")
        and cursor.get("url")
        and draw(st.booleans())
    ):
        parts = urlsplit(cursor["url"])
        response = ask(document, parts.path, dict(parse_qsl(parts.query)))
    return _as_seen(draw, response)


def _now_and_then(draw: st.DrawFn) -> bool:
    """True in about one draw in four, and False once shrunk: a shape the fake does not
    make by itself is drawn often enough to be met, and a failing example shows the fake's
    own unless the other shape is what fails. (``integers(0, 2) == 0`` was true in three
    draws in five, and shrank to the other shape: Hypothesis draws and shrinks to 0.)"""
    return bool(draw(st.integers(0, 2)) == 2)


def _as_seen(draw: st.DrawFn, response: Response) -> Response:
    """``response``, now and then in a shape the real API has been seen to answer in, which
    the fake does not make (each in shared/real-responses, and valid against the schemas):
    a relative ``cursor.url`` with no ``limit`` (the reference's traits example), a last
    page's cursor of ``has_more`` alone (the FAQ's), a last page of links with no cursor
    (the reference's links example), metadata without the top-level ``segment_id`` (the
    reference's metadata example), external ids without ``first_message_id`` (a 2018
    capture)."""
    body = response.body
    if not isinstance(body, dict) or not _now_and_then(draw):
        return response
    body = copy.deepcopy(body)
    cursor = body.get("cursor")
    if isinstance(cursor, dict) and cursor.get("url"):
        parts = urlsplit(cursor["url"])
        cursor["url"] = f"{parts.path}?{parts.query}"
        if draw(st.booleans()):
            cursor.pop("limit", None)
    elif isinstance(cursor, dict) and not cursor.get("has_more"):
        if response.endpoint == "links" and draw(st.booleans()):
            del body["cursor"]
        else:
            body["cursor"] = {"has_more": False}
    if response.endpoint == "metadata":
        body.pop("segment_id", None)
    if response.endpoint == "external_ids" and isinstance(body.get("data"), list):
        for item in body["data"]:
            item.pop("first_message_id", None)
    return Response(response.url, response.status, body)


_SEGMENT_IDS = {
    "users": "use_RkjG0kW53igMijEISMH0vKBF4sL",
    "accounts": "acc_2Bx3Ux6Ljh8ZdkI7Rn4q9c1mVfE",
}
"""A segment id to ask for a profile by (the reference's, and one like it)."""
_COPIED: dict[str, st.SearchStrategy[Any]] = {
    "traits": st.tuples(_KEY, _JSON),
    "events": _events_at(_IN_WINDOW),
}


def _with_copies(drawn: Any, item: Any, copies: int) -> Any:
    """The drawn traits (a mapping) or events (a list), and ``copies`` of one more."""
    if isinstance(drawn, dict):
        name, value = item
        return {**{f"{name}{n or ''}": value for n in range(copies)}, **drawn}
    return [*drawn, *[item] * copies]


def _page_size(body: Any) -> int:
    """The number of items on a page (0 for metadata, an error, ``data: null``)."""
    if not isinstance(body, dict):
        return 0
    items = body.get("traits", body.get("data"))
    return len(items) if isinstance(items, (dict, list)) else 0


def _distinct(drawn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The profiles whose ids no earlier one holds (an external id names one profile)."""
    taken: set[tuple[str, str]] = set()
    kept = []
    for profile in drawn:
        ids = {
            (id_type, str(v))
            for id_type, value in profile["ids"].items()
            for v in (value if isinstance(value, list) else [value])
        }
        if not ids & taken:
            kept.append(profile)
            taken |= ids
    return kept


def _identifier(profile: dict[str, Any]) -> str:
    id_type, value = next(iter(profile["ids"].items()))
    first = value[0] if isinstance(value, list) else value
    return f"{id_type}:{first}"


def _quoted(identifier: str) -> str:
    return quote(identifier, safe=":@")


_BAD_QUERIES = (
    {"limit": "0"},
    {"limit": "many"},
    {"limit": "1", "verbose": "maybe"},
    {"limit": "2", "next": "%%%"},
)
_BAD_PATHS = (
    "users!/profiles/user_id:someone",
    "users/profiles/user_id:",
    "users/profiles/:someone",
)
"""Path parameters the API refuses (``validation_error``; the reference's own 400 is a
collection with a `!`), beside the bad queries (``invalid_request_error``)."""


@st.composite
def _error(draw: st.DrawFn, endpoint: str, status: int) -> Response:
    resource = "traits" if endpoint in ("error", "profiles") else endpoint
    path = f"/v1/spaces/{SPACE}/collections/users/profiles/user_id:someone/{resource}"
    if status in (400, 401, 404):
        document = {
            "spaces": {SPACE: {"tokens": [TOKEN], "users": [{"ids": {"user_id": "someone"}}]}}
        }
        if status == 400:
            if draw(st.booleans()):
                path = path.replace(
                    "users/profiles/user_id:someone", draw(st.sampled_from(_BAD_PATHS))
                )
                query = {}
            else:
                query = draw(st.sampled_from(_BAD_QUERIES))
            answered = _ask(document, path, query)
            if answered.status == 400:
                return answered
        elif status == 401:
            return _ask(document, path, {}, auth=False)
        else:
            missing = path.replace("user_id:someone", "user_id:nobody")
            return _ask(document, missing, {})
    return Response(path, status, default_body(status))


def responses(
    endpoint: str,
    status: int | Sequence[int] | Literal[_Default.STATUS] | None = _Default.STATUS,
) -> st.SearchStrategy[Response]:
    """Answers of the API to ``endpoint`` (traits, external_ids, events, metadata, links,
    profiles, or error), each valid against the schemas: made by the fake from drawn
    profiles and queries. ``status`` is one status, several, or None for any (200 and the
    API's errors: 400, 401, 404, 429, 500, 503); by default 200, and for ``error`` any of
    its statuses (``responses("error")``)."""
    if endpoint not in ENDPOINT_NAMES:
        raise ValueError(not_one_of("endpoint", endpoint, ENDPOINT_NAMES))
    if status is _Default.STATUS:
        status = None if endpoint == "error" else 200
    allowed = (200, *ERROR_STATUSES)
    if status is None:
        statuses: tuple[int, ...] = ERROR_STATUSES if endpoint == "error" else allowed
    elif isinstance(status, int):
        statuses = (status,)
    elif isinstance(status, (str, bytes)) or not isinstance(status, (Sequence, Set)):
        # Read letter by letter it said "status '2' is not one this strategy makes"; 200.0
        # said "'float' object is not iterable"; a mapping was read as its keys (its values,
        # weights or bodies, dropped without a word), an iterator spent.
        raise TypeError(
            f"status is a status like 200, a list of them, or None; got {_given(status)}"
        )
    else:
        statuses = tuple(status)
        if not statuses:
            # It made a strategy of nothing, which Hypothesis reports, in the test, as
            # assumptions that are impossible to satisfy.
            raise ValueError(
                "status is an empty list; give a status like 200, a list of them, or None for any"
            )
    for value in statuses:
        if value not in allowed or (endpoint == "error" and value == 200):
            offered = ERROR_STATUSES if endpoint == "error" else allowed
            raise ValueError(
                f"status {value!r} is not one this strategy makes for {endpoint};"
                f" choose from {', '.join(str(s) for s in offered)}"
            )
    return _responses(endpoint, statuses)


def _given(value: Any) -> str:
    """A value as a message names it: its repr, with its type when that says nothing of it
    (``<list_iterator object at 0x…>``)."""
    shown = repr(value)
    if shown.startswith("<"):
        return f"a {type(value).__name__}"
    return f"the {type(value).__name__} {shown}" if isinstance(value, Mapping) else shown


@cache
def _responses(endpoint: str, statuses: tuple[int, ...]) -> st.SearchStrategy[Response]:
    """Strategies are built once per argument set: building one is not free."""
    return st.one_of(
        [_ok(endpoint) if chosen == 200 else _error(endpoint, chosen) for chosen in statuses]
    )


# -- drifted responses ------------------------------------------------------------------


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _nodes(body: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every value in ``body`` with its path, the body first."""
    found = [(path, body)]
    if isinstance(body, dict):
        for key, value in body.items():
            found += _nodes(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found += _nodes(value, (*path, index))
    return found


def _set(body: Any, path: Sequence[str | int], value: Any) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _delete(body: Any, path: Sequence[str | int]) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return changed


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 1
    if value is None:
        return 0
    if isinstance(value, list):
        return {}
    return []


Change = tuple[str, str, Callable[[], Any]]


def _candidates(body: Any) -> list[Change]:
    """(what, detail, make the drifted body) for every one-place change of ``body``."""
    found: list[Change] = []
    for path, value in _nodes(body):
        if not path:
            continue
        where = _pointer(path)
        if isinstance(path[-1], str):
            found.append(("missing field", f"`{where}` removed", partial(_delete, body, path)))
        wrong = _other_type(value)
        found.append(
            ("wrong type", f"`{where}` is {show(wrong)} instead of {show(value)}",
             partial(_set, body, path, wrong))
        )  # fmt: skip
        if isinstance(value, str):
            found.append(
                ("unknown enum value", f"`{where}` is \"unheard_of\" instead of {show(value)}",
                 partial(_set, body, path, "unheard_of"))
            )  # fmt: skip
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict) and len(item) > 1:
                found.append(
                    ("truncated page",
                     f"the page cut off inside item {index}: the items after it, the rest of"
                     " it and the cursor lost",
                     partial(_truncated, body, index))
                )  # fmt: skip
    return found


def _truncated(body: dict[str, Any], index: int) -> dict[str, Any]:
    """``body`` as if cut off inside item ``index`` of its page (and closed again)."""
    cut = {k: copy.deepcopy(v) for k, v in body.items() if k != "cursor"}
    item = cut["data"][index]
    kept = list(item)[: len(item) // 2]
    cut["data"] = [*cut["data"][:index], {k: item[k] for k in kept}]
    return cut


def _where(what: str, detail: str, make: Callable[[], Any], response: Response) -> Drift | None:
    """The drift, labelled with where validation reports it; None when the change does not
    break the contract (an optional field, a string the schema leaves free)."""
    drifted = make()
    violations = validate_response(response.url, response.status, drifted)
    if not violations:
        return None
    rules = {v.rule for v in violations}
    if what == "unknown enum value" and not rules & {"enum", "const"}:
        return None
    first = violations[0]
    return Drift(response.url, response.status, drifted, what, first.pointer, detail)


@st.composite
def _drifted(draw: st.DrawFn, endpoint: str) -> Drift:
    response = draw(responses(endpoint, 200 if endpoint != "error" else None))
    kinds: dict[str, list[Change]] = {}
    for change in _candidates(response.body):
        kinds.setdefault(change[0], []).append(change)
    # The kind of drift first (each as likely), then where: a truncated page is as common
    # as a wrong type, though a body has one page and many values.
    for kind in draw(st.permutations(sorted(kinds))):
        changes = kinds[kind]
        for index in draw(st.permutations(range(len(changes)))):
            drift = _where(*changes[index], response)
            if drift is not None:
                return drift
    from hypothesis import reject

    reject()
    raise AssertionError("unreachable")  # pragma: no cover


def drifted_responses(endpoint: str) -> st.SearchStrategy[Drift]:
    """Answers to ``endpoint`` that break the contract in exactly one place — a missing
    field, a wrong type, an unknown enum value, a truncated page — each labelled:
    ``what`` broke, the ``pointer`` where validation reports it, and a ``detail``."""
    if endpoint not in ENDPOINT_NAMES:
        raise ValueError(not_one_of("endpoint", endpoint, ENDPOINT_NAMES))
    return _drifted_for(endpoint)


@cache
def _drifted_for(endpoint: str) -> st.SearchStrategy[Drift]:
    return _drifted(endpoint)

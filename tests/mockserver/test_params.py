"""Query parsing: remembered per route and query string, never a problem."""

from __future__ import annotations

import re

import pytest
from yarl import URL

from profilemock.api import BOOLEAN_WORDS, names_in
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.params import Queries

TRAITS = "/v1/spaces/s/collections/users/profiles/user_id:u/traits"
EVENTS = "/v1/spaces/s/collections/users/profiles/user_id:u/events"


def test_a_query_string_is_parsed_once_per_route() -> None:
    queries = Queries()
    first = queries.parse("traits", URL(f"{TRAITS}?limit=50&verbose=true"))
    again = queries.parse("traits", URL("/v1/other/path?limit=50&verbose=true"))
    assert again is first
    assert (first.limit, first.page_size, first.verbose) == (50, 50, True)
    # The same string means another thing on another route: events pages at most 100.
    events = queries.parse("events", URL(f"{EVENTS}?limit=100"))
    traits = queries.parse("traits", URL(f"{TRAITS}?limit=100"))
    assert (events.page_size, traits.page_size) == (100, 100)
    assert events is not traits
    assert queries.parse("events", URL(f"{EVENTS}?limit=100")) is events


def test_raw_strings_that_differ_are_parsed_apart() -> None:
    queries = Queries()
    plain = queries.parse("traits", URL(f"{TRAITS}?include=a%2Cb", encoded=True))
    spaced = queries.parse("traits", URL(f"{TRAITS}?include=a+b", encoded=True))
    assert plain.include == ("a", "b")
    assert spaced.include == ("a b",)


@pytest.mark.parametrize(
    ("query", "include"),
    [
        ("", None),
        ("?include=", ()),
        ("?include=,%20,", ()),
        ("?include=a,,b&include=%20c", ("a", "b", "c")),
    ],
)
def test_include_names_are_read_as_the_journal_matches_them(
    query: str, include: tuple[str, ...] | None
) -> None:
    # An empty include names nothing, so answers nothing (README: the reference is silent).
    parsed = Queries().parse("traits", URL(f"{TRAITS}{query}", encoded=True))
    assert parsed.include == include
    sent = URL(f"{TRAITS}{query}", encoded=True).query.getall("include", [])
    assert (names_in(sent) if sent else None) == include


def test_a_bad_query_is_a_400_every_time() -> None:
    queries = Queries()
    for _ in range(2):
        with pytest.raises(ApiError) as raised:
            queries.parse("traits", URL(f"{TRAITS}?limit=0"))
        assert raised.value.status == 400
        assert "between 1 and 200" in raised.value.body()["error"]["message"]


def test_the_memory_is_bounded() -> None:
    queries = Queries(size=3)
    first = queries.parse("traits", URL(f"{TRAITS}?limit=1"))
    for limit in range(2, 6):
        queries.parse("traits", URL(f"{TRAITS}?limit={limit}"))
    assert len(queries) <= 3
    again = queries.parse("traits", URL(f"{TRAITS}?limit=1"))
    assert again == first
    assert again is not first


def test_metadata_takes_only_verbose() -> None:
    queries = Queries()
    assert queries.parse("metadata", URL("/m?verbose=1&limit=9999")).verbose is True
    with pytest.raises(ApiError):
        queries.parse("metadata", URL("/m?verbose=maybe"))


def test_every_spelling_the_verbose_400_names_is_taken() -> None:
    # The 400 said "`true` or `false`" while `TRUE` and `1` were taken too.
    with pytest.raises(ApiError) as raised:
        Queries().parse("traits", URL(f"{TRAITS}?verbose=yes"))
    message = raised.value.body()["error"]["message"]
    named = re.findall(r"`([^`]+)`", message.partition(", got")[0])[1:]
    assert sorted(named) == sorted(BOOLEAN_WORDS)
    for word in named:
        verbose = Queries().parse("traits", URL(f"{TRAITS}?verbose={word}")).verbose
        assert verbose is BOOLEAN_WORDS[word]


@pytest.mark.parametrize("written", ["0000000010", f"{'0' * 5000}10"])
def test_leading_zeros_are_no_part_of_a_limit(written: str) -> None:
    # `010` was 10 and `0000000010` (ten characters) a 400: its length was held to be the
    # number's.
    query = Queries().parse("traits", URL(f"{TRAITS}?limit={written}", encoded=True))
    assert (query.limit, query.page_size) == (10, 10)

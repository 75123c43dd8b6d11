"""Words in messages: one way of naming a value that is not one of the allowed names."""

from __future__ import annotations

import pytest

from profilemock.words import counted, did_you_mean, few, named, not_one_of, show, unreadable_body


def test_a_name_not_allowed_is_quoted_as_a_name_with_the_allowed_and_the_closest() -> None:
    assert not_one_of("route", "trait", ["traits", "events"]) == (
        "no route is called `trait`; routes are traits, events; did you mean `traits`?"
    )
    # Python's repr wrote "it's" in double quotes and 'trait' in single ones.
    assert not_one_of("route", "xy's", ["traits"]) == "no route is called `xy's`; routes are traits"


def test_a_suggestion_names_the_closest_or_says_nothing() -> None:
    assert did_you_mean("trait", ["traits", "events"]) == "; did you mean `traits`?"
    assert did_you_mean("xyz", ["traits", "events"]) == ""
    assert did_you_mean("trait", iter(["traits"])) == "; did you mean `traits`?"
    # A name mistaken in case too is named as it is written.
    assert did_you_mean("LG8283284", ["lg8283283", "eu"], any_case=True) == (
        "; did you mean `lg8283283`?"
    )


def test_a_name_that_does_not_print_is_shown_as_json_writes_it() -> None:
    # In backticks, a line break broke the message across lines and a tab hid.
    assert named("sp") == "`sp`"
    assert named("sp\n") == '"sp\\n"'
    assert named("a\tb") == '"a\\tb"'
    assert named("a`b") == '"a`b"'
    assert named("/traits", ticks="") == "/traits"
    assert named("/tr\nx", ticks="") == '"/tr\\nx"'
    assert not_one_of("route", "trait\n", ["traits"]) == (
        'no route is called "trait\\n"; routes are traits; did you mean `traits`?'
    )


def test_an_empty_name_is_told_as_empty() -> None:
    assert not_one_of("route", "", ["traits"]) == "no route has an empty name; routes are traits"


def test_counts_carry_a_thousands_separator_and_a_plural() -> None:
    assert [counted(n, "user") for n in (0, 1, 2, 100_000)] == [
        "0 users",
        "1 user",
        "2 users",
        "100,000 users",
    ]
    assert [counted(n, "entry", "entries") for n in (1, 2)] == ["1 entry", "2 entries"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"), (True, "true"), ({"a": None}, '{"a": null}'), ("yes", '"yes"'),
        (1.5, "1.5"), ("é", '"é"'),
        # A lone surrogate (JSON's "\ud800"): written raw, no UTF-8 log line or terminal
        # took the message (a logging traceback instead of the proxy's violation line).
        ("a\ud800", '"a\\ud800"'), ({"é": "\udc00"}, '{"é": "\\udc00"}'),
        # Cut short, never inside an escape it made.
        ("é\ud800" * 40, '"' + "é\\ud800" * 8 + "..."),
    ],
)  # fmt: skip
def test_values_are_shown_as_json_writes_them_not_as_python_does(value: object, shown: str) -> None:
    assert show(value) == shown


def test_a_long_list_is_cut_to_a_few_and_counted() -> None:
    assert few(["a", "b"]) == "a, b"
    assert few([str(n) for n in range(1001)], shown=2) == "0, 1, … (1,001 in all)"


def test_an_unreadable_body_is_told_by_the_last_line_of_the_library_s_message() -> None:
    # aiohttp's "400, message:\n  Can not decode content-encoding: br" (the admin API and
    # the proxy both tell it); an error without a message said nothing but an IndexError.
    told = unreadable_body(ValueError("400, message:\n  Can not decode content-encoding: br\n"))
    assert told == "the request body cannot be read: Can not decode content-encoding: br"
    assert unreadable_body(ValueError()) == "the request body cannot be read"

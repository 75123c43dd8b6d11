"""The one reader of JSON text from outside: any text is data or a located JsonInputError,
never a RecursionError, a lone surrogate or a non-finite number let through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilemock.jsonbytes import encode
from profilemock.jsontext import (
    MAX_DEPTH,
    JsonInputError,
    member_span,
    read_json,
    read_json_repeats,
    string_prefix_end,
    syntax_problem,
)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 5_000, 100_000])
def test_nesting_deeper_than_the_limit_is_located_never_a_recursion_error(depth: int) -> None:
    text = '{"a":\n' + "[" * depth + "]" * depth + "}"
    with pytest.raises(JsonInputError) as caught:
        read_json(text)
    assert caught.value.reason == f"nested deeper than {MAX_DEPTH} levels"
    assert (caught.value.line, caught.value.column) == (2, MAX_DEPTH)


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH
    assert read_json("[" * depth + "]" * depth) is not None


@pytest.mark.parametrize(
    ("text", "reason", "where"),
    [
        ('{"a": "x\\ud800"}', "`\\ud800` is a lone surrogate", (1, 9)),
        ('{"\\udfff": 1}', "`\\udfff` is a lone surrogate", (1, 3)),
        ('{"a":\n NaN}', "`NaN` is not a finite number", (2, 2)),
        ("[1, -Infinity]", "`-Infinity` is not a finite number", (1, 5)),
        ('{"a": 1e400}', "`1e400` is not a finite number", (1, 7)),
        ('{"a": ' + "9" * 5000 + "}", "an integer of 5000 digits", (1, 7)),
        ('{"a": }', "not JSON: Expecting value", (1, 7)),
    ],
)
def test_what_no_json_input_may_hold_is_told_with_its_place(
    text: str, reason: str, where: tuple[int, int]
) -> None:
    with pytest.raises(JsonInputError) as caught:
        read_json(text)
    assert caught.value.reason.startswith(reason)
    assert (caught.value.line, caught.value.column) == where


def test_surrogate_pairs_and_escaped_backslashes_are_read() -> None:
    assert read_json('["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]


def test_the_problem_is_told_of_its_subject() -> None:
    with pytest.raises(JsonInputError) as syntax:
        read_json("{")
    assert syntax.value.about("the body").startswith("the body is not JSON: Expecting")
    with pytest.raises(JsonInputError) as limit:
        read_json("[NaN]")
    assert limit.value.about("the body") == (
        "the body cannot be used: `NaN` is not a finite number at line 1 column 2"
    )


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ('{"a":"x\ty"}', "not JSON: Invalid control character at line 1 column 8"),
        ('{"a":"abc', "not JSON: Unterminated string starting at line 1 column 6"),
    ],
)
def test_a_syntax_error_says_at_once_where(text: str, told: str) -> None:
    # json ends these messages in "at", and the place came after: "Invalid control
    # character at at line 1 column 8" (and "...: Invalid control character at" where the
    # place is told before it, as `validate` and the fixture loader tell it).
    with pytest.raises(JsonInputError) as syntax:
        read_json(text)
    assert str(syntax.value) == told
    assert syntax.value.reason.endswith(("character", "starting"))


@pytest.mark.parametrize(
    ("text", "reason", "where"),
    [
        ("", "nothing to read: the text is empty", (1, 1)),
        (" \n", "nothing to read: the text is only white space", (2, 1)),
        ('{"a": 1,}', "a comma before `}`: JSON allows none after the last item", (1, 9)),
        ("[1,\n 2 ,\n]", "a comma before `]`: JSON allows none after the last item", (3, 1)),
        ('{"a": 1} {}', "more after the end of the JSON value (the text holds one value)", (1, 10)),
        ("[1 2]", "Expecting ',' delimiter", (1, 4)),
        # The wrong bracket after a comma is no trailing comma (it was told as one).
        ("[1,}", "Expecting value", (1, 4)),
        ('{"a": 1,]', "Expecting property name enclosed in double quotes", (1, 9)),
        (
            "\ufeff{}",
            "the text starts with a byte order mark (U+FEFF); save it as UTF-8 without one",
            (1, 1),
        ),
    ],
)
def test_text_that_is_not_json_is_told_the_plain_cause(
    text: str, reason: str, where: tuple[int, int]
) -> None:
    # json's own words were a puzzle: "Expecting value" of an empty file, "Expecting
    # property name enclosed in double quotes" of a comma before `}`, "Extra data".
    with pytest.raises(JsonInputError) as raised:
        read_json(text)
    assert (raised.value.reason, raised.value.line, raised.value.column) == (
        f"not JSON: {reason}",
        *where,
    )


@pytest.mark.parametrize(
    ("text", "message", "at", "told", "where"),
    [
        # Python 3.10-3.12's words and places, then Python 3.13's (at the comma).
        ('{"a": 1 , \n }', "Expecting property name enclosed in double quotes", 12, "}", (2, 2)),
        ('{"a": 1 , \n }', "Illegal trailing comma before end of object", 8, "}", (2, 2)),
        ("[1,\n 2 ,\n]", "Expecting value", 9, "]", (3, 1)),
        ("[1,\n 2 ,\n]", "Illegal trailing comma before end of array", 7, "]", (3, 1)),
    ],
    ids=["object", "object-3.13", "array", "array-3.13"],
)
def test_a_trailing_comma_is_told_alike_on_every_python(
    text: str, message: str, at: int, told: str, where: tuple[int, int]
) -> None:
    """Python 3.13 tells a trailing comma in words of its own, at the comma: the fake says
    what it said before, at the bracket, whichever Python it runs on."""
    error = json.JSONDecodeError(message, text, at)
    assert syntax_problem(error) == (
        f"a comma before `{told}`: JSON allows none after the last item",
        *where,
    )


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities: json.dumps writes them as NaN, Infinity
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=6),  # surrogates
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=10,
)


@given(value=JSON_VALUES, depth=st.integers(0, 2 * MAX_DEPTH))
def test_any_text_json_dumps_writes_is_data_that_encodes_or_a_located_error(
    value: Any, depth: int
) -> None:
    text = "[" * depth + json.dumps(value) + "]" * depth
    data, problem = _read(text)
    if problem is None:
        encode(data)  # what is read can always be written back as UTF-8 JSON
    else:
        assert problem.line == 1
        assert 1 <= problem.column <= len(text)


def _read(text: str) -> tuple[Any, JsonInputError | None]:
    try:
        return read_json(text), None
    except JsonInputError as exc:
        return None, exc


@given(
    data=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4),
    cursor=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4),
    url=st.text(),
    at=st.integers(0, 8),
    indent=st.sampled_from([None, 0, 2, "\t"]),
    ascii_only=st.booleans(),
)
def test_member_span_finds_the_value_json_loads_reads_and_nothing_else(
    data: dict[str, Any],
    cursor: dict[str, Any],
    url: str,
    at: int,
    indent: int | str | None,
    ascii_only: bool,
) -> None:
    cursor = {**cursor, "url": url}
    members = list(data.items())
    members.insert(min(at, len(members)), ("cursor", cursor))
    text = json.dumps(dict(members), indent=indent, ensure_ascii=ascii_only)
    span = member_span(text, "cursor", "url")
    assert span is not None
    assert json.loads(text[span[0] : span[1]]) == url
    assert member_span(text, "cursor", "nothing") is None
    token = text[span[0] : span[1]]
    for length in range(min(len(url), 12) + 1):
        # the prefix's characters end at the offset: the rest of the token reads as the rest
        assert json.loads('"' + token[string_prefix_end(token, length) :]) == url[length:]


def test_member_span_takes_the_last_of_repeated_keys_and_skips_other_objects() -> None:
    text = ' { "cursor" : {"url": 1} , "x": {"cursor": {"url": 2}},\n"cursor":{"url" : "u" , "url":"v" } } '
    span = member_span(text, "cursor", "url")
    assert span is not None
    assert text[span[0] : span[1]] == '"v"'
    assert member_span("[1]", "cursor") is None
    assert member_span('{"cursor": []}', "cursor", "url") is None
    assert member_span("{}", "cursor") is None


@pytest.mark.parametrize(
    ("text", "repeated"),
    [
        ('{"a": 1, "a": 2}', [((), "a", 2)]),
        ('{"x": {"b": "a", "a": [{"a": 1}],\n  "a": 3}}', [(("x",), "a", 2)]),
        ('{"\\u0061": 1, "a": 2, "a": 3}', [((), "a", 3)]),
        ('{"a\\n": 1, "a\\n": 2}', [((), "a\n", 2)]),
        ('[{"a": {"b": 1, "b": 2}}, {"c": 1, "c": 1}]', [((0, "a"), "b", 2), ((1,), "c", 2)]),
        # The first `a`'s own repeated `b` went with it, untold.
        ('{"a": {"b": 1, "b": 2}, "a": 3}', [((), "a", 2), (("a",), "b", 2)]),
        (
            '{"a": [{"c": 1, "c": 1}], "a": {"d": [{"e": 0, "e": 0}]}, "a": 3, "z": {"y": 1, "y": 2}}',
            [((), "a", 3), (("a", 0), "c", 2), (("a", "d", 0), "e", 2), (("z",), "y", 2)],
        ),
    ],
)
def test_a_key_given_twice_is_told_with_the_path_to_its_object(
    text: str, repeated: list[tuple[tuple[str | int, ...], str, int]]
) -> None:
    # Read as json.loads reads it, the first value was dropped without a word.
    data, repeats = read_json_repeats(text)
    assert data == read_json(text) == json.loads(text)  # the last one counts
    assert [tuple(r) for r in repeats] == repeated


def test_the_same_key_in_different_objects_or_inside_strings_is_no_duplicate() -> None:
    text = '[{"a": 1}, {"a": 1}, {"b": "{\\"b\\": 1, \\"b\\": 2}", "c": {"b": 2}}]'
    assert read_json_repeats(text) == (json.loads(text), [])

"""Schema errors in words a person can act on."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from profilemock.schemas.explain import explain


def _explained(schema: dict[str, Any], value: Any) -> list[tuple[Any, str, str]]:
    errors = list(Draft202012Validator(schema).iter_errors(value))
    assert len(errors) == 1
    return explain(errors[0], "field")


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        ({"exclusiveMinimum": 0}, 0, "0 is not allowed here: it must be more than 0"),
        ({"exclusiveMaximum": 1}, 1.5, "1.5 is not allowed here: it must be less than 1"),
        ({"minimum": 1}, 0, "0 is less than the minimum of 1"),
    ],
)
def test_a_bound_says_what_is_allowed(schema: dict[str, Any], value: Any, message: str) -> None:
    """jsonschema says "0 is less than or equal to the minimum of 0" of an exclusive bound:
    true, and no help to whoever must find a value that is allowed."""
    assert _explained({"type": "number", **schema}, value) == [((), schema.popitem()[0], message)]


def test_a_schemas_own_words_replace_jsonschemas() -> None:
    schema = {"type": "number", "exclusiveMinimum": 0, "x-message": "is more than 0 a second"}
    assert _explained(schema, 0) == [((), "exclusiveMinimum", "is more than 0 a second")]


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        ({"minLength": 1}, "", "an empty string is not allowed here"),
        ({"minItems": 1}, [], "an empty list is not allowed here"),
        ({"minProperties": 1}, {}, "an empty object is not allowed here"),
        ({"maxLength": 2}, "abc", '"abc" has more characters than allowed: at most 2 characters'),
        ({"minItems": 2}, [None], "[null] has fewer items than allowed: at least 2 items"),
        (
            {"uniqueItems": True},
            ["a", True, 1, "a"],
            '"a" is given twice; each item may appear once',
        ),
        ({"const": "track"}, None, 'null is not allowed here; expected "track"'),
        # Was "expected it must match ^[a-z]+$".
        (
            {"pattern": "^[a-z]+$"},
            "A",
            '"A" is not allowed here; expected a value that matches ^[a-z]+$',
        ),
    ],
)
def test_sizes_repeats_and_constants_are_told_as_json_writes_them(
    schema: dict[str, Any], value: Any, message: str
) -> None:
    # jsonschema's own words show Python's reprs: "'' should be non-empty", "['a', 'a'] has
    # non-unique elements", "None should not ...".
    assert _explained(schema, value) == [((), next(iter(schema)), message)]


@pytest.mark.parametrize(
    ("names", "key", "message"),
    [
        ({"minLength": 1}, "", "an empty field name is not allowed here"),
        (
            {"pattern": "^[a-z]+$", "description": "lowercase letters"},
            "A b",
            "field `A b` is not allowed here; expected lowercase letters",
        ),
        (
            {"pattern": "^[a-z]+$"},
            "A",
            "field `A` is not allowed here; expected a name that matches ^[a-z]+$",
        ),
    ],
)
def test_a_name_not_allowed_says_what_names_are_without_python_reprs(
    names: dict[str, Any], key: str, message: str
) -> None:
    # Was "field `` is not allowed here: '' should be non-empty" and "'A b' does not match
    # '^[a-z]+$'".
    assert _explained({"type": "object", "propertyNames": names}, {key: 1}) == [
        ((key,), "propertyNames", message)
    ]


def test_a_key_a_pattern_takes_is_not_unknown_and_the_pattern_is_named() -> None:
    # `x-base: &b …` beside a mistyped `base` was told unknown too, and the message never
    # said that keys starting with `x-` are free.
    schema = {
        "type": "object",
        "properties": {"spaces": {}, "now": {}},
        "patternProperties": {"^x-": {}, "^[Ll]ocation$": {}},
        "additionalProperties": False,
    }
    assert _explained(schema, {"x-base": 1, "base": 2, "spaces": {}}) == [
        (
            ("base",),
            "additionalProperties",
            "unknown field `base`; allowed here: now, spaces, or any field starting with `x-`",
        )
    ]

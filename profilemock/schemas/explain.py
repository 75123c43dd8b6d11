"""Turn jsonschema errors into (path, rule, message) a person can act on.

Shared by fixture checks ("unknown key") and response validation ("unknown field").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from profilemock.words import counted, did_you_mean, named, show

if TYPE_CHECKING:  # jsonschema is imported when a document is found invalid
    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]
REFUSAL = "x-message"
"""A schema's own words for what it refuses, where jsonschema's would not help (a rule
across fields, a pattern): the message names what is allowed."""

_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _expected_types(schema_type: Any) -> str:
    names = [schema_type] if isinstance(schema_type, str) else list(schema_type)
    return " or ".join(_TYPE_NAMES.get(n, n) for n in names)


def explain(
    error: ValidationError, word: str = "key", *, typed: bool = True
) -> list[tuple[Path, str, str]]:
    """(path, rule, message) for one jsonschema error; ``word`` names object members.
    ``typed``: a person wrote the data (a fixture, a fault rule), so an unknown key is
    likely mistyped and the closest known one is offered; not of an answer's field (a field
    the API added is no typo of `next`)."""
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    about = schema.get("description")
    kind = str(error.validator)
    instance = error.instance
    refusal = schema.get(REFUSAL)
    if "propertyNames" in error.relative_schema_path:
        if refusal:
            why = f"{word} {named(str(instance))} {refusal}"
            return [((*path, str(instance)), "propertyNames", why)]
        # jsonschema reports a bad key at its mapping's path, with the key as instance.
        if kind == "minLength":
            why = f"an empty {word} name is not allowed here"
        elif kind == "pattern":
            rule = about or f"a name that matches {error.validator_value}"
            why = f"{word} {named(str(instance))} is not allowed here; expected {rule}"
        else:
            why = f"{word} {named(str(instance))} is not allowed here: {error.message}"
        return [((*path, str(instance)), "propertyNames", why)]
    if refusal:
        return [(path, kind, refusal)]
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        allowed = ", ".join(sorted(known)) + "".join(
            f", or any {word} starting with `{p[1:]}`" if re.fullmatch(r"\^[\w-]+", p) else ""
            for p in patterns
        )
        return [
            (
                (*path, key),
                kind,
                f"unknown {word} {named(key)}; allowed here: {allowed}"
                + (did_you_mean(key, known) if typed else ""),
            )
            for key in instance
            # A key a pattern takes is allowed (`x-base` beside a mistyped `base` was told).
            if key not in known and not any(re.search(p, key) for p in patterns)
        ]
    if kind == "required":
        return [(path, kind, f"missing required {word} `{_missing(error)}`")]
    if kind == "type":
        why = f"{show(instance)} is not {_expected_types(error.validator_value)}"
        # A string of a described pattern says what it is to be, as a mismatch does: a
        # unix time given for a timestamp.
        return [(path, kind, f"{why}; expected {about}" if about and "pattern" in schema else why)]
    if kind == "enum":
        options = ", ".join(show(v) for v in schema.get("enum", ()))
        return [(path, kind, f"{show(instance)} is not one of: {options}")]
    if kind == "pattern":
        rule = about or f"a value that matches {error.validator_value}"
        return [(path, kind, f"{show(instance)} is not allowed here; expected {rule}")]
    if kind == "format":
        return [(path, kind, f"{show(instance)} is not a valid {error.validator_value}")]
    if kind in _EXCLUSIVE:  # jsonschema's words: "0 is less than or equal to the minimum of 0"
        bound = f"{_EXCLUSIVE[kind]} than {show(error.validator_value)}"
        return [(path, kind, f"{show(instance)} is not allowed here: it must be {bound}")]
    if kind in _SIZES:
        return [(path, kind, _size(kind, instance, error.validator_value))]
    if kind == "uniqueItems" and isinstance(instance, list):
        return [(path, kind, f"{_twice(instance)} is given twice; each item may appear once")]
    if kind == "const":
        return [
            (
                path,
                kind,
                f"{show(instance)} is not allowed here; expected {show(error.validator_value)}",
            )
        ]
    if kind in ("oneOf", "anyOf"):
        if about:
            return [(path, kind, f"{show(instance)} is not valid here; expected {about}")]
        from jsonschema.exceptions import best_match

        inner = best_match(error.context) if error.context else None
        return explain(inner, word, typed=typed) if inner else [(path, kind, error.message)]
    return [(path, kind, error.message)]


_EXCLUSIVE = {"exclusiveMinimum": "more", "exclusiveMaximum": "less"}
_SIZES = {
    "minLength": ("fewer", "character", "string"),
    "maxLength": ("more", "character", "string"),
    "minItems": ("fewer", "item", "list"),
    "maxItems": ("more", "item", "list"),
    "minProperties": ("fewer", "field", "object"),
    "maxProperties": ("more", "field", "object"),
}
"""jsonschema words these with Python's reprs: "'' should be non-empty"."""


def _twice(items: list[Any]) -> str:
    """The first item of ``items`` that comes again (``true`` is no second ``1``)."""
    for i, item in enumerate(items):
        if any(type(other) is type(item) and other == item for other in items[i + 1 :]):
            return show(item)
    return "an item"


def _size(kind: str, instance: Any, bound: Any) -> str:
    """What is wrong with a string, list or object of the wrong size, in JSON's words."""
    than, noun, container = _SIZES[kind]
    if than == "fewer" and bound == 1:
        return f"an empty {container} is not allowed here"
    limit = "at least" if than == "fewer" else "at most"
    return f"{show(instance)} has {than} {noun}s than allowed: {limit} {counted(bound, noun)}"


def _missing(error: ValidationError) -> str:
    required = error.validator_value
    instance = error.instance
    if isinstance(required, list) and isinstance(instance, dict):
        for key in required:
            if key not in instance:
                return str(key)
    return str(required)

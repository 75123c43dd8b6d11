"""The bundled JSON Schemas, loaded once through importlib.resources into registries.

Two registries hold the same schemas: the contract as documented (extra fields allowed,
as the real API may add some) and a strict copy in which every object that names its
fields accepts no other, so drift shows.

jsonschema and referencing are imported on first use (~0.1 s of every start otherwise): a
server that answers from valid fixtures and gets no admin change never needs them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry

BASE_URI = "https://profilemock.dev/schemas/"


@cache
def schema_files() -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` of the package, by file name."""
    found = {}
    for entry in resources.files("profilemock.schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            found[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    return found


def load_schema(name: str) -> dict[str, Any]:
    """One bundled schema by file name (``traits.schema.json``)."""
    return schema_files()[name]


STRICT_ONLY = "x-strict"
"""A schema's rules that only strict mode applies (what the docs show, where the real API
is known or suspected to vary): a track event names its ``event``, lists are lists."""


def strictify(schema: Any) -> Any:
    """A copy in which every object schema that lists ``properties`` allows no others, and
    every ``x-strict`` rule applies."""
    if isinstance(schema, list):
        return [strictify(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: _strictify_each(value) if key in _NAMED_SCHEMAS else strictify(value)
        for key, value in schema.items()
        if key != STRICT_ONLY
    }
    if "properties" in schema and "additionalProperties" not in schema:
        result["additionalProperties"] = False
    if STRICT_ONLY in schema:
        result["allOf"] = [*result.get("allOf", []), schema[STRICT_ONLY]]
    return result


_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
"""Keywords whose value maps names to schemas: a map, not a schema. An event's fields were
taken for one (it has a field named `properties`), and got a field `additionalProperties`
that strict mode then listed among those "allowed here" (and refused in a body)."""


def _strictify_each(named: Any) -> Any:
    if not isinstance(named, dict):
        return strictify(named)
    return {name: strictify(value) for name, value in named.items()}


@cache
def registry(strict: bool = False) -> Registry[Any]:
    """All bundled schemas, addressable by their ``$id``."""
    from referencing import Registry, Resource

    resources_ = []
    for contents in schema_files().values():
        schema = strictify(copy.deepcopy(contents)) if strict else contents
        resources_.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources_)


RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\Z", re.ASCII
)


def is_rfc3339(value: object) -> bool:
    """The ``date-time`` format as the API prints it (up to nine fractional digits)."""
    return not isinstance(value, str) or RFC3339.match(value) is not None


@cache
def fast_validator(name: str, strict: bool = False) -> Callable[[Any], bool] | None:
    """A yes/no check of one bundled schema by jsonschema-rs, hundreds of times faster than
    jsonschema (0.003 ms against 0.3 ms for an events page). Only an invalid document pays
    for jsonschema's detailed, explained errors. None when jsonschema-rs is missing."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
        return None
    documents = schema_files().values()
    rs_registry = jsonschema_rs.Registry(
        resources=[(d["$id"], strictify(copy.deepcopy(d)) if strict else d) for d in documents]
    )
    validator = jsonschema_rs.validator_for(
        {"$ref": BASE_URI + name},
        registry=rs_registry,
        formats={"date-time": is_rfc3339},
        validate_formats=strict,
    )
    is_valid: Callable[[Any], bool] = validator.is_valid

    def check(document: Any) -> bool:
        try:
            return is_valid(document)
        except UnicodeEncodeError:  # a lone surrogate, no Rust string: jsonschema explains
            return False

    return check


def _whole_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_FINAL_DOLLAR = re.compile(r"(?<!\\)((?:\\\\)*)\$\Z")
"""A pattern's last ``$`` (not an escaped ``\\$``)."""


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """``pattern`` as JSON Schema reads it (ECMA-262): its final ``$`` ends the text.
    Python's also matches before a last newline, so ``"2\\n"`` passed ``^[0-9]+$`` and a
    fault rule's header value ending in one broke every answer it was sent with."""
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str) and not re.search(_FINAL_DOLLAR.sub(r"\1\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def ecma_validator() -> type[Draft202012Validator]:
    """Draft 2020-12 with ``pattern`` read as JSON Schema says (``_ecma_pattern``), as
    jsonschema-rs reads it: the fixture check's explanations agree with its verdict."""
    from jsonschema import Draft202012Validator, validators

    extended: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"pattern": _ecma_pattern}
    )
    return extended


@cache
def input_validator() -> type[Draft202012Validator]:
    """Draft 2020-12 for input the code then uses: an ``integer`` is a whole number as
    written (``3``), not ``3.0``, which JSON Schema counts as one but Python cannot count
    with (``range(3.0)``); ``pattern`` as in ``ecma_validator``."""
    from jsonschema import validators

    base = ecma_validator()
    extended: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
        base, type_checker=base.TYPE_CHECKER.redefine("integer", _whole_number)
    )
    return extended

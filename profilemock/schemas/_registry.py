"""The bundled JSON Schemas, loaded once through importlib.resources into registries.

Two registries hold the same schemas: the contract as documented (extra fields allowed,
as the real API may add some) and a strict copy in which every object that names its
fields accepts no other, so drift shows.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from referencing import Registry, Resource

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


def strictify(schema: Any) -> Any:
    """A copy in which every object schema that lists ``properties`` allows no others."""
    if isinstance(schema, list):
        return [strictify(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strictify(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        result["additionalProperties"] = False
    return result


@cache
def registry(strict: bool = False) -> Registry[Any]:
    """All bundled schemas, addressable by their ``$id``."""
    resources_ = []
    for contents in schema_files().values():
        schema = strictify(copy.deepcopy(contents)) if strict else contents
        resources_.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources_)

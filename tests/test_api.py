"""The API's fixed facts (``profilemock.api``) against the other places that state them."""

from __future__ import annotations

from typing import Any

import pytest

from profilemock.api import ID_TYPE_CHARS, SPACE_ID_CHARS, TOKEN_CHARS
from profilemock.schemas.registry import load_schema


def _at(schema: dict[str, Any], *path: str) -> Any:
    for key in path:
        schema = schema[key]
    return schema


@pytest.mark.parametrize(
    ("path", "chars"),
    [
        (("$defs", "space_id", "pattern"), SPACE_ID_CHARS),
        (("$defs", "profile", "properties", "segment_id", "pattern"), SPACE_ID_CHARS),
        (("$defs", "id_type", "pattern"), ID_TYPE_CHARS),
        (("$defs", "space", "properties", "tokens", "items", "pattern"), TOKEN_CHARS),
    ],
    ids=["space id", "segment id", "id type", "token"],
)
def test_the_fixture_schema_allows_the_characters_the_server_does(
    path: tuple[str, ...], chars: str
) -> None:
    assert _at(load_schema("fixture.schema.json"), *path) == f"^{chars}+$"

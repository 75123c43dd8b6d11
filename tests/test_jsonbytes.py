"""The one encoder writes exactly what ``json.dumps`` writes, compact and UTF-8."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilemock import jsonbytes
from profilemock.jsonbytes import encode, pair

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert encode(value) == _dumps(value)


@given(st.text(), VALUES)
def test_a_member_is_its_key_a_colon_and_its_value(key: str, value: Any) -> None:
    assert pair(key, value) == _dumps({key: value})[1:-1]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.0, 1e16, 5e-324, True, 2**70])
def test_the_scalars_a_shortcut_could_get_wrong(value: object) -> None:
    assert encode(value) == _dumps(value)
    assert pair("k", value) == _dumps({"k": value})[1:-1]


def test_a_subclass_of_a_scalar_goes_through_the_encoder() -> None:
    class Level(int):
        def __repr__(self) -> str:
            return "Level(3)"

    assert encode(Level(3)) == b"3" == _dumps(Level(3))


def test_without_the_c_accelerator_values_are_written_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    fallback = jsonbytes._make_encoder()
    values: tuple[Any, ...] = ({"a": [1, 2.5, None, "é\u2028"], "b": {"c": True}}, [], {}, [[{}]])
    for value in values:
        assert fallback(value) == _dumps(value).decode()


def test_what_json_cannot_write_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        encode({"a": [{1, 2}]})

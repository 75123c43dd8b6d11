"""Compact UTF-8 JSON as bytes, and assembly of bodies from serialised pieces; what of a
Python value JSON cannot write (``unwritable``).

The one encoder of the package: fragments serialised when fixtures load and bodies
assembled from them when a request comes read the same.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from math import isfinite
from typing import Any

from profilemock.jsontext import lone_surrogate_message
from profilemock.problems import Path

_encode_string = json.encoder.encode_basestring  # the C one when available


def _make_encoder() -> Callable[[Any], str]:
    """``JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode``, without the C
    encoder it makes again at every call (a fifth of an event's serialisation)."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (another Python): the encoder's own way
        return encoder.encode
    one_pass = make(None, encoder.default, _encode_string, None, ":", ",", False, False, True)

    def encode(value: Any) -> str:
        return "".join(one_pass(value, 0))

    return encode


_encoder = _make_encoder()


def _text(value: Any) -> str:
    """``value`` as compact JSON text: scalars written as the encoder writes them, without
    its machinery (most values are scalars); everything else by the encoder."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and isfinite(value):
        return float.__repr__(value)
    return _encoder(value)


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    return _text(value).encode()


def pair(key: str, value: Any) -> bytes:
    """``"key":value``, serialised: a member of an object."""
    if type(value) is str:
        return (_encode_string(key) + ":" + _encode_string(value)).encode()
    return (_encode_string(key) + ":" + _text(value)).encode()


def json_list(items: Iterable[bytes]) -> bytes:
    """A JSON array of already-serialised items."""
    return b"[" + b",".join(items) + b"]"


def json_object(members: Iterable[bytes]) -> bytes:
    """A JSON object of already-serialised ``"key":value`` members."""
    return b"{" + b",".join(members) + b"}"


def page_body(
    name: str, items: Iterable[bytes] | None, cursor: bytes, *, keyed: bool = False
) -> bytes:
    """A list answer, ``{"<name>":[items],"cursor":cursor}``, joined in one copy (bodies of
    events reach tens of kB). ``keyed`` items are ``"key":value`` members of an object;
    None items read as ``null``."""
    if items is None:
        return b"".join((b"{", encode(name), b':null,"cursor":', cursor, b"}"))
    opening, closing = (b"{", b"}") if keyed else (b"[", b"]")
    return b"".join(
        (b"{", encode(name), b":", opening, b",".join(items), closing, b',"cursor":', cursor, b"}")
    )


def member(key: str, value: bytes) -> bytes:
    """``"key":value`` from a key and an already-serialised value."""
    return encode(key) + b":" + value


_KEYS = (str, int, float, bool, type(None))
"""Keys json.dumps writes (as strings)."""


def unwritable(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Where Python data given for a profile or a fault rule holds a value its JSON cannot:
    each is found when it is added, not when a request first serialises it (a 500 then),
    and NaN or infinity is refused as in a fixture file (the body would not be JSON).
    Lists, tuples, dicts and keys are taken as json.dumps takes them (other mappings are
    not)."""
    if isinstance(value, str):
        if not value.isascii() and (lone := _lone_surrogate(value)):
            yield path, f"the string {value!r}: {lone}"
        return
    if isinstance(value, bool | int | None):
        return
    if isinstance(value, float):
        if not isfinite(value):
            yield path, f"`{value}` is not a finite number (JSON has none)"
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from unwritable(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _KEYS):
                yield path, f"the key `{key!r}` is not a string; JSON object keys are strings"
            elif isinstance(key, str) and not key.isascii() and (lone := _lone_surrogate(key)):
                yield path, f"the key {key!r}: {lone}"
            else:
                yield from unwritable(item, (*path, key if isinstance(key, str) else str(key)))
    elif isinstance(value, dt.date):
        kind = "date and time" if isinstance(value, dt.datetime) else "date"
        yield (
            path,
            f"a {kind} ({value!r}) is not a JSON value; write it as `{value.isoformat()}`",
        )
    else:
        yield (
            path,
            f"a {_kind(value)} ({value!r}) is not a JSON value (strings, numbers, true, false,"
            " null, lists and objects are)",
        )


def _lone_surrogate(text: str) -> str | None:
    """What is wrong with a string UTF-8 cannot write (half of a surrogate pair), if it is."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return lone_surrogate_message(f"\\u{ord(text[exc.start]):04x}")
    return None


def _kind(value: Any) -> str:
    name = type(value).__name__
    return {"set": "set", "frozenset": "set", "bytes": "bytes string"}.get(name, name)

"""Cursor tokens in the real API's forms, and the cursor object of list responses.

- traits: the first key of the next page, as is;
- external_ids: the ``map_…`` id of the next mapping;
- events: base64 of ``"<unix-nanoseconds>::<message_id>"`` of the next event;
- links and profile lists: an opaque token that also names the list it belongs to, so a
  cursor replayed against another list is a 400 rather than a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from profilemock.api import is_digits
from profilemock.jsonbytes import encode
from profilemock.mockserver.errors import invalid_request


def bad_cursor(token: str) -> Exception:
    return invalid_request(
        f"The parameter `next` is not a valid cursor for this list: `{token}`. Pass the"
        " `cursor.next` value of the previous page of the same list."
    )


def encode_event(timestamp_ns: int, message_id: str) -> str:
    return base64.b64encode(f"{timestamp_ns}::{message_id}".encode()).decode()


def decode_event(token: str) -> tuple[int, str]:
    """``(timestamp_ns, message_id)`` from an events cursor, or a 400."""
    try:
        text = base64.b64decode(token, validate=True).decode()
        stamp, sep, message_id = text.partition("::")
        if not sep or not message_id or not is_digits(stamp):
            raise ValueError(text)
        return int(stamp), message_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_cursor(token) from None


def _fingerprint(scope: str) -> str:
    return hashlib.blake2b(scope.encode(), digest_size=6).hexdigest()


def encode_offset(offset: int, scope: str) -> str:
    """An opaque token for position ``offset`` of the list named by ``scope``."""
    raw = f"{offset}.{_fingerprint(scope)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(token: str, scope: str) -> int:
    """The position an opaque token points to, or a 400 if it is not one of this list's."""
    try:
        padded = token + "=" * (-len(token) % 4)
        offset_text, _, fingerprint = base64.urlsafe_b64decode(padded).decode().partition(".")
        if not is_digits(offset_text) or fingerprint != _fingerprint(scope):
            raise ValueError(token)
        return int(offset_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_cursor(token) from None


def cursor(
    base_url: Callable[[], str],
    repeat: Iterable[tuple[str, str]],
    next_token: str | None,
    limit: int | None = None,
) -> bytes:
    """``{url, has_more, next}`` (+ ``limit``), serialised: ``url`` is the list's URL
    (``base_url()``, asked only when there is a next page) with the parameters ``repeat``
    and ``next``. Written out by hand: it is in every list answer."""
    if next_token is None:
        if limit is None:
            return b'{"url":"","has_more":false,"next":""}'
        return b'{"url":"","has_more":false,"next":"","limit":%d}' % limit
    url = f"{base_url()}?{urlencode([*repeat, ('next', next_token)])}"
    fields = b'"url":' + encode(url) + b',"has_more":true,"next":' + encode(next_token)
    if limit is not None:
        fields += b',"limit":%d' % limit
    return b"{" + fields + b"}"

"""The one error type of the server and the API's error envelope.

Every step of the pipeline raises ``ApiError``; one place (``app.error_response``) renders it.
A hint, when there is one, goes into the ``Profilemock-Hint`` header: the body stays
exactly what the real API would send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from profilemock.api import HINT_HEADER, NOT_FOUND, RATE_LIMITED, UNAUTHENTICATED, envelope


class ApiError(Exception):
    """An error answer: status, the envelope's code and message, extra headers, a hint."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        message = sendable(message)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message)

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.hint:
            headers[HINT_HEADER] = header_safe(self.hint)
        return headers


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def sendable(text: str) -> str:
    """``text`` as a UTF-8 answer can carry it. Messages quote what the client sent, and
    aiohttp reads a header's bytes that are not UTF-8 as lone surrogates (byte 0xff as
    U+DCFF), which no UTF-8 text can hold: each is written as the byte it stands for
    (``\\xff``), any other lone surrogate as its escape (``\\ud800``)."""
    if text.isascii():
        return text
    return _LONE_SURROGATE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def header_safe(text: str) -> str:
    """``text`` as printable ASCII: hints quote what the client sent, which may hold
    control characters or non-ASCII (a header must not)."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(ch if " " <= ch <= "~" else f"\\x{ord(ch):02x}" for ch in escaped)


def not_found(hint: str | None = None) -> ApiError:
    return ApiError(404, *NOT_FOUND, hint=hint)


def unauthenticated(hint: str) -> ApiError:
    return ApiError(
        401,
        *UNAUTHENTICATED,
        hint=hint,
        headers={"WWW-Authenticate": "Basic"},
    )


def rate_limited() -> ApiError:
    return ApiError(429, *RATE_LIMITED)


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def invalid_characters(parameter: str, value: str, allowed: re.Pattern[str]) -> ApiError | None:
    """400 ``validation_error`` in the reference's words when ``value`` has characters
    outside ``allowed`` (a one-character class)."""
    if allowed.fullmatch(value) is not None:
        return None
    bad = "".join(dict.fromkeys(ch for ch in value if allowed.fullmatch(ch) is None))
    return ApiError(
        400,
        "validation_error",
        f"The parameter `{parameter}` has invalid character(s) `{bad}`",
    )

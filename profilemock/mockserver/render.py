"""JSON responses: compact UTF-8, ``Content-Type: application/json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from profilemock.jsonbytes import encode


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer; ``body`` is data to encode, or bytes already encoded."""
    return web.Response(
        body=body if isinstance(body, bytes) else encode(body),
        status=status,
        headers=headers,
        content_type="application/json",
    )

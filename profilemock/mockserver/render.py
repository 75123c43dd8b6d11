"""JSON responses: compact UTF-8, ``Content-Type: application/json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=_encode(body).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )

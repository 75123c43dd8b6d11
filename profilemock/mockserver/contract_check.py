"""The fake checking its own answers against the response schemas (strict), when on.

A violation is a bug in profilemock, so the answer becomes a 500 and the error is kept
for the test that provoked it (the pytest plugin re-raises it).
"""

from __future__ import annotations

import json

from aiohttp import web

from profilemock import schemas
from profilemock.api import envelope
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import ServerState


def checked(
    request: web.Request, response: web.StreamResponse, state: ServerState
) -> web.StreamResponse:
    """The answer if it is within the response schemas (strict); else a recorded 500."""
    if request.method == "HEAD" or not isinstance(response, web.Response) or response.body is None:
        return response
    body = json.loads(bytes(response.body))  # type: ignore[arg-type]
    # `data: null` on every list is the one answer a switch makes outside what the docs show.
    strict = not state.realism.null_lists
    try:
        violations = schemas.validate_response(
            request.raw_path, response.status, body, strict=strict
        )
    except schemas.UnknownEndpoint:
        violations = (
            schemas.validate(body, "error", strict=strict) if response.status >= 400 else []
        )
    if not violations:
        return response
    error = AssertionError(
        f"profilemock broke its own contract answering {request.method} {request.raw_path}: "
        + "; ".join(str(v) for v in violations)
    )
    state.errors.append(error)
    return json_response(envelope("internal_error", str(error)), 500)

"""JSON Schemas of every Profile API response body, and validation against them.

Use them on their own to check what the *real* API returns::

    from profilemock.schemas import validate_response
    problems = validate_response(url, response.status_code, response.json(), strict=True)

The names below (``__all__``) are the public surface. The modules are plain ones used
across the package: ``registry`` (every schema loaded once), ``explain`` (errors with
pointers), ``validation`` (bodies and URLs), ``files`` (JSON and HAR files for
``profilemock validate``).
"""

from __future__ import annotations

from profilemock.schemas.registry import load_schema, registry
from profilemock.schemas.validation import (
    BODIES,
    UnknownEndpoint,
    Violation,
    assert_valid,
    assert_valid_response,
    endpoint_for_url,
    validate,
    validate_response,
)

__all__ = [
    "BODIES",
    "UnknownEndpoint",
    "Violation",
    "assert_valid",
    "assert_valid_response",
    "endpoint_for_url",
    "load_schema",
    "registry",
    "validate",
    "validate_response",
]

"""JSON Schemas of every Profile API response body, and validation against them.

Use them on their own to check what the *real* API returns::

    from profilemock.schemas import validate_response
    problems = validate_response(url, response.status_code, response.json(), strict=True)
"""

from __future__ import annotations

from profilemock.schemas._registry import load_schema, registry
from profilemock.schemas._validation import (
    ENDPOINTS,
    UnknownEndpoint,
    Violation,
    assert_valid,
    assert_valid_response,
    endpoint_for_url,
    validate,
    validate_response,
)

__all__ = [
    "ENDPOINTS",
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

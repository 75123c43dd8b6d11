"""profilemock: a faithful fake of the Segment Profile API, with its response schemas."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from profilemock.clock import Clock
from profilemock.fixtures.errors import FixtureError
from profilemock.fixtures.loader import (
    DEMO_SPACE_ID,
    DEMO_TOKEN,
    demo_fixture_path,
    load_data,
    load_fixtures,
)
from profilemock.fixtures.store import Store
from profilemock.mockserver.app import create_app
from profilemock.mockserver.ratelimit import Limit
from profilemock.mockserver.state import ServerSettings
from profilemock.mockserver.thread import ServerThread
from profilemock.schemas import (
    Violation,
    assert_valid,
    assert_valid_response,
    validate,
    validate_response,
)
from profilemock.schemas.openapi import build_openapi

try:
    __version__ = version("profilemock")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEMO_SPACE_ID",
    "DEMO_TOKEN",
    "Clock",
    "FixtureError",
    "Limit",
    "ServerSettings",
    "ServerThread",
    "Store",
    "Violation",
    "__version__",
    "assert_valid",
    "assert_valid_response",
    "build_openapi",
    "create_app",
    "demo_fixture_path",
    "load_data",
    "load_fixtures",
    "validate",
    "validate_response",
]

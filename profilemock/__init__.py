"""profilemock: a faithful fake of the Segment Profile API, with its response schemas.

Names are imported on first use, so ``import profilemock`` (and the pytest plugin, which
every pytest run in the environment loads) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profilemock.clock import Clock
    from profilemock.fixtures.loader import (
        DEMO_SPACE_ID,
        DEMO_TOKEN,
        demo_fixture_path,
        load_data,
        load_fixtures,
    )
    from profilemock.mockserver.app import create_app
    from profilemock.mockserver.limits import Limits
    from profilemock.mockserver.serving import ServerThread
    from profilemock.mockserver.state import ServerSettings
    from profilemock.openapi import build_openapi
    from profilemock.problems import FixtureError
    from profilemock.schemas import (
        Violation,
        assert_valid,
        assert_valid_response,
        validate,
        validate_response,
    )
    from profilemock.store.space import Limit, Store
    from profilemock.testing import ProfileAPI

_WHERE = {
    "Clock": "profilemock.clock",
    "FixtureError": "profilemock.problems",
    "DEMO_SPACE_ID": "profilemock.fixtures.loader",
    "DEMO_TOKEN": "profilemock.fixtures.loader",
    "demo_fixture_path": "profilemock.fixtures.loader",
    "load_data": "profilemock.fixtures.loader",
    "load_fixtures": "profilemock.fixtures.loader",
    "Store": "profilemock.store.space",
    "create_app": "profilemock.mockserver.app",
    "Limit": "profilemock.store.space",
    "Limits": "profilemock.mockserver.limits",
    "ServerSettings": "profilemock.mockserver.state",
    "ServerThread": "profilemock.mockserver.serving",
    "Violation": "profilemock.schemas",
    "assert_valid": "profilemock.schemas",
    "assert_valid_response": "profilemock.schemas",
    "validate": "profilemock.schemas",
    "validate_response": "profilemock.schemas",
    "build_openapi": "profilemock.openapi",
    "ProfileAPI": "profilemock.testing",
}

__all__ = [
    "DEMO_SPACE_ID",
    "DEMO_TOKEN",
    "Clock",
    "FixtureError",
    "Limit",
    "Limits",
    "ProfileAPI",
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("profilemock")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value = globals()[name] = _version()
        return value
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'profilemock' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

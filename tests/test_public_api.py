"""The public API: an explicit __all__ whose every name resolves, imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import profilemock


def test_all_lists_exactly_the_lazy_names() -> None:
    assert set(profilemock.__all__) == {*profilemock._WHERE, "__version__"}


def test_every_public_name_resolves() -> None:
    for name in profilemock.__all__:
        assert getattr(profilemock, name) is not None, name


def test_server_thread_takes_limits_from_the_package_itself() -> None:
    """The README's `ServerThread(app, limits=Limits(...))`, written with public names."""
    from profilemock import (
        Clock,
        Limits,
        ServerThread,
        create_app,
        demo_fixture_path,
        load_fixtures,
    )

    clock = Clock()
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    with ServerThread(app, limits=Limits(header_timeout=2.5)) as server:
        assert server.limits.header_timeout == 2.5


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        profilemock.nope  # noqa: B018


def test_importing_the_package_and_the_pytest_plugin_stays_light() -> None:
    code = (
        "import sys, profilemock, profilemock.pytest_plugin;"
        "print(','.join(m for m in ('aiohttp', 'jsonschema', 'yaml', 'faker') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def test_the_command_line_imports_what_only_some_commands_use_in_those_commands() -> None:
    heavy = (
        "aiohttp",  # ~0.4 s: serve imports it while its fixtures are read; never check
        "yarl",  # ~0.1 s: the proxy's and the recorder's upstream URL
        "profilemock.mockserver.app",
        "profilemock.contract.proxy",
        "faker",  # ~0.25 s: generate and record --redact
        "jsonschema",  # ~0.1 s: explaining an invalid document, admin input, fault rules
        "yaml",  # YAML fixtures, generate, openapi
        "profilemock.contract.record",
        "profilemock.fixtures.generator",
        "profilemock.openapi",
        "profilemock.schemas.files",
    )
    code = f"import sys, profilemock.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""  # each of them paid by every `serve` start otherwise


def test_check_never_imports_the_server() -> None:
    code = (
        "import sys, profilemock.cli as cli, profilemock.fixtures.loader as loader;"
        "code = cli.main(['check', '--no-snapshots', str(loader.demo_fixture_path())]);"
        "print(code, [m for m in ('aiohttp', 'yarl') if m in sys.modules])"
    )
    checked = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert checked.stdout.splitlines()[-1] == "0 []"

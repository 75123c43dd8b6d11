"""What an optional extra leaves out: Faker (``generate``) is no default dependency, and
what needs it says which extra installs it, before it does anything."""

from __future__ import annotations

import importlib
import io
import re
import sys
from pathlib import Path

import pytest

from profilemock.cli import main
from profilemock.extras import MissingExtra
from profilemock.fixtures.generator import Plan, write


@pytest.fixture
def no_faker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faker as if not installed (``import faker`` raises ImportError)."""
    monkeypatch.setitem(sys.modules, "faker", None)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("no_faker")
@pytest.mark.parametrize("output", ["-", "file"])
def test_generate_without_faker_names_the_extra_and_writes_nothing(
    tmp_path: Path, output: str
) -> None:
    target = tmp_path / "g.yaml"
    where = [] if output == "-" else ["-o", str(target)]
    code, out, err = run("generate", "--users", "2", *where)
    assert (code, out) == (2, "")
    assert err == (
        "profilemock: error: profilemock generate needs Faker (the `generate` extra):"
        " pip install Faker\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_faker")
def test_record_redact_without_faker_names_the_extra_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No token and an upstream nobody listens on: the extra is told before either matters.
    monkeypatch.delenv("PROFILE_API_TOKEN", raising=False)
    code, _, err = run(
        "record", "--space", "sp", "--id", "user_id:u1", "--redact",
        "--upstream", "http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert err == (
        "profilemock: error: profilemock record --redact needs Faker (the `generate` extra):"
        " pip install Faker\n"
    )


@pytest.mark.usefixtures("no_faker")
def test_generating_from_python_without_faker_is_an_import_error_naming_the_extra() -> None:
    with pytest.raises(
        MissingExtra, match=r"needs Faker \(the `generate` extra\): pip install Faker$"
    ) as info:
        write(Plan(users=1, accounts=1), io.StringIO(), "json")
    assert isinstance(info.value, ImportError)


def test_strategies_without_hypothesis_name_their_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "profilemock.strategies", raising=False)
    with pytest.raises(MissingExtra) as info:
        importlib.import_module("profilemock.strategies")
    assert str(info.value) == (
        "profilemock.strategies needs Hypothesis (the `hypothesis` extra): pip install Hypothesis"
    )


def test_installing_profilemock_leaves_faker_out() -> None:
    """Faker's own pytest plugin would load in every pytest process of a consumer."""
    from importlib.metadata import requires

    wanted = requires("profilemock") or []
    plain = [w for w in wanted if "extra ==" not in w]
    assert not [w for w in plain if w.lower().startswith("faker")]
    extra = re.compile(r"extra == [\"']generate[\"']")
    assert [w for w in wanted if w.lower().startswith("faker") and extra.search(w)]

"""What a start imports: jsonschema and PyYAML only when first needed, with the same
answers and the same clear errors as when they were imported up front.

Each test runs in a fresh interpreter (a child process), where nothing is imported yet:
the first admin request, the first YAML file and the first invalid document are the ones
that import the library they need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("jsonschema", "referencing", "yaml")

FIXTURE = {
    "spaces": {
        "s": {"tokens": ["t"], "users": [{"ids": {"user_id": "u1"}, "traits": {"plan": "pro"}}]}
    }
}

SERVE = """
import base64, json, sys, urllib.error, urllib.request
import profilemock.cli  # everything `profilemock serve` imports (the server below)
from profilemock.clock import Clock
from profilemock.fixtures.loader import load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings

HEAVY = {heavy!r}
seen = {{}}
clock = Clock()
store = load_fixtures([sys.argv[1]], clock)
auth = {{"Authorization": "Basic " + base64.b64encode(b"t:").decode()}}

def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = dict(auth, **({{"Content-Type": "application/json"}} if data else {{}}))
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)

with ServerThread(create_app(store, clock, ServerSettings())) as server:
    seen["traits"] = call(server.url + "/v1/spaces/s/collections/users/profiles/user_id:u1/traits")
    seen["before admin"] = [m for m in HEAVY if m in sys.modules]
    seen["bad body"] = call(server.url + "/__admin/clock/advance", {{"by": "a while"}})
    seen["after admin"] = [m for m in HEAVY if m in sys.modules]
    seen["good body"] = call(server.url + "/__admin/clock/advance", {{"by": "1d"}})
    seen["whole number"] = call(server.url + "/__admin/faults", {{"status": 503.0}})
print(json.dumps(seen))
"""

LOAD = """
import json, sys
from profilemock.clock import Clock
from profilemock.fixtures.loader import load_fixtures
from profilemock.problems import FixtureError

try:
    load_fixtures([sys.argv[1]], Clock())
except FixtureError as exc:
    print(json.dumps([str(p) for p in exc.problems]))
"""


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a fresh server on a JSON fixture answered, and what it had imported when."""
    fixture = tmp_path_factory.mktemp("serve") / "users.json"
    fixture.write_text(json.dumps(FIXTURE))
    found: dict[str, Any] = json.loads(run(SERVE.format(heavy=HEAVY), str(fixture)))
    return found


def test_a_server_on_json_fixtures_answers_without_importing_jsonschema_or_yaml(
    seen: dict[str, Any],
) -> None:
    status, body = seen["traits"]
    assert (status, body["traits"]) == (200, {"plan": "pro"})
    assert seen["before admin"] == []


def test_the_first_admin_request_compiles_its_validator_and_is_held_to_the_schema(
    seen: dict[str, Any],
) -> None:
    status, body = seen["bad body"]
    assert status == 400
    assert body["error"]["message"] == (
        'body field `/by`: "a while" is not allowed here; expected a duration such as 30m, 6h'
        " or 1d12h."
    )
    assert "jsonschema" in seen["after admin"]
    assert "yaml" not in seen["after admin"]
    assert seen["good body"][0] == 200
    # A status given as 503.0 is read as the integer 503 (the input validator's type check).
    status, body = seen["whole number"]
    assert status == 201
    assert type(body["fault"]["status"]) is int
    assert body["fault"]["status"] == 503


def test_a_yaml_syntax_error_in_a_fresh_process_names_file_line_and_column(
    tmp_path: Path,
) -> None:
    fixture = tmp_path / "broken.yaml"
    fixture.write_text("spaces:\n  s:\n    tokens: [t\n    users: []\n")
    problems = json.loads(run(LOAD, str(fixture)))
    assert len(problems) == 1
    assert problems[0].startswith(f"{fixture}:")
    assert "YAML syntax" in problems[0]


def test_a_schema_problem_in_a_fresh_process_is_explained_with_its_line(tmp_path: Path) -> None:
    fixture = tmp_path / "users.json"
    data = json.loads(json.dumps(FIXTURE))
    data["spaces"]["s"]["users"][0]["colour"] = "red"
    fixture.write_text(json.dumps(data, indent=2))
    problems = json.loads(run(LOAD, str(fixture)))
    assert len(problems) == 1
    line = next(
        n for n, text in enumerate(fixture.read_text().splitlines(), 1) if '"colour"' in text
    )
    assert problems[0].startswith(f"{fixture}:{line}:")
    assert "unknown key `colour`" in problems[0]


def test_a_duplicate_key_in_json_is_located_through_the_yaml_reader(tmp_path: Path) -> None:
    fixture = tmp_path / "users.json"
    fixture.write_text('{"spaces": {"s": {"tokens": ["t"],\n "tokens": ["u"], "users": []}}}')
    problems = json.loads(run(LOAD, str(fixture)))
    assert len(problems) == 1
    assert problems[0].startswith(f"{fixture}:2:")
    assert "duplicate key `tokens`" in problems[0]

"""The README's examples run: every YAML block loads, every curl line answers as shown;
its table of commands names every option as `--help` does."""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from profilemock import ServerSettings, ServerThread, create_app
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_documents, load_fixtures
from profilemock.fixtures.source import read_text
from profilemock.fixtures.validate import schema_problems
from tests.conftest import NOW, Client, basic, running

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


YAML_BLOCKS = blocks("yaml")
CURL_LINES = [
    line for block in blocks("sh") for line in block.splitlines() if line.startswith("curl ")
]


def test_readme_has_examples() -> None:
    assert len(YAML_BLOCKS) >= 2
    assert len(CURL_LINES) >= 10


@pytest.mark.parametrize("text", YAML_BLOCKS, ids=[f"yaml-{i}" for i in range(len(YAML_BLOCKS))])
def test_yaml_examples_are_valid_fixtures(text: str) -> None:
    doc = read_text(text, "README.md")
    assert doc.problems == ()
    assert schema_problems(doc) == []
    store = load_documents([doc], Clock(NOW))
    assert store.spaces


@pytest.mark.parametrize("line", CURL_LINES)
async def test_curl_examples_answer_as_documented(demo_client: Client, line: str) -> None:
    words = shlex.split(line)
    options: dict[str, str] = {}
    positional = []
    rest = iter(words[1:])
    for word in rest:
        if word in ("-X", "-d", "-u", "-H", "--json"):
            options[word] = next(rest)
        elif not word.startswith("-"):
            positional.append(word)
    (address,) = positional
    url = urlsplit(address)
    assert url.netloc == "127.0.0.1:4010"
    headers = basic(options["-u"].rstrip(":")) if "-u" in options else {}
    if "--json" in options:  # curl --json sends the body as application/json
        options["-d"] = options["--json"]
        headers["Content-Type"] = "application/json"
    target = url.path + (f"?{url.query}" if url.query else "")
    method = options.get("-X", "GET")
    response = await demo_client.request(method, target, headers=headers, data=options.get("-d"))
    await response.json()
    if "-i" in words:
        documented = README[README.index(line) :].split("```")[0]
        status = int(re.search(r"# HTTP/1.1 (\d+)", documented).group(1))  # type: ignore[union-attr]
        hint = re.search(r"# Profilemock-Hint: (.*)", documented).group(1)  # type: ignore[union-attr]
        assert response.status == status
        assert response.headers["Profilemock-Hint"] == hint
    else:
        assert response.status in (200, 201), await response.text()


EXAMPLE_BLOCKS = [b for b in blocks("python") if b.startswith("# tests/")]
PYTHON_BLOCKS = [b for b in blocks("python") if b not in EXAMPLE_BLOCKS and "@pytest.mark" not in b]
ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))


async def test_the_admin_body_limit_is_the_one_documented(demo_client: Client) -> None:
    (limit,) = re.findall(r"A request body may be 1 MiB \(([0-9,]+) bytes\) at most", README)
    size = int(limit.replace(",", ""))
    for body, status in ((b" " * (size - 2) + b"{}", 200), (b" " * (size - 1) + b"{}", 413)):
        response = await demo_client.patch(
            "/__admin/realism", data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        )
        assert response.status == status


@pytest.mark.parametrize("block", EXAMPLE_BLOCKS, ids=lambda b: b.splitlines()[0][2:])
def test_readme_shows_test_files_of_the_suite_verbatim(block: str) -> None:
    name, _, body = block.partition("\n")
    assert body == (ROOT / name[2:]).read_text()


def test_marker_example_uses_the_registered_signature() -> None:
    (block,) = [b for b in blocks("python") if "@pytest.mark.profile_api" in b]
    from profilemock.pytest_plugin import _marker_arguments

    call = block.split("@pytest.mark.profile_api", 1)[1].split("\ndef ", 1)[0]
    arguments = eval("dict" + call)  # the marker's keyword arguments, as written
    assert set(_marker_arguments(**arguments)) == {
        "fixtures",
        "now",
        "space",
        "rate_limit",
        "faults",
        "realism",
        "live",
        "faults_must_fire",
        "no_errors",
    }


def test_python_examples_run() -> None:
    from profilemock import ServerThread, create_app
    from profilemock.fixtures.loader import demo_fixture_path, load_fixtures

    assert len(PYTHON_BLOCKS) >= 2
    namespace: dict[str, object] = {}
    for block in PYTHON_BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)
    clock = Clock(NOW)
    with ServerThread(create_app(load_fixtures([demo_fixture_path()], clock), clock)) as server:
        namespace["check_traits"](server.url, "lg8283283", "demo-token")  # type: ignore[operator]


EXAMPLES = Path(__file__).resolve().parent / "examples"


def test_the_consumer_examples_shown_are_the_files_the_suite_runs() -> None:
    # The README and docs/ show whole test files (a first line `# tests/examples/NAME.py`);
    # the suite runs those files, so what users copy is what passes here.
    shown = {
        block.split("\n", 1)[0].removeprefix("# tests/examples/"): block
        for text in [README, *(page.read_text() for page in DOCS)]
        for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
        if block.startswith("# tests/examples/")
    }
    assert sorted(shown) == sorted(p.name for p in EXAMPLES.glob("test_*.py"))
    for name, block in shown.items():
        assert block.split("\n", 1)[1] == (EXAMPLES / name).read_text(), name


SCHEMATHESIS_BLOCK = next(b for b in blocks("sh") if "schemathesis run" in b)


def test_the_schemathesis_commands_find_no_server_error_or_schema_violation(
    tmp_path: Path,
) -> None:
    """The README's exact commands, on a free port instead of 4010. The fake runs with its
    contract check on (as everywhere in the suite): an answer outside its own schemas would
    be a 500, which schemathesis reports."""
    bin_dir = Path(sys.executable).parent
    serve, *commands = [line for line in SCHEMATHESIS_BLOCK.splitlines() if line]
    assert serve.endswith(" &")
    words = shlex.split(serve[:-2])
    with subprocess.Popen(
        [str(bin_dir / words[0]), *words[1:], "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as server:
        try:
            assert server.stdout is not None
            url = re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline()).group(0)  # type: ignore[union-attr]
            for command in commands:
                words = shlex.split(command.replace("http://127.0.0.1:4010", url))
                output = None
                if ">" in words:
                    words, target = words[: words.index(">")], words[words.index(">") + 1]
                    output = (tmp_path / target).open("w")
                done = subprocess.run(
                    [str(bin_dir / words[0]), *words[1:]],
                    stdout=output or subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=tmp_path,
                    timeout=300,
                )
                if output:
                    output.close()
                assert done.returncode == 0, done.stdout
            # Every operation of the Profile API was exercised (and no admin route was).
            assert re.search(r"Tested: 6\b", done.stdout), done.stdout
        finally:
            server.terminate()


VALIDATE_BLOCK = next(b for b in blocks("text") if b.startswith("$ profilemock validate"))


async def test_the_validate_transcript_is_what_the_command_prints(
    demo_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each `$ profilemock validate ...` of the README, run on bodies the demo answers (the
    HAR's entries at the URLs the transcript names, each violation it shows put in), prints
    exactly the lines shown under it."""
    from profilemock import cli

    async def body(resource: str) -> Any:
        path = f"/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/{resource}"
        return await (await demo_client.get(path, headers=basic("demo-token"))).json()

    files = {"traits.json": await body("traits"), "error.json": await body("nope")}
    urls: list[tuple[str, int]] = []
    bodies: list[Any] = []
    for line in VALIDATE_BLOCK.splitlines():
        if entry := re.match(r"session\.har entry \d+: GET (\S+) (\d+): ", line):
            urls.append((entry.group(1), int(entry.group(2))))
            bodies.append(await body(entry.group(1).rsplit("/", 1)[1]))
        elif bodies and (drift := re.match(r'  (/\S+): "([^"]*)" ', line)):
            *parents, last = drift.group(1).split("/")[1:]
            target = bodies[-1]
            for key in parents:
                target = target[int(key) if isinstance(target, list) else key]
            target[last] = drift.group(2)
    files["session.har"] = {
        "log": {
            "entries": [
                {
                    "request": {"method": "GET", "url": url},
                    "response": {
                        "status": status,
                        "content": {"mimeType": "application/json", "text": json.dumps(content)},
                    },
                }
                for (url, status), content in zip(urls, bodies, strict=True)
            ]
        }
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    monkeypatch.chdir(tmp_path)
    for run in VALIDATE_BLOCK.split("$ ")[1:]:
        command, _, shown = run.partition("\n")
        out = io.StringIO()
        cli.main(shlex.split(command)[1:], stdout=out)
        assert out.getvalue() == shown.strip("\n") + "\n", command


# Flags the README names that belong to other tools: curl's --json, schemathesis's run,
# mitmdump's --set, pytest's --tb.
OTHER_TOOLS_FLAGS = {"--json", "--auth", "--exclude-checks", "--max-examples", "--set", "--tb"}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each subcommand of the command line with its parser."""
    from profilemock import cli

    (commands,) = [
        action for action in cli.parser()._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return dict(commands.choices)


def command_options() -> dict[str, set[str]]:
    """Each subcommand of the command line with its option strings."""
    return {
        name: {option for action in command._actions for option in action.option_strings}
        for name, command in command_parsers().items()
    }


def plugin_options() -> tuple[set[str], set[str]]:
    """The pytest plugin's command-line options and ini keys."""
    from profilemock import pytest_plugin

    options: set[str] = set()
    keys: set[str] = set()

    class Recorder:
        def getgroup(self, *args: object) -> Recorder:
            return self

        def addoption(self, *names: str, **settings: object) -> None:
            options.update(names)

        def addini(self, name: str, *args: object, **settings: object) -> None:
            keys.add(name)

    pytest_plugin.pytest_addoption(Recorder())  # type: ignore[arg-type]
    return options, keys


def commands_shown() -> list[tuple[str, str]]:
    """Every `profilemock COMMAND ...` the README shows, with the rest of its code span or
    code line (a line continued with a backslash read as one)."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", README, re.DOTALL)
    snippets = [line for block in fenced for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"```[a-z]*\n.*?```", "", README, flags=re.DOTALL)
    snippets += re.findall(r"`([^`\n]+)`", prose)
    names = "|".join(command_options())
    return [
        (found.group(1), snippet[found.end() :])
        for snippet in snippets
        for found in re.finditer(rf"\bprofilemock ({names})\b", snippet)
    ]


def test_every_flag_the_readme_names_exists() -> None:
    commands = command_options()
    options, _ = plugin_options()
    from profilemock import cli

    top = {option for action in cli.parser()._actions for option in action.option_strings}
    known = set().union(*commands.values(), top, options, OTHER_TOOLS_FLAGS)
    assert sorted(set(FLAG.findall(README)) - known) == []
    shown = commands_shown()
    assert len({command for command, _ in shown}) == len(commands)  # each is shown
    wrong = [
        f"profilemock {command} {flag}"
        for command, rest in shown
        for flag in FLAG.findall(rest)
        if flag not in commands[command]
    ]
    assert wrong == []


def test_every_option_of_the_plugin_is_in_the_readme() -> None:
    """Each option of the pytest plugin is named somewhere, and each ini key (the command
    line's options each have a row of the table of commands: tested below)."""
    options, keys = plugin_options()
    missing = sorted(options - set(FLAG.findall(README)))
    missing += sorted(key for key in keys if not re.search(rf"\b{key}\b", README))
    assert missing == []


def slug(heading: str) -> str:
    """A heading as GitHub links it: `The command line` is `#the-command-line`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def readme_slugs() -> set[str]:
    """The README's headings as GitHub links them."""
    prose = re.sub(r"```[a-z]*\n.*?```", "", README, flags=re.DOTALL)
    return {slug(heading) for heading in re.findall(r"^#+ (.*)$", prose, re.MULTILINE)}


def test_every_link_and_path_the_readme_names_exists() -> None:
    """Section links lead to a heading (GitHub's slugs), and the files it links or names
    in code (`bench/…`, `tests/…`, …) are in the repository."""
    slugs = readme_slugs()
    anchors = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert anchors
    assert sorted(anchors - slugs) == []
    files = set(re.findall(r"\]\((?!#|https?:)([^)#]+)\)", README))
    files |= set(re.findall(r"`((?:bench|docs|profilemock|scripts|tests)/[\w./-]*)`", README))
    assert sorted(name for name in files if not (ROOT / name).exists()) == []


def test_where_to_start_links_every_section() -> None:
    # A README of some 1,900 lines: a reader new to it finds the sections from its top.
    start = README[README.index("**Where to start.**") : README.index("\n## Quickstart")]
    linked = set(re.findall(r"\]\(#([^)]+)\)", start))
    prose = re.sub(r"```[a-z]*\n.*?```", "", README, flags=re.DOTALL)
    sections = [slug(heading) for heading in re.findall(r"^## (.*)$", prose, re.MULTILINE)]
    assert len(sections) >= 10
    assert [section for section in sections if section not in linked] == []


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_every_link_of_a_docs_page_leads_somewhere(page: Path) -> None:
    """A docs page's links to files are there, and one into the README names a heading."""
    slugs = readme_slugs()
    links = re.findall(r"\]\((?!https?:)([^)#]+)(?:#([^)]+))?\)", page.read_text())
    assert links
    assert [name for name, _ in links if not (page.parent / name).exists()] == []
    assert [a for name, a in links if a and name.endswith("README.md") and a not in slugs] == []


def _options(command: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in command._actions if a.option_strings and a.dest != "help"]


def _usage(name: str) -> str:
    """The usage cells of a command's rows in the README's table of commands (serve's
    options have rows of their own under its row; the connection limits' row says that
    `proxy` takes them too)."""
    section = README.split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    cells: dict[str, str] = {}
    command = ""
    for line in section.splitlines():
        if line.startswith("| `"):
            usage = re.split(r"(?<!\\)\|", line)[1].replace("\\|", "|")
            named = re.match(r" `profilemock (\w+)", usage)
            command = named[1] if named else command
            cells[command] = cells.get(command, "") + usage
            if "`proxy` takes them too" in line:
                cells["proxy"] = cells.get("proxy", "") + usage
    return cells[name]


@pytest.mark.parametrize("name", sorted(command_parsers()))
def test_every_option_of_a_command_has_help_and_a_row_in_the_readme(name: str) -> None:
    # `record --collection`, `proxy --max-body` and `--keep-upstream-urls` had no place in
    # the table; `openapi --format` and `validate --format` no help.
    usage = _usage(name)
    for action in _options(command_parsers()[name]):
        assert action.help, action.option_strings
        assert action.help != argparse.SUPPRESS, action.option_strings
        spelled = [
            re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", usage) for o in action.option_strings
        ]
        assert any(spelled), f"{name} {action.option_strings[-1]} is not in the README's table"


@pytest.mark.parametrize("name", sorted(command_parsers()))
def test_the_readme_names_each_options_value_as_its_help_does(name: str) -> None:
    # `generate --help` showed `--users USERS`, the README `--users N`.
    shown: dict[str, str] = {}
    for action in _options(command_parsers()[name]):
        if action.nargs == 0:
            continue
        value = action.metavar or ("|".join(sorted(action.choices)) if action.choices else None)
        assert isinstance(value, str), f"{name} {action.option_strings}: no metavar"
        shown.update(dict.fromkeys(action.option_strings, value))
    written = re.findall(
        r"(?<![\w-])(--?[a-z][\w-]*)[ =]([A-Z][A-Z0-9_:-]*|[a-z0-9_]+(?:\|[a-z0-9_]+)+)",
        _usage(name),
    )
    assert written
    for flag, value in written:
        value = "|".join(sorted(value.split("|")))  # choices in any order
        assert shown.get(flag) == value, (
            f"{name} {flag} {value}: --help shows {flag} {shown.get(flag)}"
        )


def literal(line: str) -> str:
    """``line`` as an fnmatch pattern that matches only itself."""
    return re.sub(r"[\[*?]", lambda m: f"[{m.group(0)}]", line)


@pytest.fixture
def demo_upstream() -> Iterator[ServerThread]:
    """The upstream the README's transcripts name: a fake of the demo data."""
    clock = Clock()
    store = load_fixtures([demo_fixture_path()], clock)
    with ServerThread(create_app(store, clock, ServerSettings(rate_limit=None))) as server:
        yield server


LIVE_BLOCK = next(b for b in blocks("text") if b.startswith("$ PROFILE_API_TOKEN=... pytest"))


def test_the_live_transcript_is_what_the_live_run_prints(
    demo_upstream: ServerThread, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's live run, against the "real API" it names (the demo fake answering
    `user_id:drifting` out of contract) with the `--tb=line` it names, prints every line shown,
    in order (a line number in profilemock's modules aside: `live.py:220` moves with every edit above it;
    the consumer test's own are as shown)."""
    from tests.contract.test_live import CONSUMER_TESTS, DRIFT, INI

    command, *shown = LIVE_BLOCK.splitlines()
    demo_upstream.call(lambda state: state.faults.add(DRIFT))
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    pytester.makeini(INI)
    (pytester.path / "test_consumer.py").write_text(CONSUMER_TESTS)  # its lines as shown
    words = shlex.split(command.replace("https://profiles.segment.com", demo_upstream.url))
    assert words[:3] == ["$", "PROFILE_API_TOKEN=...", "pytest"]
    arguments = [w.replace("SPACE", "lg8283283") for w in words[3:]]
    result = pytester.runpytest(*arguments, "--tb=line")

    def pattern(line: str) -> str:
        line = re.sub(r"in \d+\.\d+s ", "in *s ", line)
        line = re.sub(r"(?<!test_consumer)\.py:\d+", ".py:*", line)
        return re.sub(r"(^|\] )profilemock/", r"\1*profilemock/", line)  # wherever installed

    result.stdout.fnmatch_lines([pattern(literal(line)) for line in shown if line])


def test_every_module_of_the_layout_exists() -> None:
    """The layout under Development names modules and packages of the tree as it is: each
    package, and each module of ARCHITECTURE.md's tools and entry points (the plugin and the
    strategies were missing)."""
    layout = README.split("The layout:\n\n```\nprofilemock/\n", 1)[1].split("```", 1)[0]
    names = [
        name
        for line in layout.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
        for name in re.split(r",\s*", line.split("  ")[1].strip())
    ]
    assert len(names) >= 10
    assert sorted(name for name in names if not (ROOT / "profilemock" / name).exists()) == []
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    rows = re.findall(r"^\| (?:tools|entry points) \| (.*?) \|", architecture, re.MULTILINE)
    modules = {m.removesuffix("/") for row in rows for m in re.findall(r"`([\w/]+)`", row)}
    packages = {p.name for p in (ROOT / "profilemock").iterdir() if (p / "__init__.py").exists()}
    wanted = {f"{m}/" if m in packages else f"{m}.py" for m in modules - {"__init__", "__main__"}}
    wanted |= {f"{p}/" for p in packages}
    assert sorted(wanted - set(names)) == []


RECORD_BLOCK = next(b for b in blocks("text") if b.startswith("$ export PROFILE_API_TOKEN="))
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def test_the_record_transcript_is_what_recording_the_demo_prints(
    demo_upstream: ServerThread, tmp_path: Path
) -> None:
    """The README's `record` run, against the upstream it names (`profilemock serve` of the
    demo data, `--upstream` where `--region us` stands), prints the lines shown, and the file
    begins as shown — its times and the upstream's URL aside."""
    runs = RECORD_BLOCK.replace("\\\n", " ").split("\n$ ")[1:]
    (record, shown), (head, begins) = (run.split("\n", 1) for run in runs)
    assert head == "head -22 recorded.yaml"
    words = shlex.split(record.replace("--region us", f"--upstream {demo_upstream.url}"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / words[0]), *words[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PROFILE_API_TOKEN": "demo-token"},
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # one profile was not found
    assert TIMESTAMP.sub("T", done.stdout + done.stderr) == TIMESTAMP.sub("T", shown)
    written = "".join((tmp_path / "recorded.yaml").read_text().splitlines(True)[:22])
    written = written.replace(demo_upstream.url, "https://profiles.segment.com")
    assert TIMESTAMP.sub("T", written) == TIMESTAMP.sub("T", begins.split("```")[0])


PROXY_BLOCK = next(b for b in blocks("text") if b.startswith("$ profilemock proxy"))


def test_the_proxy_transcript_is_what_the_proxy_prints(demo_upstream: ServerThread) -> None:
    """The README's proxy run: its banner (`--upstream` where `--region us` stands), the
    answer of an upstream drifting as shown (the demo fake told through a fault rule), and
    the lines on the proxy's stderr (`…` standing for the space, any size and time)."""
    (command, banner), (curl, rest) = (
        run.split("\n", 1) for run in f"\n{PROXY_BLOCK}".split("\n$ ")[1:]
    )
    answer, logged = rest.split("\n\n# on the proxy's stderr:\n")
    *headers, body = answer.splitlines()[1:]
    drift = {"route": "events", "status": 200, "body": json.loads(body)}
    demo_upstream.call(lambda state: state.faults.add(drift))
    words = shlex.split(command.split("#")[0].replace("--region us", "--upstream U"))
    words = [{"U": demo_upstream.url, "8080": "0"}.get(word, word) for word in words]
    with running(str(Path(sys.executable).parent / words[0]), *words[1:]) as proxy:
        assert proxy.stdout is not None
        assert proxy.stderr is not None
        printed = "".join(proxy.stdout.readline() for _ in banner.splitlines())
        origin = re.search(r"http://127\.0\.0\.1:\d+", printed).group(0)  # type: ignore[union-attr]
        url = shlex.split(curl)[-1].replace("$SPACE", "lg8283283")
        response = requests.get(
            url.replace("http://127.0.0.1:8080", origin), auth=("demo-token", ""), timeout=10
        )
        proxy.terminate()  # its request lines are all written as it stops
        errors = proxy.stderr.read()
    expected = banner.replace("http://127.0.0.1:8080", origin)
    assert printed.replace(demo_upstream.url, "https://profiles.segment.com") == expected
    assert response.status_code == 200
    for header in headers:
        name, value = header.split(": ")
        assert response.headers[name] == value or name == "Request-Id"
    assert response.text == body
    patterns = [re.sub(r"…|\b\d+ \d+ms$", "*", literal(line)) for line in logged.splitlines()]
    found = [line for line in errors.splitlines() if "/events" in line]
    assert len(found) == len(patterns), errors
    matched = [fnmatch.fnmatchcase(*pair) for pair in zip(found, patterns, strict=True)]
    assert all(matched), (found, patterns)


SERVE_LINES = [
    found.group(1)
    for block in blocks("[a-z]*")
    for line in block.replace("\\\n", " ").splitlines()
    if (found := re.search(r"(?:^|\$ |/)profilemock serve\b(.*)", line))
]


@pytest.mark.parametrize("rest", SERVE_LINES)
def test_every_serve_command_shown_takes_its_flags(
    rest: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each `profilemock serve …` of the README gets past its flags — a `--fault` spec, a
    `--realism` switch, `--now` — which are read before any fixture: run with a fixture file
    that is not there, it stops on that file alone."""
    from profilemock import cli

    monkeypatch.chdir(tmp_path)
    words = [word for word in shlex.split(rest, comments=True) if word != "&"]
    err = io.StringIO()
    code = cli.main(["serve", *words, "--fixtures", "missing.yaml"], stderr=err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert lines
    assert all(line.endswith(": no such file or directory") for line in lines), lines


GENERATE_LINES = [
    found.group(1)
    for block in blocks("[a-z]*")
    for line in block.splitlines()
    if (found := re.search(r"(?:^|\$ |/)profilemock generate\b(.*)", line))
]


@pytest.mark.parametrize("rest", GENERATE_LINES)
def test_every_generate_command_shown_parses(rest: str) -> None:
    from profilemock import cli

    words = shlex.split(rest)
    args = cli.parser().parse_args(["generate", *words])  # a value refused: SystemExit
    assert args.users == int(words[words.index("--users") + 1])

"""`profilemock validate` on JSON bodies and HAR files, in-process."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilemock.cli import main
from profilemock.contract.proxy import check_answer
from profilemock.schemas import validate_response
from profilemock.schemas.files import UnusableInput, check_file
from profilemock.schemas.validation import read_body_json

DATA = Path(__file__).resolve().parent.parent / "data"
API = "https://profiles.segment.com/v1/spaces/lg/collections/users/profiles/user_id:1"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(["validate", *args], stdout=out, stderr=err), out.getvalue(), err.getvalue()


def entry(
    url: str, status: int, text: str | None, *, encoding: str | None = None
) -> dict[str, Any]:
    content: dict[str, Any] = {"mimeType": "application/json", "size": len(text or "")}
    if text is not None:
        content["text"] = text
    if encoding:
        content["encoding"] = encoding
    return {
        "startedDateTime": "2026-11-28T10:00:00.000Z",
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {"status": status, "headers": [], "content": content},
    }


def write_har(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "session.har"
    path.write_text(
        json.dumps({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}})
    )
    return path


def test_valid_body_exits_0() -> None:
    code, out, err = run(str(DATA / "segdocs_events_200.json"), "--endpoint", "events")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{DATA / 'segdocs_events_200.json'}: ok (events)",
        "1 checked, 0 with violations",
    ]


def test_error_body_with_its_status() -> None:
    code, out, _ = run(
        str(DATA / "segdocs_error_not_found_404.json"), "--url", f"{API}/traits", "--status", "404"
    )
    assert code == 0
    assert "ok (error)" in out


def test_invalid_body_exits_1_with_each_violation(tmp_path: Path) -> None:
    body = tmp_path / "traits.json"
    body.write_text(json.dumps({"traits": {"a": 1}, "cursor": {"has_more": "yes", "extra": 1}}))
    code, out, _ = run(str(body), "--endpoint", "traits", "--strict")
    assert code == 1
    assert out.splitlines() == [
        f"{body}: 2 violations (traits)",
        "  /cursor/extra: unknown field `extra`; allowed here: has_more, limit, next, url [additionalProperties]",
        '  /cursor/has_more: "yes" is not true or false [type]',
        "1 checked, 1 with violations",
    ]


REPEATED = (
    '{"traits": 5, "cursor": {"url": "", "has_more": true, "has_more": false}, "traits": {"a": 2}}'
)
"""Two keys given twice: the last of each is in the contract (and checked), the first not."""


def repeated(pointer: str, key: str) -> str:
    return (
        f"  {pointer}: the key `{key}` is given 2 times in one object; clients disagree on which"
        " value counts (most keep the last, which is the one checked; some the first)"
        " [duplicate-key]"
    )


def test_a_body_holding_a_key_twice_is_a_violation_naming_where(tmp_path: Path) -> None:
    # It was "ok": the last `traits` was checked, and a client keeping the first reads 5.
    body = tmp_path / "traits.json"
    body.write_text(REPEATED)
    code, out, _ = run(str(body), "--endpoint", "traits")
    assert code == 1
    assert out.splitlines() == [
        f"{body}: 2 violations (traits)",
        repeated("/traits", "traits"),
        repeated("/cursor/has_more", "has_more"),
        "1 checked, 1 with violations",
    ]


def test_a_har_entrys_body_holding_a_key_twice_is_a_violation_the_hars_own_keys_none(
    tmp_path: Path,
) -> None:
    har = write_har(tmp_path, [entry(f"{API}/traits", 200, REPEATED)])
    # A key the HAR itself holds twice is no answer's: not reported.
    har.write_text(
        har.read_text().replace('"version": "1.2"', '"version": "1.1", "version": "1.2"')
    )
    [report] = check_file(har)
    assert [f"  {v}" for v in report.violations] == [
        repeated("/traits", "traits"),
        repeated("/cursor/has_more", "has_more"),
    ]


def test_a_key_given_twice_in_a_large_body_costs_no_pointer_per_value() -> None:
    # Finding where went through every value, a pointer made and kept for each: a 16 MB
    # list of numbers with one key given twice took 38 s and 2 GB.
    text = '{"a": 1, "a": 2, "b": [' + ", ".join(["0"] * 200_000) + "]}"
    tracemalloc.start()
    try:
        json.loads(text)
        _, parsed = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        _, violations = read_body_json(text)
        _, found = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [v.pointer for v in violations] == ["/a"]
    assert found < 3 * parsed


def test_a_key_given_twice_is_named_on_one_line() -> None:
    # A key holding a line break broke the message (and the proxy's log line) in two.
    _, [violation] = read_body_json('{"k\\nWARNING x": 1, "k\\nWARNING x": 2}')
    assert "\n" not in str(violation)
    assert 'the key "k\\nWARNING x" is given 2 times' in violation.message


TRICKY_TEXT = st.text(st.sampled_from('":\\{}[], \n\tau\u00e9\U0001f600'), max_size=6)
"""Strings with what the count of members written must see past: quotes, colons,
backslashes, brackets and white space."""
JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    data=JSON_DATA,
    indent=st.sampled_from([None, 0, 2]),
    separators=st.sampled_from([None, (",", ":"), (" , ", " : ")]),
    ascii_only=st.booleans(),
)
def test_no_key_given_once_is_told_as_given_twice(
    data: Any, indent: int | None, separators: tuple[str, str] | None, ascii_only: bool
) -> None:
    text = json.dumps(data, indent=indent, separators=separators, ensure_ascii=ascii_only)
    assert read_body_json(text) == (data, [])


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.tuples(TRICKY_TEXT, JSON_DATA), max_size=3),
    key=TRICKY_TEXT,
    values=st.tuples(JSON_DATA, JSON_DATA),
    around=st.lists(JSON_DATA, max_size=2),
)
def test_a_key_given_twice_is_told_wherever_it_is(
    before: list[tuple[str, Any]], key: str, values: tuple[Any, Any], around: list[Any]
) -> None:
    members = [*before, (key, values[0]), (key, values[1])]
    written = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in members)
    text = json.dumps([*around, "@"]).replace('"@"', "{" + written + "}")
    _, violations = read_body_json(text)
    pointer = f"/{len(around)}/" + key.replace("~", "~0").replace("/", "~1")
    assert pointer in [v.pointer for v in violations if v.rule == "duplicate-key"]


def test_json_format(tmp_path: Path) -> None:
    body = tmp_path / "links.json"
    body.write_text(json.dumps({"data": [{"to_collection": "teams", "external_ids": []}]}))
    code, out, _ = run(str(body), "--endpoint", "links", "--format", "json")
    assert code == 1
    assert json.loads(out) == [
        {
            "name": str(body),
            "endpoint": "links",
            "status": 200,
            "valid": False,
            "violations": [
                {
                    "pointer": "/data/0/to_collection",
                    "rule": "enum",
                    "message": '"teams" is not one of: "users", "accounts"',
                }
            ],
        }
    ]


def test_har_checks_every_profile_api_entry_and_ignores_others(tmp_path: Path) -> None:
    good = (DATA / "segdocs_traits_quickstart_200.json").read_text()
    har = write_har(
        tmp_path,
        [
            entry(f"{API}/traits?limit=8", 200, good),
            entry("https://cdn.segment.com/analytics.js", 200, "function(){}"),
            entry(f"{API}/events", 200, json.dumps({"data": {}, "cursor": {"has_more": False}})),
            entry(f"{API}/metadata", 404, (DATA / "segdocs_error_not_found_404.json").read_text()),
            entry(
                f"{API}/links", 200, base64.b64encode(b'{"data": []}').decode(), encoding="base64"
            ),
            entry(f"{API}/external_ids", 200, "<html>gateway timeout</html>"),
            entry(f"{API}/traits", 200, None),
        ],
    )
    code, out, _ = run(str(har))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{har} entry 1: GET {API}/traits?limit=8 200: ok (traits)"
    assert lines[1] == f"{har} entry 3: GET {API}/events 200: 1 violation (events)"
    assert lines[2] == "  /data: {} is not a list or null [type]"
    assert lines[3] == f"{har} entry 4: GET {API}/metadata 404: ok (error)"
    assert lines[4] == f"{har} entry 5: GET {API}/links 200: ok (links)"
    assert lines[5] == f"{har} entry 6: GET {API}/external_ids 200: 1 violation (external_ids)"
    assert lines[6] == (
        "  /: the body is not JSON (Content-Type `application/json`): Expecting value at line 1"
        " column 1; it starts '<html>gateway timeout</html>' [json]"
    )
    assert lines[7] == f"{har} entry 7: GET {API}/traits 200: 1 violation (traits)"
    assert "no response body" in lines[8]
    assert lines[-1] == "6 checked, 3 with violations"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"data": []}', "the response body is not valid base64 (its `encoding` is base64)"),
        ("e30=!", "the response body is not valid base64 (its `encoding` is base64)"),
        (
            "//46",
            "the body is not JSON (Content-Type `application/json`): not UTF-8 (byte 1); it"
            " starts '\ufffd\ufffd:'",
        ),
        (
            base64.b64encode(gzip.compress(b"{}")).decode(),
            "the body is not JSON (Content-Type `application/json`): still content-coded: it"
            " starts with gzip's magic bytes 1f 8b (a coding applied twice, or one its"
            " Content-Encoding does not name)",
        ),
    ],
    ids=["json-as-it-is", "stray-character", "not-utf-8", "gzip"],
)
def test_a_har_body_said_to_be_base64_that_is_not_says_so(
    tmp_path: Path, text: str, problem: str
) -> None:
    # Characters that are not base64 were skipped, and the rest decoded to "not JSON".
    har = write_har(tmp_path, [entry(f"{API}/links", 200, text, encoding="base64")])
    code, out, _ = run(str(har))
    assert code == 1
    assert out.splitlines()[1] == f"  /: {problem} [json]"


def test_a_har_body_in_base64_may_be_broken_into_lines(tmp_path: Path) -> None:
    text = base64.encodebytes((DATA / "segdocs_traits_200.json").read_bytes()).decode()
    assert text.count("\n") > 1
    har = write_har(tmp_path, [entry(f"{API}/traits", 200, text, encoding="base64")])
    assert run(str(har))[0] == 0


@pytest.mark.parametrize("status", ["99", "600", "2OO", "-1", "\u0664\u0660\u0664", "\u00b2"])
def test_a_status_out_of_100_to_599_is_an_argument_error(
    status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run(str(DATA / "segdocs_traits_200.json"), "--endpoint", "traits", "--status", status)
    assert info.value.code == 2
    assert f"--status: `{status}` is not an HTTP status from 100 to 599" in capsys.readouterr().err


@pytest.mark.parametrize("status", [99, 600, 4040, True, "404", 404.0])
def test_a_status_from_python_is_held_to_what_the_command_line_allows(status: object) -> None:
    # From Python, `status=4040` (or "404") chose a schema by `status >= 400` (or failed
    # comparing text to a number): `--status` refused it.
    body = DATA / "segdocs_traits_200.json"
    problem = f"status is an HTTP status from 100 to 599, such as 404; got {status!r}"
    with pytest.raises(TypeError) as raised:
        check_file(body, endpoint="traits", status=status)  # type: ignore[arg-type]
    assert str(raised.value) == problem
    with pytest.raises(TypeError) as raised:
        validate_response(f"{API}/traits", status, {})  # type: ignore[arg-type]
    assert str(raised.value) == problem


def test_har_of_valid_traffic_exits_0(tmp_path: Path) -> None:
    har = write_har(
        tmp_path, [entry(f"{API}/traits", 200, (DATA / "segdocs_traits_200.json").read_text())]
    )
    assert run(str(har))[0] == 0


@pytest.mark.parametrize(
    ("mime", "told"),
    [
        ("text/html", ["Content-Type is `text/html`, not `application/json`"]),
        ("Application/JSON; charset=utf-8", []),
        ("", []),  # the HAR does not say what it was labelled
        (None, []),
    ],
)
def test_a_har_entry_not_labelled_json_is_a_violation_as_in_the_proxy(
    tmp_path: Path, mime: str | None, told: list[str]
) -> None:
    # It was "ok": the proxy reports the same answer as mislabelled.
    item = entry(f"{API}/traits", 200, (DATA / "segdocs_traits_200.json").read_text())
    if mime is None:
        del item["response"]["content"]["mimeType"]
    else:
        item["response"]["content"]["mimeType"] = mime
    [report] = check_file(write_har(tmp_path, [item]))
    assert [v.message for v in report.violations] == told


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: p / "absent.json", [], "cannot read"),
        # Was "cannot read: Is a directory", as if it could not be opened.
        (lambda p: p, [], "is a directory; give the files in it (such as "),
        # Read for ever, until a MemoryError traceback (or the machine's memory was gone).
        (
            lambda p: Path("/dev/zero"),
            ["--endpoint", "traits"],
            "/dev/zero: is a device, not a file",
        ),
        (
            # Was "cannot read: 'utf-8' codec can't decode byte 0xe9 in position 14: …".
            lambda p: (p / "x.json", (p / "x.json").write_bytes(b'{"traits":\n {"n": "Jos\xe9"}}'))[
                0
            ],
            ["--endpoint", "traits"],
            "x.json:2:12: not UTF-8: byte 0xe9 cannot start or continue a character",
        ),
        (
            # Was "x.json:1:2: not UTF-8: byte 0x8b cannot start or continue a character".
            lambda p: (p / "x.json", (p / "x.json").write_bytes(gzip.compress(b"{}")))[0],
            ["--endpoint", "traits"],
            "x.json: the body is still content-coded: it starts with gzip's magic bytes 1f 8b;"
            " decompress it first",
        ),
        (
            lambda p: (p / "x.json", (p / "x.json").write_text("{nope"))[0],
            ["--endpoint", "traits"],
            "x.json:1:2: not JSON",
        ),
        (lambda p: (p / "x.json", (p / "x.json").write_text("{}"))[0], [], "give --endpoint"),
        (
            lambda p: (p / "x.json", (p / "x.json").write_text("{}"))[0],
            ["--url", "https://example.com/x"],
            # Was "is not a Profile API route" alone: what is one?
            "`https://example.com/x` is not a Profile API route: those are"
            " /v1/spaces/SPACE/collections/COLLECTION/profiles (the list) and"
            " /v1/spaces/SPACE/collections/COLLECTION/profiles/ID/RESOURCE",
        ),
        (
            lambda p: (p / "x.json", (p / "x.json").write_text("{}"))[0],
            ["--url", f"{API}/trait"],
            # Was "names no Profile API resource (`trait`)", naming none that is.
            f"`{API}/trait` names no resource of the Profile API: no resource is called"
            " `trait`; resources are traits, external_ids, events, metadata, links; did you"
            " mean `traits`?",
        ),
        (
            # A RecursionError traceback before: the C scanner ran out of stack.
            lambda p: (p / "x.json", (p / "x.json").write_text("[" * 5000 + "]" * 5000))[0],
            ["--endpoint", "traits"],
            "x.json:1:101: nested deeper than 100 levels",
        ),
        (
            lambda p: (p / "x.json", (p / "x.json").write_text('{"traits": NaN}'))[0],
            ["--endpoint", "traits"],
            "x.json:1:12: `NaN` is not a finite number",
        ),
    ],
    ids=[
        "unreadable",
        "directory",
        "device",
        "not-utf-8",
        "gzip",
        "not-json",
        "no-endpoint",
        "unknown-url",
        "unknown-resource",
        "too-deep",
        "nan",
    ],
)
def test_unusable_input_exits_2(tmp_path: Path, make: Any, args: list[str], message: str) -> None:
    code, out, err = run(str(make(tmp_path)), *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.startswith("profilemock: error: ")


@pytest.mark.parametrize("status", ["204", "302", "304", "100"])
def test_a_status_that_carries_no_body_of_the_api_is_not_checked_as_one(
    tmp_path: Path, status: str
) -> None:
    # Was "ok (traits)": a redirect's page, say, passed as the traits it never was.
    body = tmp_path / "x.json"
    body.write_text((DATA / "segdocs_traits_200.json").read_text())
    with pytest.raises(UnusableInput) as raised:
        check_file(body, endpoint="traits", status=int(status))
    assert f"x.json: a {status} answer holds no body of the API to check; give --status" in str(
        raised.value
    )


def test_a_status_without_a_body_is_told_once_as_the_argument_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each file got the same error line, after it was read, naming the file.
    files = [tmp_path / "a.json", tmp_path / "b.json", tmp_path / "absent.json"]
    for file in files[:2]:
        file.write_text((DATA / "segdocs_traits_200.json").read_text())
    with pytest.raises(SystemExit) as info:
        run(*map(str, files), "--endpoint", "traits", "--status", "302")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "profilemock validate: error: argument --status: a 302 answer holds no body of the"
        " API to check (1xx, 204 and 3xx answers have none of their own); give the status the"
        " bodies came with: 200 to 299 but 204, or 400 to 599 for error bodies"
    )
    assert "absent.json" not in err  # no file was read


def test_bodies_whose_endpoint_is_unknown_are_told_once_and_the_rest_checked(
    tmp_path: Path,
) -> None:
    # "cannot tell which endpoint" came once a file, the same words each time.
    bodies = [tmp_path / f"{name}.json" for name in "abc"]
    for body in bodies:
        body.write_text((DATA / "segdocs_traits_200.json").read_text())
    har = write_har(
        tmp_path, [entry(f"{API}/traits", 200, (DATA / "segdocs_traits_200.json").read_text())]
    )
    code, out, err = run(*map(str, bodies), str(har))
    assert code == 2
    assert err.splitlines() == [
        f"profilemock: error: {', '.join(map(str, bodies))}: cannot tell which endpoint these"
        " 3 bodies answered; give --endpoint (traits, external_ids, events, metadata, links,"
        " profiles, error) or --url (either applies to every body file of the run)"
    ]
    assert out.splitlines() == [
        f"{har} entry 1: GET {API}/traits 200: ok (traits)",
        "1 checked, 0 with violations, 3 files could not be checked (their errors on stderr)",
    ]


@pytest.mark.parametrize(
    ("args", "given"),
    [
        (["--endpoint", "events"], "--endpoint is events"),
        (["--url", f"{API}/events"], "--url names the events route"),
        ([], "neither --endpoint nor --url is given (a HAR entry's comes from its URL)"),
    ],
    ids=["endpoint", "url", "har"],
)
def test_verbose_where_it_can_change_nothing_is_refused(
    tmp_path: Path, args: list[str], given: str
) -> None:
    # It was passed over without a word: the bodies were not checked as verbose ones.
    body = tmp_path / "events.json"
    body.write_text((DATA / "segdocs_events_200.json").read_text())
    code, out, err = run(str(body), "--verbose", *args)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"profilemock: error: --verbose: only traits bodies have a verbose form, and {given};"
        " give it with --endpoint traits (or a --url of the traits route), or leave it out"
    ]


@pytest.mark.parametrize("args", [["--endpoint", "traits"], ["--url", f"{API}/traits"]])
def test_verbose_checks_traits_bodies_as_verbose_ones(args: list[str]) -> None:
    code, out, _ = run(str(DATA / "segdocs_traits_200.json"), "--verbose", *args)
    assert code == 1
    assert '/traits/first_name: "Bob" is not an object [type]' in out


def test_unknown_endpoint_name_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        run(str(DATA / "segdocs_traits_200.json"), "--endpoint", "properties")
    assert info.value.code == 2


def test_an_error_body_needs_only_its_status() -> None:
    # Every 4xx and 5xx body of the API has the one error envelope (the reference's "Error
    # Body"), so the status says all there is to know.
    code, out, err = run(str(DATA / "segdocs_error_not_found_404.json"), "--status", "404")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith("ok (error)")
    code, out, _ = run(str(DATA / "segdocs_traits_200.json"), "--status", "404")
    assert code == 1
    assert "(error)" in out


def test_har_skips_preflights_and_blocked_entries_and_counts_them(tmp_path: Path) -> None:
    # What a browser records around a call the real API refuses (it sends no CORS headers):
    # an OPTIONS preflight, and the request itself with status 0 and no body.
    good = (DATA / "segdocs_traits_200.json").read_text()
    preflight = entry(f"{API}/traits", 204, "")
    preflight["request"]["method"] = "OPTIONS"
    har = write_har(
        tmp_path,
        [preflight, entry(f"{API}/traits", 0, None), entry(f"{API}/traits", 200, good)],
    )
    code, out, _ = run(str(har))
    assert code == 0
    assert out.splitlines() == [
        f"{har} entry 1: OPTIONS {API}/traits 204: skipped (CORS preflight)",
        f"{har} entry 2: GET {API}/traits 0: skipped"
        " (status 0: blocked or cancelled by the browser, nothing was answered)",
        f"{har} entry 3: GET {API}/traits 200: ok (traits)",
        "1 checked, 0 with violations, 2 skipped (1 CORS preflight, 1 status 0)",
    ]
    code, out, _ = run(str(har), "--format", "json")
    assert [r.get("skipped") for r in json.loads(out)] == [
        "CORS preflight",
        "status 0: blocked or cancelled by the browser, nothing was answered",
        None,
    ]


@pytest.mark.parametrize(
    ("method", "status", "text", "reason"),
    [
        ("HEAD", 200, "", "HEAD: an answer without a body"),
        ("GET", 103, "", "1xx: an interim answer, not the final one"),
        ("GET", 301, "<html>moved</html>", "3xx: a redirect, the request it leads to is an entry of its own"),
        ("GET", 307, None, "3xx: a redirect, the request it leads to is an entry of its own"),
        ("GET", 304, None, "304: not modified, its body came from the browser's cache"),
        ("GET", 204, "", "204: no content, an answer without a body"),
    ],
    ids=["head", "interim", "redirect-with-html", "redirect-without-content", "not-modified", "no-content"],
)  # fmt: skip
def test_har_skips_answers_without_a_body_of_the_api(
    tmp_path: Path, method: str, status: int, text: str | None, reason: str
) -> None:
    # What a browser records besides the API's answers: a redirect (http to https) before
    # the request it leads to, a revalidation answered 304 from its cache, a HEAD. Each had
    # been a violation ("the response body is not JSON"), failing a HAR of valid traffic.
    good = (DATA / "segdocs_traits_200.json").read_text()
    bodiless = entry(f"{API}/traits", status, text)
    bodiless["request"]["method"] = method
    har = write_har(tmp_path, [bodiless, entry(f"{API}/traits", 200, good)])
    code, out, _ = run(str(har))
    assert code == 0
    assert out.splitlines() == [
        f"{har} entry 1: {method} {API}/traits {status}: skipped ({reason})",
        f"{har} entry 2: GET {API}/traits 200: ok (traits)",
        f"1 checked, 0 with violations, 1 skipped (1 {reason.partition(':')[0]})",
    ]


def test_a_gateways_page_is_skipped_unless_strict(tmp_path: Path) -> None:
    # A load balancer's 503 page was a violation ("the response body is not JSON"): not
    # the API's answer, it is held to the API's envelope only with --strict.
    page = entry(f"{API}/traits", 503, "<html><body>503 Service Unavailable</body></html>")
    page["response"]["content"]["mimeType"] = "text/html; charset=utf-8"
    har = write_har(tmp_path, [page])
    code, out, _ = run(str(har), "--allow-empty")
    assert code == 0
    reason = (
        "gateway page: a 502, 503 or 504 not labelled JSON, a load balancer's own page or none"
        " rather than the API's answer; --strict checks it"
    )
    assert out.splitlines() == [
        f"{har} entry 1: GET {API}/traits 503: skipped ({reason})",
        "0 checked, 0 with violations, 1 skipped (1 gateway page)",
    ]
    code, out, _ = run(str(har), "--strict")
    assert code == 1
    assert "the body is not JSON (Content-Type `text/html`)" in out


@pytest.mark.parametrize("status", [42, 600, 999])
def test_a_har_entry_whose_status_is_no_http_status_is_a_violation(
    tmp_path: Path, status: int
) -> None:
    # 42 was skipped as "1xx: an interim answer", 600 checked as an error envelope; the
    # proxy reports either as a violation, and so does validate now.
    har = write_har(tmp_path, [entry(f"{API}/traits", status, '{"error": {}}')])
    code, out, _ = run(str(har))
    assert code == 1
    first, violation = out.splitlines()[:2]
    assert first.startswith(f"{har} entry 1: GET {API}/traits {status}: 1 violation (")
    assert violation == f"  /: {status} is not an HTTP status from 100 to 599 [status]"


@pytest.mark.parametrize(
    ("entries", "among"),
    [
        ([], "0 entries"),
        # It said "among 1 entries".
        ([entry("https://cdn.segment.com/analytics.js", 200, "function(){}")], "1 entry"),
        ([entry(f"{API}/traits", 0, None)] * 2, "2 entries, 2 skipped"),
    ],
    ids=["no-entries", "no-profile-api-entry", "only-skipped-entries"],
)
def test_a_har_with_nothing_to_check_fails_unless_allowed(
    tmp_path: Path, entries: list[dict[str, Any]], among: str
) -> None:
    har = write_har(tmp_path, entries)
    code, out, err = run(str(har))
    assert (code, out) == (2, "")
    assert f"{har}: no Profile API answer to check among {among};" in err
    assert "--allow-empty" in err
    code, out, err = run(str(har), "--allow-empty")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("0 checked, 0 with violations")


def test_strict_mode_rejects_a_track_event_without_its_name(tmp_path: Path) -> None:
    # The reference's events example: a "track" message carries `event`; identify, page,
    # screen and group messages need not.
    body = json.loads((DATA / "segdocs_events_200.json").read_text())
    del body["data"][0]["event"]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(body))
    assert run(str(path), "--endpoint", "events")[0] == 0
    code, out, _ = run(str(path), "--endpoint", "events", "--strict")
    assert code == 1
    assert "/data/0: missing required field `event` [required]" in out
    body["data"][0]["type"] = "identify"
    path.write_text(json.dumps(body))
    assert run(str(path), "--endpoint", "events", "--strict")[0] == 0


@pytest.mark.parametrize("endpoint", ["external_ids", "links"])
def test_data_null_for_an_empty_list_is_lenient_only(tmp_path: Path, endpoint: str) -> None:
    # The API answers `"data": null` for no events (ethyca/fides checks for it); whether it
    # does so on these lists is unknown, and the docs show lists: lenient accepts both,
    # strict names the documented one.
    path = tmp_path / "empty.json"
    path.write_text(
        json.dumps({"data": None, "cursor": {"url": "", "has_more": False, "next": ""}})
    )
    assert run(str(path), "--endpoint", endpoint)[0] == 0
    code, out, _ = run(str(path), "--endpoint", endpoint, "--strict")
    assert code == 1
    assert "/data: null is not a list" in out


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"x": 1}, '`log.entries` is an object ({"x": 1}), not a list'),
        ([{"request": {"url": f"{API}/traits"}, "response": {"status": "abc"}}],
         'entry 1: `response.status` is a string ("abc"), not a whole number'),
        ([{"request": {"url": f"{API}/traits"}, "response": {"status": 200, "content": {"text": 7}}}],
         "entry 1: `response.content.text` is an integer (7), not a string"),
        (["x"], 'entry 1: `entry` is a string ("x"), not an object'),
        ([{"request": [1]}], "entry 1: `request` is a list ([1]), not an object"),
    ],
)  # fmt: skip
def test_a_har_not_shaped_as_har_names_the_entry_and_field(
    tmp_path: Path, entries: Any, message: str
) -> None:
    # Each was a traceback (AttributeError, ValueError, TypeError).
    har = tmp_path / "odd.har"
    har.write_text(json.dumps({"log": {"entries": entries}}))
    code, _, err = run(str(har))
    assert code == 2
    assert message in err


@pytest.mark.parametrize(
    ("har", "message"),
    [
        pytest.param({"log": {}}, "not a HAR: `log.entries` is missing", id="no-entries"),
        pytest.param(
            {"log": {"version": "1.2", "pages": []}},
            "not a HAR: `log.entries` is missing",
            id="pages-only",
        ),
        pytest.param({"log": []}, "not a HAR: `log` is a list ([]), not an object", id="log-list"),
        pytest.param({"log": {"entries": None}}, "`log.entries` is null, not a list", id="null"),
        pytest.param({}, "not a HAR: `log` is missing", id="empty"),
        pytest.param([1], "not a HAR: the file holds a list ([1]), not an object", id="list"),
    ],
)
def test_a_har_without_its_entries_says_so(tmp_path: Path, har: Any, message: str) -> None:
    # It said "cannot tell which endpoint this body answered".
    path = tmp_path / "b.har"
    path.write_text(json.dumps(har))
    code, out, err = run(str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"profilemock: error: {path}: ")
    assert message in err
    assert "endpoint this body answered" not in err


def test_a_body_with_a_log_field_is_checked_as_the_body_it_is_said_to_be(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"log": {}}))
    code, out, _ = run(str(path), "--endpoint", "traits")
    assert code == 1
    assert "missing required field `traits`" in out


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-1, 600) | st.floats(allow_nan=False)
    | st.text(max_size=6) | st.sampled_from([f"{API}/traits", "OPTIONS", "base64", "é", "e30="]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["request", "response", "url", "method", "status", "content", "text",
                         "encoding"]), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(entries=st.lists(JSON_VALUES, max_size=3) | JSON_VALUES)
def test_any_har_is_checked_or_refused_without_a_traceback(entries: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        har = Path(folder) / "any.har"
        har.write_text(json.dumps({"log": {"entries": entries}}))
        code, _, err = run(str(har), "--strict")
    assert code in (0, 1, 2)
    assert "Traceback" not in err


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_file_that_cannot_be_checked_leaves_the_others_checked_and_exits_2(
    tmp_path: Path, output: str
) -> None:
    # It stopped at the first such file: a folder of captures with one stray file (`*.json`)
    # got no report of the others, even with --format json.
    good = tmp_path / "good.json"
    good.write_text((DATA / "segdocs_traits_200.json").read_text())
    stray = tmp_path / "stray.json"
    stray.write_text("not json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"traits": 1}')
    code, out, err = run(
        str(good), str(stray), str(bad), "--endpoint", "traits", "--format", output
    )
    assert code == 2
    assert err.startswith("profilemock: error: ")
    assert "stray.json:1:1: " in err
    assert err.count("\n") == 1
    if output == "json":
        reports = json.loads(out)
        assert [(r["name"], r["valid"]) for r in reports] == [
            (str(good), True),
            (str(bad), False),
        ]
    else:
        lines = out.splitlines()
        assert lines[0] == f"{good}: ok (traits)"
        assert lines[1].startswith(f"{bad}: 1 violation (traits)")
        assert lines[-1] == (
            "2 checked, 1 with violations, 1 file could not be checked (its error on stderr)"
        )


def test_valid_files_and_one_that_cannot_be_checked_still_exit_2(tmp_path: Path) -> None:
    stray = tmp_path / "stray.json"
    stray.write_text("{")
    code, out, _ = run(str(DATA / "segdocs_traits_200.json"), str(stray), "--endpoint", "traits")
    assert code == 2
    assert out.splitlines()[-1].startswith("1 checked, 0 with violations, 1 file could not")


def test_files_that_cannot_be_checked_are_counted_with_their_errors(tmp_path: Path) -> None:
    strays = [tmp_path / "a.json", tmp_path / "b.json"]
    for stray in strays:
        stray.write_text("{")
    good = str(DATA / "segdocs_traits_200.json")
    code, out, _ = run(good, *map(str, strays), "--endpoint", "traits")
    assert code == 2
    assert out.splitlines()[-1] == (
        "1 checked, 0 with violations, 2 files could not be checked (their errors on stderr)"
    )


def test_a_url_of_no_route_is_told_once_as_the_argument_it_is(tmp_path: Path) -> None:
    # Every file got the same error line (naming no file, nor --url) once files that
    # cannot be checked stopped ending the run.
    files = [tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.har"]
    for file in files:
        file.write_text("{}")
    code, out, err = run(*map(str, files), "--url", f"{API}/trait")
    assert (code, out) == (2, "")
    assert err == (
        f"profilemock: error: --url: `{API}/trait` names no resource of the Profile API: no"
        " resource is called `trait`; resources are traits, external_ids, events, metadata,"
        " links; did you mean `traits`?\n"
    )


def test_json_report_of_files_none_of_which_could_be_checked_is_an_empty_list(
    tmp_path: Path,
) -> None:
    # It printed nothing, which is no JSON: a CI step parsing the report failed on it.
    stray = tmp_path / "stray.json"
    stray.write_text("{")
    code, out, err = run(str(stray), "--endpoint", "traits", "--format", "json")
    assert (code, json.loads(out)) == (2, [])
    assert "stray.json:" in err


@pytest.mark.parametrize(
    ("body", "media"),
    [
        (b"<html>oops</html>", "text/html"),
        (b"{nope", "application/json"),
        (b"\xff\xfe:", "application/json"),
        (gzip.compress(b"{}"), "application/json"),
        (b"[" * 101 + b"]" * 101, "application/json"),
        (b'{"data": [], "data": []}', "application/json"),
    ],
    ids=["html", "syntax", "not-utf-8", "gzip", "too-deep", "repeated-key"],
)
def test_validate_tells_a_har_answer_as_the_proxy_tells_it(
    tmp_path: Path, body: bytes, media: str
) -> None:
    # One answer was told two ways: the proxy's "the body is not JSON (Content-Type
    # `text/html`): Expecting value at line 1 column 1; it starts '<html>oops</html>'" was
    # validate's "the response body is not JSON: Expecting value at line 1 column 1".
    url = f"{API}/traits"
    item = entry(url, 200, base64.b64encode(body).decode(), encoding="base64")
    item["response"]["content"]["mimeType"] = media
    [report] = check_file(write_har(tmp_path, [item]))
    assert report.violations == check_answer(url, 200, media, body)
    assert report.violations
